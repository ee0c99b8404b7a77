import { normalizeEntry } from '../../src/dubbo/normalize';
import { accessKeySignature } from '../../src/registry/nacos-client';
import { testConfig } from '../testbed/config';

const mapping = testConfig().mapping;
const normalizeProviderEntry = (e: string, m: typeof mapping) => normalizeEntry('nacos-instance', e, m, () => undefined).results[0];
const entry = (over: Record<string, unknown> = {}, metadata: Record<string, string> = {}) =>
  JSON.stringify({
    nacos: {
      service: 'providers:com.example.DemoService:1.0.0:g1',
      ip: '10.0.0.1',
      port: 20880,
      weight: 1,
      healthy: true,
      enabled: true,
      cluster: 'DEFAULT',
      // As Dubbo's NacosRegistry writes them: the provider URL's parameters.
      metadata: {
        application: 'demo',
        dubbo: '2.0.2',
        interface: 'com.example.DemoService',
        version: '1.0.0',
        group: 'g1',
        side: 'provider',
        protocol: 'dubbo',
        methods: 'sayHello',
        timestamp: '1700000000000',
        ...metadata,
      },
      ...over,
    },
  });

describe('Nacos instances (interface-level Dubbo layout)', () => {
  it('become the same service key and endpoint as the provider URL', () => {
    const r = normalizeProviderEntry(entry({}, { env: 'blue', zone: 'z1', region: 'r1' }), mapping);
    expect(r).toMatchObject({
      ok: true,
      key: { interface: 'com.example.DemoService', version: '1.0.0', group: 'g1' },
      endpoint: { address: '10.0.0.1', port: 20880, protocol: 'dubbo', weight: 100, labels: { app: 'demo', env: 'blue' }, locality: { region: 'r1', zone: 'z1' } },
    });
  });

  it('take version and group from the service name when the metadata lacks them', () => {
    const r = normalizeProviderEntry(entry({}, { version: undefined as unknown as string, group: undefined as unknown as string }), mapping);
    expect(r).toMatchObject({ ok: true, key: { version: '1.0.0', group: 'g1' } });
  });

  it('are not routable when disabled or unhealthy in Nacos, or at Nacos weight 0', () => {
    expect(normalizeProviderEntry(entry({ enabled: false }), mapping)).toMatchObject({ ok: false, skipped: true });
    expect(normalizeProviderEntry(entry({ healthy: false }), mapping)).toMatchObject({ ok: false, skipped: true });
    expect(normalizeProviderEntry(entry({ weight: 0 }), mapping)).toMatchObject({ ok: true, endpoint: { weight: 0 } });
    expect(normalizeProviderEntry(entry({}, { weight: '30' }), mapping)).toMatchObject({ ok: true, endpoint: { weight: 30 } });
  });

  it('keep IPv6 addresses and tri:// providers', () => {
    const r = normalizeProviderEntry(entry({ ip: 'fd00::1', port: 50051 }, { protocol: 'tri' }), mapping);
    expect(r).toMatchObject({ ok: true, endpoint: { address: 'fd00::1', port: 50051, protocol: 'tri' } });
  });

  it('reject bad records with a reason', () => {
    expect(normalizeProviderEntry(entry({ service: 'com.example.DemoService' }), mapping)).toMatchObject({ ok: false, skipped: false, reason: expect.stringContaining('providers:{interface}') });
    expect(normalizeProviderEntry(entry({ port: 0 }), mapping)).toMatchObject({ ok: false, skipped: false, reason: expect.stringContaining('port') });
    expect(normalizeProviderEntry(entry({}, { protocol: 'bogus' }), mapping)).toMatchObject({ ok: false, skipped: false, reason: expect.stringContaining('protocol "bogus"') });
    expect(normalizeProviderEntry(entry({ ip: 'not an ip!' }), mapping)).toMatchObject({ ok: false, skipped: false });
    expect(normalizeProviderEntry('{"nacos":', mapping)).toMatchObject({ ok: false, skipped: false, reason: expect.stringContaining('JSON') });
  });
});

describe('Nacos access-key signatures (the secret never goes on the wire)', () => {
  // Expected values from `openssl dgst -sha1 -hmac sk -binary | base64`.
  it('signs a naming request over time@@group@@service', () => {
    const s = accessKeySignature('/v1/ns/instance/list', { serviceName: 'providers:a.B::', groupName: 'DEFAULT_GROUP' }, 'ak1', 'sk', 1700000000000);
    expect(s).toEqual({ query: { ak: 'ak1', data: '1700000000000@@DEFAULT_GROUP@@providers:a.B::', signature: 'OVIighqHBI1UDLjDKvaXAK3UcXI=' }, headers: {} });
  });

  it('signs a config request over tenant+group+time, in headers', () => {
    const s = accessKeySignature('/v1/cs/configs', { dataId: 'x', group: 'DEFAULT_GROUP', tenant: 'dubbo' }, 'ak1', 'sk', 1700000000000);
    expect(s).toEqual({ query: {}, headers: { 'Spas-AccessKey': 'ak1', Timestamp: '1700000000000', 'Spas-Signature': 'C/SRj9Vn2uoqxEni0Q+ObSuC0BE=' } });
    expect(JSON.stringify(s)).not.toContain('"sk"');
  });
});
