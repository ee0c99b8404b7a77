import type { Daemon } from '../../src/daemon';
import { shardOf } from '../../src/istio/view';
import { metricValue } from '../testbed/daemon';
import { type EnvoyProbe, outbound } from '../testbed/envoy-probe';
import { expectedEndpoints, sentAs, served, storedAs } from '../testbed/expect-istio';
import type { Istiod } from '../testbed/istiod';
import { waitFor } from '../testbed/net';
import type { ZkWriter } from '../testbed/zk-client';
import { IstiodStack } from '../testbed/stack';

jest.setTimeout(180_000);

const SHARDS = 4;
const iface = (i: number) => `com.example.shard.Service${i}`;
const provider = (ip: string, i: number, extra = '') => `dubbo://${ip}:20880/${iface(i)}?application=app${i % 7}&interface=${iface(i)}&side=provider&timestamp=1700000000000${extra}`;

describe('one istiod reading the estate as 4 shard config sources', () => {
  const stack = new IstiodStack();
  let writer: ZkWriter;
  let daemon: Daemon;
  let admin: string;
  let istiod: Istiod;
  let probe: EnvoyProbe;
  const shards = Array.from({ length: SHARDS }, (_, index) => `shard-${index}`);

  beforeAll(async () => {
    await stack.start({
      seed: async (w) => {
        for (let i = 0; i < 40; i++) for (const n of [1, 2]) await w.register(provider(`10.9.${i}.${n}`, i, i % 3 === 0 ? '&group=g1' : ''), { ephemeral: false });
      },
      daemon: {
        clusters: [
          ...shards.map((name, index) => ({ name, listener: { port: 0 }, shard: { index, count: SHARDS } })),
          // The same estate unsharded, to compare against; no istiod reads it.
          { name: 'whole', listener: { port: 0 } },
        ],
      },
      istiodDials: shards,
      convergeOn: 'whole',
    });
    [writer, daemon, admin, istiod, probe] = [stack.writer!, stack.daemon!, stack.admin, stack.istiod!, stack.probe!];
  });
  afterAll(() => stack.stop());

  it('splits the estate into disjoint shards that together are the whole', () => {
    const whole = served(daemon, 'whole');
    for (const kind of ['ServiceEntry', 'WorkloadEntry'] as const) {
      const parts = shards.map((s) => [
        ...(served(daemon, s)
          .get(kind as never)
          ?.keys() ?? []),
      ]);
      const union = parts.flat().sort();
      expect(union).toEqual([...(whole.get(kind as never)?.keys() ?? [])].sort());
      expect(new Set(union).size).toBe(union.length); // disjoint
      for (const p of parts) expect(p.length).toBeGreaterThan(0);
    }
  });

  it('lets istiod store the full estate and build every cluster and endpoint from the 4 sources', async () => {
    const stored = (await istiod.configz()).filter((o) => o.kind === 'ServiceEntry' || o.kind === 'WorkloadEntry').map(storedAs);
    const sent = [...served(daemon, 'whole').entries()].flatMap(([, m]) => [...m.values()].map(sentAs));
    expect(stored.length).toBe(40 + 80);
    expect(stored.sort(byName)).toEqual(sent.sort(byName));
    const want = expectedEndpoints(served(daemon, 'whole'));
    expect(want.size).toBe(40);
    for (const [cluster] of want) expect(probe.endpointsOf(cluster)?.length).toBe(2);
  });

  it('resends only the shard of the service that changed', async () => {
    const pushes = async () => Promise.all(shards.map((cluster) => metricValue(admin, 'dia_xds_pushes_total', { cluster, type: 'WorkloadEntry' })));
    const before = await pushes();
    await writer.register(provider('10.9.99.1', 5));
    await waitFor("the new endpoint in istiod's EDS", () => probe.endpointsOf(outbound(20880, 'com.example.shard.service5'))?.some((e) => e.address === '10.9.99.1') ?? false, 30000);
    const after = await pushes();
    const pushed = shards.filter((_, i) => after[i] > before[i]);
    expect(pushed).toEqual([`shard-${shardOf(iface(5), SHARDS)}`]);
  });
});

const byName = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.name).localeCompare(String(b.name));
