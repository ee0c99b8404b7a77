import { parseProviderUrl } from '../../src/dubbo/url';
import { fixtureProviderEntries } from '../testbed/config';

describe('parseProviderUrl', () => {
  it('parses every provider URL in the fixtures, decoding the znode name once', () => {
    const entries = fixtureProviderEntries();
    expect(entries.length).toBeGreaterThanOrEqual(4);
    for (const e of entries) {
      const r = parseProviderUrl(e);
      if ('error' in r) throw new Error(`${e}: ${r.error}`);
      expect(r.url.protocol).toBe('dubbo');
      expect(r.url.params.interface).toBe(r.url.path);
      expect(r.url.params.side).toBe('provider');
    }
  });

  it('reads host, port, path and parameters of a Dubbo 2.7 URL', () => {
    const r = parseProviderUrl(fixtureProviderEntries()[3]);
    if ('error' in r) throw new Error(r.error);
    expect(r.url).toMatchObject({ protocol: 'dubbo', host: '192.168.0.114', port: 20880, path: 'org.apache.dubbo.demo.DemoService' });
    expect(r.url.params.methods).toBe('sayHello,sayHelloAsync');
    expect(r.url.params.release).toBe('');
  });

  it('decodes URL-encoded parameter values', () => {
    const r = parseProviderUrl('tri://10.0.0.1:50051/a.B?application=my%20app&tag=x%2Fy');
    if ('error' in r) throw new Error(r.error);
    expect(r.url.params).toEqual({ application: 'my app', tag: 'x/y' });
  });

  it('takes bracketed IPv6 hosts, encoded or not', () => {
    for (const e of ['dubbo://[2001:db8::1]:20880/a.B?x=1', encodeURIComponent('tri://[fe80::1]:50051/a.B?x=1')]) {
      const r = parseProviderUrl(e);
      if ('error' in r) throw new Error(`${e}: ${r.error}`);
      expect(r.url.host).toMatch(/:/);
    }
  });

  it('ignores user info, which must never reach the mesh', () => {
    const r = parseProviderUrl('dubbo://admin:secret@10.0.0.1:20880/a.B');
    if ('error' in r) throw new Error(r.error);
    expect(JSON.stringify(r.url)).not.toContain('secret');
  });

  it.each([
    ['', 'empty'],
    ['garbage', 'no protocol'],
    ['dubbo%ZZ', 'not URL-encoded'],
    ['dubbo://10.0.0.1/a.B', 'no port'],
    ['dubbo://10.0.0.1:0/a.B', 'out of range'],
    ['dubbo://10.0.0.1:99999/a.B', 'out of range'],
    ['dubbo://10.0.0.1:abc/a.B', 'invalid port'],
    ['dubbo://300.1.1.1:20880/a.B', 'invalid host'],
    ['dubbo://2001:db8::1:20880/a.B', 'IPv6 address must be in brackets'],
    ['dubbo://[2001:db8::zz]:20880/a.B', 'invalid IPv6'],
    ['dubbo://[::1]/a.B', 'no port after IPv6'],
    ['dubbo://0.0.0.0:20880/a.B', 'unroutable'],
    ['9ubbo://1.2.3.4:1/a', 'invalid protocol'],
  ])('rejects %j with a reason (%s)', (entry, reason) => {
    const r = parseProviderUrl(entry);
    expect('error' in r && r.error).toContain(reason);
  });
});
