/**
 * Dubbo's router chain, evaluated for every kind of consumer the mesh can tell apart, and turned
 * into first-match Istio routes whose outcome equals the chain's. Pure.
 *
 * Dubbo filters the provider list of each call through a chain (apache/dubbo dubbo-cluster,
 * state routers by @Activate order): the tag router (100), then the condition rules of the
 * service (140), of the provider's application (145) and of the consumer's application (150),
 * each rule's conditions in list order. A condition whose when side matches the call keeps the
 * providers its then side matches; when none is left it keeps the list as it was, unless the
 * rule is `force`; a then side that is empty blocks the call (no provider).
 *
 * The mesh sees a call's tag (a header on gRPC, the consumer's labels on TCP), the consumer's
 * application (its workload label) and, on gRPC only, the method. So the consumers are split into
 * classes: each tag in play and none, each application a rule names and any other, each method a
 * rule names and any other. The chain is run once per class; each class whose providers differ
 * from its tag's gets a subset, and the routes are ordered most specific first, then pruned where
 * a later route gives the same result. A condition the mesh cannot evaluate for every class and
 * every provider (a consumer's host, a `$` reference, a method on a TCP port, an application
 * glob) makes its rule inert on that port, with a note.
 */
import { contentHash } from '../common/hash';
import type { CatalogEndpoint } from '../model/catalog';
import { all, any, conditionValueMatch, type Tristate } from './match';
import type { Condition, ConditionRoute } from './model';

export const ROUTE_LABEL_PREFIX = 'route.dubbo.apache.org/';
/** More consumer classes than this on one port: the condition rules there are inert (reported). Routes are pruned in cubic time in the classes, so the bound keeps a rule change cheap. */
export const MAX_CONSUMER_CLASSES = 64;

/** A condition rule as it takes part in the chain: where it came from, and its sides with the scope's implicit conditions. */
export interface ChainRule {
  rule: ConditionRoute;
  /** How the scope joined it: the service's rule, the provider application's, the consumer application's. */
  role: 'service' | 'provider-application' | 'consumer-application';
  /** The rule's when side, with the scope's implicit conditions; where the calls go is the rule's `to`. */
  when: Condition[];
}

/** A tag in play and the providers that carry it; `tag` undefined: calls without a routed tag. */
export interface TagClass {
  tag?: string;
  providers: readonly CatalogEndpoint[];
  /** Where its calls go when no condition narrows them: a subset name, or undefined for the default route. */
  subset?: string;
}

export type PortKind = 'tcp' | 'http';

/** A method class: an exact method, a prefix ("sayHello*"), or any other method (undefined). */
type MethodClass = { exact: string } | { prefix: string } | undefined;

interface ConsumerClass {
  tag: TagClass;
  app?: string;
  method: MethodClass;
}

/** Where a route sends calls: a subset ('' for the route the class would take without conditions), with a relative weight. */
export interface ChainDestination {
  subset: string;
  weight: number;
}

export interface ChainRoute {
  /** What the route matches; none: every call (the default route). */
  tag?: string;
  app?: string;
  method?: { exact: string } | { prefix: string };
  /** One destination, or several weighted (v3.1 rules). */
  to: ChainDestination[];
}

export interface ChainResult {
  routes: ChainRoute[];
  /** Condition subsets: name -> the label their providers carry. */
  subsets: Map<string, string>;
  /** Provider ids -> route labels to add. */
  labels: Map<string, string[]>;
  /** Rules that took part, and those made inert here (with why). */
  active: ChainRule[];
  inert: { rule: ChainRule; why: string }[];
  /** Classes were too many: every rule is inert on this port. */
  tooMany?: number;
}

const OTHER = undefined;

/** Values of `key` that name classes: exact values, or simple prefixes ("x*") when prefixes are allowed. */
function classValues(rules: readonly ChainRule[], key: string, prefixes: boolean): { exact: string[]; prefix: string[] } {
  const exact = new Set<string>();
  const prefix = new Set<string>();
  for (const r of rules) {
    for (const c of r.when) {
      if (c.key !== key) continue;
      for (const v of c.values) {
        if (v === '*' || v.startsWith('$') || v.includes('~')) continue;
        const star = v.indexOf('*');
        if (star < 0) exact.add(v);
        else if (prefixes && star === v.length - 1) prefix.add(v.slice(0, -1));
      }
    }
  }
  return { exact: [...exact].sort(), prefix: [...prefix].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)) };
}

/** An application pattern on a consumer class: OTHER is any application no rule names. */
function appMatches(pattern: string, app: string | undefined): Tristate {
  if (app !== OTHER) return conditionValueMatch(pattern, app);
  if (pattern === '*') return true;
  if (pattern.startsWith('$') || pattern.includes('*') || pattern.includes('~')) return undefined;
  return false; // a named application is its own class
}

/** A method pattern on a method class. Classes are most specific first, so a class excludes the methods of earlier ones. */
function methodMatches(pattern: string, m: MethodClass): Tristate {
  if (pattern === '*') return true;
  if (m && 'exact' in m) return conditionValueMatch(pattern, m.exact);
  if (pattern.startsWith('$') || pattern.includes('~')) return undefined;
  const star = pattern.indexOf('*');
  if (star < 0) return false; // an exact method is its own class
  if (star !== pattern.length - 1) return undefined; // "*Hello", "say*Hello": not a class of their own
  const p = pattern.slice(0, -1);
  // A longer prefix is its own, earlier class; a shorter one covers this class entirely.
  return m !== OTHER && m.prefix.startsWith(p);
}

function conditionOnClass(c: Condition, cls: ConsumerClass, kind: PortKind): Tristate {
  let hit: Tristate;
  if (c.key === 'application') hit = any(c.values.map((v) => appMatches(v, cls.app)));
  else if (c.key === 'method' && kind === 'http') hit = any(c.values.map((v) => methodMatches(v, cls.method)));
  else return undefined;
  return hit === undefined ? undefined : c.negate ? !hit : hit;
}

function whyUnknown(c: Condition, kind: PortKind): string {
  if (c.key === 'method')
    return kind === 'tcp' ? `"${c.key}" needs a request protocol; a TCP (dubbo://) port carries no method` : `the method pattern ${c.values.join(',')} is not an exact method, a prefix (x*) or *`;
  if (c.key === 'application') return `the application pattern ${c.values.join(',')} cannot be told apart by workload labels (exact names and * only)`;
  return `the consumer's "${c.key}" is not visible to the mesh (only application, and method on gRPC ports)`;
}

/**
 * The chain for one service on one kind of port. `then` evaluates a provider-side condition
 * list on a provider (undefined: cannot be evaluated).
 */
export function evaluateChain(rules: readonly ChainRule[], tags: readonly TagClass[], kind: PortKind, thenHolds: (conds: Condition[], e: CatalogEndpoint) => Tristate, idPrefix: string): ChainResult {
  const result: ChainResult = { routes: [], subsets: new Map(), labels: new Map(), active: [], inert: [] };
  const everyone = tags.flatMap((t) => t.providers);

  // The provider side first: a rule takes part only where it can be evaluated on every provider,
  // and only if it can change something (a filter that keeps every provider, or none without
  // force, leaves every call's providers as they were: a consumer application's rule about
  // other services names no class here).
  let candidates: ChainRule[] = [];
  for (const r of rules) {
    let unknown = false;
    const hits = r.rule.to.map((t) => {
      const verdicts = everyone.map((e) => (t.match.length ? thenHolds(t.match, e) : true));
      if (verdicts.includes(undefined)) unknown = true;
      return verdicts.filter(Boolean).length;
    });
    if (unknown) {
      result.inert.push({ rule: r, why: 'its provider side names a value the adapter cannot evaluate (a $ reference to the consumer, an invalid range, or a parameter it does not read)' });
      continue;
    }
    const chosen = hits.filter((h, j) => h > 0 && r.rule.to[j].weight > 0);
    if (hits.length && chosen.every((h) => h === everyone.length) && (chosen.length > 0 || !r.rule.force)) continue;
    candidates.push(r);
  }

  // Then the consumer side, on the classes the remaining rules name, until every rule left can
  // be evaluated on every class (a rule made inert names no class).
  let space = consumerClasses(candidates, tags, kind);
  const when = new Map<ChainRule, boolean[]>();
  for (;;) {
    const left: ChainRule[] = [];
    for (const r of candidates) {
      const unknownWhen = r.when.find((c) => space.classes.some((cls) => conditionOnClass(c, cls, kind) === undefined));
      if (unknownWhen) result.inert.push({ rule: r, why: whyUnknown(unknownWhen, kind) });
      else left.push(r);
    }
    if (left.length === candidates.length) break;
    candidates = left;
    space = consumerClasses(candidates, tags, kind);
  }
  if (candidates.length && space.classes.length > MAX_CONSUMER_CLASSES) {
    result.tooMany = space.classes.length;
    result.inert.push(...candidates.map((rule) => ({ rule, why: `${space.classes.length} kinds of consumer to tell apart (at most ${MAX_CONSUMER_CLASSES})` })));
    return withoutConditions(result, tags);
  }
  const { classes, byApp, byMethod } = space;
  for (const r of candidates)
    when.set(
      r,
      classes.map((cls) => all(r.when.map((c) => conditionOnClass(c, cls, kind))) === true),
    );
  result.active = candidates;

  // Run the chain per class. A class's calls may split (v3.1 weights): its state is a list of
  // branches, each a share of its calls and the providers left to them.
  type Branch = { share: number; providers: readonly CatalogEndpoint[] };
  const bySet = new Map<string, string>();
  const dest = classes.map((cls, i): ChainDestination[] => {
    let branches: Branch[] = [{ share: 1, providers: cls.tag.providers }];
    for (const r of result.active) {
      if (!when.get(r)![i]) continue;
      branches = branches.flatMap((b): Branch[] => {
        if (b.providers.length === 0) return [b];
        if (r.rule.to.length === 0) return [{ share: b.share, providers: [] }];
        const kept = r.rule.to
          .map((t) => ({ weight: t.weight, providers: t.match.length ? b.providers.filter((e) => thenHolds(t.match, e) === true) : b.providers }))
          .filter((d) => d.providers.length > 0);
        const sum = kept.reduce((n, d) => n + d.weight, 0);
        // None left: forced, no provider; else the list as it was (as also when every weight is 0).
        if (kept.length === 0) return [r.rule.force ? { share: b.share, providers: [] } : b];
        if (sum === 0) return [b];
        return kept.filter((d) => d.weight > 0).map((d) => ({ share: (b.share * d.weight) / sum, providers: d.providers.length === b.providers.length ? b.providers : d.providers }));
      });
      // Branches left with the same providers are one.
      const merged = new Map<string, Branch>();
      for (const b of branches) {
        const key = b.providers
          .map((e) => e.id)
          .sort()
          .join('\n');
        const m = merged.get(key);
        merged.set(key, m ? { share: m.share + b.share, providers: m.providers } : b);
      }
      branches = [...merged.values()];
    }
    const targets = branches.map((b, j) => {
      if (b.providers === cls.tag.providers) return cls.tag.subset ?? '';
      const setKey = b.providers
        .map((e) => e.id)
        .sort()
        .join('\n');
      let subset = bySet.get(setKey);
      if (!subset) {
        const id = contentHash(`${idPrefix}\n${kind}\n${cls.tag.tag ?? ''}\n${cls.app ?? ''}\n${JSON.stringify(cls.method ?? null)}\n${j}`, 10);
        subset = `route-${id}`;
        bySet.set(setKey, subset);
        result.subsets.set(subset, ROUTE_LABEL_PREFIX + id);
        for (const e of b.providers) result.labels.set(e.id, [...(result.labels.get(e.id) ?? []), ROUTE_LABEL_PREFIX + id]);
      }
      return subset;
    });
    const weights = integerWeights(branches.map((b) => b.share));
    return targets.map((subset, j) => ({ subset, weight: weights[j] })).sort((a, b) => (a.subset < b.subset ? -1 : a.subset > b.subset ? 1 : 0));
  });
  const destKey = dest.map((d) => JSON.stringify(d));

  // One route per class in either order, then each route a later one makes redundant is
  // dropped, checked by replaying every class against the routes left.
  const covers = (r: ConsumerClass, c: ConsumerClass): boolean =>
    (r.tag.tag === undefined || r.tag === c.tag) && (r.app === OTHER || r.app === c.app) && (r.method === OTHER || (c.method !== OTHER && methodCovers(r.method, c.method)));
  const prune = (order: number[]) => {
    const routes = order.map((i) => ({ cls: classes[i], key: destKey[i], to: dest[i] }));
    const correct = (list: typeof routes): boolean => classes.every((c, i) => list.find((r) => covers(r.cls, c))?.key === destKey[i]);
    for (let i = 0; i < routes.length - 1;) {
      const without = [...routes.slice(0, i), ...routes.slice(i + 1)];
      if (correct(without)) routes.splice(i, 1);
      else i++;
    }
    return routes;
  };
  const appFirst = prune(byApp);
  const methodFirst = byMethod ? prune(byMethod) : appFirst;
  const routes = methodFirst.length < appFirst.length ? methodFirst : appFirst;
  result.routes = routes.map(({ cls, to }) => ({
    ...(cls.tag.tag !== undefined ? { tag: cls.tag.tag } : {}),
    ...(cls.app !== OTHER ? { app: cls.app } : {}),
    ...(cls.method !== OTHER ? { method: cls.method } : {}),
    to,
  }));
  return result;
}

/**
 * Shares (summing to 1) as whole weights for Istio: out of 100 when that is exact, else out of
 * 10,000 by largest remainder (an error of at most 0.01% of the calls).
 */
export function integerWeights(shares: readonly number[]): number[] {
  if (shares.length === 1) return [100];
  const exact = shares.map((x) => x * 100);
  if (exact.every((x) => Math.abs(x - Math.round(x)) < 1e-9)) return exact.map(Math.round);
  const scaled = shares.map((x) => x * 10_000);
  const out = scaled.map(Math.floor);
  let left = 10_000 - out.reduce((a, b) => a + b, 0);
  for (const j of scaled
    .map((x, j) => [x - Math.floor(x), j])
    .sort((a, b) => b[0] - a[0])
    .map(([, j]) => j)) {
    if (left-- <= 0) break;
    out[j]++;
  }
  return out;
}

/**
 * The consumer classes the rules name, in two orders, both most specific first within a tag: by
 * application then method, and by method then application (undefined when the same).
 */
function consumerClasses(rules: readonly ChainRule[], tags: readonly TagClass[], kind: PortKind): { classes: ConsumerClass[]; byApp: number[]; byMethod?: number[] } {
  const methods = kind === 'http' ? classValues(rules, 'method', true) : { exact: [], prefix: [] };
  const methodClasses: MethodClass[] = [...methods.exact.map((exact) => ({ exact })), ...methods.prefix.map((prefix) => ({ prefix })), OTHER];
  const appClasses: (string | undefined)[] = [...classValues(rules, 'application', false).exact, OTHER];
  const classes: ConsumerClass[] = [];
  for (const tag of tags) for (const app of appClasses) for (const method of methodClasses) classes.push({ tag, app, method });
  const at = (t: number, a: number, m: number) => (t * appClasses.length + a) * methodClasses.length + m;
  const byApp: number[] = [];
  const byMethod: number[] = [];
  for (let t = 0; t < tags.length; t++) {
    for (let a = 0; a < appClasses.length; a++) for (let m = 0; m < methodClasses.length; m++) byApp.push(at(t, a, m));
    for (let m = 0; m < methodClasses.length; m++) for (let a = 0; a < appClasses.length; a++) byMethod.push(at(t, a, m));
  }
  return { classes, byApp, ...(methodClasses.length > 1 && appClasses.length > 1 ? { byMethod } : {}) };
}

function methodCovers(route: NonNullable<MethodClass>, cls: NonNullable<MethodClass>): boolean {
  if ('exact' in route) return 'exact' in cls && cls.exact === route.exact;
  return 'exact' in cls ? cls.exact.startsWith(route.prefix) : cls.prefix.startsWith(route.prefix);
}

function withoutConditions(result: ChainResult, tags: readonly TagClass[]): ChainResult {
  result.routes = tags.map((t) => ({ ...(t.tag !== undefined ? { tag: t.tag } : {}), to: [{ subset: t.subset ?? '', weight: 100 }] }));
  return result;
}
