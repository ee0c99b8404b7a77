import { isNacosEntry, providerUrlOfNacosEntry } from './nacos';
import type { MappingConfig } from '../config/types';
import type { Endpoint, ServiceKey } from './model';
import { parseProviderUrl, type ProviderUrl } from './url';

export type Normalized =
  | { ok: true; key: ServiceKey; endpoint: Endpoint; warnings: string[] }
  /** Dubbo would not route to it (disabled); not an error, so no rejection metric. */
  | { ok: false; skipped: true; key?: ServiceKey; reason: string }
  | { ok: false; skipped: false; reason: string };

const JAVA_NAME = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/** Raw registry entry (encoded znode name or plain URL) to the internal model. Pure. */
export function normalizeProviderEntry(entry: string, mapping: MappingConfig): Normalized {
  if (isNacosEntry(entry)) {
    const built = providerUrlOfNacosEntry(entry);
    if ('error' in built) return built.skipped ? { ok: false, skipped: true, reason: built.error } : { ok: false, skipped: false, reason: built.error };
    entry = built.url;
  }
  const parsed = parseProviderUrl(entry);
  if ('error' in parsed) return { ok: false, skipped: false, reason: parsed.error };
  return normalizeProviderUrl(parsed.url, mapping);
}

export function normalizeProviderUrl(url: ProviderUrl, mapping: MappingConfig): Normalized {
  const p = url.params;
  const side = p.side;
  if (side && side !== 'provider') return { ok: false, skipped: false, reason: `side=${side}: not a provider URL` };
  const category = p.category;
  if (category && category !== 'providers') return { ok: false, skipped: false, reason: `category=${category}: not a provider URL` };
  if (!mapping.protocols[url.protocol]) {
    return { ok: false, skipped: false, reason: `protocol "${url.protocol}" has no entry in mapping.protocols` };
  }

  const iface = p.interface || url.path.split('/').pop() || '';
  if (!JAVA_NAME.test(iface)) return { ok: false, skipped: false, reason: `invalid interface name "${iface}"` };
  const key: ServiceKey = { interface: iface, group: p.group ?? '', version: p.version ?? '' };
  if (key.version === '0.0.0') key.version = ''; // Dubbo treats 0.0.0 as "no version"

  if (p.enabled === 'false') return { ok: false, skipped: true, key, reason: 'enabled=false' };
  if (p.disabled === 'true') return { ok: false, skipped: true, key, reason: 'disabled=true' };

  const warnings: string[] = [];
  let weight = mapping.defaultWeight;
  if (p.weight !== undefined) {
    if (/^\d+$/.test(p.weight)) weight = Number(p.weight);
    else warnings.push(`weight "${p.weight}" is not a whole number; using ${mapping.defaultWeight}`);
  }

  const labels: Record<string, string> = {};
  for (const { param, label } of mapping.labels) {
    const v = p[param];
    if (v !== undefined && v !== '') labels[label] = v;
  }
  const pick = (names: string[]): string | undefined => names.map((n) => p[n]).find((v) => v !== undefined && v !== '');
  const locality: Endpoint['locality'] = {};
  const region = pick(mapping.locality.region);
  const zone = pick(mapping.locality.zone);
  const subzone = pick(mapping.locality.subzone);
  if (region) locality.region = region;
  if (zone) locality.zone = zone;
  if (subzone) locality.subzone = subzone;

  // A sidecar re-registers its provider on the sidecar port, or marks it; either way traffic goes
  // to the sidecar port, so a half-meshed estate keeps both kinds apart.
  const meshed = url.port === mapping.meshed.sidecarPort || p[mapping.meshed.markerParam] === mapping.meshed.markerValue;
  const port = meshed ? mapping.meshed.sidecarPort : url.port;
  const registeredAtMs = /^\d{10,16}$/.test(p.timestamp ?? '') ? Number(p.timestamp) : undefined;

  const endpoint: Endpoint = { address: url.host, version: key.version, port, protocol: url.protocol, weight, labels, locality, meshed };
  if (registeredAtMs !== undefined) endpoint.registeredAtMs = registeredAtMs;
  return { ok: true, key, endpoint, warnings };
}
