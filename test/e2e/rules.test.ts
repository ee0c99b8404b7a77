import yaml from 'js-yaml';
import type { Daemon } from '../../src/daemon';
import { metricValue, sourceListing, zkRuleSource, zkSource } from '../testbed/daemon';
import { EnvoyProbe, outbound, type ProbeTarget } from '../testbed/envoy-probe';
import { converged } from '../testbed/expect-istio';
import { Istiod } from '../testbed/istiod';
import { sleep, waitFor } from '../testbed/net';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack } from '../testbed/harness';

jest.setTimeout(180_000);

const provider = (proto: string, ip: string, port: number, iface: string, extra: string) =>
  `${proto}://${ip}:${port}/${iface}?application=shop&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;
const ORDERS = 'com.example.orderservice';
const USERS = 'com.example.userservice';
const POLICY = '/dubbo/config/dubbo-istio-adapter/bluegreen';
const CONFIGURATOR = '/dubbo/config/dubbo/com.example.OrderService::.configurators';
const policy = (east: string) => `
apiVersion: dubbo-istio-adapter.io/v1
kind: TrafficPolicy
metadata: {name: shop-bluegreen}
spec:
  services: [com.example.OrderService, com.example.UserService]
  split:
    label: env
    clusters:
      east: ${east}
      west: {blue: 50, green: 50}
  zoneAffinity: {enabled: true}
`;
const disable = (address: string) => `configVersion: v2.7
scope: service
key: com.example.OrderService
enabled: true
configs:
- addresses: ["${address}"]
  side: provider
  parameters: {disabled: true}
`;

/** Weighted targets as "subset=weight", sorted; or the single cluster. */
function split(t: ProbeTarget | undefined): string[] {
  if (!t) return [];
  if ('cluster' in t) return [t.cluster];
  return t.weighted.map((w) => `${w.name.split('|')[2]}=${w.weight}`).sort();
}
const tcpSplit = (p: EnvoyProbe) => split([...p.tcpTargets.values()].flat().find((t) => 'weighted' in t && t.weighted.some((w) => w.name.endsWith(ORDERS))));
const grpcSplit = (p: EnvoyProbe) => split([...(p.routes.get('50051') ?? new Map()).entries()].find(([d]) => d.startsWith(USERS))?.[1]);

describe('config-center rules in a real istiod, two clusters', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let daemon: Daemon;
  let admin: string;
  const istiods: Istiod[] = [];
  const probes: EnvoyProbe[] = [];

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    for (const url of [
      provider('dubbo', '10.11.0.1', 20880, 'com.example.OrderService', '&env=blue&region=r1&zone=z1'),
      provider('dubbo', '10.11.0.2', 20880, 'com.example.OrderService', '&env=green&region=r1&zone=z2'),
      provider('dubbo', '10.11.0.3', 20880, 'com.example.OrderService', '&env=blue&region=r1&zone=z2'),
      provider('tri', '10.11.1.1', 50051, 'com.example.UserService', '&env=blue'),
      provider('tri', '10.11.1.2', 50051, 'com.example.UserService', '&env=green'),
    ]) {
      await writer.register(url, { ephemeral: false });
    }
    await writer.put(POLICY, policy('{blue: 90, green: 10}'));
    await writer.put(CONFIGURATOR, disable('10.11.0.3:20880'));
    const started = await stack.daemon({
      sources: [zkSource(zk.connect)],
      rules: { sources: [zkRuleSource(zk.connect)] },
      clusters: [
        { name: 'east', listener: { port: 0 } },
        { name: 'west', listener: { port: 0 } },
      ],
    });
    daemon = started.daemon;
    admin = started.admin;
    for (const cluster of ['east', 'west']) {
      const istiod = await stack.istiod({ configSources: [`xds://${started.viewAddress(cluster)}`] });
      istiods.push(istiod);
      probes.push(stack.probe(istiod, { listeners: true, routes: ['50051'] }));
    }
    await converged(istiods[0], probes[0], daemon, 'east');
    await converged(istiods[1], probes[1], daemon, 'west');
  });

  it('stores the DestinationRule and VirtualService istiod needs for the split', async () => {
    const kinds = (await istiods[0].configz()).map((o) => `${o.kind} ${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'DestinationRule com-example-orderservice',
        'VirtualService com-example-orderservice',
        'DestinationRule com-example-userservice',
        'VirtualService com-example-userservice',
      ]),
    );
    // Zone affinity: locality load balancing, with the outlier detection Istio needs to fail over.
    const dr = (await istiods[0].configz()).find((o) => o.kind === 'DestinationRule' && o.metadata.name === 'com-example-orderservice')!;
    expect(dr.spec).toMatchObject({ trafficPolicy: { loadBalancer: { localityLbSetting: { enabled: true } }, outlierDetection: { consecutive5xxErrors: 5, interval: '10s' } } });
  });

  it('turns a blue/green split into weighted routes in the proxy config, different per cluster (TCP and gRPC)', async () => {
    await waitFor(
      'weighted routes in both clusters',
      () => tcpSplit(probes[0]).length === 2 && grpcSplit(probes[0]).length === 2 && tcpSplit(probes[1]).length === 2 && grpcSplit(probes[1]).length === 2,
      30000,
    );
    expect(tcpSplit(probes[0])).toEqual(['env-blue=90', 'env-green=10']);
    expect(grpcSplit(probes[0])).toEqual(['env-blue=90', 'env-green=10']);
    expect(tcpSplit(probes[1])).toEqual(['env-blue=50', 'env-green=50']);
    expect(grpcSplit(probes[1])).toEqual(['env-blue=50', 'env-green=50']);
    // The subsets are real clusters with their own endpoints.
    expect(probes[0].endpointsOf(outbound(20880, ORDERS, 'env-green'))?.map((e) => e.address)).toEqual(['10.11.0.2']);
  });

  it('reads registry and rules from the one ZooKeeper on one session', async () => {
    type Listed = { sources: { name: string; details: { sessionId?: string } }[] };
    const rules = yaml.load(await (await fetch(`${admin}/debug/rules`)).text()) as Listed;
    const registry = (await sourceListing(admin, 'zk')).details.sessionId;
    expect(registry).toMatch(/^[0-9a-f]{16}$/);
    expect(rules.sources.find((s) => s.name === 'zk-rules')!.details.sessionId).toBe(registry);
  });

  it('removes a provider a configurator disables from EDS, and brings it back when the rule goes', async () => {
    const addresses = (subset = '') => probes[0].endpointsOf(outbound(20880, ORDERS, subset))?.map((e) => e.address) ?? [];
    expect(addresses()).toEqual(['10.11.0.1', '10.11.0.2']);
    expect(addresses('env-blue')).toEqual(['10.11.0.1']);
    await writer.remove(CONFIGURATOR);
    await waitFor('provider back in EDS', () => addresses().includes('10.11.0.3'), 30000);
    expect(addresses('env-blue')).toEqual(['10.11.0.1', '10.11.0.3']);
    await writer.put(CONFIGURATOR, disable('10.11.0.3:20880'));
    await waitFor('provider out of EDS again', () => !addresses().includes('10.11.0.3'), 30000);
  });

  it('keeps the last good rule when a new version is broken, and says so', async () => {
    const rejected = await metricValue(admin, 'dia_rejected_inputs_total', { kind: 'rule' });
    await writer.put(POLICY, policy('{blue: 80, green: 30}')); // adds up to 110
    await waitFor('the broken rule is counted', async () => (await metricValue(admin, 'dia_rejected_inputs_total', { kind: 'rule' })) > rejected, 30000);
    const readyz = await (await fetch(`${admin}/readyz`)).text();
    expect(readyz).toContain('weights add up to 110, not 100');
    expect(readyz).toContain('its last good version stays in force');
    await sleep(1000);
    expect(tcpSplit(probes[0])).toEqual(['env-blue=90', 'env-green=10']);

    await writer.put(POLICY, policy('{blue: 70, green: 30}'));
    await waitFor('the mended rule reaches istiod', () => tcpSplit(probes[0]).join() === 'env-blue=70,env-green=30', 30000);
    expect(grpcSplit(probes[0])).toEqual(['env-blue=70', 'env-green=30']);
    expect(tcpSplit(probes[1])).toEqual(['env-blue=50', 'env-green=50']);
  });

  it('shows the effective rules per service and their sources at /debug/rules', async () => {
    const r = (await (await fetch(`${admin}/debug/rules?format=json&cluster=east`)).json()) as {
      documents: { document: string; state: string }[];
      services: { service: string; applied: { origin: { document: string }; effect: string }[] }[];
    };
    expect(r.documents.map((d) => `${d.document} ${d.state}`).sort()).toEqual([`${CONFIGURATOR} ok`, `${POLICY} ok`].sort());
    const orders = r.services.find((s) => s.service === 'com.example.OrderService')!;
    expect(orders.applied.map((a) => `${a.origin.document}: ${a.effect}`)).toEqual([`${CONFIGURATOR}: disabled 1 endpoint(s)`, `${POLICY}: split blue=70 green=30 on env, zone affinity`]);
  });
});
