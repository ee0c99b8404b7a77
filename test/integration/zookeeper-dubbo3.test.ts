import zookeeper from 'node-zookeeper-client';
import { dubbo3Fixture, znode } from '../testbed/config';
import { metricValue, SE, WE, zkSource } from '../testbed/daemon';
import { sleep, waitFor } from '../testbed/net';
import { IstiodLikeClient } from '../testbed/xds-client';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack } from '../testbed/harness';

jest.setTimeout(120_000);

const fx = dubbo3Fixture();

/** address:port of the WorkloadEntries a ServiceEntry selects, sorted. */
function members(client: IstiodLikeClient, se: string): string[] {
  const entry = client.resources(SE).get(se);
  if (!entry) return [];
  const selector = (entry.spec.workloadSelector as { labels: Record<string, string> }).labels;
  return [...client.resources(WE).values()]
    .filter((w) => Object.entries(selector).every(([k, v]) => (w.spec.labels as Record<string, string>)[k] === v))
    .map((w) => `${w.spec.address}:${Object.values(w.spec.ports as Record<string, number>)[0]}`)
    .sort();
}

const USER = 'dubbo/1-0-0-g1-org-apache-dubbo-samples-shop-userservice';
const ORDER = 'dubbo/2-0-0-org-apache-dubbo-samples-shop-orderservice';
const CART = 'dubbo/org-apache-dubbo-samples-shop-cartservice';
const GREET = 'dubbo/org-apache-dubbo-samples-api-greetingsservice';

describe('Dubbo 3 application-level discovery against a real ZooKeeper', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let admin: string;
  let client: IstiodLikeClient;

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    // The shop estate registers application-level only, as Dubbo 3 does with register-mode=instance.
    await writer.putAll(fx.shop.applicationLevel, zookeeper.CreateMode.EPHEMERAL);
    const started = await stack.daemon({ sources: [zkSource(zk.connect)], render: { emptyServiceGraceMs: 1000 }, mapping: { locality: { defaultRegion: 'cn-east' } } });
    admin = started.admin;
    client = stack.xdsClient(started.xdsAddress);
    await waitFor('synced', () => client.synced() && client.resources(SE).size === 2);
  });

  it('serves an application-level-only estate: every exported service, on its protocol port, with instance labels', () => {
    expect(members(client, USER)).toEqual(['10.20.0.1:20880', '10.20.0.2:20880']);
    expect(members(client, ORDER)).toEqual(['10.20.0.1:50051', '10.20.0.2:50051']);
    const order = client.resources(SE).get(ORDER)!.spec as { ports: { name: string }[] };
    expect(order.ports.map((p) => p.name)).toEqual(['grpc-tri']);
    const blue = [...client.resources(WE).values()].find((w) => w.spec.address === '10.20.0.1')!;
    expect(blue.spec.labels).toMatchObject({ app: 'shop-provider', env: 'blue' });
    expect(blue.spec.locality).toBe('cn-east/zone-a');
  });

  it('counts a provider registered both ways (dual registration) once, and keeps it while either registration stays', async () => {
    await writer.putAll(fx.greetings.applicationLevel);
    await writer.putAll(fx.greetings.interfaceLevel);
    await waitFor('greetings served', () => members(client, GREET).length === 1);
    expect(members(client, GREET)).toEqual(['30.221.146.35:20880']);
    const [providerPath] = znode(fx.greetings.interfaceLevel, '/dubbo/');
    const removals = await metricValue(admin, 'dia_source_events_total', { source: 'zk', kind: 'service-removed' });
    await writer.remove(providerPath);
    await waitFor('the daemon saw the interface-level registration go', async () => (await metricValue(admin, 'dia_source_events_total', { source: 'zk', kind: 'service-removed' })) > removals);
    // A commit later the application-level registration still holds the endpoint.
    await sleep(500);
    expect(members(client, GREET)).toEqual(['30.221.146.35:20880']);
    await writer.removeRecursive('/services/first-dubbo-provider');
    await waitFor('greetings gone once both registrations are', () => members(client, GREET).length === 0);
  });

  it('follows a rolling upgrade: a revision whose metadata lags keeps its last services, then adds the new interface on that instance only', async () => {
    const warnings = await metricValue(admin, 'dia_input_warnings_total', { source: 'zk' });
    const [instancePath, upgraded] = znode(fx.shop.upgraded, '/services/');
    await writer.put(instancePath, upgraded);
    await waitFor('the lagging metadata is reported', async () => (await metricValue(admin, 'dia_input_warnings_total', { source: 'zk' })) > warnings);
    expect(members(client, USER)).toEqual(['10.20.0.1:20880', '10.20.0.2:20880']);
    expect(client.resources(SE).has(CART)).toBe(false);

    const [metaPath, meta] = znode(fx.shop.upgraded, '/dubbo/metadata/');
    await writer.put(metaPath, meta);
    await waitFor('CartService on the upgraded instance', () => members(client, CART).length === 1);
    expect(members(client, CART)).toEqual(['10.20.0.2:20880']);
    expect(members(client, USER)).toEqual(['10.20.0.1:20880', '10.20.0.2:20880']);
  });

  it('rejects an instance whose metadata is missing or broken with a metric, publishes nothing wrong, and picks it up once mended', async () => {
    const rejected = await metricValue(admin, 'dia_rejected_inputs_total', { source: 'zk' });
    const before = client.resources(WE).size;
    const [, data] = znode(fx.shop.applicationLevel, '/services/shop-provider/10.20.0.1');
    const fresh = data
      .replace(/10\.20\.0\.1/g, '10.30.0.9')
      .replace(/"name":"shop-provider"/g, '"name":"billing"')
      .replace(fx.shop.rev1, 'badrev');
    await writer.put('/dubbo/metadata/billing/badrev', '{"app":"billing","services":');
    await writer.put('/services/billing/10.30.0.9:20880', fresh);
    await waitFor('rejected with a metric', async () => (await metricValue(admin, 'dia_rejected_inputs_total', { source: 'zk' })) > rejected);
    expect(client.resources(WE).size).toBe(before);

    const [, meta] = znode(fx.shop.applicationLevel, '/dubbo/metadata/');
    await writer.put('/dubbo/metadata/billing/badrev', meta.replace('"app":"shop-provider"', '"app":"billing"'));
    await waitFor('picked up once the metadata is mended', () => members(client, ORDER).includes('10.30.0.9:50051'));

    await writer.removeRecursive('/services/billing');
    await waitFor('gone with its instance', () => !members(client, ORDER).includes('10.30.0.9:50051'));
  });

  it('reports application-level counts in /debug/sources', async () => {
    const { sources } = (await (await fetch(`${admin}/debug/sources?format=json`)).json()) as {
      sources: { details: { applicationLevel: { applications: number; metadata: number; mappings: number } } }[];
    };
    expect(sources[0].details.applicationLevel).toMatchObject({ applications: 1 });
    expect(sources[0].details.applicationLevel.mappings).toBeGreaterThanOrEqual(3);
  });
});
