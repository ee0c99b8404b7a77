/**
 * The metadata of Dubbo 3 instances that write no metadata report (Dubbo's default,
 * dubbo.metadata.storage-type=local): asked of a provider's MetadataService, as Dubbo's own
 * consumers do (MetadataUtils.getRemoteMetadata): `org.apache.dubbo.metadata.MetadataService`,
 * group = the application, version 1.0.0, `getMetadataInfo(revision)`, over the protocol and port
 * the instance names in dubbo.metadata-service.url-params.
 *
 * One call per application and revision, whatever the number of instances: the answer is kept
 * (the last MAX_CACHED revisions; a revision's metadata never changes), calls in flight are shared, at most
 * `concurrency` run at once, and when every provider of a revision failed it is asked again
 * after `retryMs`. Only addresses in `allowedCidrs` are ever dialled.
 */
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ipv4Number, parseCidr } from '../common/cidr';
import { protoRoot } from '../common/proto';
import type { MetadataServiceConfig } from '../config/types';
import { decodeResponse, encodeRequest, metadataInfoJson, readFrame } from './dubbo-codec';

const METADATA_SERVICE = 'org.apache.dubbo.metadata.MetadataService';
const URL_PARAMS_KEY = 'dubbo.metadata-service.url-params';
/** At most this many revisions' answers are kept (an estate has far fewer live revisions). */
const MAX_CACHED = 10_000;
/** Instances asked per attempt at a revision; the next attempt asks the next ones. */
const TRIES_PER_ATTEMPT = 3;

/** Where an instance serves its MetadataService. */
export interface MetadataServiceTarget {
  host: string;
  port: number;
  protocol: string;
  version: string;
}

/** The target an instance's metadata names, or why it names none. */
export function metadataServiceTarget(host: string, metadata: Readonly<Record<string, string>>): MetadataServiceTarget | { error: string } {
  const raw = metadata[URL_PARAMS_KEY];
  if (!raw) return { error: `the instance names no MetadataService (${URL_PARAMS_KEY})` };
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return { error: `${URL_PARAMS_KEY} is not JSON` };
  }
  const port = Number(p.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `${URL_PARAMS_KEY} names no port` };
  return { host, port, protocol: typeof p.protocol === 'string' && p.protocol ? p.protocol : 'dubbo', version: typeof p.version === 'string' && p.version ? p.version : '1.0.0' };
}

/**
 * The MetadataService of an instance on Dubbo's default metadata (storage-type local: no
 * report), or undefined when the instance reports its metadata or names no usable service.
 */
export function localMetadataServiceTarget(host: string, metadata: Readonly<Record<string, string>>): MetadataServiceTarget | undefined {
  if (metadata['dubbo.metadata.storage-type'] !== 'local') return undefined;
  const t = metadataServiceTarget(host, metadata);
  return 'error' in t ? undefined : t;
}

export interface MetadataFetchObserver {
  /** One call ended: its outcome and how long it took. */
  call(ok: boolean, ms: number, reason?: string): void;
  cached(entries: number): void;
}

let nextId = 1n;

/** One getMetadataInfo call, over the protocol the instance names: the MetadataInfo JSON, or why not. */
export function callMetadataService(t: MetadataServiceTarget, app: string, revision: string, timeoutMs: number, maxBytes: number): Promise<string | { error: string }> {
  if (t.protocol === 'tri') return callTriple(t, app, revision, timeoutMs, maxBytes);
  if (t.protocol !== 'dubbo') return Promise.resolve({ error: `a MetadataService over ${t.protocol} is not supported (dubbo and tri are)` });
  return callDubbo(t, app, revision, timeoutMs, maxBytes);
}

const MetadataRequest = protoRoot.lookupType('org.apache.dubbo.metadata.MetadataRequest');
const MetadataInfoV2 = protoRoot.lookupType('org.apache.dubbo.metadata.MetadataInfoV2');

/**
 * Dubbo 3.3's MetadataServiceV2 over Triple (gRPC-compatible, plaintext HTTP/2), which a provider
 * with a tri protocol offers (meta-v 2.0.0): the service's group and version travel in Triple's
 * tri-service-group and tri-service-version headers.
 */
function callTriple(t: MetadataServiceTarget, app: string, revision: string, timeoutMs: number, maxBytes: number): Promise<string | { error: string }> {
  return new Promise((resolve) => {
    const client = new grpc.Client(net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': maxBytes });
    const md = new grpc.Metadata();
    md.set('tri-service-group', app);
    md.set('tri-service-version', t.version);
    client.makeUnaryRequest(
      '/org.apache.dubbo.metadata.MetadataServiceV2/GetMetadataInfo',
      (m: { revision: string }) => Buffer.from(MetadataRequest.encode(MetadataRequest.fromObject(m)).finish()),
      (b: Buffer) => MetadataInfoV2.toObject(MetadataInfoV2.decode(b), { defaults: true }) as { app: string; version: string; services: Record<string, Record<string, unknown>> },
      { revision },
      md,
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        client.close();
        if (err || !res) return resolve({ error: err ? `${grpc.status[err.code] ?? err.code}: ${err.details.slice(0, 200)}` : 'no answer' });
        resolve(metadataInfoJson({ app: res.app, revision: res.version, services: res.services }));
      },
    );
  });
}

/** Over Dubbo's own protocol, Hessian 2 (MetadataService, version 1.0.0). */
function callDubbo(t: MetadataServiceTarget, app: string, revision: string, timeoutMs: number, maxBytes: number): Promise<string | { error: string }> {
  const id = nextId++;
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const socket = net.connect({ host: t.host, port: t.port });
    const finish = (r: string | { error: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('error', (err) => finish({ error: err.message }));
    socket.on('close', () => finish({ error: 'the connection closed before an answer' }));
    socket.on('connect', () =>
      socket.write(
        encodeRequest({
          id,
          service: METADATA_SERVICE,
          version: t.version,
          method: 'getMetadataInfo',
          parameterTypes: 'Ljava/lang/String;',
          args: [revision],
          attachments: { group: app, timeout: String(timeoutMs) },
        }),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const r = readFrame(buf, maxBytes);
        if (!r) return;
        if ('error' in r) return finish({ error: r.error });
        buf = r.rest;
        // Heartbeats and anything not ours are skipped.
        if (r.frame.request || r.frame.event || r.frame.id !== id) continue;
        const value = decodeResponse(r.frame);
        return finish('error' in value ? value : metadataInfoJson(value.value));
      }
    });
  });
}

interface Known {
  content?: string;
  reason?: string;
  /** When a failed revision may be asked again. */
  retryAtMs?: number;
}

export class MetadataFetcher {
  private readonly known = new Map<string, Known>();
  /** Failed attempts per revision: where the next attempt starts among its instances. */
  private readonly attempts = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Known>>();
  private readonly allowed: ({ base: number; size: number } | 'ipv6')[];
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly cfg: MetadataServiceConfig,
    private readonly observer?: MetadataFetchObserver,
    private readonly call = callMetadataService,
  ) {
    this.allowed = cfg.allowedCidrs.map((c) => (c === '::/0' ? 'ipv6' : (parseCidr(c) as { base: number; size: number })));
  }

  /** Whether the adapter may dial this address. */
  allows(host: string): boolean {
    if (net.isIPv6(host)) return this.allowed.includes('ipv6');
    const ip = net.isIPv4(host) ? ipv4Number(host) : undefined;
    return ip !== undefined && this.allowed.some((r) => r !== 'ipv6' && ip >= r.base && ip < r.base + r.size);
  }

  /**
   * The MetadataInfo JSON of an application's revision, asking its instances one after another
   * until one answers; or why none did. A revision whose providers all failed is not asked again
   * before retryMs (the answer is the failure).
   */
  async get(app: string, revision: string, targets: readonly MetadataServiceTarget[], nowMs = Date.now()): Promise<{ content?: string; reason?: string }> {
    const key = `${app}\u0000${revision}`;
    const k = this.known.get(key);
    if (k?.content || (k?.retryAtMs !== undefined && nowMs < k.retryAtMs)) return k;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.ask(app, revision, targets, this.attempts.get(key) ?? 0).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    const r = await p;
    if (r.content === undefined) this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    else this.attempts.delete(key);
    if (this.attempts.size > MAX_CACHED) this.attempts.delete(this.attempts.keys().next().value!);
    this.known.set(key, r);
    if (this.known.size > MAX_CACHED) this.known.delete(this.known.keys().next().value!);
    this.observer?.cached(this.known.size);
    return r;
  }

  /** How long a revision whose providers all failed waits before it is asked again. */
  get retryMs(): number {
    return this.cfg.retryMs;
  }

  /**
   * Asks up to TRIES_PER_ATTEMPT instances, starting where the last attempt stopped: a revision
   * with many dead instances costs a few timeouts per attempt, never one per instance.
   */
  private async ask(app: string, revision: string, targets: readonly MetadataServiceTarget[], attempt: number): Promise<Known> {
    const reasons: string[] = [];
    const n = Math.min(TRIES_PER_ATTEMPT, targets.length);
    for (let k = 0; k < n; k++) {
      const t = targets[(attempt * TRIES_PER_ATTEMPT + k) % targets.length];
      if (!this.allows(t.host)) {
        reasons.push(`${t.host}: not in metadataService.allowedCidrs`);
        continue;
      }
      const started = Date.now();
      const r = await this.slot(() => this.call(t, app, revision, this.cfg.timeoutMs, this.cfg.maxBytes));
      const ok = typeof r === 'string';
      this.observer?.call(ok, Date.now() - started, ok ? undefined : r.error);
      if (ok) return { content: r };
      reasons.push(`${t.host}:${t.port}: ${r.error}`);
    }
    return { reason: `MetadataService: ${reasons.slice(0, 3).join('; ') || 'no instance to ask'}`, retryAtMs: Date.now() + this.cfg.retryMs };
  }

  /** Runs `fn` when fewer than `concurrency` calls are in flight. */
  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.cfg.concurrency) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}
