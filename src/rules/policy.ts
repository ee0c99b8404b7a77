/**
 * The rules in force for one service in one cluster view: endpoints after Dubbo's configurators
 * and with the labels tag and condition routes select by, plus the DestinationRule and
 * VirtualService specs that express the routes. Pure and deterministic.
 *
 * Precedence (docs/rules.md): an Istio object passed through for the host replaces the one the
 * adapter would generate; within a generated VirtualService, condition routes (by priority) come
 * first, then tag routes, then the default route, which an adapter TrafficPolicy split turns
 * into weighted routes; configurators change endpoints before any routing.
 */
import { contentHash } from '../common/hash';
import type { ClusterConfig, MappingConfig } from '../config/types';
import type { CatalogEndpoint, CatalogService } from '../model/catalog';
import type { Condition, ConditionRoute, Configurator, PassThrough, Rule, RuleOrigin, RuleScope, RuleSet, TagRule, TrafficPolicy } from './model';

export interface RuleSettings {
  mapping: MappingConfig;
  /** Endpoint label that carries a Dubbo tag, and the header a Triple/gRPC consumer sends it in. */
  tagLabel: string;
  tagHeader: string;
}

export interface ServicePort {
  number: number;
  protocol: string;
  name: string;
}

/** What one rule did to one service, for /debug/rules. */
export interface AppliedRule {
  origin: RuleOrigin;
  kind: Rule['kind'];
  effect: string;
}

export interface ServicePolicy {
  endpoints: CatalogEndpoint[];
  destinationRule?: Record<string, unknown>;
  virtualService?: Record<string, unknown>;
  applied: AppliedRule[];
  /** Conflicts, routes left out, parts that cannot be expressed here. */
  notes: string[];
}

const UNTAGGED = 'untagged';
const ROUTE_LABEL_PREFIX = 'route.dubbo.apache.org/';

export function inScope(scope: RuleScope, svc: Pick<CatalogService, 'key'>): boolean {
  if (scope.kind === 'application') return true; // narrowed per endpoint
  // A service of its own version (the default hosts) takes only its version's rules, and rules
  // for any version; where versions share a service, endpoints are narrowed one by one.
  const version = !scope.version || !svc.key.version || scope.version === svc.key.version;
  return scope.interface === svc.key.interface && (scope.group ?? '') === svc.key.group && version;
}

function endpointInScope(scope: RuleScope, e: CatalogEndpoint): boolean {
  if (scope.kind === 'application') return e.application === scope.application;
  return !scope.version || scope.version === e.version;
}

/** Dubbo's glob: * at the start or end (or alone) matches anything there. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*') && pattern.endsWith('*') && pattern.length > 1) return value.includes(pattern.slice(1, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

/** A provider attribute a rule may name; undefined when the endpoint does not carry it. */
function attribute(e: CatalogEndpoint, key: string, mapping: MappingConfig): string | undefined {
  switch (key) {
    case 'host':
      return e.address;
    case 'port':
      return String(e.port);
    case 'address':
      return `${e.address}:${e.port}`;
    case 'protocol':
      return e.protocol;
    case 'application':
      return e.application;
    case 'version':
      return e.version;
  }
  const label = mapping.labels.find((l) => l.param === key)?.label;
  return label ? e.labels[label] : undefined;
}

/** Whether the provider attributes a condition names are all known (mapped to labels or built in). */
function knownKeys(conds: Condition[], mapping: MappingConfig): string | undefined {
  const builtin = ['host', 'port', 'address', 'protocol', 'application', 'version'];
  return conds.find((c) => !builtin.includes(c.key) && !mapping.labels.some((l) => l.param === c.key))?.key;
}

function conditionsHold(conds: Condition[], e: CatalogEndpoint, mapping: MappingConfig): boolean {
  return conds.every((c) => {
    const v = attribute(e, c.key, mapping) ?? '';
    const hit = c.values.some((p) => globMatch(p, v));
    return c.negate ? !hit : hit;
  });
}

function addressMatches(addresses: string[], e: CatalogEndpoint): boolean {
  return addresses.length === 0 || addresses.some((a) => globMatch(a, a.includes(':') && !a.startsWith('[') ? `${e.address}:${e.port}` : e.address));
}

function configuratorApplies(c: Configurator, svc: CatalogService, e: CatalogEndpoint, mapping: MappingConfig): boolean {
  if (!endpointInScope(c.scope, e)) return false;
  if (!addressMatches(c.addresses, e)) return false;
  if (c.applications.length && !c.applications.some((a) => globMatch(a, e.application))) return false;
  if (c.services.length && !c.services.some((s) => globMatch(s, svc.key.interface) || globMatch(s, `${svc.key.group ? svc.key.group + '/' : ''}${svc.key.interface}`))) return false;
  return conditionsHold(c.params, e, mapping);
}

/** A subset name (DNS-1123 label) for a label value: readable when it can be, hashed when not. */
function subsetName(prefix: string, value: string): string {
  const clean = `${prefix}-${value}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return clean.length <= 63 && clean === `${prefix}-${value}` ? clean : `${clean.slice(0, 50).replace(/-+$/, '')}-${contentHash(value, 8)}`;
}

function withLabel(e: CatalogEndpoint, key: string, value: string): CatalogEndpoint {
  return e.labels[key] === value ? e : { ...e, labels: { ...e.labels, [key]: value } };
}

function weighted(host: string, weights: Record<string, number>, subsets: Map<string, string>): { destination: { host: string; subset: string }; weight: number }[] {
  return Object.entries(weights)
    .filter(([, w]) => w > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([value, weight]) => ({ destination: { host, subset: subsets.get(value)! }, weight }));
}

/**
 * The rules of `set` that concern this service, applied for one view. `passThroughHosts` are the
 * hosts for which this view already gets an Istio object of that kind from the config center.
 */
export function applyRules(svc: CatalogService, host: string, ports: readonly ServicePort[], set: RuleSet, view: ClusterConfig, s: RuleSettings): ServicePolicy {
  const applied: AppliedRule[] = [];
  const notes: string[] = [];
  const mapping = s.mapping;
  const rules = set.rules.filter((r) => r.kind !== 'passthrough' && relevant(r, svc));
  const passThrough = set.rules.filter((r): r is PassThrough => r.kind === 'passthrough' && r.hosts.includes(host) && (r.clusters.length === 0 || r.clusters.includes(view.name)));
  let endpoints = [...svc.endpoints];

  // 1. Configurators, application scope before service scope (service wins), in document order.
  const configurators = rules.filter((r): r is Configurator => r.kind === 'configurator').sort((a, b) => (a.scope.kind === b.scope.kind ? 0 : a.scope.kind === 'application' ? -1 : 1));
  for (const c of configurators) {
    const missing = knownKeys(c.params, mapping);
    if (missing) {
      notes.push(`configurator ${c.origin.document}: provider parameter "${missing}" is not in mapping.labels, so it cannot be matched; not applied`);
      continue;
    }
    let n = 0;
    endpoints = endpoints.flatMap((e) => {
      if (!configuratorApplies(c, svc, e, mapping)) return [e];
      n++;
      if (c.disabled) return [];
      return [c.weight !== undefined ? { ...e, weight: c.weight } : e];
    });
    if (n) applied.push({ origin: c.origin, kind: 'configurator', effect: `${c.disabled ? 'disabled' : `weight ${c.weight} on`} ${n} endpoint(s)` });
  }
  // Dubbo's load balancer: weight 0 gets no traffic while another provider has weight.
  if (endpoints.some((e) => e.weight > 0)) endpoints = endpoints.filter((e) => e.weight > 0);

  const subsets = new Map<string, Record<string, string>>();
  const tcp: Record<string, unknown>[] = [];
  const http: Record<string, unknown>[] = [];
  const hasTcp = ports.some((p) => p.protocol === 'TCP');
  const hasHttp = ports.some((p) => p.protocol !== 'TCP');
  const consumerAppLabel = mapping.labels.find((l) => l.param === 'application')?.label ?? 'app';

  // 2. Condition routes, highest priority first.
  const conditions = rules.filter((r): r is ConditionRoute => r.kind === 'condition').sort((a, b) => b.priority - a.priority);
  conditions.forEach((c) => {
    const where = `condition route ${c.origin.document} "${c.text}"`;
    const whenProblem = c.when.find((w) => w.negate || (w.key !== 'application' && w.key !== 'method') || w.values.some((v) => w.key === 'application' && v.includes('*')));
    if (whenProblem) return notes.push(`${where}: the consumer condition "${whenProblem.key} ${whenProblem.negate ? '!=' : '='} ${whenProblem.values.join(',')}" cannot be expressed in Istio routing (only application = and method =); not applied`);
    if (c.then.length === 0) return notes.push(`${where}: an empty provider side (block all) cannot be expressed as a route; not applied`);
    const missing = knownKeys(c.then, mapping);
    if (missing) return notes.push(`${where}: provider parameter "${missing}" is not in mapping.labels; not applied`);
    const label = ROUTE_LABEL_PREFIX + contentHash(`${c.origin.source}\n${c.origin.document}\n${c.text}`, 10);
    let matched = 0;
    endpoints = endpoints.map((e) => (conditionsHold(c.then, e, mapping) ? (matched++, withLabel(e, label, 'true')) : e));
    if (matched === 0 && !c.force) return notes.push(`${where}: no provider matches; not forced, so traffic falls back to all providers as Dubbo does`);
    const subset = `route-${label.slice(ROUTE_LABEL_PREFIX.length)}`;
    subsets.set(subset, { [label]: 'true' });
    const apps = c.when.filter((w) => w.key === 'application').flatMap((w) => w.values);
    const methods = c.when.filter((w) => w.key === 'method').flatMap((w) => w.values);
    const to = [{ destination: { host, subset } }];
    if (hasHttp) {
      const matches: Record<string, unknown>[] = [];
      for (const m of methods.length ? methods : [undefined]) {
        for (const a of apps.length ? apps : [undefined]) {
          const match: Record<string, unknown> = {};
          if (m) match.uri = m.endsWith('*') ? { prefix: `/${svc.key.interface}/${m.slice(0, -1)}` } : { exact: `/${svc.key.interface}/${m}` };
          if (a) match.sourceLabels = { [consumerAppLabel]: a };
          matches.push(match);
        }
      }
      http.push({ name: subset, ...(matches.some((m) => Object.keys(m).length) ? { match: matches } : {}), route: to });
    }
    if (hasTcp) {
      if (methods.length) notes.push(`${where}: method conditions need a request protocol; on the TCP (dubbo://) port the route is left out`);
      else tcp.push({ ...(apps.length ? { match: apps.map((a) => ({ sourceLabels: { [consumerAppLabel]: a } })) } : {}), route: to });
    }
    applied.push({ origin: c.origin, kind: 'condition', effect: `${matched} provider(s) in subset ${subset}` });
  });

  // 3. Tag routes: tagged providers take the traffic of their tag; the rest take untagged traffic.
  const tagRules = rules.filter((r): r is TagRule => r.kind === 'tag');
  const taggedBefore = endpoints.some((e) => e.labels[s.tagLabel]);
  if (tagRules.length || taggedBefore) {
    const tags = new Map<string, boolean>(); // name -> force
    for (const t of tagRules) {
      for (const tag of t.tags) {
        tags.set(tag.name, t.force);
        let n = 0;
        endpoints = endpoints.map((e) => {
          if (e.application !== t.application || e.labels[s.tagLabel]) return e;
          const hit = (tag.addresses.length > 0 && addressMatches(tag.addresses, e)) || (tag.match.length > 0 && conditionsHold(tag.match, e, mapping));
          return hit ? (n++, withLabel(e, s.tagLabel, tag.name)) : e;
        });
        applied.push({ origin: t.origin, kind: 'tag', effect: `tag ${tag.name} on ${n} endpoint(s)` });
      }
    }
    for (const e of endpoints) if (e.labels[s.tagLabel] && e.labels[s.tagLabel] !== UNTAGGED && !tags.has(e.labels[s.tagLabel])) tags.set(e.labels[s.tagLabel], false);
    if (tags.has(UNTAGGED)) notes.push(`a tag named "${UNTAGGED}" clashes with the subset of untagged providers`);
    endpoints = endpoints.map((e) => (e.labels[s.tagLabel] ? e : withLabel(e, s.tagLabel, UNTAGGED)));
    for (const [name, force] of [...tags].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const present = endpoints.some((e) => e.labels[s.tagLabel] === name);
      if (!present && !force) {
        notes.push(`tag ${name}: no provider carries it; not forced, so its requests fall back to untagged providers`);
        continue;
      }
      const subset = subsetName('tag', name);
      subsets.set(subset, { [s.tagLabel]: name });
      if (hasHttp) http.push({ name: subset, match: [{ headers: { [s.tagHeader]: { exact: name } } }], route: [{ destination: { host, subset } }] });
      if (hasTcp) tcp.push({ match: [{ sourceLabels: { [s.tagLabel]: name } }], route: [{ destination: { host, subset } }] });
    }
    subsets.set(UNTAGGED, { [s.tagLabel]: UNTAGGED });
  }
  // Where tags are in play, a request without a tag goes to untagged providers only, as Dubbo's
  // tag router sends it: never to a tagged provider, even when no untagged one is left.
  const untaggedRoute = subsets.has(UNTAGGED);
  if (untaggedRoute && !endpoints.some((e) => e.labels[s.tagLabel] === UNTAGGED)) notes.push('no untagged provider: requests without a tag find no provider, as in Dubbo');

  // 4. The adapter's TrafficPolicy: the first by source and name wins a service.
  const policies = rules.filter((r): r is TrafficPolicy => r.kind === 'policy').sort((a, b) => (a.origin.source + a.name < b.origin.source + b.name ? -1 : 1));
  const policy = policies[0];
  for (const other of policies.slice(1)) notes.push(`TrafficPolicy ${other.name} (${other.origin.document}) also targets this service; ${policy.name} wins`);
  let defaultRoute: Record<string, unknown>[] = untaggedRoute ? [{ destination: { host, subset: UNTAGGED } }] : [{ destination: { host } }];
  const trafficPolicy: Record<string, unknown> = {};
  let routeExtras: Record<string, unknown> = {};
  if (policy) {
    const effects: string[] = [];
    if (policy.split) {
      const w = policy.split.clusters[view.name] ?? policy.split.weights;
      if (Object.keys(w).length) {
        const names = new Map<string, string>();
        for (const value of Object.keys(w).sort()) {
          const name = subsetName(policy.split.label.split('/').pop()!.replace(/[^a-z0-9-]/gi, '-'), value);
          names.set(value, name);
          subsets.set(name, { [policy.split.label]: value });
          if (w[value] > 0 && !endpoints.some((e) => e.labels[policy.split!.label] === value)) notes.push(`split: no endpoint has ${policy.split.label}=${value} in view ${view.name}; its ${w[value]}% will fail`);
        }
        if (untaggedRoute) notes.push(`TrafficPolicy ${policy.name}: the weighted split replaces the route to untagged providers`);
        defaultRoute = weighted(host, w, names);
        effects.push(`split ${Object.entries(w).map(([k, v]) => `${k}=${v}`).join(' ')} on ${policy.split.label}`);
      }
    }
    const lb: Record<string, unknown> = { ...(policy.loadBalancer ?? {}) };
    if (policy.zoneAffinity?.enabled) {
      lb.localityLbSetting = { enabled: true, ...(policy.zoneAffinity.failoverPriority ? { failoverPriority: policy.zoneAffinity.failoverPriority } : {}) };
      effects.push('zone affinity');
    }
    if (Object.keys(lb).length) trafficPolicy.loadBalancer = lb;
    if (policy.connectionPool) trafficPolicy.connectionPool = policy.connectionPool;
    // Istio only fails over between localities when it can tell a host is unhealthy.
    if (policy.outlierDetection) trafficPolicy.outlierDetection = policy.outlierDetection;
    else if (policy.zoneAffinity?.enabled) trafficPolicy.outlierDetection = { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' };
    if (policy.timeout || policy.retries) {
      routeExtras = { ...(policy.timeout ? { timeout: policy.timeout } : {}), ...(policy.retries ? { retries: policy.retries } : {}) };
      if (hasTcp) notes.push(`TrafficPolicy ${policy.name}: timeout and retries apply to gRPC/HTTP ports only; the TCP (dubbo://) port has no request to time`);
      if (hasHttp) effects.push('timeout/retries on gRPC');
    }
    if (policy.connectionPool) effects.push('connection pool');
    if (policy.outlierDetection) effects.push('outlier detection');
    applied.push({ origin: policy.origin, kind: 'policy', effect: effects.join(', ') || 'nothing for this service' });
  }

  const out: ServicePolicy = { endpoints, applied, notes };
  const routed = tcp.length > 0 || http.length > 0 || defaultRoute.some((r) => (r.destination as { subset?: string }).subset) || Object.keys(routeExtras).length > 0;
  if (routed) {
    const vs: Record<string, unknown> = { hosts: [host] };
    if (hasHttp) vs.http = [...http.map((r) => ({ ...r, ...routeExtras })), { name: 'default', route: defaultRoute, ...routeExtras }];
    if (hasTcp) vs.tcp = [...tcp, { route: defaultRoute }];
    if (passThrough.some((p) => p.objectKind === 'VirtualService')) notes.push(`a VirtualService passed through for ${host} replaces the generated one`);
    else out.virtualService = vs;
  }
  if (subsets.size || Object.keys(trafficPolicy).length) {
    const dr: Record<string, unknown> = { host };
    if (Object.keys(trafficPolicy).length) dr.trafficPolicy = trafficPolicy;
    if (subsets.size) dr.subsets = [...subsets].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, labels]) => ({ name, labels }));
    if (passThrough.some((p) => p.objectKind === 'DestinationRule')) notes.push(`a DestinationRule passed through for ${host} replaces the generated one`);
    else out.destinationRule = dr;
  }
  return out;
}

function relevant(r: Rule, svc: CatalogService): boolean {
  switch (r.kind) {
    case 'configurator':
    case 'condition':
      return inScope(r.scope, svc) && (r.scope.kind === 'service' || svc.endpoints.some((e) => e.application === (r.scope as { application: string }).application));
    case 'tag':
      return svc.endpoints.some((e) => e.application === r.application);
    case 'policy':
      return r.services.some((sc) => (sc.kind === 'service' ? inScope(sc, svc) : svc.endpoints.some((e) => e.application === sc.application)));
    default:
      return false;
  }
}
