import type * as grpc from '@grpc/grpc-js';
import { cutText, log, type LogBudget } from '../common/log';
import type { XdsConfig } from '../config/types';
import type { IstioKind } from '../istio/types';
import type { FramedMessage } from './framed';
import type { SharedResponses } from './responses';
import type { ClusterSnapshot } from './snapshot';

/**
 * What the xDS server reports, as go-control-plane's callbacks: the daemon's telemetry turns it
 * into metrics; the server never sees them. Every value is ours (config names, kinds, our
 * versions or "other", our connection ids), never a client's text.
 */
export interface XdsObserver {
  /** Whether grpc-js writes our framed bytes as they are (grpc-framed-writes.ts). */
  framedWrites(active: boolean): void;
  streamOpened(cluster: string, protocol: Protocol): void;
  streamClosed(cluster: string, protocol: Protocol, connection: string): void;
  pushed(cluster: string, protocol: Protocol, type: IstioKind | 'other', bytes: number): void;
  /** A version waiting to go out was replaced by a newer one before it could. */
  versionSkipped(cluster: string): void;
  answered(cluster: string, result: 'ack' | 'nack'): void;
  /** A SotW stream ACKed a version of one of our kinds: the version we sent, or "other". */
  ackedVersion(cluster: string, connection: string, type: IstioKind, version: string): void;
  /** A stream ended for going past a limit (the reason with its numbers as N). */
  streamRejected(reason: string): void;
}

export type Protocol = 'sotw' | 'delta';

/**
 * What is kept or logged of a string a client sent (node id, ACKed version, NACK message): its
 * first CLIENT_TEXT_MAX characters. istiod's are far shorter; a hostile client's could be
 * megabytes, kept per stream and written to every log line about it.
 */
const CLIENT_TEXT_MAX = 256;
/** Distinct type URLs one stream may ask for: istiod asks for about twenty. */
const MAX_TYPES_PER_STREAM = 64;

/** A client went past a per-stream limit: its stream ends with RESOURCE_EXHAUSTED, no other stream notices. */
export class StreamLimitError extends Error {}

export type Limits = XdsConfig['limits'];
/** Lines a client can cause at will, per kind, per minute (LogBudget). */
export const CLIENT_LOG_LINES_PER_MINUTE = 20;

export const clientText = (s: string): string => cutText(s, CLIENT_TEXT_MAX);
export type Stream<Req> = grpc.ServerDuplexStream<Req, FramedMessage>;

export interface ConnectionInfo {
  id: string;
  cluster: string;
  protocol: Protocol;
  peer: string;
  nodeId?: string;
  connectedAt: string;
  types: Record<string, { sentVersion?: string; ackedVersion?: string; inFlight: boolean; pending: boolean; nacks: number; lastNack?: string }>;
}

/** What a stream keeps per type URL it asked for, whichever protocol it speaks. */
export interface Subscription {
  typeUrl: string;
  /** Our kind behind the type URL; none for the types we do not serve. */
  kind?: IstioKind;
  pending: boolean;
  inFlightNonce?: string;
  nacks: number;
  lastNack?: string;
}

let connectionCounter = 0;

export abstract class Connection<Req, Sub extends Subscription> {
  readonly id = `c${++connectionCounter}`;
  readonly connectedAt = new Date();
  readonly peer: string;
  nodeId?: string;
  protected readonly subs = new Map<string, Sub>();

  /** Before a new subscription: every type URL a stream names is state kept for its lifetime. */
  protected admit(typeUrl: string): void {
    if (this.subs.size >= MAX_TYPES_PER_STREAM) throw new StreamLimitError(`more than ${MAX_TYPES_PER_STREAM} distinct type URLs on one stream`);
    if (typeUrl.length > CLIENT_TEXT_MAX) throw new StreamLimitError(`a type URL of ${typeUrl.length} characters`);
  }

  private resendTokens: number;
  private resendCheckedAt = Date.now();

  /**
   * Before a full re-send of a version the stream already has: a token bucket of
   * maxResendsPerSecond, burst ten times that. A client that re-requests in a loop would
   * otherwise make the daemon send its whole state as fast as the socket drains.
   */
  protected chargeResend(): void {
    const rate = this.limits.maxResendsPerSecond;
    const now = Date.now();
    this.resendTokens = Math.min(10 * rate, this.resendTokens + ((now - this.resendCheckedAt) / 1000) * rate);
    this.resendCheckedAt = now;
    if (this.resendTokens < 1) throw new StreamLimitError(`more than ${rate} re-sends of an unchanged version per second`);
    this.resendTokens--;
  }
  protected snapshot?: ClusterSnapshot;
  private nonce = 0;
  private writable = true;
  private closed = false;

  constructor(
    readonly cluster: string,
    protected readonly stream: Stream<Req>,
    protected readonly observer: XdsObserver,
    readonly protocol: Protocol,
    protected readonly limits: Limits,
    private readonly nackLog: LogBudget,
    protected readonly responses?: SharedResponses,
  ) {
    this.resendTokens = 10 * limits.maxResendsPerSecond;
    this.peer = stream.getPeer();
    stream.on('drain', () => {
      this.writable = true;
      this.flush();
    });
  }

  setSnapshot(s: ClusterSnapshot | undefined): void {
    const prev = this.snapshot;
    this.snapshot = s;
    for (const sub of this.subs.values()) {
      if (!sub.kind || !s) continue;
      if (prev && prev.types.get(sub.kind) === s.types.get(sub.kind)) continue;
      // Already waiting to send: the version it was waiting with is skipped, never sent.
      if (sub.pending && prev) this.observer.versionSkipped(this.cluster);
      sub.pending = true;
    }
    this.flush();
  }

  close(): void {
    this.closed = true;
  }

  /** Ends the stream with OK; istiod reconnects (maybe to another replica) and resyncs. */
  end(): void {
    this.stream.end();
  }

  protected nextNonce(): string {
    return `${this.id}-${++this.nonce}`;
  }

  /** Sends what is pending, one in-flight response per type; a slow client gets only the latest. */
  protected flush(): void {
    for (const sub of this.subs.values()) {
      if (this.closed || !this.writable) return;
      if (!sub.pending || sub.inFlightNonce) continue;
      // Our own kinds wait for the first complete state: answering before it would wipe istiod.
      if (sub.kind && !this.snapshot) continue;
      const out = this.respond(sub);
      sub.pending = false;
      if (!out) continue;
      sub.inFlightNonce = out.nonce;
      this.observer.pushed(this.cluster, this.protocol, sub.kind ?? 'other', out.message.length);
      this.writable = this.stream.write(out.message, out.message.writing());
    }
  }

  protected onAck(sub: Sub, version: string, errorDetail?: { message?: string }): void {
    sub.inFlightNonce = undefined;
    if (errorDetail && (errorDetail.message || errorDetail.message === '')) {
      sub.nacks++;
      sub.lastNack = clientText(errorDetail.message);
      this.observer.answered(this.cluster, 'nack');
      if (this.nackLog.allow()) log.warn('xds client rejected a response (NACK)', { cluster: this.cluster, connection: this.id, node: this.nodeId, type: sub.typeUrl, error: sub.lastNack });
      return;
    }
    this.observer.answered(this.cluster, 'ack');
    this.acked(sub, version);
  }

  protected abstract acked(sub: Sub, version: string): void;
  protected abstract respond(sub: Sub): { nonce: string; message: FramedMessage } | undefined;
  abstract info(): ConnectionInfo;
}

export function describe(c: { id: string; cluster: string; protocol: Protocol; nodeId?: string; connectedAt: Date; peer: string }, types: [string, ConnectionInfo['types'][string]][]): ConnectionInfo {
  return { id: c.id, cluster: c.cluster, protocol: c.protocol, peer: c.peer, nodeId: c.nodeId, connectedAt: c.connectedAt.toISOString(), types: Object.fromEntries(types) };
}
