import { isIP } from 'node:net';
import { parseNacosEntry, providerUrlOfNacosEntry, type NacosInstanceEntry } from './nacos';
import { intern, keepShared, ownString, sharedRecord } from '../common/hash';
import type { MappingConfig } from '../config/types';
import { documentName, REVISION_KEY, type EntryKind } from '../registry/types';
import { appInstanceOfNacos, parseMapping, parseMetadataInfo, parseZookeeperInstance, providerUrlsOfInstance, revisionOf, type AppInstance } from './instance';
import { serviceKey, type Endpoint, type ServiceKey } from './model';
import { parseProviderUrl, type ProviderUrl } from './url';

export type Normalized =
  | { ok: true; key: ServiceKey; endpoint: Endpoint; warnings: readonly string[] }
  /** Dubbo would not route to it (disabled); not an error, so no rejection metric. */
  | { ok: false; skipped: true; key?: ServiceKey; reason: string }
  | { ok: false; skipped: false; reason: string };

/** Which of Dubbo's two registration models an entry came from. */
export type RegistrationModel = 'interface' | 'application';

/** Everything one registry entry stands for: one endpoint (interface-level), or one per exported service. */
export interface EntryResult {
  model: RegistrationModel;
  results: Normalized[];
  /** Documents the result was built from: when one changes, the entry is normalized again. */
  needs: readonly string[];
  /** Application-level: the instance, whose last good result stands in while `unresolved`. */
  instanceId?: string;
  /** Why the services of an application-level instance cannot be known now (metadata missing or bad). */
  unresolved?: string;
}

export type DocumentLookup = (name: string) => string | undefined;

/**
 * Any registry entry to the internal model, by its kind: a provider URL (znode name or plain), a
 * Nacos instance of either model, or a ZooKeeper application-level instance (Curator JSON).
 * Pure: the documents it needs come through `lookup`.
 */
export function normalizeEntry(kind: EntryKind, entry: string, mapping: MappingConfig, lookup: DocumentLookup): EntryResult {
  switch (kind) {
    case 'provider-url':
      return single(normalizeProviderEntry(entry, mapping));
    case 'zookeeper-instance':
      return normalizeAppEntry(parseZookeeperInstance(entry), mapping, lookup);
    case 'nacos-instance': {
      const parsed = parseNacosEntry(entry);
      if ('error' in parsed) return single({ ok: false, skipped: false, reason: parsed.error });
      // Dubbo's Nacos registry names interface-level services providers:{interface}:...; any other
      // service whose instances name a metadata revision is a Dubbo 3 application.
      if (!parsed.service.startsWith('providers:') && parsed.metadata?.[REVISION_KEY] !== undefined) {
        return normalizeAppEntry(appInstanceOfNacos(parsed), mapping, lookup);
      }
      return single(normalizeNacosProvider(parsed, mapping));
    }
  }
}

const NO_WARNINGS: readonly string[] = Object.freeze([]);
const NO_NEEDS: readonly string[] = Object.freeze([]);

function single(result: Normalized): EntryResult {
  return { model: 'interface', results: [result], needs: NO_NEEDS };
}

function normalizeNacosProvider(i: NacosInstanceEntry, mapping: MappingConfig): Normalized {
  const built = providerUrlOfNacosEntry(i);
  if ('error' in built) return built.skipped ? { ok: false, skipped: true, reason: built.error } : { ok: false, skipped: false, reason: built.error };
  return normalizeProviderEntry(built.url, mapping);
}

/**
 * An application-level instance: its revision's MetadataInfo says which services it exports;
 * each becomes the provider URL its interface-level twin would have, normalized the same way.
 */
export function normalizeAppEntry(inst: AppInstance | { error: string }, mapping: MappingConfig, lookup: DocumentLookup): EntryResult {
  if ('error' in inst) return { model: 'application', results: [{ ok: false, skipped: false, reason: inst.error }], needs: [] };
  const base = { model: 'application' as const, instanceId: `${inst.application}/${inst.id}` };
  const revision = revisionOf(inst);
  if (!revision) return { ...base, results: [], needs: [], unresolved: `instance "${inst.id}" of "${inst.application}" has no ${REVISION_KEY}` };
  const metaDoc = documentName.metadata(inst.application, revision);
  const content = lookup(metaDoc);
  if (content === undefined) {
    const storage = inst.metadata['dubbo.metadata.storage-type'];
    const hint = storage === 'local' ? ' (dubbo.metadata.storage-type=local: the provider must also report its metadata, e.g. metadata-type=remote or report-metadata=true)' : '';
    return { ...base, results: [], needs: [metaDoc], unresolved: `no metadata for "${inst.application}" revision "${revision}" in the metadata report${hint}` };
  }
  const meta = parseMetadataInfo(content);
  if ('error' in meta) return { ...base, results: [], needs: [metaDoc], unresolved: `metadata of "${inst.application}" revision "${revision}": ${meta.error}` };
  const urls = providerUrlsOfInstance(inst, meta);
  if ('error' in urls) return { ...base, results: [{ ok: false, skipped: false, reason: urls.error }], needs: [metaDoc] };
  const needs = [metaDoc];
  const results = urls.map((url) => {
    const r = normalizeProviderUrl(url, mapping);
    const mapDoc = documentName.mapping(url.params.interface);
    needs.push(mapDoc);
    const apps = lookup(mapDoc);
    if (r.ok && apps !== undefined && !parseMapping(apps).includes(inst.application)) {
      const w = `the service-name mapping of ${url.params.interface} lists "${apps}", not ${inst.application}: Dubbo consumers on application-level discovery will not find this provider`;
      return { ...r, warnings: [...r.warnings, w] };
    }
    return r;
  });
  return { ...base, results, needs: [...new Set(needs)] };
}

const JAVA_NAME = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/** The first of these parameters that is set. */
function pick(p: Record<string, string>, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = p[n];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** A provider URL (encoded znode name or plain URL) to the internal model. Pure. */
export function normalizeProviderEntry(entry: string, mapping: MappingConfig): Normalized {
  const notProvider = NOT_PROVIDER.exec(entry);
  if (notProvider) return { ok: false, skipped: true, reason: NOT_PROVIDER_REASONS[notProvider[1].toLowerCase()] };
  const parsed = parseProviderUrl(entry);
  if ('error' in parsed) return { ok: false, skipped: false, reason: parsed.error };
  return normalizeProviderUrl(parsed.url, mapping);
}

/** URLs Dubbo writes beside providers (plain or URL-encoded): not providers, and not errors either. */
const NOT_PROVIDER = /^(consumer|override|route|empty)(?::\/\/|%3A%2F%2F)/i;
const NOT_PROVIDER_REASONS: Record<string, string> = {
  consumer: 'a consumer registration (consumer://), not a provider',
  override: 'a Dubbo 2.6 override rule (override://), not a provider',
  route: 'a Dubbo 2.6 route rule (route://), not a provider',
  empty: "Dubbo's empty:// placeholder, not a provider",
};

/** Dubbo's weight is a Java int: nothing above this is a weight a real provider can register. */
const MAX_WEIGHT = 2147483647;

/**
 * Why this endpoint address cannot be served, if it cannot. Every entry model (a provider URL,
 * a Nacos instance, an application-level instance) ends here, so one bad provider is refused on
 * its own and never reaches istiod, which would refuse its whole ServiceEntry.
 */
function addressProblem(host: string): string | undefined {
  if (isIP(host) === 0) {
    // The ServiceEntries are resolution STATIC: an endpoint must be an IP address.
    return /^[\d.]+$/.test(host) || host.includes(':')
      ? `invalid IP address "${host}"`
      : `host "${host}" is a name, not an IP address: register the provider's IP (Dubbo's DUBBO_IP_TO_REGISTRY), since its ServiceEntry uses resolution STATIC`;
  }
  // fe80::1%eth0: a zone index names an interface of the provider's own host, nobody else's.
  if (host === '0.0.0.0' || host === '::' || host.includes('%')) return `unroutable address "${host}"`;
  return undefined;
}

export function normalizeProviderUrl(url: ProviderUrl, mapping: MappingConfig): Normalized {
  const p = url.params;
  const badAddress = addressProblem(url.host);
  if (badAddress) return { ok: false, skipped: false, reason: badAddress };
  if (!(Number.isInteger(url.port) && url.port >= 1 && url.port <= 65535)) return { ok: false, skipped: false, reason: `port "${url.port}" out of range` };
  const side = p.side;
  if (side && side !== 'provider') return { ok: false, skipped: false, reason: `side="${side}": not a provider URL` };
  const category = p.category;
  if (category && category !== 'providers') return { ok: false, skipped: false, reason: `category="${category}": not a provider URL` };
  if (!mapping.protocols[url.protocol]) {
    return { ok: false, skipped: false, reason: `protocol "${url.protocol}" has no entry in mapping.protocols` };
  }

  const iface = p.interface || url.path.split('/').pop() || '';
  if (!JAVA_NAME.test(iface)) return { ok: false, skipped: false, reason: `invalid interface name "${iface}"` };
  const version = p.version === '0.0.0' ? '' : (p.version ?? ''); // Dubbo treats 0.0.0 as "no version"
  const key = serviceKey(iface, p.group ?? '', version);

  if (p.enabled === 'false') return { ok: false, skipped: true, key, reason: 'enabled=false' };
  if (p.disabled === 'true') return { ok: false, skipped: true, key, reason: 'disabled=true' };

  const warnings: string[] = [];
  let weight = mapping.defaultWeight;
  if (p.weight !== undefined) {
    if (/^\d+$/.test(p.weight)) weight = Number(p.weight);
    // Dubbo treats a negative weight as 0
    else if (/^-\d+$/.test(p.weight)) weight = 0;
    else warnings.push(`weight "${p.weight}" is not a whole number; using ${mapping.defaultWeight}`);
  }

  if (weight > MAX_WEIGHT) return { ok: false, skipped: false, reason: `weight "${p.weight}" is above Dubbo's largest weight (${MAX_WEIGHT})` };

  // Shared records (see shareRecord), keyed by what they will hold, so a hit builds nothing.
  const labelParams = mapping.labels;
  let labelsKey = 'L';
  for (let i = 0; i < labelParams.length; i++) {
    const v = p[labelParams[i].param];
    // By label name, not position: the labels read change with the rules (Catalog.setExtraLabels).
    if (v !== undefined && v !== '') labelsKey += `${labelParams[i].label}\u0000${v}\u0001`;
  }
  let labels = sharedRecord<Record<string, string>>(labelsKey);
  if (!labels) {
    const out: Record<string, string> = {};
    for (const { param, label } of labelParams) {
      const v = p[param];
      if (v !== undefined && v !== '') out[label] = intern(v);
    }
    labels = keepShared(labelsKey, out);
  }
  // Istio's locality is a path: a zone means nothing without its region, nor a subzone without
  // its zone ("/idc-7" would match no consumer's locality), so a part without its parent is dropped.
  const region = pick(p, mapping.locality.region) || mapping.locality.defaultRegion || undefined;
  const zone = region ? pick(p, mapping.locality.zone) : undefined;
  const subzone = zone ? pick(p, mapping.locality.subzone) : undefined;
  const localityKey = `Z${region ?? ''}\u0001${zone ?? ''}\u0001${subzone ?? ''}`;
  let locality = sharedRecord<Endpoint['locality']>(localityKey);
  if (!locality) {
    const out: Endpoint['locality'] = {};
    if (region) out.region = intern(region);
    if (zone) out.zone = intern(zone);
    if (subzone) out.subzone = intern(subzone);
    locality = keepShared(localityKey, out);
  }

  // A sidecar's registration carries the marker; traffic goes to the sidecar port, so a
  // half-meshed estate keeps both kinds apart. The port alone proves nothing (Dubbo's own
  // samples listen on 20882), unless the operator says so (byPort).
  const meshed = p[mapping.meshed.markerParam] === mapping.meshed.markerValue || (mapping.meshed.byPort && url.port === mapping.meshed.sidecarPort);
  const port = meshed ? mapping.meshed.sidecarPort : url.port;
  const registeredAtMs = /^\d{10,16}$/.test(p.timestamp ?? '') ? Number(p.timestamp) : undefined;

  // Addresses are unique per endpoint: a table would only grow; a copy frees the URL it came from.
  const endpoint: Endpoint = { address: ownString(url.host), version: key.version, port, protocol: intern(url.protocol), application: intern(p.application ?? ''), weight, labels, locality, meshed };
  if (registeredAtMs !== undefined) endpoint.registeredAtMs = registeredAtMs;
  return { ok: true, key, endpoint, warnings: warnings.length ? warnings : NO_WARNINGS };
}
