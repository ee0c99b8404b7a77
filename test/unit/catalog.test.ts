import { Catalog } from '../../src/model/catalog';
import { documentName } from '../../src/registry/types';
import { dubbo3Fixture, testConfig, urls, urlServices, zkInstances, znode } from '../testbed/config';

const cfg = testConfig({ protection: { massRemoval: { threshold: 0.5, minEndpoints: 4, holdMs: 60000 } }, render: { emptyServiceGraceMs: 1000 } });
const url = (ip: string, extra = '') => `dubbo://${ip}:20880/a.B?application=app${extra}`;

function catalog(sources = ['zk', 'file']) {
  const rejected: string[] = [];
  const c = new Catalog(cfg.mapping, cfg.protection, sources, { rejected: (_s, e, r) => rejected.push(`${e}: ${r}`), warning: () => {} }, cfg.render.emptyServiceGraceMs);
  return { c, rejected };
}
const ips = (c: Catalog, id = 'a.B') => c.service(id)?.endpoints.map((e) => e.address) ?? [];

describe('Catalog', () => {
  it('publishes on commit and reports what changed', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1'), url('10.0.0.2')]));
    expect(c.service('a.B')).toBeUndefined();
    expect([...c.commit(1000).changed]).toEqual(['a.B']);
    expect(ips(c)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(c.commit(1001).changed.size).toBe(0);
  });

  it('skips a bad entry with a reason and keeps the rest', () => {
    const { c, rejected } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1'), 'dubbo://nonsense']));
    c.commit(1);
    expect(ips(c)).toEqual(['10.0.0.1']);
    expect(rejected[0]).toContain('no port');
  });

  it('merges sources without duplicates; the earlier source wins an endpoint', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1', '&env=blue')]));
    c.setService('file', 'a.B', urls([url('10.0.0.1', '&env=green'), url('10.0.0.3')]));
    c.commit(1);
    const eps = c.service('a.B')!.endpoints;
    expect(eps.map((e) => [e.address, e.source, e.labels.env])).toEqual([
      ['10.0.0.1', 'zk', 'blue'],
      ['10.0.0.3', 'file', undefined],
    ]);
  });

  it('keeps versions apart by default: one mesh service per version, one endpoint each for a provider of both', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1', '&version=1.0'), url('10.0.0.1', '&version=2.0'), url('10.0.0.2', '&version=2.0')]));
    expect([...c.commit(1).changed].sort()).toEqual(['a.B:1.0', 'a.B:2.0']);
    expect(ips(c, 'a.B:1.0')).toEqual(['10.0.0.1']);
    expect(ips(c, 'a.B:2.0')).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('puts all versions of an interface on one mesh service when the host template has no {version}', () => {
    const merged = testConfig({ mapping: { hostTemplate: '{interface}', groupHostTemplate: '{group}.{interface}' } });
    const c = new Catalog(merged.mapping, merged.protection, ['zk'], { rejected: () => {}, warning: () => {} }, 1000);
    c.setService('zk', 'a.B', urls([url('10.0.0.1', '&version=1.0'), url('10.0.0.1', '&version=2.0')]));
    c.commit(1);
    const svc = c.service('a.B')!;
    expect(svc.versions).toEqual(['1.0', '2.0']);
    expect(svc.endpoints.map((e) => e.labels['dubbo.version'])).toEqual(['1.0', '2.0']);
  });

  it('keeps groups apart', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1', '&group=g1'), url('10.0.0.2', '&group=g2')]));
    expect([...c.commit(1).changed].sort()).toEqual(['g1/a.B', 'g2/a.B']);
  });

  it('routes through the sidecar where a provider was re-registered by it', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls(['dubbo://10.0.0.1:20880/a.B', 'dubbo://10.0.0.1:20882/a.B?mesh=true', 'dubbo://10.0.0.2:20880/a.B']));
    c.commit(1);
    expect(c.service('a.B')!.endpoints.map((e) => `${e.address}:${e.port}:${e.meshed}`)).toEqual(['10.0.0.1:20882:true', '10.0.0.2:20880:false']);
  });

  it('lets a sidecar registration replace only the same version and protocol at its address', () => {
    const { c } = catalog();
    c.setService(
      'zk',
      'a.B',
      urls([
        'dubbo://10.0.0.1:20880/a.B?version=1.0.0',
        'dubbo://10.0.0.1:20882/a.B?version=1.0.0&mesh=true',
        'dubbo://10.0.0.1:20881/a.B?version=2.0.0', // another version at the same address
        'tri://10.0.0.1:50051/a.B?version=1.0.0', // another protocol at the same address
      ]),
    );
    c.setService('zk', 'c.D', urls(['dubbo://10.0.0.1:20883/c.D?version=1.0.0'])); // another service
    c.commit(1);
    const eps = (id: string) =>
      c
        .service(id)!
        .endpoints.map((e) => `${e.protocol}:${e.port}:${e.version}:${e.meshed}`)
        .sort();
    expect([...eps('a.B:1.0.0'), ...eps('a.B:2.0.0')]).toEqual(['dubbo:20882:1.0.0:true', 'tri:50051:1.0.0:false', 'dubbo:20881:2.0.0:false']);
    expect(c.service('c.D:1.0.0')!.endpoints).toHaveLength(1);
  });

  it('gives weight 0 no traffic while others have weight, and equal shares when all are 0', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1', '&weight=0'), url('10.0.0.2', '&weight=10')]));
    c.commit(1);
    expect(ips(c)).toEqual(['10.0.0.2']);
    c.setService('zk', 'a.B', urls([url('10.0.0.1', '&weight=0'), url('10.0.0.2', '&weight=0')]));
    c.commit(2);
    expect(c.service('a.B')!.endpoints.map((e) => e.weight)).toEqual([1, 1]);
  });

  it('keeps a service with no provider for its grace period, then drops it', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1')]));
    c.commit(1000);
    c.removeService('zk', 'a.B');
    const r = c.commit(2000);
    expect(r.changed.has('a.B')).toBe(true);
    expect(c.service('a.B')).toMatchObject({ endpoints: [], emptySinceMs: 2000 });
    expect(r.wakeAtMs).toBe(3000);
    expect(c.stats().inGrace).toBe(1);
    expect(c.commit(2999).changed.size).toBe(0);
    expect(c.commit(3000).changed.has('a.B')).toBe(true);
    expect(c.service('a.B')).toBeUndefined();
  });

  it('a provider coming back in grace revives the service with its creation time', () => {
    const { c } = catalog();
    c.setService('zk', 'a.B', urls([url('10.0.0.1')]));
    c.commit(1000);
    c.removeService('zk', 'a.B');
    c.commit(2000);
    c.setService('zk', 'a.B', urls([url('10.0.0.2')]));
    c.commit(2500);
    expect(c.service('a.B')).toMatchObject({ createdAtMs: 1000, emptySinceMs: undefined });
  });

  describe('mass-removal protection', () => {
    function populated() {
      const x = catalog();
      x.c.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', ['1', '2', '3', '4'].map((i) => url(`10.0.0.${i}`))],
            ['c.D', [url('10.0.1.1').replace('a.B', 'c.D')]],
          ]),
        ),
      );
      x.c.commit(0);
      return x;
    }

    it('holds a resync that would remove most endpoints, and says so', () => {
      const { c } = populated();
      c.replaceAll('zk', urlServices(new Map())); // ZooKeeper came back empty
      c.commit(10);
      expect(ips(c)).toHaveLength(4);
      expect(c.guards()).toEqual([{ source: 'zk', sinceMs: 10, heldRemovals: 5, publishedEndpoints: 5, releaseAtMs: 60010 }]);
    });

    it('still applies additions and updates while removals are held', () => {
      const { c } = populated();
      c.replaceAll('zk', urlServices(new Map([['a.B', [url('10.0.0.9')]]])));
      c.commit(10);
      expect(ips(c)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.9']);
    });

    it('applies held removals once confirmed', () => {
      const { c } = populated();
      c.replaceAll('zk', urlServices(new Map()));
      c.commit(10);
      expect(c.confirmRemovals('zk')).toBe(true);
      c.commit(20);
      expect(c.service('a.B')!.endpoints).toEqual([]);
      expect(c.guards()).toEqual([]);
    });

    it('applies held removals after the hold time', () => {
      const { c } = populated();
      c.replaceAll('zk', urlServices(new Map()));
      expect(c.commit(10).wakeAtMs).toBe(60010);
      c.commit(60010);
      expect(ips(c)).toEqual([]);
    });

    it('clears by itself when the endpoints come back', () => {
      const { c } = populated();
      c.replaceAll('zk', urlServices(new Map()));
      c.commit(10);
      c.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', ['1', '2', '3', '4'].map((i) => url(`10.0.0.${i}`))],
            ['c.D', [url('10.0.1.1').replace('a.B', 'c.D')]],
          ]),
        ),
      );
      c.commit(20);
      expect(c.guards()).toEqual([]);
      expect(ips(c)).toHaveLength(4);
    });

    it('counts distinct endpoints: one crashed provider registered twice is one removal', () => {
      // Six providers, each in two registry services of the source (as a dual registration
      // puts it under its interface and under its application): 6 endpoints to istiod, not 12.
      const { c } = catalog(['zk']);
      const six = ['1', '2', '3', '4', '5', '6'].map((i) => url(`10.0.0.${i}`));
      c.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', six],
            ['app:app', six],
          ]),
        ),
      );
      c.commit(0);
      c.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', six.slice(1)],
            ['app:app', six.slice(1)],
          ]),
        ),
      ); // one JVM died
      c.commit(10);
      expect(ips(c)).toHaveLength(5);
      expect(c.guards()).toEqual([]);
      // Three of six at once is half of what istiod has: held, and reported as 3 of 6.
      const { c: c2 } = catalog(['zk']);
      c2.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', six],
            ['app:app', six],
          ]),
        ),
      );
      c2.commit(0);
      c2.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', six.slice(3)],
            ['app:app', six.slice(3)],
          ]),
        ),
      );
      c2.commit(10);
      expect(c2.guards()).toEqual([{ source: 'zk', sinceMs: 10, heldRemovals: 3, publishedEndpoints: 6, releaseAtMs: 60010 }]);
      // Gone from one registry service only: istiod loses nothing, so nothing is held.
      const { c: c3 } = catalog(['zk']);
      c3.replaceAll(
        'zk',
        urlServices(
          new Map([
            ['a.B', six],
            ['app:app', six],
          ]),
        ),
      );
      c3.commit(0);
      c3.replaceAll('zk', urlServices(new Map([['app:app', six]])));
      c3.commit(10);
      expect(c3.guards()).toEqual([]);
      expect(ips(c3)).toHaveLength(6);
    });

    it('holds a slow drain: removals spread over many commits count against the largest count within the window', () => {
      const ten = (n: number) => Array.from({ length: n }, (_, i) => url(`10.0.2.${i + 1}`));
      const drain = (windowMs: number) => {
        const p = testConfig({ protection: { massRemoval: { threshold: 0.5, minEndpoints: 4, holdMs: 60000, windowMs } } });
        const c = new Catalog(p.mapping, p.protection, ['zk'], { rejected: () => {}, warning: () => {} }, 1000);
        c.setService('zk', 'a.B', urls(ten(10)));
        c.commit(0);
        // Two endpoints at a time, each commit 20 % of what is left or less.
        for (const [t, n] of [
          [1000, 8],
          [2000, 6],
          [3000, 4],
        ] as const) {
          c.setService('zk', 'a.B', urls(ten(n)));
          c.commit(t);
        }
        return c;
      };
      const windowed = drain(300000);
      // 10 -> 8 -> 6 went through; 6 -> 4 would leave 4 of the window's 10: held.
      expect(ips(windowed)).toHaveLength(6);
      expect(windowed.guards()).toEqual([{ source: 'zk', sinceMs: 3000, heldRemovals: 2, publishedEndpoints: 6, releaseAtMs: 63000 }]);
      // Per commit only (windowMs 0), the same drain passes unheld.
      expect(ips(drain(0))).toHaveLength(4);
      // Once the held removals apply, the window starts again from what is left.
      windowed.commit(63000);
      expect(ips(windowed)).toHaveLength(4);
      windowed.setService('zk', 'a.B', urls(ten(3)));
      windowed.commit(64000);
      expect(ips(windowed)).toHaveLength(3);
    });

    it('lets ordinary churn through', () => {
      const { c } = populated();
      c.setService('zk', 'a.B', urls(['1', '2', '3'].map((i) => url(`10.0.0.${i}`))));
      c.commit(10);
      expect(ips(c)).toHaveLength(3);
      expect(c.guards()).toEqual([]);
    });
  });

  it('tracks source health and first sync', () => {
    const { c } = catalog();
    c.health('zk', 'synced');
    c.health('zk', 'stale', 'disconnected');
    expect(c.sourceHealth().get('zk')).toEqual({ state: 'stale', reason: 'disconnected', syncedOnce: true });
    expect(c.sourceHealth().get('file')!.syncedOnce).toBe(false);
  });

  describe('Dubbo 3 application-level instances', () => {
    const fx = dubbo3Fixture();
    const [providerPath] = znode(fx.greetings.interfaceLevel, '/dubbo/');
    const provider = providerPath.split('/').pop()!;
    const [, greeter] = znode(fx.greetings.applicationLevel, '/services/');
    const greetMeta = documentName.metadata('first-dubbo-provider', '871fbc9cb2730caea9b0d858852d5ede');
    const greetId = 'org.apache.dubbo.samples.api.GreetingsService';
    const shop = (ip: string, nodes = fx.shop.applicationLevel) => nodes[`/services/shop-provider/${ip}:20880`];
    const meta = (rev: string, nodes: Record<string, string>) => nodes[`/dubbo/metadata/shop-provider/${rev}`];
    const services = (c: Catalog) => [...c.serviceIds()].sort();

    it('count a provider registered both ways once; either registration alone keeps it', () => {
      const { c } = catalog(['zk']);
      c.setDocument('zk', greetMeta, fx.greetings.applicationLevel[`/dubbo/metadata/first-dubbo-provider/871fbc9cb2730caea9b0d858852d5ede`]);
      c.setService('zk', greetId, urls([provider]));
      c.setService('zk', 'app:first-dubbo-provider', zkInstances([greeter]));
      c.commit(1);
      expect(c.service(greetId)!.endpoints.map((e) => [e.address, e.port, e.model])).toEqual([['30.221.146.35', 20880, 'interface']]);
      c.removeService('zk', greetId);
      c.commit(2);
      expect(c.service(greetId)!.endpoints.map((e) => [e.address, e.model])).toEqual([['30.221.146.35', 'application']]);
      c.setService('zk', greetId, urls([provider]));
      c.removeService('zk', 'app:first-dubbo-provider');
      c.commit(3);
      expect(c.service(greetId)!.endpoints.map((e) => [e.address, e.model])).toEqual([['30.221.146.35', 'interface']]);
    });

    it('publish an instance once its metadata arrives, and report it until then', () => {
      const { c, rejected } = catalog(['zk']);
      c.setService('zk', 'app:first-dubbo-provider', zkInstances([greeter]));
      c.commit(1);
      expect(c.service(greetId)).toBeUndefined();
      expect(rejected[0]).toContain('no metadata for "first-dubbo-provider"');
      c.setDocument('zk', greetMeta, fx.greetings.applicationLevel[`/dubbo/metadata/first-dubbo-provider/871fbc9cb2730caea9b0d858852d5ede`]);
      expect([...c.commit(2).changed]).toEqual([greetId]);
      expect(ips(c, greetId)).toEqual(['30.221.146.35']);
    });

    it('keep what an instance exported while its new revision is unreadable (rolling upgrade)', () => {
      const warnings: string[] = [];
      const c = new Catalog(cfg.mapping, cfg.protection, ['zk'], { rejected: () => {}, warning: (_s, _e, m) => warnings.push(m) }, 1000);
      c.setDocument('zk', documentName.metadata('shop-provider', fx.shop.rev1), meta(fx.shop.rev1, fx.shop.applicationLevel));
      c.setService('zk', 'app:shop-provider', zkInstances([shop('10.20.0.1'), shop('10.20.0.2')]));
      c.commit(1);
      const user = 'g1/org.apache.dubbo.samples.shop.UserService:1.0.0';
      expect(services(c)).toEqual([user, 'org.apache.dubbo.samples.shop.OrderService:2.0.0']);
      // 10.20.0.2 moves to rev2 before rev2's metadata is readable.
      c.setService('zk', 'app:shop-provider', zkInstances([shop('10.20.0.1'), shop('10.20.0.2', fx.shop.upgraded)]));
      c.commit(2);
      expect(ips(c, user)).toEqual(['10.20.0.1', '10.20.0.2']);
      expect(warnings.some((w) => w.includes(`revision "${fx.shop.rev2}"`) && w.includes('keeping the services it last exported'))).toBe(true);
      c.setDocument('zk', documentName.metadata('shop-provider', fx.shop.rev2), meta(fx.shop.rev2, fx.shop.upgraded));
      c.commit(3);
      expect(ips(c, 'org.apache.dubbo.samples.shop.CartService')).toEqual(['10.20.0.2']);
      expect(ips(c, user)).toEqual(['10.20.0.1', '10.20.0.2']);
    });

    it('keep the last good metadata when the document breaks, and recover when it is mended', () => {
      const { c } = catalog(['zk']);
      const doc = documentName.metadata('shop-provider', fx.shop.rev1);
      c.setDocument('zk', doc, meta(fx.shop.rev1, fx.shop.applicationLevel));
      c.setService('zk', 'app:shop-provider', zkInstances([shop('10.20.0.1')]));
      c.commit(1);
      c.setDocument('zk', doc, '{"services": nonsense');
      c.commit(2);
      expect(ips(c, 'org.apache.dubbo.samples.shop.OrderService:2.0.0')).toEqual(['10.20.0.1']);
      c.setDocument('zk', doc, meta(fx.shop.rev1, fx.shop.applicationLevel));
      expect(c.commit(3).changed.size).toBe(0);
    });
  });
});
