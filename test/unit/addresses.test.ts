import { parseCidr } from '../../src/common/cidr';
import { serviceKey } from '../../src/dubbo/model';
import { AddressBook } from '../../src/istio/addresses';
import { testConfig } from '../testbed/config';

const cfg = testConfig();
const book = (cidr = '240.128.0.0/10') => new AddressBook(cfg.mapping, { enabled: true, cidr });
const inRange = (ip: string, cidr: string) => {
  const r = parseCidr(cidr) as { base: number; size: number };
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  return n > r.base && n < r.base + r.size - 1;
};

describe('AddressBook', () => {
  it('gives each version and group its own host, and the same address for the same service in every process', () => {
    const a = book();
    const b = book();
    const v1 = a.add('a.B:1.0.0', serviceKey('a.B', '', '1.0.0'));
    a.add('x.Y', serviceKey('x.Y', '', ''));
    // Another replica that saw other services first.
    b.add('x.Y', serviceKey('x.Y', '', ''));
    expect(b.add('a.B:1.0.0', serviceKey('a.B', '', '1.0.0'))).toEqual(v1);
    expect(v1.host).toBe('1.0.0.a.b');
    expect(a.add('g/a.B:1.0.0', serviceKey('a.B', 'g', '1.0.0')).host).toBe('1.0.0.g.a.b');
    expect(a.add('a.B', serviceKey('a.B', '', '')).host).toBe('a.b');
    expect(inRange(v1.address!, '240.128.0.0/10')).toBe(true);
  });

  it('never hands out a held host or address again, and keeps them while the service exists', () => {
    // A /30 has two usable addresses: the third service must not get either.
    const a = book('240.0.0.0/30');
    const first = a.add('org.example.Foo', serviceKey('org.example.Foo', '', ''));
    const second = a.add('org.example.foo', serviceKey('org.example.foo', '', '')); // differs only in case
    expect(first.host).toBe('org.example.foo');
    expect(second.host).toMatch(/^h[0-9a-f]{10}\.org\.example\.foo$/);
    expect(new Set([first.address, second.address]).size).toBe(2);
    expect(a.add('c.D', serviceKey('c.D', '', '')).address).toBeUndefined();
    expect(a.add('org.example.Foo', serviceKey('org.example.Foo', '', ''))).toEqual(first);
    // Freed when the service goes: the next one may take them.
    a.remove('org.example.Foo');
    const next = a.add('e.F', serviceKey('e.F', '', ''));
    expect(next.address).toBe(first.address);
    expect(a.add('org.example.Foo', serviceKey('org.example.Foo', '', '')).host).toBe('org.example.foo');
  });

  it('spreads many services over the range without a duplicate', () => {
    const a = book('240.128.0.0/16');
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(a.add(`s${i}`, serviceKey(`com.example.S${i}`, '', '')).address!);
    expect(seen.size).toBe(5000);
  });

  it('gives no addresses when switched off', () => {
    const a = new AddressBook(cfg.mapping, { enabled: false, cidr: '240.128.0.0/10' });
    expect(a.add('a.B', serviceKey('a.B', '', ''))).toEqual({ host: 'a.b' });
  });
});

describe('parseCidr', () => {
  it('reads IPv4 ranges and refuses the rest', () => {
    expect(parseCidr('240.128.0.0/10')).toEqual({ base: 0xf0800000, size: 2 ** 22 });
    expect(parseCidr('240.128.0.1/10')).toMatch(/host bits/);
    expect(parseCidr('2001:db8::/64')).toMatch(/not an IPv4 CIDR/);
    expect(parseCidr('300.0.0.0/8')).toMatch(/not an IPv4 CIDR/);
  });
});
