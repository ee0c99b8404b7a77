import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { cutText, log, LogBudget } from '../common/log';
import type { Metrics } from '../common/metrics';
import type { ClusterConfig, XdsConfig } from '../config/types';
import type { IstioKind } from '../istio/types';
import { lengthDelimitedField } from './encode';
import { BufferPool, frame, FramedMessage } from './framed';
import { installFramedWrites } from './grpc-framed-writes';
import {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  type DeltaDiscoveryRequestMsg,
  type DiscoveryRequestMsg,
} from './proto';
import type { ClusterSnapshot, TypeSnapshot } from './snapshot';
import { kindOfTypeUrl } from '../istio/kinds';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';

/**
 * Responses are pre-encoded and pre-framed (shared resource bytes + header), so the serializer
 * only unwraps them: an unchanged resource is never encoded again, whatever the number of
 * clients. With framed writes installed, grpc-js does not even call it (grpc-framed-writes.ts).
 */
const unwrap = (m: FramedMessage | Buffer): Buffer => (m instanceof FramedMessage ? m.message : m);

/**
 * What is kept or logged of a string a client sent (node id, ACKed version, NACK message): its
 * first CLIENT_TEXT_MAX characters. istiod's are far shorter; a hostile client's could be
 * megabytes, kept per stream and written to every log line about it.
 */
const CLIENT_TEXT_MAX = 256;
/** Distinct type URLs one stream may ask for: istiod asks for about twenty. */
const MAX_TYPES_PER_STREAM = 64;

/** A client went past a per-stream limit: its stream ends with RESOURCE_EXHAUSTED, no other stream notices. */
class StreamLimitError extends Error {}

type Limits = XdsConfig['limits'];
/** Lines a client can cause at will, per kind, per minute (LogBudget). */
const CLIENT_LOG_LINES_PER_MINUTE = 20;

const clientText = (s: string): string => cutText(s, CLIENT_TEXT_MAX);
const adsService: grpc.ServiceDefinition = {
  StreamAggregatedResources: {
    path: ADS + 'StreamAggregatedResources',
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish()),
    requestDeserialize: (b: Buffer) => DiscoveryRequest.toObject(DiscoveryRequest.decode(b), { defaults: false }),
    responseSerialize: unwrap,
    responseDeserialize: (b: Buffer) => b,
  },
  DeltaAggregatedResources: {
    path: ADS + 'DeltaAggregatedResources',
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: object) => Buffer.from(DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromObject(m)).finish()),
    requestDeserialize: (b: Buffer) => DeltaDiscoveryRequest.toObject(DeltaDiscoveryRequest.decode(b), { defaults: false }),
    responseSerialize: unwrap,
    responseDeserialize: (b: Buffer) => b,
  },
};

type Stream<Req> = grpc.ServerDuplexStream<Req, FramedMessage>;

interface SotwSub {
  typeUrl: string;
  kind?: IstioKind;
  pending: boolean;
  inFlightNonce?: string;
  sentVersion?: string;
  /** The newest TypeSnapshot sent for this type URL: only a newer one may go out with its shared nonce. */
  sentTypeId?: number;
  ackedVersion?: string;
  nacks: number;
  lastNack?: string;
}

interface DeltaSub {
  typeUrl: string;
  kind?: IstioKind;
  wildcard: boolean;
  names: Set<string>;
  /** What the client has: name -> version. */
  known: Map<string, string>;
  pending: boolean;
  answered: boolean;
  inFlightNonce?: string;
  nacks: number;
  lastNack?: string;
}

export interface ConnectionInfo {
  id: string;
  cluster: string;
  protocol: 'sotw' | 'delta';
  peer: string;
  nodeId?: string;
  connectedAt: string;
  types: Record<string, { sentVersion?: string; ackedVersion?: string; inFlight: boolean; pending: boolean; nacks: number; lastNack?: string }>;
}

let connectionCounter = 0;

abstract class Connection<Req, Sub extends { typeUrl: string; kind?: IstioKind; pending: boolean; inFlightNonce?: string; nacks: number; lastNack?: string }> {
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
    protected readonly metrics: Metrics,
    readonly protocol: 'sotw' | 'delta',
    protected readonly limits: Limits,
    private readonly nackLog: LogBudget,
    protected readonly pool?: BufferPool,
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
      if (sub.pending && prev) this.metrics.skippedVersions.inc({ cluster: this.cluster });
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
      this.metrics.pushes.inc({ cluster: this.cluster, protocol: this.protocol, type: sub.kind ?? 'other' });
      this.metrics.pushBytes.inc({ cluster: this.cluster }, out.message.length);
      this.writable = this.stream.write(out.message, out.message.writing());
    }
  }

  protected onAck(sub: Sub, version: string, errorDetail?: { message?: string }): void {
    sub.inFlightNonce = undefined;
    if (errorDetail && (errorDetail.message || errorDetail.message === '')) {
      sub.nacks++;
      sub.lastNack = clientText(errorDetail.message);
      this.metrics.acks.inc({ cluster: this.cluster, result: 'nack' });
      if (this.nackLog.allow()) log.warn('xds client rejected a response (NACK)', { cluster: this.cluster, connection: this.id, node: this.nodeId, type: sub.typeUrl, error: sub.lastNack });
      return;
    }
    this.metrics.acks.inc({ cluster: this.cluster, result: 'ack' });
    this.acked(sub, version);
  }

  protected abstract acked(sub: Sub, version: string): void;
  protected abstract respond(sub: Sub): { nonce: string; message: FramedMessage } | undefined;
  abstract info(): ConnectionInfo;
}

/** State-of-the-world ADS, as istiod speaks it: every response is the full set of its type. */
class SotwConnection extends Connection<DiscoveryRequestMsg, SotwSub> {
  private ackLabels = new Map<string, Record<string, string>>();

  onRequest(req: DiscoveryRequestMsg): void {
    if (req.node?.id) this.nodeId = clientText(req.node.id);
    const typeUrl = req.typeUrl ?? '';
    let sub = this.subs.get(typeUrl);
    if (!sub) {
      this.admit(typeUrl);
      // A first request carries a junk nonce (istiod sends the time): it always gets an answer.
      sub = { typeUrl, kind: kindOfTypeUrl(typeUrl), pending: true, nacks: 0 };
      this.subs.set(typeUrl, sub);
      log.debug('xds subscription', { cluster: this.cluster, connection: this.id, type: typeUrl, served: !!sub.kind });
    } else if (req.responseNonce && req.responseNonce === sub.inFlightNonce) {
      this.onAck(sub, req.versionInfo ?? '', req.errorDetail);
    } else if (!req.responseNonce) {
      sub.pending = true; // a plain re-request: answer with the current state
    } // else: a stale nonce, which the xDS protocol says to ignore
    this.flush();
  }

  protected acked(sub: SotwSub, version: string): void {
    sub.ackedVersion = clientText(version);
    if (!sub.kind) return;
    const old = this.ackLabels.get(sub.typeUrl);
    if (old) this.metrics.ackedVersion.remove(old);
    // A label value is never the client's own text: an ACK names the version we sent, or it is
    // "other"; the connection is our own id (/debug/connections says which node it is).
    const labels = { cluster: this.cluster, connection: this.id, type: sub.kind, version: version === sub.sentVersion ? version : 'other' };
    this.metrics.ackedVersion.set(labels, 1);
    this.ackLabels.set(sub.typeUrl, labels);
  }

  override close(): void {
    super.close();
    for (const l of this.ackLabels.values()) this.metrics.ackedVersion.remove(l);
  }

  protected respond(sub: SotwSub): { nonce: string; message: FramedMessage } {
    const type: TypeSnapshot | undefined = sub.kind ? this.snapshot?.types.get(sub.kind) : undefined;
    sub.sentVersion = type?.version ?? 'empty';
    if (!type || type.resources.size === 0) {
      const nonce = this.nextNonce();
      return { nonce, message: frame([DiscoveryResponse.encode({ versionInfo: sub.sentVersion, typeUrl: sub.typeUrl, nonce }).finish()]) };
    }
    // Every stream gets the same bytes for a version; only a resend (a re-request, a reconnect
    // of this stream's client is a new stream) builds its own, to keep nonces unique per stream.
    if (sub.sentTypeId === undefined || type.id > sub.sentTypeId) {
      sub.sentTypeId = type.id;
      return type.sharedResponse(sub.typeUrl, this.pool);
    }
    this.chargeResend();
    const nonce = this.nextNonce();
    return { nonce, message: type.response(sub.typeUrl, nonce) };
  }

  info(): ConnectionInfo {
    return describe(this, [...this.subs.values()].map((s) => [s.typeUrl, { sentVersion: s.sentVersion, ackedVersion: s.ackedVersion, inFlight: !!s.inFlightNonce, pending: s.pending, nacks: s.nacks, lastNack: s.lastNack }]));
  }
}

/** Incremental ADS: only what changed, plus the names of what was removed. */
class DeltaConnection extends Connection<DeltaDiscoveryRequestMsg, DeltaSub> {
  onRequest(req: DeltaDiscoveryRequestMsg): void {
    if (req.node?.id) this.nodeId = clientText(req.node.id);
    const typeUrl = req.typeUrl ?? '';
    let sub = this.subs.get(typeUrl);
    const subscribe = req.resourceNamesSubscribe ?? [];
    const unsubscribe = req.resourceNamesUnsubscribe ?? [];
    if (!sub) {
      this.admit(typeUrl);
      sub = {
        typeUrl,
        kind: kindOfTypeUrl(typeUrl),
        wildcard: subscribe.length === 0 || subscribe.includes('*'),
        names: new Set(),
        known: new Map(Object.entries(req.initialResourceVersions ?? {})),
        pending: true,
        answered: false,
        nacks: 0,
      };
      this.subs.set(typeUrl, sub);
    }
    if (req.responseNonce && req.responseNonce === sub.inFlightNonce) this.onAck(sub, '', req.errorDetail);
    for (const n of subscribe) {
      if (n === '*') sub.wildcard = true;
      else sub.names.add(n);
      sub.known.delete(n); // a subscribed name must be sent even if the client may have it
      sub.pending = true;
    }
    for (const n of unsubscribe) {
      if (n === '*') sub.wildcard = false;
      else sub.names.delete(n);
      sub.known.delete(n);
    }
    if (sub.names.size > this.limits.maxDeltaNames) throw new StreamLimitError(`more than ${this.limits.maxDeltaNames} resource names on one Delta subscription`);
    this.flush();
  }

  protected acked(): void {}

  protected respond(sub: DeltaSub): { nonce: string; message: FramedMessage } | undefined {
    const type = sub.kind ? this.snapshot?.types.get(sub.kind) : undefined;
    const wanted = (name: string): boolean => sub.wildcard || sub.names.has(name);
    const fields: Buffer[] = [];
    for (const r of type?.resources.values() ?? []) {
      if (!wanted(r.name) || sub.known.get(r.name) === r.version) continue;
      const w = protobuf.Writer.create();
      w.uint32((1 << 3) | 2).string(r.version);
      w.uint32((3 << 3) | 2).string(r.name);
      fields.push(lengthDelimitedField(2, Buffer.concat([w.finish(), lengthDelimitedField(2, r.any)])));
      sub.known.set(r.name, r.version);
    }
    const removed: string[] = [];
    for (const name of sub.known.keys()) {
      if (!type?.resources.has(name)) removed.push(name);
    }
    for (const n of removed) sub.known.delete(n);
    if (fields.length === 0 && removed.length === 0 && sub.answered) return undefined;
    sub.answered = true;
    const nonce = this.nextNonce();
    const header = DeltaDiscoveryResponse.encode({ systemVersionInfo: type?.version ?? 'empty', typeUrl: sub.typeUrl, nonce, removedResources: removed }).finish();
    return { nonce, message: frame([header, ...fields]) };
  }

  info(): ConnectionInfo {
    return describe(this, [...this.subs.values()].map((s) => [s.typeUrl, { sentVersion: undefined, inFlight: !!s.inFlightNonce, pending: s.pending, nacks: s.nacks, lastNack: s.lastNack, resources: s.known.size, wildcard: s.wildcard }]));
  }
}

function describe(c: { id: string; cluster: string; protocol: 'sotw' | 'delta'; nodeId?: string; connectedAt: Date; peer: string }, types: [string, ConnectionInfo['types'][string]][]): ConnectionInfo {
  return { id: c.id, cluster: c.cluster, protocol: c.protocol, peer: c.peer, nodeId: c.nodeId, connectedAt: c.connectedAt.toISOString(), types: Object.fromEntries(types) };
}

type AnyConnection = SotwConnection | DeltaConnection;

/** One ADS listener per cluster view; a cluster is known by the port its istiod dials. */
export class XdsServer {
  private readonly servers = new Map<string, grpc.Server>();
  private readonly conns = new Map<string, Set<AnyConnection>>();
  private readonly snapshots = new Map<string, ClusterSnapshot>();
  private readonly ports = new Map<string, number>();
  /** Memory of large responses, handed from a version to the next (framed.ts). */
  private readonly pool = new BufferPool();
  private readonly streamLog = new LogBudget('xds stream opened or closed', CLIENT_LOG_LINES_PER_MINUTE);
  private readonly nackLog = new LogBudget('xds NACK', CLIENT_LOG_LINES_PER_MINUTE);
  private readonly limitLog = new LogBudget('xds stream past a limit', CLIENT_LOG_LINES_PER_MINUTE);

  constructor(
    private readonly clusters: readonly ClusterConfig[],
    private readonly cfg: XdsConfig,
    private readonly metrics: Metrics,
  ) {}

  async start(): Promise<void> {
    const framed = installFramedWrites();
    this.metrics.framedWrites.set(framed ? 1 : 0);
    if (!framed) log.warn('grpc-js internals differ from the ones framed writes know: every response is copied per stream (slower with many istiods)', {});
    for (const c of this.clusters) {
      const server = new grpc.Server({
        // Checked on each message's length prefix, before it is read: a larger request ends its stream.
        'grpc.max_receive_message_length': this.cfg.limits.maxRequestBytes,
        'grpc.max_send_message_length': -1,
        'grpc.keepalive_time_ms': this.cfg.keepalive.timeMs,
        'grpc.keepalive_timeout_ms': this.cfg.keepalive.timeoutMs,
      });
      this.conns.set(c.name, new Set());
      server.addService(adsService, {
        StreamAggregatedResources: (call: Stream<DiscoveryRequestMsg>) => this.serve(c.name, call, 'sotw'),
        DeltaAggregatedResources: (call: Stream<DeltaDiscoveryRequestMsg>) => this.serve(c.name, call, 'delta'),
      });
      const creds = c.listener.tls
        ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(c.listener.tls.certFile), private_key: readFileSync(c.listener.tls.keyFile) }], false)
        : grpc.ServerCredentials.createInsecure();
      const addr = `${c.listener.address.includes(':') ? `[${c.listener.address}]` : c.listener.address}:${c.listener.port}`;
      const port = await new Promise<number>((resolve, reject) => server.bindAsync(addr, creds, (err, p) => (err ? reject(new Error(`cannot listen on ${addr} for cluster ${c.name}: ${err.message}`)) : resolve(p))));
      this.servers.set(c.name, server);
      this.ports.set(c.name, port);
      log.info('xds listener up', { cluster: c.name, address: addr, port, tls: !!c.listener.tls });
    }
  }

  /** The port a cluster view listens on (useful when the config asked for port 0). */
  port(cluster: string): number | undefined {
    return this.ports.get(cluster);
  }

  setSnapshot(s: ClusterSnapshot): void {
    const prev = this.snapshots.get(s.cluster);
    this.snapshots.set(s.cluster, s);
    for (const c of this.conns.get(s.cluster) ?? []) c.setSnapshot(s);
    // Every stream of the cluster now answers from `s`: a replaced type's responses are done with.
    if (prev && prev !== s) for (const [kind, t] of prev.types) if (s.types.get(kind) !== t) t.retire();
  }

  connections(): ConnectionInfo[] {
    return [...this.conns.values()].flatMap((set) => [...set].map((c) => c.info()));
  }

  listening(): boolean {
    return this.servers.size === this.clusters.length;
  }

  /** Ends every stream (clients reconnect, possibly to another replica), then closes listeners. */
  async stop(graceMs = 5000): Promise<void> {
    for (const set of this.conns.values()) for (const c of set) c.end();
    await Promise.all(
      [...this.servers.values()].map(
        (s) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              s.forceShutdown();
              resolve();
            }, graceMs);
            s.tryShutdown(() => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    this.servers.clear();
  }

  private serve(cluster: string, call: Stream<DiscoveryRequestMsg> | Stream<DeltaDiscoveryRequestMsg>, protocol: 'sotw' | 'delta'): void {
    const conn: AnyConnection =
      protocol === 'sotw'
        ? new SotwConnection(cluster, call as Stream<DiscoveryRequestMsg>, this.metrics, 'sotw', this.cfg.limits, this.nackLog, this.pool)
        : new DeltaConnection(cluster, call as Stream<DeltaDiscoveryRequestMsg>, this.metrics, 'delta', this.cfg.limits, this.nackLog);
    this.conns.get(cluster)!.add(conn);
    this.metrics.connections.inc({ cluster, protocol });
    if (this.streamLog.allow()) log.info('xds stream opened', { cluster, protocol, connection: conn.id, peer: conn.peer });
    conn.setSnapshot(this.snapshots.get(cluster));
    const done = (why: string): void => {
      if (!this.conns.get(cluster)!.delete(conn)) return;
      conn.close();
      this.metrics.connections.dec({ cluster, protocol });
      if (this.streamLog.allow()) log.info('xds stream closed', { cluster, protocol, connection: conn.id, node: conn.nodeId, why });
    };
    call.on('data', (req: DiscoveryRequestMsg & DeltaDiscoveryRequestMsg) => {
      try {
        conn.onRequest(req);
      } catch (err) {
        if (err instanceof StreamLimitError) {
          this.metrics.rejectedInputs.inc({ source: 'xds', kind: 'stream', reason: err.message.replace(/\d+/g, 'N') });
          if (this.limitLog.allow()) log.warn('xds stream ended: it went past a limit', { cluster, connection: conn.id, node: conn.nodeId, peer: conn.peer, limit: err.message });
          call.emit('error', Object.assign(new Error(err.message), { code: grpc.status.RESOURCE_EXHAUSTED, details: err.message }));
          return;
        }
        log.error('xds request handling failed', { cluster, connection: conn.id, error: (err as Error).stack });
      }
    });
    call.on('end', () => {
      done('client ended the stream');
      call.end();
    });
    call.on('cancelled', () => done('cancelled'));
    call.on('error', (err: Error) => done(`error: ${err.message}`));
    call.on('close', () => done('closed'));
  }
}
