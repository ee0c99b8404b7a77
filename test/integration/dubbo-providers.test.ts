import { DubboProvider, testHosts } from '../testbed/dubbo-provider';
import { metricValue, SE, zkSource } from '../testbed/daemon';
import { suiteStack, type Stack } from '../testbed/harness';
import { freePort, waitFor } from '../testbed/net';
import type { IstiodLikeClient } from '../testbed/xds-client';

jest.setTimeout(240_000);

const DR = 'networking.istio.io/v1/DestinationRule';
const VS = 'networking.istio.io/v1/VirtualService';

/** A real registry the providers write to and the adapter reads. */
interface Registry {
  /** Dubbo's registry address. */
  url: string;
  /** The adapter's source for it. */
  source: Record<string, unknown>;
}

const registries: Record<string, (stack: Stack) => Promise<Registry>> = {
  ZooKeeper: async (stack) => {
    const zk = await stack.zookeeper();
    return { url: `zookeeper://${zk.connect}`, source: zkSource(zk.connect) };
  },
  // Dubbo's Nacos registry registers ephemeral instances over the Nacos 2 gRPC port (port +
  // 1000), kept alive by its connection: Nacos never health-checks them by dialling.
  Nacos: async (stack) => {
    const nacos = await stack.nacos();
    return { url: `nacos://${nacos.address}`, source: { name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, pollMs: 300 } } };
  },
};

/**
 * Real Dubbo 3.3 providers (test/servers/dubbo), each a JVM on a test host of its own,
 * registering in a real ZooKeeper or Nacos exactly as Dubbo does; the adapter reads what they wrote.
 */
describe.each(Object.keys(registries))('real Dubbo 3.3 providers in %s', (name) => {
  const stack = suiteStack();
  let admin = '';
  let client: IstiodLikeClient;
  const ports: Record<string, number> = {};
  let a = '';
  let b = '';
  let c = '';
  let d = '';

  beforeAll(async () => {
    const reg = await registries[name](stack);
    for (const k of ['aDubbo', 'aTri', 'bDubbo', 'cDirect', 'dDubbo']) ports[k] = await freePort();
    [a, b, c, d] = testHosts();
    // Stopped together: each JVM takes a moment to shut down.
    const providers = stack.own(
      'dubbo providers',
      [
        // Both protocols, two versions and a group, registered both ways (Dubbo 3's default).
        new DubboProvider({ registry: reg.url, host: a, protocols: [`dubbo:${ports.aDubbo}`, `tri:${ports.aTri}`], services: ['1.0.0', '2.0.0:g1'] }),
        // A statically tagged provider (ServiceConfig.setTag), interface-level only.
        new DubboProvider({ registry: reg.url, host: b, protocols: [`dubbo:${ports.bDubbo}`], services: ['1.0.0'], tag: 'gray', registerMode: 'interface', application: 'greeting-gray' }),
        // Half-meshed: a provider registered directly, and re-registered on the sidecar port with
        // the marker, as its sidecar would; only the sidecar registration is served.
        new DubboProvider({ registry: reg.url, host: c, protocols: [`dubbo:${ports.cDirect}`], services: ['1.0.0'], registerMode: 'interface', application: 'greeting-meshed' }),
        new DubboProvider({ registry: reg.url, host: c, protocols: ['dubbo:20882'], services: ['1.0.0'], registerMode: 'interface', application: 'greeting-meshed', meshed: true }),
        // Application-level only, on Dubbo's default metadata (local): no metadata report, so the
        // adapter asks its MetadataService (as it does a's).
        new DubboProvider({ registry: reg.url, host: d, protocols: [`dubbo:${ports.dDubbo}`], services: ['1.0.0'], registerMode: 'instance', application: 'greeting-local' }),
      ],
      (ps) => Promise.all(ps.map((p) => p.destroy())),
    );
    await Promise.all(providers.map((p) => p.start()));
    // The default endpoint mode; a service with two protocols is rendered inline in either mode.
    const started = await stack.daemon({ sources: [reg.source], render: { endpointMode: 'inline' } });
    admin = started.admin;
    client = stack.xdsClient(started.xdsAddress);
  });

  type InlineEndpoint = { address: string; ports: Record<string, number>; labels: Record<string, string> };
  /** Every endpoint the ServiceEntries carry, with its host. */
  const inline = () => [...client.resources(SE).values()].flatMap((o) => ((o.spec.endpoints as InlineEndpoint[] | undefined) ?? []).map((e) => ({ host: (o.spec.hosts as string[])[0], ...e })));
  /** host -> sorted "address:port protocol-port-name version[ meshed]" of its endpoints. */
  const endpoints = () => {
    const out: Record<string, string[]> = {};
    for (const e of inline()) {
      const [[portName, port]] = Object.entries(e.ports);
      (out[e.host] ??= []).push(`${e.address}:${port} ${portName} ${e.labels['dubbo.version']}${e.labels['dubbo.apache.org/meshed'] === 'true' ? ' meshed' : ''}`);
    }
    for (const k of Object.keys(out)) out[k].sort();
    return out;
  };

  it('serves every provider at the address and ports Dubbo registered, per protocol, version and group', async () => {
    await waitFor('the providers in the xDS snapshot', () => client.synced() && inline().length >= 7, 60000);
    expect(endpoints()).toEqual({
      '1.0.0.dia.greetingservice': [
        `${a}:${ports.aDubbo} tcp-dubbo 1.0.0`,
        `${a}:${ports.aTri} grpc-tri 1.0.0`,
        `${b}:${ports.bDubbo} tcp-dubbo 1.0.0`,
        `${c}:20882 tcp-dubbo 1.0.0 meshed`,
        `${d}:${ports.dDubbo} tcp-dubbo 1.0.0`,
      ].sort(),
      '2.0.0.g1.dia.greetingservice': [`${a}:${ports.aDubbo} tcp-dubbo 2.0.0`, `${a}:${ports.aTri} grpc-tri 2.0.0`].sort(),
    });
    // Dubbo's default metadata is no rejected input any more: the instances of a (MetadataServiceV2
    // over tri, as Dubbo 3.3 offers it beside a tri protocol) and d (over dubbo, Hessian 2) were
    // resolved by their MetadataService, once per revision.
    // (a's endpoints are served from its interface-level registration meanwhile: on a busy machine
    // its first call may time out, and the revision is asked again after retryMs.)
    expect(await metricValue(admin, 'dia_rejected_inputs_total', { kind: 'provider' })).toBe(0);
    await waitFor('both revisions resolved', async () => (await metricValue(admin, 'dia_metadata_service_calls_total', { outcome: 'ok' })) >= 2, 60000);
    expect(await metricValue(admin, 'dia_rejected_inputs_total', { kind: 'provider' })).toBe(0);
  });

  it('isolates the statically tagged provider with no rule document: untagged traffic goes to untagged providers', async () => {
    await waitFor('rules for the tagged service', () => client.resources(DR).size > 0 && client.resources(VS).size > 0, 30000);
    const dr = [...client.resources(DR).values()].find((o) => o.spec.host === '1.0.0.dia.greetingservice')!;
    expect(dr.spec.subsets).toEqual([
      { name: 'tag-gray', labels: { 'dubbo.tag': 'gray' } },
      { name: 'untagged', labels: { 'dubbo.tag': 'untagged' } },
    ]);
    const vs = [...client.resources(VS).values()].find((o) => (o.spec.hosts as string[]).includes('1.0.0.dia.greetingservice'))!;
    expect((vs.spec.tcp as unknown[]).at(-1)).toEqual({ route: [{ destination: { host: '1.0.0.dia.greetingservice', subset: 'untagged' } }] });
    const gray = inline().filter((e) => e.labels['dubbo.tag'] === 'gray');
    expect(gray.map((e) => e.address)).toEqual([b]);
  });
});
