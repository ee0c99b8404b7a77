/**
 * Dubbo's value matchers, evaluated as Dubbo evaluates them (apache/dubbo dubbo-cluster:
 * `UrlUtils.isMatchGlobPattern`, `RangeValuePattern`, `StringMatch`, `AddressMatch`). Pure.
 *
 * Every evaluation is three-valued: `undefined` means the adapter cannot tell (a `$` reference to
 * the consumer's URL, a regex, an IPv6 CIDR...). Callers make the rule part that asked inert,
 * never broader.
 */
import { ipv4Number } from '../common/cidr';

/** A v3.0 StringMatch or AddressMatch, in the forms the adapter evaluates. */
export type ValueMatch = { exact: string } | { prefix: string } | { glob: string } | { cidr: string } | { empty: true } | { noempty: true };

export type Tristate = boolean | undefined;

/** Dubbo's glob: "*" alone matches anything; otherwise the last "*" splits a prefix and a suffix. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern === '' || value === '') return pattern === value;
  const i = pattern.lastIndexOf('*');
  if (i < 0) return pattern === value;
  return value.startsWith(pattern.slice(0, i)) && value.endsWith(pattern.slice(i + 1));
}

/**
 * One value of the condition grammar (`key = v1,v2`) against a provider's value: a range
 * (`20880~20890`, either end open) or a glob. A `$name` reference names a parameter of the
 * consumer's URL, which the mesh does not know: undefined.
 */
export function conditionValueMatch(pattern: string, value: string): Tristate {
  if (pattern.startsWith('$')) return undefined;
  if (pattern.includes('~')) {
    const [lo, hi, ...rest] = pattern.split('~');
    const num = /^-?\d{1,15}$/;
    if (rest.length || (lo === '' && hi === '') || (lo !== '' && !num.test(lo)) || (hi !== '' && !num.test(hi))) return undefined;
    if (!num.test(value)) return false;
    const v = Number(value);
    return (lo === '' || v >= Number(lo)) && (hi === '' || v <= Number(hi));
  }
  return globMatch(pattern, value);
}

/** Dubbo's StringMatch.isMatch (and AddressMatch's cird, for addresses); `value` undefined: the parameter is absent. */
export function valueMatch(m: ValueMatch, value: string | undefined): Tristate {
  if ('empty' in m) return value === undefined || value === '';
  if ('noempty' in m) return value !== undefined && value !== '';
  if (value === undefined) return false;
  if ('exact' in m) return value === m.exact;
  if ('prefix' in m) return value.startsWith(m.prefix);
  if ('glob' in m) return globMatch(m.glob, value);
  return m.cidr === value || ipInRange(m.cidr, value);
}

/**
 * Dubbo's `NetUtils.matchIpExpression` for IPv4: a CIDR (host bits ignored, as Java's CIDRUtils
 * masks them), or four octets each a number, `*` or `a-b`. Anything else (IPv6, a host name)
 * cannot be evaluated here.
 */
export function ipInRange(expression: string, ip: string): Tristate {
  const addr = ipv4Number(ip);
  if (expression.includes('/')) {
    const [base, bitsText] = expression.split('/');
    const b = ipv4Number(base);
    const bits = /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : NaN;
    if (b === undefined || !(bits >= 0 && bits <= 32)) return undefined;
    if (addr === undefined) return ip.includes(':') ? undefined : false;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (addr & mask) >>> 0 === (b & mask) >>> 0;
  }
  const parts = expression.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(\*|\d{1,3}(-\d{1,3})?)$/.test(p))) return undefined;
  if (addr === undefined) return ip.includes(':') ? undefined : false;
  const octets = [addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255];
  return parts.every((p, i) => {
    if (p === '*') return true;
    const [lo, hi] = p.split('-').map(Number);
    return hi === undefined ? octets[i] === lo : octets[i] >= lo && octets[i] <= hi;
  });
}

/**
 * Dubbo's `NetUtils.matchIpExpression(pattern, host, port)`, as tag routes use it: `*`, a CIDR,
 * or an IPv4 address whose octets may be `*` or `a-b`, with an optional `:port`. An IPv6
 * address matches itself (with or without brackets and port); a host name or an IPv6 pattern
 * would need what Dubbo does (DNS, its IPv6 rules): undefined.
 */
export function ipExpressionMatch(pattern: string, ip: string, port: number): Tristate {
  const p = pattern.trim();
  if (p === '*' || p === '*.*.*.*') return true;
  if (p.includes('/')) return ipInRange(p, ip);
  let host = p;
  let patternPort: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(p);
  if (v6) [, host, patternPort] = v6;
  else if (!p.includes('::') && p.split(':').length === 2) [host, patternPort] = p.split(':');
  if (patternPort !== undefined && patternPort !== String(port)) return false;
  if (host === ip) return true;
  if (host.includes(':') || ip.includes(':')) return host.includes('*') || host.includes('-') ? undefined : false;
  return ipInRange(host, ip);
}

/** AND over three-valued results: false wins, then unknown. */
export function all(results: Iterable<Tristate>): Tristate {
  let unknown = false;
  for (const r of results) {
    if (r === false) return false;
    if (r === undefined) unknown = true;
  }
  return unknown ? undefined : true;
}

/** OR over three-valued results: true wins, then unknown. */
export function any(results: Iterable<Tristate>): Tristate {
  let unknown = false;
  for (const r of results) {
    if (r === true) return true;
    if (r === undefined) unknown = true;
  }
  return unknown ? undefined : false;
}
