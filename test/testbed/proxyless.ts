import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { DecoderV2, EncoderV2 } from 'hessian.js';
import protobuf from 'protobufjs';

xds.register();

/**
 * grpc-js-xds keeps a priority or weighted-target child it no longer uses for 15 minutes
 * (DEFAULT_RETENTION_INTERVAL_MS) on a timer it never unrefs, so a process whose routes or
 * localities changed cannot exit for 15 minutes after its clients closed. Timers that long
 * (nothing in a test waits a minute on purpose) are unref'd in the process that loads these
 * clients: they still fire if it runs that long, they just do not keep it alive.
 */
const LONG_TIMER_MS = 60_000;
const setTimeoutAsIs = globalThis.setTimeout;
globalThis.setTimeout = Object.assign(
  (...args: Parameters<typeof setTimeout>) => {
    const t = setTimeoutAsIs(...args);
    if ((args[1] ?? 0) >= LONG_TIMER_MS) t.unref();
    return t;
  },
  { __promisify__: setTimeoutAsIs.__promisify__ },
) as typeof setTimeout;

/**
 * Dubbo's Triple wrapper (dubbo-rpc-triple's triple_wrapper.proto): how a Triple provider of a
 * plain Java interface (no protobuf IDL) takes its arguments and gives its answer over gRPC.
 * Each argument and the answer are Hessian 2 bytes ("hessian4" on the wire, Dubbo's name for it).
 */
const wrapper = protobuf.Root.fromJSON({
  nested: {
    TripleRequestWrapper: { fields: { serializeType: { type: 'string', id: 1 }, args: { rule: 'repeated', type: 'bytes', id: 2 }, argTypes: { rule: 'repeated', type: 'string', id: 3 } } },
    TripleResponseWrapper: { fields: { serializeType: { type: 'string', id: 1 }, data: { type: 'bytes', id: 2 }, type: { type: 'string', id: 3 } } },
  },
});
const Request = wrapper.lookupType('TripleRequestWrapper');
const Response = wrapper.lookupType('TripleResponseWrapper');

const encodeStringCall = (arg: string): Buffer =>
  Buffer.from(Request.encode(Request.fromObject({ serializeType: 'hessian4', args: [new EncoderV2().write(arg).get()], argTypes: ['java.lang.String'] })).finish());
const decodeStringAnswer = (b: Buffer): string => {
  const r = Response.toObject(Response.decode(b)) as { data?: Uint8Array };
  return String(new DecoderV2(Buffer.from(r.data ?? [])).read());
};

export interface ProxylessNode {
  /** The workload's address, name and namespace, as in a sidecar's node id. */
  ip: string;
  name: string;
  namespace?: string;
  /** Where the workload runs: istiod prefers endpoints of the same locality. */
  locality?: { region?: string; zone?: string; subzone?: string };
  /** Workload labels (condition routes and rules keyed by a consumer application match on them). */
  labels?: Record<string, string>;
}

/**
 * A proxyless gRPC client in Istio's sense (@grpc/grpc-js-xds): it takes listeners, routes,
 * clusters and endpoints from istiod over xDS, with the bootstrap istiod's proxyless mode
 * expects (node metadata GENERATOR: grpc, a sidecar~ node id), and calls the Dubbo Triple
 * providers those lead to directly. Each client has a bootstrap of its own (grpc-js-xds's
 * per-channel bootstrap option), so clients of several localities can live in one process.
 */
export class ProxylessClient {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly bootstrap: string;

  constructor(istiodXdsAddress: string, node: ProxylessNode) {
    const ns = node.namespace ?? 'default';
    this.bootstrap = JSON.stringify({
      xds_servers: [{ server_uri: istiodXdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: {
        id: `sidecar~${node.ip}~${node.name}.${ns}~${ns}.svc.cluster.local`,
        metadata: { GENERATOR: 'grpc', NAMESPACE: ns, LABELS: node.labels ?? {}, INSTANCE_IPS: node.ip },
        locality: node.locality ?? {},
      },
    });
  }

  private client(host: string, port: number): grpc.Client {
    const target = `xds:///${host}:${port}`;
    let c = this.clients.get(target);
    if (!c) {
      c = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': this.bootstrap });
      this.clients.set(target, c);
    }
    return c;
  }

  /**
   * One call of `service.method(arg)` (a String -> String method of a Java interface) through
   * the mesh host `host:port`, with Triple's version and group headers and any others given.
   */
  call(host: string, port: number, service: string, method: string, arg: string, headers: Record<string, string> = {}, deadlineMs = 5000): Promise<string> {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(headers)) md.set(k, v);
    return new Promise((resolve, reject) => {
      this.client(host, port).makeUnaryRequest(`/${service}/${method}`, encodeStringCall, decodeStringAnswer, arg, md, { deadline: Date.now() + deadlineMs }, (err, answer) =>
        err ? reject(err) : resolve(answer!),
      );
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
