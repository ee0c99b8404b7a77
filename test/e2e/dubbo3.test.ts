import type { Daemon } from '../../src/daemon';
import { dubbo3Fixture, znode } from '../testbed/config';
import { type EnvoyProbe, outbound } from '../testbed/envoy-probe';
import { comparable, converged } from '../testbed/expect-istio';
import type { Istiod } from '../testbed/istiod';
import { sleep } from '../testbed/net';
import type { ZkWriter } from '../testbed/zk-client';
import { IstiodStack } from '../testbed/stack';

jest.setTimeout(180_000);

const fx = dubbo3Fixture();

/**
 * The interface-level URLs Dubbo 3 writes next to an application-level instance when it registers
 * both ways: per exported service, its parameters plus the application's labels (dubbo.labels).
 */
function interfaceTwins(instanceData: string, metadata: string): string[] {
  const inst = JSON.parse(instanceData) as { address: string; payload: { metadata: Record<string, string> } };
  const ports = new Map((JSON.parse(inst.payload.metadata['dubbo.endpoints']) as { protocol: string; port: number }[]).map((e) => [e.protocol, e.port]));
  const labels = Object.fromEntries(Object.entries(inst.payload.metadata).filter(([k]) => !k.startsWith('dubbo.')));
  const services = Object.values((JSON.parse(metadata) as { services: Record<string, { name: string; protocol: string; path: string; params: Record<string, string> }> }).services);
  return services.map((s) => {
    const query = new URLSearchParams({ ...labels, ...s.params });
    return `/dubbo/${s.name}/providers/${encodeURIComponent(`${s.protocol}://${inst.address}:${ports.get(s.protocol)}/${s.path}?${query}`)}`;
  });
}

describe('a Dubbo 3 application-level estate in a real istiod', () => {
  const stack = new IstiodStack();
  let writer: ZkWriter;
  let daemon: Daemon;
  let istiod: Istiod;
  let probe: EnvoyProbe;

  beforeAll(async () => {
    await stack.start({
      seed: async (w) => {
        await w.putAll(fx.greetings.applicationLevel);
        await w.putAll(fx.shop.applicationLevel);
      },
      // The shop instances name zones and no region: the data centre's region completes them.
      daemon: { mapping: { locality: { defaultRegion: 'cn-east' } } },
    });
    [writer, daemon, istiod, probe] = [stack.writer!, stack.daemon!, stack.istiod!, stack.probe!];
  });
  afterAll(() => stack.stop());

  const stored = async () => (await istiod.configz()).map((o) => `${o.kind} ${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
  const endpoints = () =>
    new Map(
      [...probe.clusters.keys()]
        .filter((n) => n.startsWith('outbound|'))
        .sort()
        .map((n) => [n, comparable(probe.endpointsOf(n))]),
    );

  it("reaches istiod's EDS: every exported service on its protocol port", () => {
    expect(probe.endpointsOf(outbound(20880, 'org.apache.dubbo.samples.api.greetingsservice'))).toEqual([expect.objectContaining({ address: '30.221.146.35', port: 20880 })]);
    expect(probe.endpointsOf(outbound(20880, '1.0.0.g1.org.apache.dubbo.samples.shop.userservice'))?.map((e) => `${e.address}:${e.port}`)).toEqual(['10.20.0.1:20880', '10.20.0.2:20880']);
    expect(probe.endpointsOf(outbound(50051, '2.0.0.org.apache.dubbo.samples.shop.orderservice'))?.map((e) => `${e.address}:${e.port}:${e.locality.region}/${e.locality.zone}`)).toEqual([
      '10.20.0.1:50051:cn-east/zone-a',
      '10.20.0.2:50051:cn-east/zone-b',
    ]);
  });

  it('is stored and served exactly as its interface-level twin: adding the twin changes nothing, and the twin alone keeps every object as it was', async () => {
    const appLevel = await stored();
    const appEndpoints = endpoints();
    expect(appLevel.length).toBeGreaterThan(5);

    const [greetProvider] = znode(fx.greetings.interfaceLevel, '/dubbo/');
    const [, shop1] = znode(fx.shop.applicationLevel, '/services/shop-provider/10.20.0.1');
    const [, shop2] = znode(fx.shop.applicationLevel, '/services/shop-provider/10.20.0.2');
    const [, shopMeta] = znode(fx.shop.applicationLevel, '/dubbo/metadata/');
    const twins = [greetProvider, ...interfaceTwins(shop1, shopMeta), ...interfaceTwins(shop2, shopMeta)];
    for (const p of twins) await writer.put(p, '');
    await sleep(1500);
    await converged(istiod, probe, daemon);
    expect(await stored()).toEqual(appLevel); // dual registration: no object, version or endpoint more

    await writer.removeRecursive('/services');
    await sleep(1500);
    await converged(istiod, probe, daemon);
    expect(await stored()).toEqual(appLevel);
    expect(endpoints()).toEqual(appEndpoints);
  });
});
