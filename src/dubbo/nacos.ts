/**
 * Dubbo's interface-level layout in Nacos: one Nacos service per Dubbo service, named
 * providers:{interface}:{version}:{group}, one instance per provider, with the provider URL's
 * parameters as instance metadata. The Nacos source passes each instance on as a JSON entry;
 * this turns it back into the provider URL Dubbo's NacosRegistry would build. Pure.
 */
export interface NacosInstanceEntry {
  /** Nacos service name, e.g. providers:com.example.DemoService:1.0.0:g1 */
  service: string;
  ip: string;
  port: number;
  weight: number;
  healthy: boolean;
  enabled: boolean;
  cluster?: string;
  metadata: Record<string, string>;
}

export function parseNacosEntry(entry: string): NacosInstanceEntry | { error: string } {
  let i: NacosInstanceEntry;
  try {
    i = (JSON.parse(entry) as { nacos: NacosInstanceEntry }).nacos;
  } catch (err) {
    return { error: `instance is not valid JSON: ${(err as Error).message}` };
  }
  if (!i || typeof i !== 'object') return { error: 'instance record is empty' };
  if (typeof i.service !== 'string') return { error: 'instance has no service name' };
  return i;
}

/** The provider URL of an interface-level instance, or why it has none. */
export function providerUrlOfNacosEntry(i: NacosInstanceEntry): { url: string } | { error: string; skipped?: boolean } {
  const name = /^providers:([^:]+):([^:]*):([^:]*)$/.exec(i.service ?? '');
  if (!name) return { error: `service "${i.service}" is not providers:{interface}:{version}:{group}` };
  const [, iface, version, group] = name;
  if (typeof i.ip !== 'string' || !i.ip) return { error: 'instance has no ip' };
  if (!Number.isInteger(i.port) || i.port < 1 || i.port > 65535) return { error: `instance port ${JSON.stringify(i.port)} is not a port` };
  const meta = i.metadata && typeof i.metadata === 'object' ? i.metadata : {};
  if (i.enabled === false) return { error: 'instance disabled in Nacos (enabled=false)', skipped: true };
  if (i.healthy === false) return { error: 'instance unhealthy in Nacos', skipped: true };

  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (typeof v === 'string') params[k] = v;
  params.interface ??= iface;
  if (version && params.version === undefined) params.version = version;
  if (group && params.group === undefined) params.group = group;
  // Dubbo routes by the URL's weight parameter and ignores the Nacos weight, except that an
  // operator who sets the Nacos weight to 0 means "no traffic".
  if (i.weight === 0 && params.weight === undefined) params.weight = '0';
  if (i.cluster && i.cluster !== 'DEFAULT' && params['nacos.cluster'] === undefined) params['nacos.cluster'] = i.cluster;
  const protocol = params.protocol || 'dubbo';
  const host = i.ip.includes(':') ? `[${i.ip}]` : i.ip;
  const query = Object.keys(params)
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
    .join('&');
  return { url: `${protocol}://${host}:${i.port}/${params.path || params.interface}?${query}` };
}
