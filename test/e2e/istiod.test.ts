import type { Daemon } from '../../src/daemon';
import { fixtureProviderEntries } from '../testbed/config';
import { xdsConnections, zkSource } from '../testbed/daemon';
import { EnvoyProbe, outbound } from '../testbed/envoy-probe';
import { comparable, converged, expectEnvoyConfig, expectIstiodStores, served } from '../testbed/expect-istio';
import { Istiod } from '../testbed/istiod';
import { sleep, waitFor } from '../testbed/net';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack, withStack } from '../testbed/harness';

jest.setTimeout(180_000);

const fixtures = fixtureProviderEntries().map((e) => decodeURIComponent(e));
const provider = (ip: string, iface: string, extra = '') => `dubbo://${ip}:20880/${iface}?application=orders&dubbo=2.0.2&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;
// Providers beyond the fixtures: locality, weight, a blue/green env, a group, a meshed one, triple.
const extras = [
  provider('10.7.0.1', 'com.example.OrderService', '&region=eu-west&zone=eu-west-1a&env=blue&weight=80'),
  provider('10.7.0.2', 'com.example.OrderService', '&region=eu-west&zone=eu-west-1b&env=green&weight=20'),
  provider('10.7.0.3', 'com.example.OrderService', '&group=canary&version=2.0.0'),
  'dubbo://10.7.0.4:20882/com.example.StockService?application=stock&interface=com.example.StockService&mesh=true&side=provider&timestamp=1700000000000',
  'tri://10.7.0.5:50051/com.example.UserService?application=users&interface=com.example.UserService&side=provider&timestamp=1700000000000',
];

describe('a real istiod fed by the adapter', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let daemon: Daemon;
  let xdsPort: number;
  let admin: string;
  let istiod: Istiod;
  let probe: EnvoyProbe;

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    for (const url of [...fixtures, ...extras]) await writer.register(url, { ephemeral: false });
    const started = await stack.daemon({ sources: [zkSource(zk.connect)], render: { emptyServiceGraceMs: 0 } });
    daemon = started.daemon;
    admin = started.admin;
    xdsPort = Number(started.xdsAddress.split(':')[1]);
    istiod = await stack.istiod({ configSources: [`xds://${started.xdsAddress}`] });
    probe = stack.probe(istiod);
    await converged(istiod, probe, daemon);
  });

  it('stores every ServiceEntry and WorkloadEntry we send, with spec, labels, versions and create time', async () => {
    await expectIstiodStores(istiod, daemon);
    const stored = await istiod.configzOf('WorkloadEntry');
    expect(stored.size).toBe(fixtures.length + extras.length);
    const blue = [...stored.values()].find((w) => w.spec.address === '10.7.0.1')!;
    expect(blue.spec).toMatchObject({ labels: { app: 'orders', env: 'blue' }, locality: 'eu-west/eu-west-1a', weight: 80 });
  });

  it('turns them into the outbound clusters and endpoints we meant', () => {
    expectEnvoyConfig(probe, daemon);
    expect(probe.endpointsOf(outbound(20880, 'com.example.orderservice'))).toEqual([
      expect.objectContaining({ address: '10.7.0.1', port: 20880, weight: 80, locality: { region: 'eu-west', zone: 'eu-west-1a', subZone: '' } }),
      expect.objectContaining({ address: '10.7.0.2', port: 20880, weight: 20, locality: { region: 'eu-west', zone: 'eu-west-1b', subZone: '' } }),
    ]);
    // A group is its own host; a meshed provider is reached on the sidecar port; tri:// is gRPC.
    expect(probe.endpointsOf(outbound(20880, '2.0.0.canary.com.example.orderservice'))).toEqual([expect.objectContaining({ address: '10.7.0.3', port: 20880 })]);
    expect(probe.endpointsOf(outbound(20880, 'com.example.stockservice'))).toEqual([expect.objectContaining({ address: '10.7.0.4', port: 20882 })]);
    expect(probe.endpointsOf(outbound(50051, 'com.example.userservice'))).toEqual([expect.objectContaining({ address: '10.7.0.5', port: 50051 })]);
  });

  it("carries a registration, a change and a deregistration to istiod's EDS", async () => {
    const cluster = outbound(20880, 'com.example.orderservice');
    const endpoint = (ip: string) => probe.endpointsOf(cluster)?.find((e) => e.address === ip);
    const timed = async (what: string, change: () => Promise<void>, done: () => boolean): Promise<number> => {
      const t0 = Date.now();
      await change();
      await waitFor(what, done, 30000, 10);
      const ms = Date.now() - t0;
      console.log(`registry → istiod EDS latency, ${what}: ${ms} ms`);
      return ms;
    };
    const url = provider('10.7.0.9', 'com.example.OrderService', '&region=eu-west&zone=eu-west-1a');
    await timed(
      'register',
      () => writer.register(url).then(() => undefined),
      () => endpoint('10.7.0.9') !== undefined,
    );
    expect(endpoint('10.7.0.9')).toMatchObject({ port: 20880, weight: 100 });
    const changed = provider('10.7.0.9', 'com.example.OrderService', '&region=eu-west&zone=eu-west-1a&weight=30');
    await timed(
      'change weight',
      async () => {
        await writer.register(changed);
        await writer.unregister(url);
      },
      () => endpoint('10.7.0.9')?.weight === 30,
    );
    await timed(
      'deregister',
      () => writer.unregister(changed),
      () => endpoint('10.7.0.9') === undefined,
    );
    await converged(istiod, probe, daemon);
  });

  it('keeps istiod whole across an adapter restart: it reconnects and resyncs, and loses nothing', async () => {
    const before = await istiod.configz();
    const endpointsBefore = [...probe.endpoints.values()].reduce((n, e) => n + e.length, 0);
    let fewest = endpointsBefore;
    const watch = setInterval(() => {
      fewest = Math.min(
        fewest,
        [...probe.endpoints.values()].reduce((n, e) => n + e.length, 0),
      );
    }, 20);
    try {
      await daemon.stop();
      await sleep(1500);
      // While the adapter is gone, istiod keeps what it had.
      expect((await istiod.configz()).map((o) => o.metadata.resourceVersion).sort()).toEqual(before.map((o) => o.metadata.resourceVersion).sort());
      const restarted = await stack.daemon({ sources: [zkSource(zk.connect)], render: { emptyServiceGraceMs: 0 }, clusters: [{ name: 'default', listener: { port: xdsPort } }] });
      daemon = restarted.daemon;
      admin = restarted.admin;
      await waitFor('istiod reconnects', async () => (await xdsConnections(admin)).length > 0, 60000, 100);
      await converged(istiod, probe, daemon);
      await sleep(500);
    } finally {
      clearInterval(watch);
    }
    expect(fewest).toBe(endpointsBefore);
    expect((await istiod.configz()).map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort()).toEqual(before.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort());
  });

  it('gives istiod the same endpoints in inline mode as in workloadentry mode', () =>
    withStack(async (parts) => {
      const inline = await parts.daemon({ sources: [zkSource(zk.connect)], render: { endpointMode: 'inline' } });
      const istiod2 = await parts.istiod({ configSources: [`xds://${inline.xdsAddress}`] });
      const probe2 = parts.probe(istiod2);
      expect(served(inline.daemon).get('WorkloadEntry' as never)?.size ?? 0).toBe(0);
      await converged(istiod2, probe2, inline.daemon);
      const all = (p: EnvoyProbe) => new Map([...p.clusters.keys()].filter((n) => n.startsWith('outbound|')).map((n) => [n, comparable(p.endpointsOf(n))]));
      expect(all(probe2)).toEqual(all(probe));
      expect(all(probe).size).toBeGreaterThan(5);
    }));
});
