import * as grpc from '@grpc/grpc-js';
import { Metrics } from '../../src/common/metrics';
import { DeltaDiscoveryRequest, DiscoveryRequest, DiscoveryResponse } from '../../src/xds/proto';
import { object } from '../../src/istio/render';
import { SnapshotBuilder } from '../../src/xds/snapshot';
import { BufferPool, frame } from '../../src/xds/framed';
import { installFramedWrites } from '../../src/xds/grpc-framed-writes';
import { XdsServer } from '../../src/xds/server';
import { xdsTelemetry } from '../../src/daemon/telemetry';
import { waitFor } from '../testbed/net';
import { DeltaClient, IstiodLikeClient, istiodTypeUrls } from '../testbed/xds-client';

const se = (name: string) =>
  object('ServiceEntry', 'dubbo', name, {}, {}, { hosts: [`${name}.svc`], ports: [{ number: 20880, protocol: 'TCP', name: 'tcp-dubbo' }], location: 'MESH_INTERNAL', resolution: 'STATIC' }, 1000);
const we = (name: string, ip: string, weight = 100) => object('WorkloadEntry', 'dubbo', name, {}, {}, { address: ip, ports: { 'tcp-dubbo': 20880 }, weight }, 1000);
const SE = 'networking.istio.io/v1/ServiceEntry';
const LIMITS = { maxRequestBytes: 4 << 20, maxResendsPerSecond: 5, maxDeltaNames: 1000 };
const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';
const WE = 'networking.istio.io/v1/WorkloadEntry';

describe('XdsServer', () => {
  let server: XdsServer;
  let builder: SnapshotBuilder;
  let metrics: Metrics;
  let addr: string;
  const clients: { close(): void }[] = [];

  beforeEach(async () => {
    metrics = new Metrics(false);
    server = new XdsServer(
      [{ name: 'c1', listener: { address: '127.0.0.1', port: 0 } }],
      { debounce: { quietMs: 0, maxDelayMs: 0 }, keepalive: { timeMs: 30000, timeoutMs: 10000 }, limits: LIMITS },
      xdsTelemetry(metrics),
    );
    await server.start();
    addr = `127.0.0.1:${server.port('c1')}`;
    builder = new SnapshotBuilder('c1');
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server.stop(500);
  });
  const sotw = (types?: string[]) => {
    const c = new IstiodLikeClient(addr, types).connect();
    clients.push(c);
    return c;
  };

  it('holds our types until there is a first complete state, but answers the rest at once', async () => {
    const c = sotw();
    await waitFor('unknown types answered', () => c.state.has('core/v1alpha1/MeshConfig') && c.state.has('security.istio.io/v1/AuthorizationPolicy'));
    expect(c.state.has(SE)).toBe(false);
    expect(c.resources('core/v1alpha1/MeshConfig').size).toBe(0);
    server.setSnapshot(builder.update(new Map([['s', [se('a'), we('a-1', '10.0.0.1')]]])));
    await waitFor('synced', () => c.synced());
    expect([...c.resources(SE).keys()]).toEqual(['dubbo/a']);
    expect([...c.resources(WE).keys()]).toEqual(['dubbo/a-1']);
  });

  it('answers under the exact type URL requested: v1, v1beta1 and v1alpha3', async () => {
    server.setSnapshot(builder.update(new Map([['s', [se('a')]]])));
    const urls = ['networking.istio.io/v1/ServiceEntry', 'networking.istio.io/v1beta1/ServiceEntry', 'networking.istio.io/v1alpha3/ServiceEntry'];
    const c = sotw(urls);
    await waitFor('synced', () => c.synced());
    for (const u of urls) expect([...c.resources(u).keys()]).toEqual(['dubbo/a']);
  });

  // The request sets of the istiod releases that cannot run without Kubernetes here (1.30 and
  // later crash; 1.22 to 1.29 are not served by the module proxy): networking v1alpha3 up to
  // 1.23, v1 from 1.24. The e2e suite covers a real istiod of the v1 generation.
  it.each([
    ['1.22', 'v1alpha3'],
    ['1.23', 'v1alpha3'],
    ['1.24', 'v1'],
    ['1.26', 'v1'],
    ['1.29', 'v1'],
  ] as const)('serves istiod %s its whole initial request set (%s)', async (_release, version) => {
    server.setSnapshot(builder.update(new Map([['s', [se('a'), we('a-1', '10.0.0.1')]]])));
    const urls = istiodTypeUrls(version);
    const c = sotw(urls);
    await waitFor('every type answered', () => c.synced());
    for (const u of urls) {
      const want = u === `networking.istio.io/${version}/ServiceEntry` ? ['dubbo/a'] : u === `networking.istio.io/${version}/WorkloadEntry` ? ['dubbo/a-1'] : [];
      expect({ u, names: [...c.resources(u).keys()] }).toEqual({ u, names: want });
    }
    expect(c.resources(`networking.istio.io/${version}/ServiceEntry`).get('dubbo/a')!.bodyTypeUrl).toBe('type.googleapis.com/istio.networking.v1alpha3.ServiceEntry');
  });

  it('pushes the full set on change, with a new nonce and version each time, tracking ACKs', async () => {
    server.setSnapshot(builder.update(new Map([['s', [se('a'), we('a-1', '10.0.0.1')]]])));
    const c = sotw();
    await waitFor('synced', () => c.synced());
    const v1 = c.state.get(WE)!.version;
    server.setSnapshot(builder.update(new Map([['s', [se('a'), we('a-1', '10.0.0.1'), we('a-2', '10.0.0.2')]]])));
    await waitFor('second endpoint', () => c.resources(WE).size === 2);
    server.setSnapshot(builder.update(new Map([['s', [se('a'), we('a-2', '10.0.0.2', 7)]]])));
    await waitFor('first endpoint gone', () => c.resources(WE).size === 1 && c.resources(WE).get('dubbo/a-2')!.spec.weight === 7);
    expect(c.state.get(WE)!.version).not.toBe(v1);
    const info = server.connections()[0];
    await waitFor('ack recorded', () => server.connections()[0].types[WE].ackedVersion === c.state.get(WE)!.version);
    expect(info.nodeId).toContain('sidecar~');
    // ServiceEntry did not change, so it was sent once only.
    expect(c.history.filter((h) => h.typeUrl === SE)).toHaveLength(1);
  });

  it('sends nothing new to a client that has not ACKed, then skips it straight to the latest', async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const c = sotw([WE]);
    await waitFor('synced', () => c.synced());
    c.ackEnabled = false;
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1', 2)]]])));
    await waitFor('v2', () => c.resources(WE).get('dubbo/a-1')?.spec.weight === 2);
    for (let w = 3; w <= 6; w++) server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1', w)]]])));
    await new Promise((r) => setTimeout(r, 200));
    expect(c.resources(WE).get('dubbo/a-1')!.spec.weight).toBe(2);
    c.ackEnabled = true;
    // The late ACK of v2 releases exactly one response: the latest.
    (c as unknown as { stream: { write(m: object): void } }).stream.write({ typeUrl: WE, versionInfo: c.state.get(WE)!.version, responseNonce: c.state.get(WE)!.nonce });
    await waitFor('latest', () => c.resources(WE).get('dubbo/a-1')?.spec.weight === 6);
    expect(c.history.filter((h) => h.typeUrl === WE)).toHaveLength(3);
    expect(await metrics.registry.getSingleMetricAsString('dia_xds_skipped_versions_total')).toMatch(/ [1-9]\d*$/m);
  });

  it('writes the pre-framed bytes through grpc-js as they are (no copy per stream), the same bytes as without the patch', async () => {
    // Installed by start(); false would mean grpc-js's internals moved (framed.ts), which is
    // correct on the wire but copies every response per stream again.
    expect(installFramedWrites()).toBe(true);
    expect(await metrics.registry.getSingleMetricAsString('dia_xds_framed_writes')).toMatch(/ 1$/m);
    // What grpc-js puts on the wire for a response: with the patch, the framed bytes themselves;
    // without it (any other value takes grpc-js's own path), grpc-js frames what the response
    // serializer hands it, the plain message. Both must be the same bytes.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const call = (require('@grpc/grpc-js/build/src/server-interceptors') as { BaseServerInterceptingCall: { prototype: { serializeMessage(this: unknown, v: unknown): Buffer } } })
      .BaseServerInterceptingCall.prototype;
    const framed = frame([Buffer.from('resource one'), Buffer.from('resource two')]);
    const self = { handler: { serialize: (v: unknown) => (v === 'plain' ? framed.message : Buffer.alloc(0)) } };
    const patched = call.serializeMessage.call(self, framed);
    const unpatched = call.serializeMessage.call(self, 'plain');
    expect(patched).toBe(framed.bytes); // no copy
    expect(unpatched).not.toBe(framed.bytes);
    expect(patched.equals(unpatched)).toBe(true);
  });

  it('reuses the memory of a large response only once it is retired and its writes are done', () => {
    const pool = new BufferPool(4, 1000);
    const parts = [Buffer.alloc(600, 1), Buffer.alloc(600, 2)];
    const a = frame(parts, pool);
    expect(a.bytes.readUInt32BE(1)).toBe(1200);
    const written = a.writing();
    a.retire();
    expect(pool.size).toBe(0); // a write is still in flight
    written();
    expect(pool.size).toBe(1);
    const b = frame(parts, pool);
    expect(b.bytes.buffer).toBe(a.bytes.buffer);
    expect(b.message.equals(Buffer.concat(parts))).toBe(true);
    // A failed write may leave the transport holding the bytes: they are never reused.
    const failed = b.writing();
    b.retire();
    failed(new Error('stream reset'));
    expect(pool.size).toBe(0);
    // Small messages are not pooled at all.
    const small = frame([Buffer.alloc(10)], pool);
    small.writing()();
    small.retire();
    expect(pool.size).toBe(0);
  });

  it('sends every version of a large type intact while reusing response memory', async () => {
    // About 3 MB per response: over the pool's threshold, so versions take turns in its memory.
    const many = (n: number, w: number) =>
      Array.from({ length: n }, (_, i) =>
        object('WorkloadEntry', 'dubbo', `big-${i}`, {}, {}, { address: `10.1.${i >> 8}.${i & 255}`, ports: { 'tcp-dubbo': 20880 }, labels: { pad: 'x'.repeat(200), i: String(i) }, weight: w }, 1000),
      );
    const take = jest.spyOn(BufferPool.prototype, 'take');
    server.setSnapshot(builder.update(new Map([['s', many(8000, 1)]])));
    const c = sotw([WE]);
    await waitFor('v1', () => c.resources(WE).size === 8000, 20000);
    for (let w = 2; w <= 6; w++) {
      server.setSnapshot(builder.update(new Map([['s', many(8000, w)]])));
      await waitFor(`v${w}`, () => [...c.resources(WE).values()].every((o) => o.spec.weight === w), 20000);
    }
    expect(c.resources(WE).get('dubbo/big-7999')!.spec.labels).toEqual({ pad: 'x'.repeat(200), i: '7999' });
    // Later versions were laid into the memory of replaced ones.
    expect(take.mock.results.filter((r) => r.value !== undefined).length).toBeGreaterThanOrEqual(4);
    take.mockRestore();
  }, 30000);

  it('writes one shared response per version to every stream, and a fresh nonce when a stream is resent a version', async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const bodies: Buffer[][] = [[], []];
    const [a, b] = [sotw([WE]), sotw([WE])];
    [a, b].forEach((c, i) => c.arrivals.add((r) => bodies[i].push(r.body)));
    await waitFor('both synced', () => a.synced() && b.synced());
    expect(bodies[0][0].equals(bodies[1][0])).toBe(true);
    const first = a.state.get(WE)!.nonce;
    // A plain re-request (no nonce) of the same version gets the same set under a new nonce.
    (a as unknown as { stream: { write(m: object): void } }).stream.write({ typeUrl: WE });
    await waitFor('resent', () => a.history.filter((h) => h.typeUrl === WE).length === 2);
    expect(a.state.get(WE)!.nonce).not.toBe(first);
    expect(a.state.get(WE)!.version).toBe(b.state.get(WE)!.version);
    expect([...a.resources(WE).keys()]).toEqual(['dubbo/a-1']);
    // The next version is shared again.
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1'), we('a-2', '10.0.0.2')]]])));
    await waitFor('v2 on both', () => a.resources(WE).size === 2 && b.resources(WE).size === 2);
    expect(bodies[0].at(-1)!.equals(bodies[1].at(-1)!)).toBe(true);
  });

  it('records a NACK with its message', async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const c = sotw([WE]);
    await waitFor('synced', () => c.synced());
    c.ackEnabled = false;
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.2')]]])));
    await waitFor('v2', () => c.resources(WE).get('dubbo/a-1')?.spec.address === '10.0.0.2');
    (c as unknown as { stream: { write(m: object): void } }).stream.write({ typeUrl: WE, versionInfo: 'old', responseNonce: c.state.get(WE)!.nonce, errorDetail: { code: 3, message: 'bad thing' } });
    await waitFor('nack', () => server.connections()[0].types[WE].nacks === 1);
    expect(server.connections()[0].types[WE].lastNack).toBe('bad thing');
  });

  it("keeps and labels nothing of a client's own text beyond a short prefix", async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const c = sotw([WE]);
    await waitFor('synced', () => c.synced());
    c.ackEnabled = false;
    const raw = (c as unknown as { stream: { write(m: object): void } }).stream;
    const huge = 'x'.repeat(1 << 20);
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.2')]]])));
    await waitFor('v2', () => c.resources(WE).get('dubbo/a-1')?.spec.address === '10.0.0.2');
    raw.write({ typeUrl: WE, versionInfo: huge, responseNonce: c.state.get(WE)!.nonce, node: { id: huge } });
    await waitFor('the odd ACK recorded', () => server.connections()[0].types[WE].ackedVersion?.startsWith('xxx'));
    const info = server.connections()[0];
    expect(info.types[WE].ackedVersion!.length).toBeLessThan(300);
    expect(info.nodeId!.length).toBeLessThan(300);
    const text = await metrics.registry.getSingleMetricAsString('dia_xds_acked_version_info');
    expect(text).toContain('version="other"');
    expect(text.length).toBeLessThan(2000);
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.3')]]])));
    await waitFor('v3', () => c.resources(WE).get('dubbo/a-1')?.spec.address === '10.0.0.3');
    raw.write({ typeUrl: WE, versionInfo: 'old', responseNonce: c.state.get(WE)!.nonce, errorDetail: { code: 3, message: huge } });
    await waitFor('nack', () => server.connections()[0].types[WE].nacks === 1);
    expect(server.connections()[0].types[WE].lastNack).toMatch(/^x{256}… \(1048576 characters\)$/);
  });

  it('ends a stream that names too many type URLs with RESOURCE_EXHAUSTED, and serves the others', async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const good = sotw([WE]);
    const client = new grpc.Client(addr, grpc.credentials.createInsecure());
    clients.push(client);
    const stream = client.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      (m: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish()),
      (b: Buffer) => b,
    );
    let code: number | undefined;
    stream.on('error', (e: grpc.ServiceError) => (code = e.code));
    stream.on('data', () => {});
    for (let i = 0; i < 100; i++) stream.write({ typeUrl: `junk.example/v1/Kind${i}` });
    await waitFor('the junk stream ended', () => code !== undefined);
    expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await metrics.registry.getSingleMetricAsString('dia_rejected_inputs_total')).toContain('reason="more than N distinct type URLs on one stream"');
    await waitFor('the good client is served', () => good.synced());
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.2')]]])));
    await waitFor('and keeps being served', () => good.resources(WE).get('dubbo/a-1')?.spec.address === '10.0.0.2');
  });

  /** A raw stream a test drives by hand; resolves the gRPC status code it ends with. */
  const rawStream = (method: 'StreamAggregatedResources' | 'DeltaAggregatedResources', encode: (m: object) => Buffer) => {
    const client = new grpc.Client(addr, grpc.credentials.createInsecure());
    clients.push(client);
    const stream = client.makeBidiStreamRequest(ADS + method, encode, (b: Buffer) => b);
    const ended = new Promise<number>((resolve) => stream.on('error', (e: grpc.ServiceError) => resolve(e.code)));
    stream.on('data', () => {});
    return { stream, ended };
  };
  const sotwEncode = (m: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish());

  it('ends a stream whose request is over the size limit, and serves the others', async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const good = sotw([WE]);
    const { stream, ended } = rawStream('StreamAggregatedResources', sotwEncode);
    stream.write({ typeUrl: WE, node: { id: 'x'.repeat(5 << 20) } });
    expect(await ended).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await waitFor('the good client is served', () => good.synced());
  });

  it('ends a stream that re-requests an unchanged version in a loop, after a burst', async () => {
    server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1')]]])));
    const good = sotw([WE]);
    const { stream, ended } = rawStream('StreamAggregatedResources', sotwEncode);
    // ACK each response, then ask again without a nonce: each answer is the whole type again.
    let responses = 0;
    stream.on('data', (b: Buffer) => {
      const r = DiscoveryResponse.decode(b) as unknown as { versionInfo: string; nonce: string };
      responses++;
      stream.write({ typeUrl: WE, versionInfo: r.versionInfo, responseNonce: r.nonce });
      stream.write({ typeUrl: WE });
    });
    stream.write({ typeUrl: WE });
    expect(await ended).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // The burst (ten times the rate) went through first, and little more.
    expect(responses).toBeGreaterThan(10 * LIMITS.maxResendsPerSecond);
    expect(responses).toBeLessThan(20 * LIMITS.maxResendsPerSecond);
    expect(await metrics.registry.getSingleMetricAsString('dia_rejected_inputs_total')).toContain('reason="more than N re-sends of an unchanged version per second"');
    await waitFor('the good client is served', () => good.synced());
  });

  it('ends a Delta stream that subscribes to too many names', async () => {
    const { stream, ended } = rawStream('DeltaAggregatedResources', (m: object) => Buffer.from(DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromObject(m)).finish()));
    stream.write({ typeUrl: WE, resourceNamesSubscribe: Array.from({ length: LIMITS.maxDeltaNames + 1 }, (_, i) => `dubbo/n-${i}`) });
    expect(await ended).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('gives every client the same bytes and resyncs a reconnecting client in full', async () => {
    server.setSnapshot(builder.update(new Map([['s', [se('a'), we('a-1', '10.0.0.1')]]])));
    const a = sotw();
    const b = sotw(istiodTypeUrls('v1alpha3'));
    await waitFor('both synced', () => a.synced() && b.synced());
    a.close();
    const again = sotw();
    await waitFor('resynced', () => again.synced());
    expect([...again.resources(WE).keys()]).toEqual(['dubbo/a-1']);
    expect(b.resources('networking.istio.io/v1alpha3/WorkloadEntry').get('dubbo/a-1')!.version).toBe(again.resources(WE).get('dubbo/a-1')!.version);
  });

  describe('Delta ADS', () => {
    it('sends only what changed, and the names of what was removed', async () => {
      server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1'), we('a-2', '10.0.0.2')]]])));
      const d = new DeltaClient(addr).connect();
      clients.push(d);
      d.subscribe(WE);
      await waitFor('initial', () => d.resources.get(WE)?.size === 2);
      server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1', 5), we('a-3', '10.0.0.3')]]])));
      await waitFor('delta', () => d.responses.length === 2);
      expect(d.responses[1]).toMatchObject({ names: ['dubbo/a-1', 'dubbo/a-3'], removed: ['dubbo/a-2'] });
      expect([...d.resources.get(WE)!.keys()].sort()).toEqual(['dubbo/a-1', 'dubbo/a-3']);
      expect(d.resources.get(WE)!.get('dubbo/a-1')!.object.spec.weight).toBe(5);
    });

    it('honours explicit subscriptions and initial versions', async () => {
      server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1'), we('a-2', '10.0.0.2')]]])));
      const current = builder.latest().types.get('WorkloadEntry')!.resources.get('dubbo/a-1')!.version;
      const d = new DeltaClient(addr).connect();
      clients.push(d);
      d.subscribe(WE, ['dubbo/a-1', 'dubbo/a-2'], { 'dubbo/a-1': current });
      await waitFor('initial', () => d.responses.length === 1);
      // a-1 is explicitly subscribed, so it is sent even though the client claims to have it.
      expect(d.responses[0].names.sort()).toEqual(['dubbo/a-1', 'dubbo/a-2']);
      d.unsubscribe(WE, ['dubbo/a-2']);
      await new Promise((r) => setTimeout(r, 100)); // let the server read the unsubscribe first
      server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1'), we('a-2', '10.0.0.2', 9)]]])));
      await new Promise((r) => setTimeout(r, 200));
      expect(d.responses).toHaveLength(1);
      server.setSnapshot(builder.update(new Map([['s', [we('a-1', '10.0.0.1', 3), we('a-2', '10.0.0.2', 9)]]])));
      await waitFor('a-1 update', () => d.responses.length === 2);
      expect(d.responses[1]).toMatchObject({ names: ['dubbo/a-1'], removed: [] });
    });
  });
});
