import { normalizeProviderEntry } from '../../src/dubbo/normalize';
import { fixtureProviderEntries, testConfig } from '../testbed/config';

const mapping = testConfig().mapping;
const ok = (entry: string) => {
  const r = normalizeProviderEntry(entry, mapping);
  if (!r.ok) throw new Error(`${entry}: ${r.reason}`);
  return r;
};

describe('normalizeProviderEntry', () => {
  it('turns every fixture URL into a service key and an endpoint', () => {
    const keys = fixtureProviderEntries().map((e) => ok(e));
    expect(keys.map((k) => k.key.interface)).toEqual(['com.hcw.api.QSearchService', 'com.alibaba.dubbo.demo.DemoService', 'com.alibaba.dubbo.demo.DemoService', 'org.apache.dubbo.demo.DemoService']);
    expect(keys[1].endpoint).toMatchObject({ address: '172.16.104.22', port: 20881, protocol: 'dubbo', weight: 100, meshed: false, labels: { app: 'demo-provider' }, registeredAtMs: 1495782364906 });
  });

  it('never turns volatile parameters into labels', () => {
    const r = ok(fixtureProviderEntries()[3]);
    expect(r.endpoint.labels).toEqual({ app: 'dubbo-demo-api-provider' });
  });

  it('drops a zone without its region (idc-7 alone would be locality "/idc-7", which matches no consumer), unless a default region completes it', () => {
    expect(ok('dubbo://10.1.1.1:20880/a.B?idc=idc-7').endpoint.locality).toEqual({});
    const withRegion = testConfig({ mapping: { locality: { defaultRegion: 'cn-east' } } }).mapping;
    const r = normalizeProviderEntry('dubbo://10.1.1.1:20880/a.B?idc=idc-7', withRegion);
    expect(r.ok && r.endpoint.locality).toEqual({ region: 'cn-east', zone: 'idc-7' });
  });

  it('maps group, version, env and zone/region by the configurable table', () => {
    const r = ok('dubbo://10.1.1.1:20880/a.B?group=pay&version=2.0.0&env=green&zone=z1&region=r1&application=x');
    expect(r.key).toEqual({ interface: 'a.B', group: 'pay', version: '2.0.0' });
    expect(r.endpoint.labels).toEqual({ app: 'x', 'dubbo.group': 'pay', 'dubbo.version': '2.0.0', env: 'green' });
    expect(r.endpoint.locality).toEqual({ region: 'r1', zone: 'z1' });
    expect(r.endpoint.labels).not.toHaveProperty('version');
  });

  it('uses a custom label table from config', () => {
    const custom = testConfig({ mapping: { labels: [{ param: 'color', label: 'env' }] } }).mapping;
    const r = normalizeProviderEntry('dubbo://10.1.1.1:20880/a.B?color=blue&application=x', custom);
    expect(r.ok && r.endpoint.labels).toEqual({ env: 'blue' });
  });

  it('treats version 0.0.0 as no version, as Dubbo does', () => {
    expect(ok('dubbo://10.1.1.1:20880/a.B?version=0.0.0').key.version).toBe('');
  });

  it('keeps meshed providers apart: the marker parameter, addressed at the sidecar port', () => {
    // A plain provider that listens on 20882 (as Dubbo's spring-boot samples do) is not meshed.
    expect(ok('dubbo://10.1.1.1:20882/a.B').endpoint).toMatchObject({ meshed: false, port: 20882 });
    const byPort = testConfig({ mapping: { meshed: { byPort: true } } }).mapping;
    const r = normalizeProviderEntry('dubbo://10.1.1.1:20882/a.B', byPort);
    expect(r.ok && r.endpoint).toMatchObject({ meshed: true, port: 20882 });
    expect(ok('dubbo://10.1.1.1:20880/a.B?mesh=true').endpoint).toMatchObject({ meshed: true, port: 20882 });
    expect(ok('dubbo://10.1.1.1:20880/a.B').endpoint).toMatchObject({ meshed: false, port: 20880 });
  });

  it('skips disabled providers as Dubbo does, without calling them errors', () => {
    for (const e of ['dubbo://10.1.1.1:20880/a.B?enabled=false', 'dubbo://10.1.1.1:20880/a.B?disabled=true']) {
      const r = normalizeProviderEntry(e, mapping);
      expect(r).toMatchObject({ ok: false, skipped: true });
    }
  });

  it('skips consumer and Dubbo 2.6 rule URLs with what they are, instead of refusing them for having no port', () => {
    // As Dubbo 2.7 writes a consumer into /dubbo/{interface}/consumers, and dubbo-admin 0.x an override.
    const consumer =
      'consumer://10.20.0.9/org.apache.dubbo.demo.DemoService?application=demo-consumer&category=consumers&check=false&dubbo=2.0.2&interface=org.apache.dubbo.demo.DemoService&side=consumer&timestamp=1630745700000';
    expect(normalizeProviderEntry(consumer, mapping)).toEqual({ ok: false, skipped: true, reason: 'a consumer registration (consumer://), not a provider' });
    expect(normalizeProviderEntry(encodeURIComponent(consumer), mapping)).toMatchObject({ skipped: true });
    expect(normalizeProviderEntry('override://0.0.0.0/org.apache.dubbo.demo.DemoService?category=configurators&dynamic=false&enabled=true&disabled=true', mapping)).toEqual({
      ok: false,
      skipped: true,
      reason: 'a Dubbo 2.6 override rule (override://), not a provider',
    });
  });

  it('keeps weight 0 (the catalog decides), and warns on a bad weight', () => {
    expect(ok('dubbo://10.1.1.1:20880/a.B?weight=0').endpoint.weight).toBe(0);
    const r = ok('dubbo://10.1.1.1:20880/a.B?weight=heavy');
    expect(r.endpoint.weight).toBe(100);
    expect(r.warnings[0]).toContain('weight');
  });

  it.each([
    ['dubbo://10.1.1.1:20880/a.B?side=consumer', 'side="consumer"'],
    ['dubbo://10.1.1.1:20880/a.B?category=routers', 'category="routers"'],
    ['thrift://10.1.1.1:20880/a.B', 'no entry in mapping.protocols'],
    ['dubbo://10.1.1.1:20880/?interface=1bad', 'invalid interface'],
  ])('rejects %s', (e, reason) => {
    const r = normalizeProviderEntry(e, mapping);
    expect(r).toMatchObject({ ok: false, skipped: false });
    expect(!r.ok && r.reason).toContain(reason);
  });
});
