import type { Daemon } from '../../src/daemon';
import { zkSource } from '../testbed/daemon';
import { EnvoyProbe, outbound } from '../testbed/envoy-probe';
import { converged, served } from '../testbed/expect-istio';
import { Istiod } from '../testbed/istiod';
import { waitFor } from '../testbed/net';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack } from '../testbed/harness';

jest.setTimeout(180_000);

const provider = (ip: string, iface: string, extra: string) => `dubbo://${ip}:20880/${iface}?application=shop&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;

describe('two clusters, one istiod each, each with its own view', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let daemon: Daemon;
  const istiods: Istiod[] = [];
  const probes: EnvoyProbe[] = [];

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    for (const url of [
      provider('10.8.0.1', 'com.example.OrderService', '&env=blue&region=eu&zone=eu-1'),
      provider('10.8.0.2', 'com.example.OrderService', '&env=green&region=eu&zone=eu-2'),
      provider('10.8.0.3', 'com.example.StockService', '&env=blue'),
      provider('10.8.0.4', 'com.example.PayService', '&env=blue'),
    ]) {
      await writer.register(url, { ephemeral: false });
    }
    const started = await stack.daemon({
      sources: [zkSource(zk.connect)],
      clusters: [
        {
          // Blue cluster: only blue endpoints of two services, with its own network, locality and revision.
          name: 'east',
          listener: { port: 0 },
          revision: 'east',
          filter: {
            services: { matchExpressions: [{ key: 'dubbo.apache.org/interface', operator: 'In', values: ['com.example.OrderService', 'com.example.StockService'] }] },
            endpoints: { matchLabels: { env: 'blue' } },
          },
          overrides: { network: 'net-east', locality: 'us-east/us-east-1', labels: { 'topology.istio.io/cluster': 'east' } },
        },
        { name: 'west', listener: { port: 0 } },
        { name: 'west-replica', listener: { port: 0 } },
      ],
    });
    daemon = started.daemon;
    for (const [cluster, revision] of [
      ['east', 'east'],
      ['west', undefined],
    ] as const) {
      const istiod = await stack.istiod({ configSources: [`xds://${started.viewAddress(cluster)}`], revision });
      istiods.push(istiod);
      probes.push(stack.probe(istiod));
    }
    await converged(istiods[0], probes[0], daemon, 'east');
    await converged(istiods[1], probes[1], daemon, 'west');
  });

  it('gives the east istiod only its filtered view, with the overrides, under its revision', async () => {
    const stored = await istiods[0].configz();
    expect(
      stored
        .filter((o) => o.kind === 'ServiceEntry')
        .map((o) => o.spec.hosts)
        .sort(),
    ).toEqual([['com.example.orderservice'], ['com.example.stockservice']]);
    expect(stored.every((o) => o.metadata.labels?.['istio.io/rev'] === 'east')).toBe(true);
    const orders = stored.filter((o) => o.kind === 'WorkloadEntry' && (o.spec.address as string).startsWith('10.8.0.'));
    expect(orders.map((o) => o.spec.address).sort()).toEqual(['10.8.0.1', '10.8.0.3']);
    expect(orders[0].spec).toMatchObject({ network: 'net-east', locality: 'us-east/us-east-1', labels: { 'topology.istio.io/cluster': 'east', env: 'blue' } });
    expect(probes[0].endpointsOf(outbound(20880, 'com.example.orderservice'))).toEqual([
      expect.objectContaining({ address: '10.8.0.1', locality: { region: 'us-east', zone: 'us-east-1', subZone: '' } }),
    ]);
    expect(probes[0].clusters.has(outbound(20880, 'com.example.payservice'))).toBe(false);
  });

  it('gives the west istiod everything, as the registry has it', async () => {
    const stored = await istiods[1].configz();
    expect(stored.filter((o) => o.kind === 'WorkloadEntry')).toHaveLength(4);
    expect(stored.some((o) => o.metadata.labels?.['istio.io/rev'])).toBe(false);
    expect(probes[1].endpointsOf(outbound(20880, 'com.example.orderservice'))).toEqual([
      expect.objectContaining({ address: '10.8.0.1', locality: { region: 'eu', zone: 'eu-1', subZone: '' } }),
      expect.objectContaining({ address: '10.8.0.2', locality: { region: 'eu', zone: 'eu-2', subZone: '' } }),
    ]);
    expect(probes[1].clusters.has(outbound(20880, 'com.example.payservice'))).toBe(true);
  });

  it('shares render work and encoded bytes between views whose objects are identical', () => {
    const west = daemon.snapshots().find((s) => s.cluster === 'west')!;
    const replica = daemon.snapshots().find((s) => s.cluster === 'west-replica')!;
    for (const [kind, t] of west.types) {
      for (const [name, r] of t.resources) {
        const other = replica.types.get(kind)!.resources.get(name)!;
        expect(other.object).toBe(r.object); // rendered once
        expect(other.any).toBe(r.any); // encoded once
      }
    }
    expect(served(daemon, 'west').get('WorkloadEntry' as never)?.size).toBe(4);
  });

  it('moves an endpoint between views when its env label flips', async () => {
    await writer.unregister(provider('10.8.0.2', 'com.example.OrderService', '&env=green&region=eu&zone=eu-2'));
    await writer.register(provider('10.8.0.2', 'com.example.OrderService', '&env=blue&region=eu&zone=eu-2'));
    const addresses = () =>
      probes[0]
        .endpointsOf(outbound(20880, 'com.example.orderservice'))
        ?.map((e) => e.address)
        .join(',');
    await waitFor('the flipped endpoint in the east view', () => addresses() === '10.8.0.1,10.8.0.2', 30000);
    await converged(istiods[0], probes[0], daemon, 'east');
    await converged(istiods[1], probes[1], daemon, 'west');
  });
});
