import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { cutText, log, LogBudget } from '../common/log';
import { nacosProtoRoot } from '../common/proto';

/**
 * One connection to Nacos's client gRPC port (2.x and 3.x), as Nacos's own clients make it
 * (alibaba/nacos common/.../GrpcClient.java):
 *  1. a unary ServerCheckRequest on /Request/request, answered with the connection id;
 *  2. the bidirectional /BiRequestStream/requestBiStream, opened on the same HTTP/2 connection
 *     (Nacos ties unary requests to a connection by the transport they arrive on), whose first
 *     message is a ConnectionSetupRequest (client version, labels, tenant, abilities); a server
 *     that negotiates abilities answers with a SetupAckRequest;
 *  3. unary requests from then on; the server pushes requests (NotifySubscriberRequest, fuzzy
 *     watch notifications, ClientDetectionRequest, ConnectResetRequest) down the stream and gets
 *     each one's response back up it, with the same requestId.
 * Every message is a Payload: metadata.type names the Java class, the body is its JSON in
 * Any.value. A HealthCheckRequest every few seconds finds a dead connection; then the next
 * server of the list is tried, with backoff.
 *
 * Why our own: the `nacos` npm package speaks only the HTTP API. Nacos's protocol is a small
 * JSON-over-gRPC envelope, so this is @grpc/grpc-js plus the envelope (proto/nacos).
 */
export interface NacosGrpcOptions {
  /** Source name, for logs. */
  name: string;
  /** host:port of each server's HTTP API; the gRPC port is that port plus portOffset. */
  servers: string[];
  portOffset: number;
  /** Nacos client module: naming or config (a label Nacos keeps per connection). */
  module: 'naming' | 'config';
  /** Namespace the connection is set up for (Nacos's "tenant"); '' is public. */
  namespace: string;
  timeoutMs: number;
  tls?: { caFile?: string; insecureSkipVerify?: boolean };
  /** Largest message accepted from the server (an instance list, a service list page). */
  maxMessageBytes: number;
  /** Headers of one request (an access token, access-key signatures). */
  headers(type: string, body: Record<string, unknown>): Promise<Record<string, string>>;
  /** A request the server pushed; answers the type of its response (undefined: not understood). */
  onPush(type: string, body: Record<string, unknown>): string | undefined;
  /** Set up (again): whatever the server knew of this client (subscriptions) is gone. */
  onConnected(): void;
  /** Lost: requests fail until onConnected. */
  onDisconnected(reason: string): void;
  /** A push that was not a Nacos payload, not understood, or failed to apply (answered with an error or ignored). */
  onBadPush?(): void;
  /** Every unary request sent, health checks included. */
  onRequest?(): void;
  /** Every connection attempt that failed, with whether the port refused. */
  onConnectFailed?(reason: string, refused: boolean): void;
}

/** A response Nacos answered with an error code (resultCode is not 200). */
export class NacosGrpcError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Nacos's error codes this client acts on (NacosException). */
export const NACOS_ERROR = { UN_REGISTER: 301, NO_HANDLER: 302, NO_RIGHT: 403, FUZZY_WATCH_OVER_LIMIT: 50311 } as const;

const Payload = nacosProtoRoot.lookupType('Payload');
const HEALTH_CHECK_MS = 5000;
/** A server that sends junk must not fill the log: lines about bad pushes per minute. */
const badPushLog = new LogBudget('bad Nacos push', 20);
const SETUP_ACK_WAIT_MS = 3000;
const BACKOFF_MS = { first: 500, max: 30_000 };
/** What we say we are: Nacos keeps it per connection and shows it in its console. */
const CLIENT_VERSION = 'Nacos-Node-Client:dubbo-istio-adapter';

interface Live {
  client: grpc.Client;
  stream: grpc.ClientDuplexStream<Buffer, Buffer>;
  server: string;
  connectionId: string;
  health?: NodeJS.Timeout;
  setupAck?: () => void;
  /** Lost while being set up. */
  lost?: boolean;
}

export class NacosGrpcConnection {
  private live?: Live;
  private closed = false;
  private next = 0;
  private connecting?: Promise<void>;
  /** Set up at least once. */
  everConnected = false;

  constructor(private readonly opts: NacosGrpcOptions) {}

  get connected(): boolean {
    return !!this.live;
  }

  get server(): string | undefined {
    return this.live?.server;
  }

  start(): void {
    this.reconnect();
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  /** One request; throws NacosGrpcError on an error answer, another Error when not answered. */
  async request<T = Record<string, unknown>>(type: string, body: Record<string, unknown>): Promise<T> {
    const live = this.live;
    if (!live) throw new Error('not connected to Nacos over gRPC');
    const headers = await this.opts.headers(type, body);
    this.opts.onRequest?.();
    const answer = await new Promise<Buffer>((resolve, reject) => {
      live.client.makeUnaryRequest(
        '/Request/request',
        (b: Buffer) => b,
        (b: Buffer) => b,
        encode(type, body, headers),
        new grpc.Metadata(),
        { deadline: Date.now() + this.opts.timeoutMs },
        (err, value) => (err || !value ? reject(err ?? new Error('no answer')) : resolve(value)),
      );
    });
    const r = decode(answer);
    const code = Number(r.body.resultCode);
    if (code !== 200) {
      const errorCode = Number(r.body.errorCode) || code;
      // The server forgot this connection (it restarted, or expired it): set up a new one.
      if (errorCode === NACOS_ERROR.UN_REGISTER && this.live === live) this.lost(live, 'Nacos no longer knows the connection');
      throw new NacosGrpcError(errorCode, `${type}: ${r.type} ${errorCode} ${cutText(String(r.body.message ?? ''), 200)}`);
    }
    return r.body as T;
  }

  /** Connects in the background until set up or closed; one attempt loop at a time. */
  private reconnect(): void {
    if (this.closed || this.connecting) return;
    this.connecting = (async () => {
      let delay = BACKOFF_MS.first;
      while (!this.closed && !this.live) {
        const server = this.opts.servers[this.next++ % this.opts.servers.length];
        try {
          await this.connect(server);
        } catch (err) {
          const e = err as grpc.ServiceError;
          const refused = e.code === grpc.status.UNAVAILABLE && /ECONNREFUSED|ECONNRESET|No connection established/.test(e.details ?? e.message);
          this.opts.onConnectFailed?.(`${server}: ${cutText(e.details ?? e.message, 300)}`, refused);
          await new Promise((r) => setTimeout(r, delay * (0.8 + Math.random() * 0.4)).unref());
          delay = Math.min(delay * 2, BACKOFF_MS.max);
        }
      }
    })().finally(() => (this.connecting = undefined));
  }

  private async connect(server: string): Promise<void> {
    const i = server.lastIndexOf(':');
    const target = `${server.slice(0, i)}:${Number(server.slice(i + 1)) + this.opts.portOffset}`;
    const client = new grpc.Client(target, this.credentials(), {
      'grpc.max_receive_message_length': this.opts.maxMessageBytes,
      'grpc.max_send_message_length': this.opts.maxMessageBytes,
      // A fresh connection per attempt: never a subchannel shared with an earlier, dead one.
      'grpc.use_local_subchannel_pool': 1,
    });
    try {
      const check = await new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(
          '/Request/request',
          (b: Buffer) => b,
          (b: Buffer) => b,
          encode('ServerCheckRequest', {}, {}),
          new grpc.Metadata(),
          { deadline: Date.now() + this.opts.timeoutMs },
          (err, v) => (err || !v ? reject(err ?? new Error('no answer')) : resolve(v)),
        );
      });
      const r = decode(check);
      if (r.type !== 'ServerCheckResponse' || Number(r.body.resultCode) !== 200) throw new Error(`server check answered ${r.type} ${cutText(String(r.body.message ?? ''), 200)}`);
      const stream = client.makeBidiStreamRequest(
        '/BiRequestStream/requestBiStream',
        (b: Buffer) => b,
        (b: Buffer) => b,
      );
      const live: Live = { client, stream, server, connectionId: String(r.body.connectionId ?? '') };
      stream.on('data', (b: Buffer) => this.onStreamData(live, b));
      stream.on('error', (err: Error) => this.lost(live, `stream error: ${err.message}`));
      stream.on('end', () => this.lost(live, 'stream ended by the server'));
      const acked = r.body.supportAbilityNegotiation === true ? new Promise<void>((resolve) => (live.setupAck = resolve)) : undefined;
      stream.write(encode('ConnectionSetupRequest', { clientVersion: CLIENT_VERSION, tenant: this.opts.namespace, labels: { source: 'sdk', module: this.opts.module }, abilityTable: {} }, {}));
      // As Nacos's client: wait for the server's abilities where it negotiates them, else give
      // the server a moment to register the connection before the first request.
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise((r) => (timer = setTimeout(r, acked ? SETUP_ACK_WAIT_MS : 100)));
      await (acked ? Promise.race([acked, waited]) : waited);
      clearTimeout(timer);
      if (this.closed) throw new Error('closed');
      if (live.lost) throw new Error('the stream ended while being set up');
      this.live = live;
      this.everConnected = true;
      live.health = setInterval(() => void this.healthCheck(live), HEALTH_CHECK_MS);
      live.health.unref();
      log.info('connected to Nacos over gRPC', { source: this.opts.name, server: target, module: this.opts.module, connectionId: live.connectionId });
      this.opts.onConnected();
    } catch (err) {
      client.close();
      throw err;
    }
  }

  private credentials(): grpc.ChannelCredentials {
    const tls = this.opts.tls;
    if (!tls) return grpc.credentials.createInsecure();
    return grpc.credentials.createSsl(tls.caFile ? readFileSync(tls.caFile) : null, null, null, tls.insecureSkipVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {});
  }

  private async healthCheck(live: Live): Promise<void> {
    if (this.live !== live) return;
    try {
      await this.request('HealthCheckRequest', {});
    } catch (err) {
      this.lost(live, `health check failed: ${(err as Error).message}`);
    }
  }

  private onStreamData(live: Live, bytes: Buffer): void {
    let msg: { type: string; body: Record<string, unknown> };
    try {
      msg = decode(bytes);
    } catch (err) {
      this.opts.onBadPush?.();
      if (badPushLog.allow()) log.warn('Nacos sent a message that is not a Nacos payload; ignored', { source: this.opts.name, error: cutText((err as Error).message, 200) });
      return;
    }
    const { type, body } = msg;
    let answer: string | undefined;
    switch (type) {
      case 'SetupAckRequest':
        live.setupAck?.(); // no response, as Nacos's client
        return;
      case 'ClientDetectionRequest':
        answer = 'ClientDetectionResponse';
        break;
      case 'ConnectResetRequest':
        // Answered first (once written), then a new connection, as Nacos's client does.
        this.respond(live, 'ConnectResetResponse', body.requestId, () => this.lost(live, 'Nacos asked this client to connect again'));
        return;
      default:
        try {
          answer = this.opts.onPush(type, body);
        } catch (err) {
          if (badPushLog.allow()) log.warn('a Nacos push could not be applied', { source: this.opts.name, type: cutText(type, 100), error: cutText((err as Error).message, 200) });
        }
    }
    if (answer) return this.respond(live, answer, body.requestId);
    this.opts.onBadPush?.();
    if (!live.stream.destroyed)
      live.stream.write(encode('ErrorResponse', { resultCode: 500, errorCode: NACOS_ERROR.NO_HANDLER, message: `not handled: ${cutText(type, 100)}`, requestId: body.requestId ?? '' }, {}));
  }

  private respond(live: Live, type: string, requestId: unknown, then?: () => void): void {
    if (live.stream.destroyed) return then?.();
    live.stream.write(encode(type, { resultCode: 200, errorCode: 0, requestId: requestId ?? '' }, {}), then);
  }

  private lost(live: Live, reason: string): void {
    live.lost = true;
    if (this.live !== live) {
      live.stream.cancel();
      live.client.close();
      return;
    }
    this.drop();
    if (!this.closed) {
      log.warn('lost the gRPC connection to Nacos; connecting again', { source: this.opts.name, server: live.server, reason: cutText(reason, 300) });
      this.opts.onDisconnected(reason);
      this.reconnect();
    }
  }

  private drop(): void {
    const live = this.live;
    this.live = undefined;
    if (!live) return;
    clearInterval(live.health);
    live.stream.removeAllListeners('end');
    live.stream.on('error', () => undefined);
    live.stream.cancel();
    live.client.close();
  }
}

function encode(type: string, body: Record<string, unknown>, headers: Record<string, string>): Buffer {
  return Buffer.from(Payload.encode(Payload.fromObject({ metadata: { type, clientIp: '', headers }, body: { typeUrl: '', value: Buffer.from(JSON.stringify(body), 'utf8') } })).finish());
}

function decode(bytes: Buffer): { type: string; body: Record<string, unknown> } {
  const p = Payload.decode(bytes) as unknown as { metadata?: { type?: string }; body?: { value?: Uint8Array } };
  const text = Buffer.from(p.body?.value ?? new Uint8Array()).toString('utf8');
  const body = text ? (JSON.parse(text) as unknown) : {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('the body is not a JSON object');
  return { type: p.metadata?.type ?? '', body: body as Record<string, unknown> };
}
