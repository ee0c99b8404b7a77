import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, McpResource, protoRoot } from '../../src/xds/proto';

/** What istiod asks for on connect (1.24 and later): MeshConfig plus every Pilot collection. */
export function istiodTypeUrls(version: 'v1' | 'v1alpha3' = 'v1'): string[] {
  const net = (k: string): string => `networking.istio.io/${version}/${k}`;
  const sec = (k: string): string => `security.istio.io/${version === 'v1' ? 'v1' : 'v1beta1'}/${k}`;
  return [
    'core/v1alpha1/MeshConfig',
    net('DestinationRule'),
    'networking.istio.io/v1alpha3/EnvoyFilter',
    net('Gateway'),
    net('ServiceEntry'),
    net('Sidecar'),
    net('VirtualService'),
    net('WorkloadEntry'),
    net('WorkloadGroup'),
    'networking.istio.io/v1alpha3/ProxyConfig',
    sec('AuthorizationPolicy'),
    sec('PeerAuthentication'),
    sec('RequestAuthentication'),
    'telemetry.istio.io/v1/Telemetry',
    'extensions.istio.io/v1alpha1/WasmPlugin',
    'gateway.networking.k8s.io/v1/Gateway',
    'gateway.networking.k8s.io/v1/HTTPRoute',
  ];
}

export interface McpObject {
  name: string;
  version: string;
  createTime?: { seconds: number; nanos?: number };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  bodyTypeUrl: string;
  spec: Record<string, unknown>;
}

export interface TypeState {
  version: string;
  nonce: string;
  resources: Map<string, McpObject>;
}

export function decodeMcpAny(raw: { typeUrl?: string; type_url?: string; value?: Uint8Array }): McpObject {
  const any = { typeUrl: raw.typeUrl ?? raw.type_url, value: raw.value };
  if (any.typeUrl !== 'type.googleapis.com/istio.mcp.v1alpha1.Resource') throw new Error(`unexpected Any type ${any.typeUrl}`);
  const r = McpResource.toObject(McpResource.decode(any.value!), { longs: Number, enums: String, defaults: false }) as {
    metadata: { name: string; version: string; createTime?: { seconds: number; nanos?: number }; labels?: Record<string, string>; annotations?: Record<string, string> };
    body: { typeUrl?: string; type_url?: string; value: Uint8Array };
  };
  const bodyTypeUrl = r.body.typeUrl ?? r.body.type_url ?? '';
  const typeName = bodyTypeUrl.replace('type.googleapis.com/', '');
  const bodyType = protoRoot.lookupType(typeName);
  const spec = bodyType.toObject(bodyType.decode(r.body.value), { longs: Number, enums: String, defaults: false }) as Record<string, unknown>;
  return {
    name: r.metadata.name,
    version: r.metadata.version,
    createTime: r.metadata.createTime,
    labels: r.metadata.labels ?? {},
    annotations: r.metadata.annotations ?? {},
    bodyTypeUrl,
    spec,
  };
}

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';

/**
 * An ADS client that behaves like istiod's config-source client (pkg/adsc): one request per type
 * with a junk nonce on connect, an ACK for every response, and each response replacing the full
 * set of its type. It records every response, so tests can assert that none was ever empty.
 */
export class IstiodLikeClient {
  readonly state = new Map<string, TypeState>();
  readonly history: { typeUrl: string; version: string; count: number; at: number }[] = [];
  readonly nonces = new Set<string>();
  private readonly client: grpc.Client;
  private stream?: grpc.ClientDuplexStream<object, Buffer>;
  /** Per type: the decoded object of each resource's exact bytes in the last response. */
  private readonly decoded = new Map<string, Map<string, McpObject>>();
  closed = false;
  ackEnabled = true;
  /**
   * false: keep each response's bytes without decoding its resources (a cheap client for fan-out
   * measurements); resources() is then empty, lastBody() has the bytes and findEndpoint() reads them.
   */
  decode = true;
  private readonly raw = new Map<string, { version: string; body: Buffer }>();
  /** Called with every response as it arrives, before it is decoded: the moment the client has it. */
  readonly arrivals = new Set<(r: { typeUrl: string; version: string; body: Buffer; at: number }) => void>();

  constructor(
    readonly address: string,
    readonly typeUrls: string[] = istiodTypeUrls(),
    readonly nodeId = 'sidecar~10.0.0.9~istiod-it.istio-system~istio-system.svc.cluster.local',
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    // istiod's adsc dials with 1 MiB stream and connection windows (pkg/adsc); the HTTP/2 default
    // of 64 KiB would make a large response cost the server a round trip per 64 KiB.
    this.client = new grpc.Client(address, credentials, { 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': 1024 * 1024 });
  }

  connect(): this {
    this.closed = false;
    const stream = this.client.makeBidiStreamRequest(
      ADS + 'StreamAggregatedResources',
      (m: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish()),
      (b: Buffer) => b,
    );
    this.stream = stream;
    stream.on('data', (b: Buffer) => this.onResponse(b));
    stream.on('error', () => (this.closed = true));
    stream.on('end', () => (this.closed = true));
    let first = true;
    for (const typeUrl of this.typeUrls) {
      stream.write({ typeUrl, responseNonce: new Date().toString(), node: first ? { id: this.nodeId, metadata: { fields: { GENERATOR: { stringValue: 'api' } } } } : undefined });
      first = false;
    }
    return this;
  }

  private onResponse(b: Buffer): void {
    const at = performance.now();
    const env = this.arrivals.size > 0 || !this.decode ? envelope(b) : undefined;
    if (env) for (const f of [...this.arrivals]) f({ typeUrl: env.typeUrl, version: env.versionInfo, body: b, at });
    if (!this.decode && env) {
      if (this.nonces.has(env.nonce)) throw new Error(`nonce ${env.nonce} reused`);
      this.nonces.add(env.nonce);
      this.raw.set(env.typeUrl, { version: env.versionInfo, body: b });
      if (this.ackEnabled) this.stream?.write({ typeUrl: env.typeUrl, versionInfo: env.versionInfo, responseNonce: env.nonce });
      return;
    }
    const msg = DiscoveryResponse.decode(b) as unknown as {
      versionInfo: string;
      typeUrl: string;
      nonce: string;
      resources: { typeUrl: string; value: Uint8Array }[];
    };
    if (this.nonces.has(msg.nonce)) throw new Error(`nonce ${msg.nonce} reused`);
    this.nonces.add(msg.nonce);
    const resources = new Map<string, McpObject>();
    // A resource whose bytes are those of the last response is the same object: only what
    // changed is decoded, so a full SotW resend costs this client a byte compare per resource.
    const before = this.decoded.get(msg.typeUrl);
    const after = new Map<string, McpObject>();
    for (const any of msg.resources) {
      const v = any.value;
      const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
      const o = before?.get(bytes) ?? decodeMcpAny(any);
      after.set(bytes, o);
      resources.set(o.name, o);
    }
    this.decoded.set(msg.typeUrl, after);
    this.state.set(msg.typeUrl, { version: msg.versionInfo, nonce: msg.nonce, resources });
    this.history.push({ typeUrl: msg.typeUrl, version: msg.versionInfo, count: resources.size, at: Date.now() });
    if (this.ackEnabled) this.stream?.write({ typeUrl: msg.typeUrl, versionInfo: msg.versionInfo, responseNonce: msg.nonce });
  }

  /** Version of the last response of a type. */
  version(typeUrl: string): string | undefined {
    return this.state.get(typeUrl)?.version ?? this.raw.get(typeUrl)?.version;
  }

  /** Raw mode: the bytes of the last response of a type. */
  lastBody(typeUrl: string): Buffer | undefined {
    return this.raw.get(typeUrl)?.body;
  }

  resources(typeUrl: string): Map<string, McpObject> {
    return this.state.get(typeUrl)?.resources ?? new Map();
  }

  /** Every type asked for has had at least one response: what istiod needs to become ready. */
  synced(): boolean {
    return this.typeUrls.every((t) => this.state.has(t) || this.raw.has(t));
  }

  close(): void {
    this.closed = true;
    this.stream?.cancel();
    this.client.close();
  }
}

/** A Delta ADS client: tracks resources by name, applies removals. */
export class DeltaClient {
  readonly resources = new Map<string, Map<string, { version: string; object: McpObject }>>();
  readonly responses: { typeUrl: string; names: string[]; removed: string[]; nonce: string }[] = [];
  private readonly client: grpc.Client;
  private stream?: grpc.ClientDuplexStream<object, Buffer>;

  constructor(readonly address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  connect(): this {
    this.stream = this.client.makeBidiStreamRequest(
      ADS + 'DeltaAggregatedResources',
      (m: object) => Buffer.from(DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromObject(m)).finish()),
      (b: Buffer) => b,
    );
    this.stream.on('data', (b: Buffer) => this.onResponse(b));
    this.stream.on('error', () => {});
    return this;
  }

  subscribe(typeUrl: string, names: string[] = [], initialResourceVersions?: Record<string, string>): void {
    this.stream!.write({ typeUrl, resourceNamesSubscribe: names, initialResourceVersions, node: { id: 'sidecar~10.0.0.8~delta.default~default.svc.cluster.local' } });
  }

  unsubscribe(typeUrl: string, names: string[]): void {
    this.stream!.write({ typeUrl, resourceNamesUnsubscribe: names });
  }

  private onResponse(b: Buffer): void {
    const msg = DeltaDiscoveryResponse.toObject(DeltaDiscoveryResponse.decode(b), { defaults: true }) as {
      typeUrl: string;
      nonce: string;
      removedResources: string[];
      resources: { name: string; version: string; resource: { typeUrl: string; value: Uint8Array } }[];
    };
    let m = this.resources.get(msg.typeUrl);
    if (!m) this.resources.set(msg.typeUrl, (m = new Map()));
    for (const r of msg.resources) m.set(r.name, { version: r.version, object: decodeMcpAny(r.resource) });
    for (const n of msg.removedResources) m.delete(n);
    this.responses.push({ typeUrl: msg.typeUrl, names: msg.resources.map((r) => r.name), removed: msg.removedResources, nonce: msg.nonce });
    this.stream!.write({ typeUrl: msg.typeUrl, responseNonce: msg.nonce });
  }

  close(): void {
    this.stream?.cancel();
    this.client.close();
  }
}

/** The resources (field 2, each an Any) of a raw DiscoveryResponse, as views into it, without decoding them. */
function* rawResources(b: Buffer): Generator<{ start: number; end: number }> {
  const r = protobuf.Reader.create(b);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 2 || (tag & 7) !== 2) {
      r.skipType(tag & 7);
      continue;
    }
    const len = r.uint32();
    yield { start: r.pos, end: r.pos + len };
    r.pos += len;
  }
}

function decodeRawAny(b: Buffer): McpObject {
  const r = protobuf.Reader.create(b);
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array();
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) typeUrl = r.string();
    else if (tag >>> 3 === 2) value = r.bytes();
    else r.skipType(tag & 7);
  }
  return decodeMcpAny({ typeUrl, value });
}

/** Every resource of a raw DiscoveryResponse, decoded. */
export function decodeRaw(b: Buffer): McpObject[] {
  return [...rawResources(b)].map((x) => decodeRawAny(b.subarray(x.start, x.end)));
}

/**
 * The endpoint with this address in a raw SotW response, decoded: a WorkloadEntry's spec, or a
 * ServiceEntry's inline endpoint. Only the resource that holds the address is decoded, so this
 * is cheap even on a response with the whole estate.
 */
export function findEndpoint(b: Buffer, address: string): Record<string, unknown> | undefined {
  const pattern = Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(address)]), Buffer.from(address)]);
  const hits: number[] = [];
  for (let i = b.indexOf(pattern); i >= 0; i = b.indexOf(pattern, i + 1)) hits.push(i);
  if (hits.length === 0) return undefined;
  for (const x of rawResources(b)) {
    if (!hits.some((h) => h >= x.start && h < x.end)) continue;
    const o = decodeRawAny(b.subarray(x.start, x.end));
    const found = o.spec.address === address ? o.spec : ((o.spec.endpoints as Record<string, unknown>[] | undefined) ?? []).find((e) => e.address === address);
    if (found) return found;
  }
  return undefined;
}

/** Endpoints in a raw SotW response: WorkloadEntries, or the inline endpoints of ServiceEntries. */
export function countEndpoints(b: Buffer): number {
  return decodeRaw(b).reduce((n, o) => n + (o.spec.address !== undefined ? 1 : ((o.spec.endpoints as unknown[] | undefined) ?? []).length), 0);
}

/** version_info (1), type_url (4) and nonce (5) of a DiscoveryResponse, skipping its resources. */
function envelope(b: Buffer): { versionInfo: string; typeUrl: string; nonce: string } {
  const r = protobuf.Reader.create(b);
  const out = { versionInfo: '', typeUrl: '', nonce: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) out.versionInfo = r.string();
    else if (field === 4) out.typeUrl = r.string();
    else if (field === 5) out.nonce = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}
