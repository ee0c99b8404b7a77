import { DubboProvider, testHosts } from '../testbed/dubbo-provider';
import { metricValue } from '../testbed/daemon';
import { EnvoyProbe, outbound } from '../testbed/envoy-probe';
import { served } from '../testbed/expect-istio';
import { freePort, waitFor } from '../testbed/net';
import { IstiodStack } from '../testbed/stack';

jest.setTimeout(300_000);

const V1 = '1.0.0.dia.greetingservice';
const V2 = '2.0.0.g1.dia.greetingservice';
/** The providers' ZooKeeper session timeout (Dubbo's registry parameter `session`). */
const SESSION_MS = 4000;

/**
 * A real Dubbo estate through the adapter into a real istiod, seen by a sidecar: three Dubbo 3.3
 * JVMs on test hosts of their own, in ZooKeeper.
 *   a: dubbo and tri, versions 1.0.0 and 2.0.0 (group g1), registered both ways (remote metadata)
 *   b: dubbo, 1.0.0, statically tagged "gray", interface-level only
 *   c: dubbo and tri, 1.0.0 and 2.0.0 (g1), interface-level only
 *   d: dubbo, 1.0.0, application-level only (register-mode instance, remote metadata)
 *   e: dubbo, 1.0.0, application-level only on Dubbo's default metadata (local: no metadata
 *      report; the adapter asks e's MetadataService)
 */
describe('a real Dubbo estate in a real istiod', () => {
  const stack = new IstiodStack();
  const providers: Record<string, DubboProvider> = {};
  const ports: Record<string, number> = {};
  let a = '';
  let b = '';
  let c = '';
  let d = '';
  let e = '';

  beforeAll(async () => {
    [a, b, c, d, e] = testHosts();
    for (const k of ['aD', 'aT', 'bD', 'cD', 'cT', 'dD', 'eD']) ports[k] = await freePort();
    await stack.start({
      seed: async () => {
        const registry = `zookeeper://${stack.zk!.connect}?session=${SESSION_MS}`;
        const both = (p: string) => [`dubbo:${ports[p + 'D']}`, `tri:${ports[p + 'T']}`];
        const started = await Promise.all([
          new DubboProvider({ registry, host: a, protocols: both('a'), services: ['1.0.0', '2.0.0:g1'], metadata: 'remote' }).start(),
          new DubboProvider({ registry, host: b, protocols: [`dubbo:${ports.bD}`], services: ['1.0.0'], tag: 'gray', registerMode: 'interface', application: 'greeting-gray' }).start(),
          new DubboProvider({ registry, host: c, protocols: both('c'), services: ['1.0.0', '2.0.0:g1'], registerMode: 'interface', application: 'greeting-c' }).start(),
          new DubboProvider({ registry, host: d, protocols: [`dubbo:${ports.dD}`], services: ['1.0.0'], registerMode: 'instance', metadata: 'remote', application: 'greeting-d' }).start(),
          new DubboProvider({ registry, host: e, protocols: [`dubbo:${ports.eD}`], services: ['1.0.0'], registerMode: 'instance', application: 'greeting-e' }).start(),
        ]);
        [providers.a, providers.b, providers.c, providers.d, providers.e] = started;
      },
      // 4 of the source's 10 distinct endpoints are a's: under the threshold. Counted by registry
      // record, a's dual registration made it 8 of 14, and its crash was held as a mass removal.
      // The default endpoint mode (the suites' own default is workloadentry), the one that keeps
      // a multi-protocol provider's endpoints to the ports it serves (docs/istio.md).
      daemon: { render: { endpointMode: 'inline' }, protection: { massRemoval: { threshold: 0.5, minEndpoints: 4, holdMs: 600_000 } } },
      probe: { listeners: true },
      rules: true,
    });
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all(Object.values(providers).map((p) => p.destroy()));
  });

  const eps = (port: number, host: string, subset = '') => stack.probe!.endpointsOf(outbound(port, host, subset))?.map((e) => `${e.address}:${e.port}`);
  const at = (host: string, port: string) => `${host}:${ports[port]}`;
  const sorted = (xs: string[]) => [...xs].sort();

  it('puts every provider only in the clusters of the protocol, version and group it serves, at its own port, once', async () => {
    await waitFor('the whole estate in EDS', () => eps(20880, V1)?.length === 5 && eps(50051, V2)?.length === 2, 60000);
    expect(eps(20880, V1)).toEqual(sorted([at(a, 'aD'), at(b, 'bD'), at(c, 'cD'), at(d, 'dD'), at(e, 'eD')]));
    expect(eps(50051, V1)).toEqual(sorted([at(a, 'aT'), at(c, 'cT')]));
    expect(eps(20880, V2)).toEqual(sorted([at(a, 'aD'), at(c, 'cD')]));
    expect(eps(50051, V2)).toEqual(sorted([at(a, 'aT'), at(c, 'cT')]));
    // a, d and e really are registered at application level: the applications were read, and nothing refused.
    const { sources } = (await (await fetch(`${stack.admin}/debug/sources?format=json`)).json()) as { sources: { details: { applicationLevel: { applications: number } } }[] };
    expect(sources[0].details.applicationLevel.applications).toBe(3);
    expect(await metricValue(stack.admin, 'dia_rejected_inputs_total', {})).toBe(0);
    // e on Dubbo's default metadata: one MetadataService call for its revision.
    expect(await metricValue(stack.admin, 'dia_metadata_service_calls_total', { outcome: 'ok' })).toBe(1);
  });

  it('gives each TCP service its own listener, whose default route leaves the tagged provider out', async () => {
    const vip = (host: string) =>
      [...served(stack.daemon!).get('ServiceEntry')!.values()].map((m) => m.spec as { hosts: string[]; addresses: string[] }).find((s) => s.hosts[0] === host)!.addresses[0];
    await waitFor('listeners of both versions', () => stack.probe!.tcpTargets.has(`${vip(V1)}_20880`) && stack.probe!.tcpTargets.has(`${vip(V2)}_20880`), 60000);
    expect(stack.probe!.tcpTargets.get(`${vip(V1)}_20880`)).toEqual([{ cluster: outbound(20880, V1, 'untagged') }]);
    expect(stack.probe!.tcpTargets.get(`${vip(V2)}_20880`)).toEqual([{ cluster: outbound(20880, V2) }]);
    expect(stack.probe!.tcpTargets.has('0.0.0.0_20880')).toBe(false);
    await waitFor('subset clusters', () => eps(20880, V1, 'untagged') !== undefined && eps(20880, V1, 'tag-gray') !== undefined, 60000);
    expect(eps(20880, V1, 'untagged')).toEqual(sorted([at(a, 'aD'), at(c, 'cD'), at(d, 'dD'), at(e, 'eD')]));
    expect(eps(20880, V1, 'tag-gray')).toEqual([at(b, 'bD')]);
  });

  it('routes a consumer application by a v3.1 rule keyed to one version: weighted among the real providers it names', async () => {
    // Dubbo 3.3's form, keyed to version 1.0.0: bops's calls go 75/25 to greeting-c and greeting-d.
    await stack.writer!.put(
      '/dubbo/config/dubbo/dia.GreetingService:1.0.0.condition-router',
      'configVersion: v3.1\nscope: service\nkey: dia.GreetingService:1.0.0\nforce: false\nconditions:\n  - from: {match: application=bops}\n    to:\n      - {match: application=greeting-c, weight: 75}\n      - {match: application=greeting-d, weight: 25}\n',
    );
    const bops = new EnvoyProbe(stack.istiod!.xdsAddress, 'sidecar~10.0.0.8~bops-1.default~default.svc.cluster.local', { app: 'bops' }).connect({ listeners: true });
    try {
      const vip = (host: string) =>
        [...served(stack.daemon!).get('ServiceEntry')!.values()].map((m) => m.spec as { hosts: string[]; addresses: string[] }).find((x) => x.hosts[0] === host)!.addresses[0];
      const target = (probe: EnvoyProbe, host: string) => probe.tcpTargets.get(`${vip(host)}_20880`)?.[0];
      await waitFor('bops weighted on version 1.0.0', () => 'weighted' in (target(bops, V1) ?? {}), 60000);
      const weighted = (target(bops, V1) as { weighted: { name: string; weight: number }[] }).weighted;
      await waitFor('the route subsets in EDS', () => weighted.every((w) => bops.endpointsOf(w.name) !== undefined), 60000);
      expect(Object.fromEntries(weighted.map((w) => [w.weight, bops.endpointsOf(w.name)!.map((e) => `${e.address}:${e.port}`)]))).toEqual({ 75: [at(c, 'cD')], 25: [at(d, 'dD')] });
      // Version 2.0.0 is another service: the rule keyed to 1.0.0 leaves it alone, for bops too.
      expect(target(bops, V2)).toEqual({ cluster: outbound(20880, V2) });
      // Any other consumer keeps the default route (untagged providers).
      expect(target(stack.probe!, V1)).toEqual({ cluster: outbound(20880, V1, 'untagged') });
    } finally {
      bops.close();
    }
  });

  it('withdraws a crashed provider registered both ways within its session timeout, not held as a mass removal', async () => {
    const gone = () => !JSON.stringify([eps(20880, V1), eps(50051, V1), eps(20880, V2), eps(50051, V2)]).includes(`"${a}:`);
    const t0 = Date.now();
    providers.a.kill();
    await waitFor(`${a} gone from every cluster`, gone, 10 * SESSION_MS + 30_000);
    console.log(`crashed provider left istiod's EDS ${Date.now() - t0} ms after SIGKILL (session timeout ${SESSION_MS} ms)`);
    expect(await metricValue(stack.admin, 'dia_held_removals', {})).toBe(0);
    expect(eps(20880, V1)).toEqual(sorted([at(b, 'bD'), at(c, 'cD'), at(d, 'dD'), at(e, 'eD')]));
  });
});
