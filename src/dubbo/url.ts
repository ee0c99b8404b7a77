import { isIPv6 } from 'node:net';
/**
 * Dubbo provider URLs, as Dubbo 2.5 to 3.x write them under /dubbo/{interface}/providers/.
 * Parsing is pure and never throws: garbage comes back as a ParseFailure with a reason.
 */
export interface ProviderUrl {
  protocol: string;
  host: string;
  port: number;
  path: string;
  /** Parameter values, decoded. */
  params: Readonly<Record<string, string>>;
}

export interface ParseFailure {
  error: string;
}

export type ParseResult = { url: ProviderUrl } | ParseFailure;

const PROTOCOL = /^[a-z][a-z0-9+.-]*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;

/**
 * A znode name is the URL encoded once (Dubbo's URL.encode); a file holds it plain. Accept both:
 * only a string that does not yet contain "://" is decoded.
 */
export function decodeRegistryEntry(entry: string): string | ParseFailure {
  const trimmed = entry.trim();
  if (trimmed.includes('://')) return trimmed;
  try {
    return decodeURIComponent(trimmed);
  } catch {
    return { error: 'not URL-encoded correctly (a % not followed by two hex digits)' };
  }
}

export function parseProviderUrl(entry: string): ParseResult {
  const decoded = decodeRegistryEntry(entry);
  if (typeof decoded !== 'string') return decoded;
  if (decoded.length === 0) return { error: 'empty entry' };
  if (decoded.length > 64 * 1024) return { error: `too long (${decoded.length} characters)` };

  const schemeEnd = decoded.indexOf('://');
  if (schemeEnd <= 0) return { error: 'no protocol: expected protocol://host:port/interface?params' };
  const protocol = decoded.slice(0, schemeEnd).toLowerCase();
  if (!PROTOCOL.test(protocol)) return { error: `invalid protocol "${decoded.slice(0, schemeEnd)}"` };

  let rest = decoded.slice(schemeEnd + 3);
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  let authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1); // credentials never reach the mesh

  const hp = splitHostPort(authority);
  if ('error' in hp) return hp;

  const params: Record<string, string> = {};
  // One pass with indexOf, not split('&') and a slice per part: this loop is most of the parse.
  for (let start = 0; start < query.length;) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    if (keyEnd > start) {
      const key = safeDecode(query.slice(start, keyEnd)).trim();
      if (key) params[key] = keyEnd < end ? safeDecode(query.slice(keyEnd + 1, end)) : '';
    }
    start = end + 1;
  }
  return { url: { protocol, host: hp.host, port: hp.port, path: safeDecode(path), params } };
}

function splitHostPort(authority: string): { host: string; port: number } | ParseFailure {
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return { error: `unterminated IPv6 address in "${authority}"` };
    host = authority.slice(1, close).toLowerCase();
    if (authority[close + 1] !== ':') return { error: `no port after IPv6 address "${authority}"` };
    portText = authority.slice(close + 2);
    if (!isIpv6(host)) return { error: `invalid IPv6 address "${host}"` };
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon < 0) return { error: `no port in "${authority}"` };
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.includes(':')) return { error: `IPv6 address must be in brackets: "${authority}"` };
    if (!host) return { error: 'empty host' };
    if (!IPV4.test(host) && !(HOSTNAME.test(host) && !/^[\d.]+$/.test(host))) return { error: `invalid host "${host}"` };
  }
  if (!/^\d{1,5}$/.test(portText)) return { error: `invalid port "${portText}"` };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: `port ${port} out of range` };
  if (host === '0.0.0.0' || host === '::') return { error: `unroutable host "${host}"` };
  return { host, port };
}

/** Node's own parser: a hand-written one accepted "2001:db8:::1", which istiod then refused. */
function isIpv6(h: string): boolean {
  return isIPv6(h);
}

function safeDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
