import { reasonClass } from '../../src/daemon/telemetry';
import { validateObject } from '../../src/istio/kinds';
import { renderService } from '../../src/istio/render';
import { normalizeEntry, normalizeProviderEntry } from '../../src/dubbo/normalize';
import { Catalog } from '../../src/model/catalog';
import { documentName } from '../../src/registry/types';
import { dubbo3Fixture, testConfig, urlServices } from '../testbed/config';

const cfg = testConfig();
const mapping = cfg.mapping;
const url = (host: string, extra = '', port = '20880') => `dubbo://${host}:${port}/com.example.Greeter?application=demo&interface=com.example.Greeter&side=provider&timestamp=1700000000000${extra}`;
const refused = (entry: string) => {
  const r = normalizeProviderEntry(entry, mapping);
  return r.ok ? undefined : r.reason;
};

describe('one bad provider is refused on its own, with a reason', () => {
  it('refuses what istiod would refuse: addresses that are not IPs, weights no Dubbo can register', () => {
    expect(refused(url('[2001:db8:::1]'))).toMatch(/invalid IPv6 address/);
    expect(refused(url('provider-7.example.internal'))).toMatch(/is a name, not an IP address.*resolution STATIC/);
    expect(refused(url('10.0.0.1', '&weight=4294967296'))).toMatch(/weight "4294967296" is above Dubbo's largest weight/);
    expect(refused(url('10.0.0.1', '&weight=2147483647'))).toBeUndefined();
    expect(refused(url('[2001:db8::1]'))).toBeUndefined();
  });

  it('keeps the rejection metric bounded: what a registration says never becomes a series of its own', () => {
    const classes = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      for (const extra of [`&side=s${i}x`, `&category=c${i}y`, `&weight=${4294967296 + i}`]) classes.add(reasonClass(refused(url('10.0.0.1', extra))!));
      classes.add(reasonClass(refused(url(`host-${i}.example`))!));
    }
    expect(classes.size).toBe(4);
  });

  it('takes a negative weight as 0, as Dubbo does', () => {
    const r = normalizeProviderEntry(url('10.0.0.1', '&weight=-5'), mapping);
    expect(r.ok && r.endpoint.weight).toBe(0);
  });

  it('refuses an application-level instance at an address that is not an IP', () => {
    const fx = dubbo3Fixture();
    const path = '/services/shop-provider/10.20.0.1:20880';
    const docs = new Map<string, string>();
    for (const [p, data] of Object.entries(fx.shop.applicationLevel)) {
      const meta = /^\/dubbo\/metadata\/([^/]+)\/([^/]+)$/.exec(p);
      if (meta) docs.set(documentName.metadata(meta[1], meta[2]), data);
    }
    const bad = fx.shop.applicationLevel[path].replaceAll('10.20.0.1', '999.999.999.999');
    const r = normalizeEntry('zookeeper-instance', bad, mapping, (n) => docs.get(n));
    expect(r.results.length).toBeGreaterThan(0);
    for (const x of r.results) expect(x).toMatchObject({ ok: false, reason: 'invalid IP address "999.999.999.999"' });
  });

  it('never lets a generated or mutated provider make a rendered object invalid (20,000 entries)', () => {
    // A fixed-seed generator: the same entries every run.
    let seed = 42;
    const rnd = (n: number) => {
      seed ^= seed << 13; // xorshift32
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const pickOne = <T>(xs: readonly T[]) => xs[rnd(xs.length)];
    const good = () => (rnd(4) ? `10.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}` : `[2001:db8::${rnd(65536).toString(16)}]`);
    const hosts = ['[2001:db8::7]', '[2001:db8:::1]', '999.999.999.999', 'host.example', '0.0.0.0', '[::]', '10.0.0', '1.2.3.4.5', '[fe80::1%eth0]', ''];
    const ports = ['20880', '0', '65535', '65536', '-1', 'x', '50051'];
    const params = [
      '&weight=4294967296',
      '&weight=-1',
      '&weight=abc',
      '&weight=0',
      '&weight=100',
      '&env=blue',
      '&env=' + 'x'.repeat(80),
      '&zone=z%2F1',
      '&region=r&zone=z',
      '&version=1.0.0',
      '&group=g',
      '&group=G!',
      '&tag=gray',
      '&dubbo.tag=a b',
      '&enabled=false',
      '&side=consumer',
      '&application=' + 'é'.repeat(3),
    ];
    const protocols = ['dubbo', 'tri', 'rest', 'grpc'];
    const catalog = new Catalog(mapping, cfg.protection, ['s'], { rejected: () => {}, warning: () => {} }, 1000);
    const byService = new Map<string, string[]>();
    for (let i = 0; i < 20000; i++) {
      const iface = `com.example.S${rnd(50)}`;
      let entry = `${pickOne(protocols)}://${rnd(3) ? good() : pickOne(hosts)}:${pickOne(ports)}/${iface}?application=a&interface=${iface}&side=provider`;
      for (let k = rnd(4); k > 0; k--) entry += pickOne(params);
      if (rnd(5) === 0) entry = encodeURIComponent(entry);
      if (rnd(20) === 0) entry = entry.slice(0, rnd(entry.length));
      const list = byService.get(iface) ?? [];
      list.push(entry);
      byService.set(iface, list);
    }
    const accepted = [...byService.values()].flat().filter((e) => {
      const r = normalizeProviderEntry(e, mapping);
      return r.ok && r.endpoint.weight > 0; // weight 0 takes no traffic in Dubbo, and is not served
    }).length;
    catalog.replaceAll('s', urlServices(byService));
    catalog.commit(1_700_000_000_000);
    const invalid: string[] = [];
    let endpoints = 0;
    const inline = { ...cfg.render, endpointMode: 'inline' as const };
    for (const id of catalog.serviceIds()) {
      const [asWorkloadEntries, asInline] = [cfg.render, inline].map((render) => renderService(catalog.service(id)!, { mapping, render }, cfg.clusters[0]));
      // Endpoints served in workloadentry mode: WorkloadEntries, or inline for a service with several protocols.
      for (const o of asWorkloadEntries) endpoints += o.kind === 'WorkloadEntry' ? 1 : ((o.spec.endpoints as unknown[] | undefined)?.length ?? 0);
      for (const o of [...asWorkloadEntries, ...asInline]) {
        const problems = validateObject(o);
        if (problems.length) invalid.push(`${o.kind} ${o.name}: ${problems.join('; ')}`);
      }
    }
    expect(invalid).toEqual([]);
    // Every accepted provider is served (a few generated ones share an address and port).
    expect(accepted).toBeGreaterThan(3000);
    expect(endpoints).toBeGreaterThan(accepted * 0.95);
  });
});
