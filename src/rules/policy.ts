/**
 * The rules in force for one service in one cluster view: endpoints after Dubbo's configurators
 * and with the labels tag and condition routes select by, plus the DestinationRule and
 * VirtualService specs that express the routes. Pure and deterministic.
 *
 * Precedence (docs/rules.md): an Istio object passed through for the host replaces the one the
 * adapter would generate; configurators change endpoints before any routing; tag routes and
 * condition routes are one chain, as in Dubbo (conditions.ts); the default route, for calls no
 * rule narrows, is what an adapter TrafficPolicy split turns into weighted routes.
 */
import { contentHash } from '../common/hash';
import type { ClusterConfig, LabelMapping, MappingConfig } from '../config/types';
import type { CatalogEndpoint, CatalogService } from '../model/catalog';
import { evaluateChain, type ChainResult, type ChainRule, type ChainRoute, type PortKind, type TagClass } from './conditions';
import { all, any, conditionValueMatch, ipExpressionMatch, valueMatch, type Tristate } from './match';
import type { Condition, ConditionRoute, Configurator, ParamMatch, PassThrough, Rule, RuleOrigin, RuleScope, RuleSet, TagRule, TrafficPolicy } from './model';

export interface RuleSettings {
  mapping: MappingConfig;
  /** Endpoint label that carries a Dubbo tag, and the header a Triple/gRPC consumer sends it in. */
  tagLabel: string;
  tagHeader: string;
  /** Workload label that names a consumer's Dubbo application. */
  consumerLabel: string;
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

/**
 * Whether a rule's scope takes in this service. A TrafficPolicy key without a version means any
 * version. A Dubbo rule's key is exact, as Dubbo reads it: a consumer of version 1.0.0 reads only
 * the `{interface}:1.0.0:{group}` documents, so a Dubbo key without a version governs providers
 * without one. Where versions share a service, endpoints are narrowed one by one.
 */
export function inScope(scope: RuleScope, svc: Pick<CatalogService, 'key' | 'versions'>, exactVersion = false): boolean {
  if (scope.kind === 'application') return true; // narrowed per endpoint
  if (scope.interface !== svc.key.interface || (scope.group ?? '') !== svc.key.group) return false;
  if (!exactVersion) return !scope.version || !svc.key.version || scope.version === svc.key.version;
  return svc.key.version ? (scope.version ?? '') === svc.key.version : svc.versions.includes(scope.version ?? '');
}

/** A Dubbo rule's scope on one provider: its application, or its exact version. */
function endpointInScope(scope: RuleScope, e: CatalogEndpoint): boolean {
  if (scope.kind === 'application') return e.application === scope.application;
  return (scope.version ?? '') === e.version;
}

/**
 * A configurator's v2.7 address on a provider, as Dubbo's AbstractConfigurator compares it: the
 * provider's IP, or ip:port, or 0.0.0.0:port (any IP on that port); no pattern (a `*` matches
 * nothing in Dubbo either).
 */
function configAddressMatches(addresses: string[], e: CatalogEndpoint): boolean {
  const ip = e.address.includes(':') ? `[${e.address}]` : e.address;
  return addresses.length === 0 || addresses.some((a) => a === e.address || a === ip || a === `${ip}:${e.port}` || a === `0.0.0.0:${e.port}` || a === '0.0.0.0:*');
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

const BUILTIN_ATTRIBUTES = ['host', 'port', 'address', 'protocol', 'application', 'version'];

/** Label prefix of the provider parameters that rules name and mapping.labels does not map. */
export const RULE_PARAM_LABEL_PREFIX = 'param.dubbo.apache.org/';
/** At most this many such parameters are read; rules naming others stay inert (reported). */
export const MAX_RULE_PARAMS = 32;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * The provider parameters the rules in force name (provider sides of condition routes, param
 * matches of configurators and tag routes) that are neither built in nor mapped, as labels to
 * read: so Dubbo's own examples (`=> region = hangzhou`, `match: {param: [{key: orderVersion...}]}`)
 * work without mapping them by hand. Never a volatile parameter (a label that changes on every
 * restart); at most MAX_RULE_PARAMS, in name order.
 */
export function ruleParamLabels(set: RuleSet, mapping: MappingConfig): LabelMapping[] {
  const keys = new Set<string>();
  for (const r of set.rules) {
    if (r.kind === 'condition') for (const t of r.to) for (const c of t.match) keys.add(c.key);
    else if (r.kind === 'configurator') for (const p of r.match.param) keys.add(p.key);
    else if (r.kind === 'tag') for (const t of r.tags) for (const m of t.match) keys.add(m.key);
  }
  return [...keys]
    .filter((k) => LABEL_NAME.test(k) && !BUILTIN_ATTRIBUTES.includes(k) && !mapping.volatileParams.includes(k) && !mapping.labels.some((l) => l.param === k))
    .sort()
    .slice(0, MAX_RULE_PARAMS)
    .map((param) => ({ param, label: RULE_PARAM_LABEL_PREFIX + param }));
}

const UNREAD = `a volatile parameter, not a label name, or beyond the ${MAX_RULE_PARAMS} parameters rules may name; map it in mapping.labels`;

/** Whether the adapter reads this provider parameter (built in, or a label: mapped, or named by a rule). */
function readable(key: string, mapping: MappingConfig): boolean {
  return BUILTIN_ATTRIBUTES.includes(key) || mapping.labels.some((l) => l.param === key);
}

/** A provider-side condition list on one provider, as Dubbo's matchThen: an absent value never matches, = or !=. */
function conditionsHold(conds: Condition[], e: CatalogEndpoint, mapping: MappingConfig): Tristate {
  return all(
    conds.map((c) => {
      if (!readable(c.key, mapping)) return undefined;
      const v = attribute(e, c.key, mapping);
      if (v === undefined || v === '') return false;
      const hit = any(c.values.map((p) => conditionValueMatch(p, v)));
      return hit === undefined ? undefined : c.negate ? !hit : hit;
    }),
  );
}

function paramsHold(params: ParamMatch[], e: CatalogEndpoint, mapping: MappingConfig): Tristate {
  return all(params.map((p) => (readable(p.key, mapping) ? valueMatch(p.match, attribute(e, p.key, mapping)) : undefined)));
}

/** Tag route addresses, as Dubbo's TagStateRouter matches them (NetUtils.matchIpExpression, or 0.0.0.0:port). */
function tagAddressMatches(addresses: string[], e: CatalogEndpoint): Tristate {
  return any(addresses.map((a) => (a === `0.0.0.0:${e.port}` ? true : ipExpressionMatch(a, e.address, e.port))));
}

/** Whether a configurator applies to a provider; undefined when part of its match cannot be evaluated on it. */
function configuratorApplies(c: Configurator, svc: CatalogService, e: CatalogEndpoint, mapping: MappingConfig): Tristate {
  if (!endpointInScope(c.scope, e)) return false;
  if (!configAddressMatches(c.addresses, e)) return false;
  // Dubbo compares the application, and the service key group/interface:version, exactly ("*": any).
  const serviceKey = `${svc.key.group ? svc.key.group + '/' : ''}${svc.key.interface}${e.version ? ':' + e.version : ''}`;
  if (c.applications.length && !c.applications.some((a) => a === '*' || a === e.application)) return false;
  if (c.services.length && !c.services.some((x) => x === '*' || x === serviceKey)) return false;
  const m = c.match;
  return all([
    m.address ? valueMatch(m.address, e.address) : true,
    m.providerAddress ? valueMatch(m.providerAddress, `${e.address}:${e.port}`) : true,
    m.app ? any(m.app.map((x) => valueMatch(x, e.application || undefined))) : true,
    m.service ? any(m.service.map((x) => valueMatch(x, serviceKey))) : true,
    paramsHold(m.param, e, mapping),
  ]);
}

/** A subset name (DNS-1123 label) for a label value: readable when it can be, hashed when not. */
function subsetName(prefix: string, value: string): string {
  const clean = `${prefix}-${value}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
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

/** What the phases did to one service, and what they could not do: /debug/rules. */
interface Report {
  applied: AppliedRule[];
  notes: string[];
}

type Subsets = Map<string, Record<string, string>>;
type Route = Record<string, unknown>;

/**
 * The rules of `set` that concern this service, applied for one view: configurators, then the
 * chain of tag and condition rules, then the adapter's TrafficPolicy, each a phase of its own;
 * then the VirtualService and DestinationRule specs that express them.
 */
export function applyRules(svc: CatalogService, host: string, ports: readonly ServicePort[], set: RuleSet, view: ClusterConfig, s: RuleSettings): ServicePolicy {
  const report: Report = { applied: [], notes: [] };
  const rules = set.rules.filter((r) => r.kind !== 'passthrough' && relevant(r, svc));
  const passThrough = set.rules.filter((r): r is PassThrough => r.kind === 'passthrough' && r.hosts.includes(host) && (r.clusters.length === 0 || r.clusters.includes(view.name)));
  const kinds: PortKind[] = [...(ports.some((p) => p.protocol === 'TCP') ? ['tcp' as const] : []), ...(ports.some((p) => p.protocol !== 'TCP') ? ['http' as const] : [])];

  const configured = applyConfigurators(
    svc,
    rules.filter((r): r is Configurator => r.kind === 'configurator'),
    s.mapping,
    report,
  );
  const tagged = applyTags(
    configured,
    rules.filter((r): r is TagRule => r.kind === 'tag'),
    s,
    report,
  );
  const chained = applyConditions(
    svc,
    tagged.endpoints,
    tagged.classes,
    conditionChain(
      rules.filter((r): r is ConditionRoute => r.kind === 'condition'),
      svc,
      report.notes,
    ),
    kinds,
    s.mapping,
    report,
  );
  const untagged = tagged.subsets.has(UNTAGGED);
  const policy = applyPolicy(
    rules.filter((r): r is TrafficPolicy => r.kind === 'policy'),
    host,
    view,
    chained.endpoints,
    untagged,
    kinds,
    chained.chains,
    report,
  );

  const subsets: Subsets = new Map([...tagged.subsets, ...chained.subsets, ...policy.subsets]);
  const out: ServicePolicy = { endpoints: chained.endpoints, applied: report.applied, notes: report.notes };
  const vs = virtualServiceSpec(svc, host, chained.chains, policy, untagged, s);
  if (vs && passThrough.some((p) => p.objectKind === 'VirtualService')) report.notes.push(`a VirtualService passed through for ${host} replaces the generated one`);
  else if (vs) out.virtualService = vs;
  if (subsets.size || Object.keys(policy.trafficPolicy).length) {
    const dr: Record<string, unknown> = { host };
    if (Object.keys(policy.trafficPolicy).length) dr.trafficPolicy = policy.trafficPolicy;
    if (subsets.size) dr.subsets = [...subsets].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, labels]) => ({ name, labels }));
    if (passThrough.some((p) => p.objectKind === 'DestinationRule')) report.notes.push(`a DestinationRule passed through for ${host} replaces the generated one`);
    else out.destinationRule = dr;
  }
  return out;
}

/** Configurators, application scope before service scope (service wins), in document order. */
function applyConfigurators(svc: CatalogService, configurators: Configurator[], mapping: MappingConfig, report: Report): CatalogEndpoint[] {
  let endpoints = [...svc.endpoints];
  for (const c of [...configurators].sort((a, b) => (a.scope.kind === b.scope.kind ? 0 : a.scope.kind === 'application' ? -1 : 1))) {
    const verdicts = endpoints.map((e) => configuratorApplies(c, svc, e, mapping));
    if (verdicts.includes(undefined)) {
      const missing = c.match.param.find((p) => !readable(p.key, mapping))?.key;
      report.notes.push(
        `configurator ${c.origin.document}: ${missing ? `provider parameter "${missing}" is not read (${UNREAD})` : 'its match cannot be evaluated on every provider (an IPv6 or malformed address range)'}; not applied`,
      );
      continue;
    }
    let n = 0;
    endpoints = endpoints.flatMap((e, i) => {
      if (!verdicts[i]) return [e];
      n++;
      if (c.disabled) return [];
      return [c.weight !== undefined ? { ...e, weight: c.weight } : e];
    });
    if (n) report.applied.push({ origin: c.origin, kind: 'configurator', effect: `${c.disabled ? 'disabled' : `weight ${c.weight} on`} ${n} endpoint(s)` });
  }
  // Dubbo's load balancer: weight 0 gets no traffic while another provider has weight.
  return endpoints.some((e) => e.weight > 0) ? endpoints.filter((e) => e.weight > 0) : endpoints;
}

/**
 * Tag routes label their providers (a provider may also carry its tag itself); each tag in play
 * is a class of calls with its providers, and calls without a routed tag go to untagged
 * providers only, as Dubbo's tag router sends them: never to a tagged provider, even when no
 * untagged one is left. The last class is always the calls without a tag.
 */
function applyTags(input: CatalogEndpoint[], tagRules: TagRule[], s: RuleSettings, report: Report): { endpoints: CatalogEndpoint[]; classes: TagClass[]; subsets: Subsets } {
  let endpoints = input;
  const classes: TagClass[] = [];
  const subsets: Subsets = new Map();
  if (tagRules.length || endpoints.some((e) => e.labels[s.tagLabel])) {
    const tags = new Map<string, boolean>(); // name -> force
    for (const t of tagRules) {
      for (const tag of t.tags) {
        tags.set(tag.name, t.force);
        let n = 0;
        endpoints = endpoints.map((e) => {
          if (e.application !== t.application || e.labels[s.tagLabel]) return e;
          // A match that cannot be evaluated on a provider leaves it untagged by this rule.
          const hit = (tag.addresses.length > 0 && tagAddressMatches(tag.addresses, e) === true) || (tag.match.length > 0 && paramsHold(tag.match, e, s.mapping) === true);
          return hit ? (n++, withLabel(e, s.tagLabel, tag.name)) : e;
        });
        const unread = tag.match.find((m) => !readable(m.key, s.mapping));
        if (unread) report.notes.push(`tag ${tag.name}: provider parameter "${unread.key}" is not read (${UNREAD}), so its match cannot select providers`);
        report.applied.push({ origin: t.origin, kind: 'tag', effect: `tag ${tag.name} on ${n} endpoint(s)` });
      }
    }
    for (const e of endpoints) if (e.labels[s.tagLabel] && e.labels[s.tagLabel] !== UNTAGGED && !tags.has(e.labels[s.tagLabel])) tags.set(e.labels[s.tagLabel], false);
    if (tags.has(UNTAGGED)) report.notes.push(`a tag named "${UNTAGGED}" clashes with the subset of untagged providers`);
    endpoints = endpoints.map((e) => (e.labels[s.tagLabel] ? e : withLabel(e, s.tagLabel, UNTAGGED)));
    for (const [name, force] of [...tags].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const providers = endpoints.filter((e) => e.labels[s.tagLabel] === name);
      if (!providers.length && !force) {
        report.notes.push(`tag ${name}: no provider carries it; not forced, so its requests fall back to untagged providers`);
        continue;
      }
      const subset = subsetName('tag', name);
      subsets.set(subset, { [s.tagLabel]: name });
      classes.push({ tag: name, providers, subset });
    }
    subsets.set(UNTAGGED, { [s.tagLabel]: UNTAGGED });
  }
  const untagged = subsets.has(UNTAGGED);
  classes.push({ providers: untagged ? endpoints.filter((e) => e.labels[s.tagLabel] === UNTAGGED) : endpoints });
  if (untagged && !endpoints.some((e) => e.labels[s.tagLabel] === UNTAGGED)) report.notes.push('no untagged provider: requests without a tag find no provider, as in Dubbo');
  return { endpoints, classes, subsets };
}

/** Condition rules: the chain (conditions.ts) per kind of port, its subsets and the labels that select them. */
function applyConditions(
  svc: CatalogService,
  input: CatalogEndpoint[],
  classes: TagClass[],
  chainRules: ChainRule[],
  kinds: PortKind[],
  mapping: MappingConfig,
  report: Report,
): { endpoints: CatalogEndpoint[]; chains: Map<PortKind, ChainResult>; subsets: Subsets } {
  let endpoints = input;
  const subsets: Subsets = new Map();
  const holds = (conds: Condition[], e: CatalogEndpoint) => conditionsHold(conds, e, mapping);
  const chains = new Map<PortKind, ChainResult>();
  for (const kind of kinds) {
    const chain = evaluateChain(chainRules, classes, kind, holds, svc.id);
    chains.set(kind, chain);
    for (const { rule, why } of chain.inert)
      report.notes.push(`condition route ${rule.rule.origin.document} "${rule.rule.text}": ${why}; not applied on ${kind === 'tcp' ? 'the TCP (dubbo://) port' : 'gRPC ports'}`);
    for (const [name, label] of chain.subsets) subsets.set(name, { [label]: 'true' });
    if (chain.labels.size) endpoints = endpoints.map((e) => chain.labels.get(e.id)?.reduce((x, l) => withLabel(x, l, 'true'), e) ?? e);
  }
  for (const r of chainRules) {
    const on = [...chains].filter(([, c]) => c.active.includes(r)).map(([k]) => k);
    if (on.length)
      report.applied.push({
        origin: r.rule.origin,
        kind: 'condition',
        effect: `${r.role === 'service' ? '' : `as the ${r.role.replace('-', ' ')}'s rule, `}in the chain on ${on.join(' and ')} ports`,
      });
  }
  return { endpoints, chains, subsets };
}

/** What the TrafficPolicy in force makes of the default route and the traffic policy. */
interface PolicyOutcome {
  /** Where calls go that no rule narrows: the host (untagged providers where tags are in play), or a weighted split. */
  defaultRoute: Route[];
  trafficPolicy: Record<string, unknown>;
  /** timeout and retries, on every gRPC/HTTP route. */
  routeExtras: Record<string, unknown>;
  subsets: Subsets;
}

/** The adapter's TrafficPolicy: the first by source and name wins a service. */
function applyPolicy(
  candidates: TrafficPolicy[],
  host: string,
  view: ClusterConfig,
  endpoints: CatalogEndpoint[],
  untagged: boolean,
  kinds: PortKind[],
  chains: Map<PortKind, ChainResult>,
  report: Report,
): PolicyOutcome {
  const out: PolicyOutcome = { defaultRoute: untagged ? [{ destination: { host, subset: UNTAGGED } }] : [{ destination: { host } }], trafficPolicy: {}, routeExtras: {}, subsets: new Map() };
  const policies = [...candidates].sort((a, b) => (a.origin.source + a.name < b.origin.source + b.name ? -1 : 1));
  const policy = policies[0];
  for (const other of policies.slice(1)) report.notes.push(`TrafficPolicy ${other.name} (${other.origin.document}) also targets this service; ${policy.name} wins`);
  if (!policy) return out;
  const effects: string[] = [];
  if (policy.split) {
    const w = policy.split.clusters[view.name] ?? policy.split.weights;
    if (Object.keys(w).length) {
      const names = new Map<string, string>();
      for (const value of Object.keys(w).sort()) {
        const name = subsetName(
          policy.split.label
            .split('/')
            .pop()!
            .replace(/[^a-z0-9-]/gi, '-'),
          value,
        );
        names.set(value, name);
        out.subsets.set(name, { [policy.split.label]: value });
        if (w[value] > 0 && !endpoints.some((e) => e.labels[policy.split!.label] === value))
          report.notes.push(`split: no endpoint has ${policy.split.label}=${value} in view ${view.name}; its ${w[value]}% will fail`);
      }
      if (untagged) report.notes.push(`TrafficPolicy ${policy.name}: the weighted split replaces the route to untagged providers`);
      out.defaultRoute = weighted(host, w, names);
      effects.push(
        `split ${Object.entries(w)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')} on ${policy.split.label}`,
      );
    }
  }
  const lb: Record<string, unknown> = { ...(policy.loadBalancer ?? {}) };
  if (policy.zoneAffinity?.enabled) {
    lb.localityLbSetting = { enabled: true, ...(policy.zoneAffinity.failoverPriority ? { failoverPriority: policy.zoneAffinity.failoverPriority } : {}) };
    effects.push('zone affinity');
  }
  if (Object.keys(lb).length) out.trafficPolicy.loadBalancer = lb;
  if (policy.connectionPool) out.trafficPolicy.connectionPool = policy.connectionPool;
  // Istio only fails over between localities when it can tell a host is unhealthy.
  if (policy.outlierDetection) out.trafficPolicy.outlierDetection = policy.outlierDetection;
  else if (policy.zoneAffinity?.enabled) out.trafficPolicy.outlierDetection = { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' };
  if (policy.timeout || policy.retries) {
    out.routeExtras = { ...(policy.timeout ? { timeout: policy.timeout } : {}), ...(policy.retries ? { retries: policy.retries } : {}) };
    if (kinds.includes('tcp')) report.notes.push(`TrafficPolicy ${policy.name}: timeout and retries apply to gRPC/HTTP ports only; the TCP (dubbo://) port has no request to time`);
    if (kinds.includes('http')) effects.push('timeout/retries on gRPC');
  }
  if (policy.connectionPool) effects.push('connection pool');
  if (policy.outlierDetection) effects.push('outlier detection');
  report.applied.push({ origin: policy.origin, kind: 'policy', effect: effects.join(', ') || 'nothing for this service' });
  if (policy.split && [...chains.values()].some((c) => c.routes.at(-1)?.to.some((d) => d.subset)))
    report.notes.push(`TrafficPolicy ${policy.name}: condition routes narrow the providers of every call, so the weighted split is not used`);
  return out;
}

/** The VirtualService spec of the chain's routes per port kind, or undefined when every call takes the plain host. */
function virtualServiceSpec(svc: CatalogService, host: string, chains: Map<PortKind, ChainResult>, policy: PolicyOutcome, untagged: boolean, s: RuleSettings): Record<string, unknown> | undefined {
  // One destination: its subset, or the default route. Several (v3.1 weights): each weighted,
  // the class's own route then being the plain host (or untagged), since weights do not nest.
  const base = untagged ? { host, subset: UNTAGGED } : { host };
  const to = (r: ChainRoute) =>
    r.to.length === 1
      ? r.to[0].subset
        ? [{ destination: { host, subset: r.to[0].subset } }]
        : policy.defaultRoute
      : r.to.map((d) => ({ destination: d.subset ? { host, subset: d.subset } : base, weight: d.weight }));
  const nameOf = (r: ChainRoute) => r.to.find((d) => d.subset)?.subset ?? 'default-route';
  const tcp = chains.get('tcp')?.routes ?? [];
  const http = chains.get('http')?.routes ?? [];
  const routed =
    tcp.length > 1 ||
    http.length > 1 ||
    [...tcp, ...http].some((r) => r.to.some((d) => d.subset)) ||
    policy.defaultRoute.some((r) => (r.destination as { subset?: string }).subset) ||
    Object.keys(policy.routeExtras).length > 0;
  if (!routed) return undefined;
  const vs: Record<string, unknown> = { hosts: [host] };
  if (chains.has('http')) {
    const names = new Set<string>();
    vs.http = http.map((r, i) => {
      const match: Record<string, unknown> = {};
      if (r.tag !== undefined) match.headers = { [s.tagHeader]: { exact: r.tag } };
      if (r.method) match.uri = 'exact' in r.method ? { exact: `/${svc.key.interface}/${r.method.exact}` } : { prefix: `/${svc.key.interface}/${r.method.prefix}` };
      if (r.app !== undefined) match.sourceLabels = { [s.consumerLabel]: r.app };
      let name = i === http.length - 1 ? 'default' : nameOf(r);
      for (let n = 2; names.has(name); n++) name = `${nameOf(r)}-${n}`;
      names.add(name);
      return { name, ...(Object.keys(match).length ? { match: [match] } : {}), route: to(r), ...policy.routeExtras };
    });
  }
  if (chains.has('tcp')) {
    vs.tcp = tcp.map((r) => {
      const labels = { ...(r.tag !== undefined ? { [s.tagLabel]: r.tag } : {}), ...(r.app !== undefined ? { [s.consumerLabel]: r.app } : {}) };
      return { ...(Object.keys(labels).length ? { match: [{ sourceLabels: labels }] } : {}), route: to(r) };
    });
  }
  return vs;
}

/**
 * The condition rules of a service in Dubbo's chain order: the service's (by priority, then
 * document), the provider application's, the consumer applications'. An application-scope rule
 * is read by both of Dubbo's application routers: by consumers of that application for every
 * service they call, and by every consumer of a service that application provides (except the
 * application itself).
 */
function conditionChain(conditions: ConditionRoute[], svc: CatalogService, notes: string[]): ChainRule[] {
  const order = (a: ConditionRoute, b: ConditionRoute) => b.priority - a.priority || (a.origin.document < b.origin.document ? -1 : a.origin.document > b.origin.document ? 1 : 0) || a.index - b.index;
  const service: ChainRule[] = [];
  for (const r of conditions.filter((c) => c.scope.kind === 'service').sort(order)) {
    const version = (r.scope as { version?: string }).version ?? '';
    if (svc.versions.some((v) => v !== version)) {
      notes.push(
        `condition route ${r.origin.document} "${r.text}": keyed to ${version ? `version ${version}` : 'no version'}, but versions ${svc.versions.map((v) => v || '(none)').join(', ')} share this host and their consumers cannot be told apart; not applied`,
      );
      continue;
    }
    service.push({ rule: r, role: 'service', when: r.when });
  }
  const apps = conditions.filter((c) => c.scope.kind === 'application').sort(order);
  const providerApps = new Set(svc.endpoints.map((e) => e.application));
  const provider = apps
    .filter((r) => providerApps.has((r.scope as { application: string }).application))
    .map((r): ChainRule => ({ rule: r, role: 'provider-application', when: [{ key: 'application', negate: true, values: [(r.scope as { application: string }).application] }, ...r.when] }));
  const consumer = apps.map((r): ChainRule => ({
    rule: r,
    role: 'consumer-application',
    when: [{ key: 'application', negate: false, values: [(r.scope as { application: string }).application] }, ...r.when],
  }));
  return [...service, ...provider, ...consumer];
}

function relevant(r: Rule, svc: CatalogService): boolean {
  switch (r.kind) {
    case 'configurator':
      return inScope(r.scope, svc, true) && (r.scope.kind === 'service' || svc.endpoints.some((e) => e.application === (r.scope as { application: string }).application));
    case 'condition':
      // An application-scope condition rule also governs the calls its consumers make to any service.
      return inScope(r.scope, svc, true);
    case 'tag':
      return svc.endpoints.some((e) => e.application === r.application);
    case 'policy':
      return r.services.some((sc) => (sc.kind === 'service' ? inScope(sc, svc) : svc.endpoints.some((e) => e.application === sc.application)));
    default:
      return false;
  }
}
