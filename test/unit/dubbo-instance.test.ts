import { normalizeEntry, type EntryResult } from '../../src/dubbo/normalize';
import { documentName, type EntryKind } from '../../src/registry/types';
import { dubbo3Fixture, testConfig, znode } from '../testbed/config';

// The shop fixture names zones but no region, as most Dubbo estates do: the data centre's region completes them.
const mapping = testConfig({ mapping: { locality: { defaultRegion: 'cn-east' } } }).mapping;
const fx = dubbo3Fixture();

/** Documents as the sources hand them over, from fixture znodes. */
function docsOf(...sets: Record<string, string>[]): Map<string, string> {
  const docs = new Map<string, string>();
  for (const nodes of sets) {
    for (const [p, data] of Object.entries(nodes)) {
      const meta = /^\/dubbo\/metadata\/([^/]+)\/([^/]+)$/.exec(p);
      const map = /^\/dubbo\/mapping\/([^/]+)$/.exec(p);
      if (meta) docs.set(documentName.metadata(meta[1], meta[2]), data);
      if (map) docs.set(documentName.mapping(map[1]), data);
    }
  }
  return docs;
}
const run = (entry: string, docs: Map<string, string>, kind: EntryKind = 'zookeeper-instance'): EntryResult => normalizeEntry(kind, entry, mapping, (n) => docs.get(n));
const oks = (r: EntryResult) => r.results.flatMap((x) => (x.ok ? [x] : []));

describe('application-level instances', () => {
  it('normalize exactly as their interface-level twin (Dubbo 3.1.4 dual registration)', () => {
    const [providerPath] = znode(fx.greetings.interfaceLevel, '/dubbo/');
    const iface = run(providerPath.split('/').pop()!, new Map(), 'provider-url');
    const [, instance] = znode(fx.greetings.applicationLevel, '/services/');
    const app = run(instance, docsOf(fx.greetings.applicationLevel));
    expect(app).toMatchObject({ model: 'application', instanceId: 'first-dubbo-provider/30.221.146.35:20880' });
    expect(app.unresolved).toBeUndefined();
    expect(oks(app)).toHaveLength(1);
    expect(oks(app)[0].key).toEqual(oks(iface)[0].key);
    expect(oks(app)[0].endpoint).toEqual(oks(iface)[0].endpoint);
    expect(oks(app)[0].endpoint).toMatchObject({ address: '30.221.146.35', port: 20880, registeredAtMs: 1674960780647, labels: { app: 'first-dubbo-provider' } });
  });

  it('export every service of the revision, each on its protocol port, with the instance labels', () => {
    const docs = docsOf(fx.shop.applicationLevel);
    const r = run(fx.shop.applicationLevel['/services/shop-provider/10.20.0.1:20880'], docs);
    expect(oks(r).map((x) => [x.key, x.endpoint.protocol, x.endpoint.port, x.endpoint.labels.env, x.endpoint.locality.zone])).toEqual([
      [{ interface: 'org.apache.dubbo.samples.shop.OrderService', group: '', version: '2.0.0' }, 'tri', 50051, 'blue', 'zone-a'],
      [{ interface: 'org.apache.dubbo.samples.shop.UserService', group: 'g1', version: '1.0.0' }, 'dubbo', 20880, 'blue', 'zone-a'],
    ]);
    expect(r.needs).toEqual(expect.arrayContaining([documentName.metadata('shop-provider', fx.shop.rev1), documentName.mapping('org.apache.dubbo.samples.shop.UserService')]));
  });

  it('are unresolved, with the reason and the document they wait for, while metadata is missing', () => {
    const [, instance] = znode(fx.greetings.applicationLevel, '/services/');
    const r = run(instance, new Map());
    expect(r.results).toEqual([]);
    expect(r.unresolved).toContain('no metadata for "first-dubbo-provider" revision "871fbc9cb2730caea9b0d858852d5ede"');
    expect(r.unresolved).toContain('storage-type=local');
    expect(r.needs).toEqual([documentName.metadata('first-dubbo-provider', '871fbc9cb2730caea9b0d858852d5ede')]);
  });

  it('are unresolved when the metadata is not MetadataInfo', () => {
    const [, instance] = znode(fx.greetings.applicationLevel, '/services/');
    const docs = new Map([[documentName.metadata('first-dubbo-provider', '871fbc9cb2730caea9b0d858852d5ede'), '{"app":"x","services":']]);
    expect(run(instance, docs).unresolved).toContain('metadata is not valid JSON');
    docs.set([...docs.keys()][0], '{"app":"x","services":{"a:dubbo":{"protocol":"dubbo"}}}');
    expect(run(instance, docs).unresolved).toContain('has no name');
  });

  it('reject a broken instance record with a reason', () => {
    expect(run('{"name":"a","address":"10.0.0.1"', new Map()).results[0]).toMatchObject({ ok: false, skipped: false, reason: expect.stringContaining('not valid JSON') });
    expect(run('{"name":"a","address":"10.0.0.1","port":0}', new Map()).results[0]).toMatchObject({ ok: false, reason: expect.stringContaining('not a port') });
    const [, instance] = znode(fx.greetings.applicationLevel, '/services/');
    const bad = instance.replace('[{\\"port\\":20880', '[{\\"port\\":\\"x\\"');
    expect(run(bad, docsOf(fx.greetings.applicationLevel)).results[0]).toMatchObject({ ok: false, reason: expect.stringContaining('dubbo.endpoints') });
  });

  it('warn when the service-name mapping does not list the application', () => {
    const [, instance] = znode(fx.greetings.applicationLevel, '/services/');
    const docs = docsOf(fx.greetings.applicationLevel);
    docs.set(documentName.mapping('org.apache.dubbo.samples.api.GreetingsService'), 'other-app');
    expect(oks(run(instance, docs))[0].warnings[0]).toContain('lists "other-app", not first-dubbo-provider');
  });

  it('come from Nacos the same way (service name = application)', () => {
    const [, raw] = znode(fx.greetings.applicationLevel, '/services/');
    const i = JSON.parse(raw) as { address: string; port: number; payload: { metadata: Record<string, string> } };
    const entry = JSON.stringify({ nacos: { service: 'first-dubbo-provider', ip: i.address, port: i.port, weight: 1, healthy: true, enabled: true, metadata: i.payload.metadata } });
    const nacos = run(entry, docsOf(fx.greetings.applicationLevel), 'nacos-instance');
    const zk = run(raw, docsOf(fx.greetings.applicationLevel));
    expect(nacos.model).toBe('application');
    expect(oks(nacos)[0].endpoint).toEqual(oks(zk)[0].endpoint);
  });
});
