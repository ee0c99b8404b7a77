/**
 * Config-center documents to rules. Pure: a document is (origin, its name, its text); the answer
 * is its rules plus what of it the mesh cannot express, or why the whole document is refused
 * (then the last good version of that document stays in force, see store.ts).
 */
import yaml from 'js-yaml';
import { loadAllYaml, loadYaml, YamlLimitError, yamlProblem } from '../common/yaml';
import { specType, yamlToProto } from '../common/proto';
import { DUBBO_RULE_SUFFIXES, LEGACY_URL } from '../registry/config-center';
import type { ValueMatch } from './match';
import type { Condition, ConditionRoute, Configurator, ParamMatch, PassThrough, Rule, RuleOrigin, RuleScope, TagRule, TrafficPolicy, Unsupported } from './model';

export type ParsedDocument = { rules: Rule[]; unsupported: Unsupported[] } | { error: string };

export const ADAPTER_API_VERSION = 'dubbo-istio-adapter.io/v1';
export const CLUSTERS_ANNOTATION = 'dubbo-istio-adapter.io/clusters';

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

class RuleError extends Error {}

/** The start of the reason for a document that broke the parser in a way it does not check for. */
export const UNFORESEEN = 'the rule could not be read (unforeseen shape)';
const fail = (msg: string): never => {
  throw new RuleError(msg);
};

/**
 * A Dubbo rule document (name ends in .configurators, .tag-router or .condition-router), or an
 * adapter document (TrafficPolicy, or an Istio VirtualService / DestinationRule; several may be
 * separated by ---).
 */
export function parseRuleDocument(origin: RuleOrigin, name: string, content: string): ParsedDocument {
  try {
    if (LEGACY_URL.test(name)) return parseLegacyUrl(origin, content);
    if (name.endsWith('.script-router')) {
      return {
        rules: [],
        unsupported: [{ origin, what: 'script router', why: 'a script router runs a script (JavaScript, Groovy...) inside each Dubbo consumer; the mesh cannot run it, so the rule is inert' }],
      };
    }
    if (name.endsWith('.MESHAPPRULE')) {
      return {
        rules: [],
        unsupported: [
          {
            origin,
            what: 'Dubbo mesh rule (MESHAPPRULE)',
            why: "Dubbo's own VirtualService/DestinationRule form is not translated; it is inert: write Istio objects in the adapter group, which are passed through (docs/rules.md)",
          },
        ],
      };
    }
    const suffix = DUBBO_RULE_SUFFIXES.find((s) => name.endsWith(s));
    if (suffix) {
      const doc = loadOne(content);
      const unsupported: Unsupported[] = [];
      const key = name.slice(0, -suffix.length);
      const rules =
        suffix === '.configurators'
          ? parseConfigurators(origin, doc, key, unsupported)
          : suffix === '.tag-router'
            ? parseTagRouter(origin, doc, key, unsupported)
            : parseConditionRouter(origin, doc, key, unsupported);
      return { rules, unsupported };
    }
    const rules: Rule[] = [];
    for (const doc of loadAllYaml(content)) if (doc !== null && doc !== undefined) rules.push(parseAdapterObject(origin, doc));
    return { rules, unsupported: [] };
  } catch (err) {
    if (err instanceof RuleError) return { error: err.message };
    if (err instanceof yaml.YAMLException || err instanceof YamlLimitError) return { error: yamlProblem(err) };
    // A shape no check above foresaw: still a refusal of this document, never an exception out
    // of the parser (the source would stop syncing). The fuzz test keeps this path unreached.
    return { error: `${UNFORESEEN}: ${(err as Error)?.message ?? String(err)}` };
  }
}

function loadOne(content: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = loadYaml(content);
  } catch (err) {
    return fail(yamlProblem(err));
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return fail('the rule is not a YAML mapping');
  return doc as Record<string, unknown>;
}

// ---- Dubbo governance rules ----

function checkVersion(doc: Record<string, unknown>): void {
  const v = doc.configVersion;
  if (v !== undefined && v !== 'v2.7' && v !== 'v3.0' && v !== 'v3.1') fail(`configVersion ${JSON.stringify(v)} is not v2.7, v3.0 or v3.1`);
}

function enabled(v: unknown): boolean {
  return v === undefined || v === null || v === true || v === 'true';
}

function flag(v: unknown): boolean {
  return v === true || v === 'true';
}

/** A YAML mapping at `at`, or undefined when absent; anything else refuses the document. */
function mapping(v: unknown, at: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return fail(`${at} must be a mapping`);
  return v as Record<string, unknown>;
}

function list(v: unknown, at: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return fail(`${at} must be a list`);
  return v;
}

/**
 * Dubbo writes a service's rule key as interface:version:group (2.7 and later), and some tools as
 * group/interface:version or group*interface:version.
 */
export function parseServiceKey(key: string): RuleScope & { kind: 'service' } {
  let group: string | undefined;
  let rest = key;
  const slash = key.search(/[/*]/);
  if (slash >= 0) {
    group = key.slice(0, slash);
    rest = key.slice(slash + 1);
  }
  const [iface, version, g] = rest.split(':');
  if (!iface || !/^[\w$]+(\.[\w$]+)*$/.test(iface)) fail(`"${key}" is not a Dubbo service key (interface[:version[:group]])`);
  return { kind: 'service', interface: iface, ...(version ? { version } : {}), ...((g ?? group) ? { group: g ?? group } : {}) };
}

function scopeOf(doc: Record<string, unknown>, nameKey: string): RuleScope {
  const key = typeof doc.key === 'string' && doc.key ? doc.key : nameKey;
  const scope = doc.scope ?? 'application';
  if (scope === 'service') return parseServiceKey(key);
  if (scope === 'application') return { kind: 'application', application: key };
  return fail(`scope ${JSON.stringify(scope)} is not service or application`);
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) return fail(`${what} must be a list of strings`);
  return v.map(String);
}

/**
 * A v3.0 StringMatch (or, with `address`, an AddressMatch) as Dubbo evaluates it; undefined when
 * it uses a form the adapter does not evaluate (regex: Java's and JavaScript's differ), so the
 * caller makes the rule entry that holds it inert.
 */
function valueMatchOf(m: unknown, at: string, address = false): ValueMatch | undefined {
  if (typeof m === 'string') return { exact: m };
  const o = mapping(m, at) ?? {};
  const text = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') return fail(`${at}.${k} must be a string`);
    return String(v);
  };
  if (address) {
    // AddressMatch: cird first, then wildcard (a glob; "*" and 0.0.0.0 match all), then exact.
    const cird = text('cird') ?? text('cidr');
    if (cird !== undefined) return { cidr: cird };
    const wildcard = text('wildcard');
    if (wildcard !== undefined) return { glob: wildcard === '0.0.0.0' ? '*' : wildcard };
    const exact = text('exact');
    if (exact !== undefined) return { exact };
    return fail(`${at}: an address match needs cird, wildcard or exact`);
  }
  // StringMatch, in Dubbo's order: exact, prefix, regex, wildcard ("*" only: any other value
  // must equal the input), empty, noempty.
  const exact = text('exact');
  if (exact !== undefined) return { exact };
  const prefix = text('prefix');
  if (prefix !== undefined) return { prefix };
  if (o.regex !== undefined && o.regex !== null) return undefined;
  const wildcard = text('wildcard');
  if (wildcard !== undefined) return wildcard === '*' ? { glob: '*' } : { exact: wildcard };
  if (o.empty !== undefined && o.empty !== null) return { empty: true };
  if (o.noempty !== undefined && o.noempty !== null) return { noempty: true };
  return fail(`${at}: a match needs exact, prefix, regex, wildcard, empty or noempty`);
}

function parseConfigurators(origin: RuleOrigin, doc: Record<string, unknown>, nameKey: string, unsupported: Unsupported[]): Rule[] {
  checkVersion(doc);
  const scope = scopeOf(doc, nameKey);
  if (!enabled(doc.enabled)) return [];
  if (!Array.isArray(doc.configs)) return fail('configs must be a list');
  const out: Configurator[] = [];
  doc.configs.forEach((raw: unknown, i: number) => {
    const at = `configs[${i}]`;
    const c = mapping(raw, at) ?? {};
    const note = (what: string, why: string) => unsupported.push({ origin, what: `${at}: ${what}`, why });
    if (!enabled(c.enabled)) return;
    const params = mapping(c.parameters, `${at}.parameters`) ?? {};
    const rule: Configurator = {
      kind: 'configurator',
      origin,
      scope,
      addresses: strings(c.addresses, `${at}.addresses`).filter((a) => a !== '0.0.0.0'),
      applications: strings(c.applications, `${at}.applications`),
      services: strings(c.services, `${at}.services`),
      match: { param: [] },
    };
    // A match part the adapter cannot evaluate makes the whole entry inert: dropping only that
    // part would apply the entry to more providers than Dubbo does.
    let inert: string | undefined;
    const match = mapping(c.match, `${at}.match`) ?? {};
    for (const field of ['address', 'providerAddress'] as const) {
      if (match[field] === undefined || match[field] === null) continue;
      const m = valueMatchOf(match[field], `${at}.match.${field}`, true);
      if (m) rule.match[field] = m;
    }
    for (const field of ['app', 'service'] as const) {
      const m = mapping(match[field], `${at}.match.${field}`);
      if (!m) continue;
      const oneof = list(m.oneof, `${at}.match.${field}.oneof`).map((x, j) => valueMatchOf(x, `${at}.match.${field}.oneof[${j}]`));
      if (oneof.some((x) => !x)) inert ??= `match.${field}: a regex`;
      rule.match[field] = oneof.filter((x): x is ValueMatch => !!x);
    }
    list(match.param, `${at}.match.param`).forEach((raw, j) => {
      const p = mapping(raw, `${at}.match.param[${j}]`) ?? {};
      if (typeof p.key !== 'string' || !p.key) return fail(`${at}.match.param[${j}] has no key`);
      const m = valueMatchOf(p.value, `${at}.match.param[${j}].value`);
      if (!m) inert ??= `match.param ${p.key}: a regex`;
      else rule.match.param.push({ key: p.key, match: m });
    });
    // Checked once the entry is known to be well formed. Dubbo 2.7 and later apply an entry only on
    // the side it names (AbstractConfigurator.configure).
    if (c.side === 'consumer') return note('side: consumer', 'consumer-side overrides change Dubbo consumers, not the providers the mesh routes to');
    if (c.side !== 'provider')
      return note(
        `side: ${c.side === undefined || c.side === null ? '(none)' : String(c.side)}`,
        'Dubbo applies a configurator entry only on the side it names (provider or consumer); without side: provider it changes no provider, so neither does the mesh',
      );
    for (const [k, v] of Object.entries(params)) {
      if (k === 'weight') {
        const w = Number(v);
        if (!Number.isInteger(w) || w < 0) fail(`${at}.parameters.weight ${JSON.stringify(v)} is not a whole number`);
        rule.weight = w;
      } else if (k === 'disabled') rule.disabled = flag(v);
      else note(`parameters.${k}`, 'only weight and disabled change what the mesh routes to; other provider parameters stay Dubbo settings');
    }
    if (inert) return note(inert, 'a regular expression is not evaluated (Java and JavaScript regexes differ); the entry is inert, none of it applies');
    if (rule.weight !== undefined || rule.disabled !== undefined) out.push(rule);
  });
  return out;
}

function parseTagRouter(origin: RuleOrigin, doc: Record<string, unknown>, nameKey: string, unsupported: Unsupported[]): Rule[] {
  checkVersion(doc);
  if (!enabled(doc.enabled)) return [];
  const application = typeof doc.key === 'string' && doc.key ? doc.key : nameKey;
  if (!Array.isArray(doc.tags)) return fail('tags must be a list');
  const rule: TagRule = { kind: 'tag', origin, application, force: flag(doc.force), tags: [] };
  doc.tags.forEach((raw: unknown, i: number) => {
    const t = mapping(raw, `tags[${i}]`) ?? {};
    if (typeof t.name !== 'string' || !t.name) return fail(`tags[${i}] has no name`);
    const match: ParamMatch[] = [];
    let inert = false;
    list(t.match, `tags[${i}].match`).forEach((rawMatch, j) => {
      const m = mapping(rawMatch, `tags[${i}].match[${j}]`) ?? {};
      if (typeof m.key !== 'string' || !m.key) return fail(`tags[${i}].match[${j}] has no key`);
      const v = valueMatchOf(m.value, `tags[${i}].match[${j}].value`);
      if (v) match.push({ key: m.key, match: v });
      else inert = true;
    });
    if (inert) return unsupported.push({ origin, what: `tags[${i}] (${t.name})`, why: 'a regular expression in its match is not evaluated; the tag is inert, no provider gets it from this rule' });
    rule.tags.push({ name: t.name, addresses: strings(t.addresses, `tags[${i}].addresses`), match });
  });
  return [rule];
}

/**
 * Dubbo's condition grammar, as ConditionStateRouter reads it: "consumer." and "provider." are
 * removed everywhere, "when => then"; an empty or "true" when side matches every consumer; an
 * empty or "false" then side is the blocklist form (undefined here). Each side is
 * "key = v1,v2 & key != v3".
 */
export function parseCondition(raw: string, at: string): { when: Condition[]; then?: Condition[] } {
  const arrow = raw.indexOf('=>');
  const then = thenSide(arrow < 0 ? raw : raw.slice(arrow + 2), `${at} (then)`);
  return { when: whenSide(arrow < 0 ? '' : raw.slice(0, arrow), `${at} (when)`), ...(then ? { then } : {}) };
}

/** Dubbo removes "consumer." and "provider." everywhere in a condition before reading it. */
const unprefixed = (text: string): string => text.replaceAll('consumer.', '').replaceAll('provider.', '').trim();

/** A when side: empty or "true" matches every consumer. */
function whenSide(text: string, at: string): Condition[] {
  const t = unprefixed(text);
  return t === '' || t === 'true' ? [] : parseConditions(t, at);
}

/** A then side: empty or "false" is undefined (in v3.0, no provider; in a v3.1 destination, every provider). */
function thenSide(text: string, at: string): Condition[] | undefined {
  const t = unprefixed(text);
  return t === '' || t === 'false' ? undefined : parseConditions(t, at);
}

/** A v2.7/v3.0 condition as a route: its then side the one destination (none: the blocklist form). */
function conditionRoute(raw: string, at: string): Pick<ConditionRoute, 'when' | 'to'> {
  const { when, then } = parseCondition(raw, at);
  return { when, to: then ? [{ match: then, weight: 100 }] : [] };
}

/**
 * Dubbo 3.3's condition rules v3.1 (MultiDestConditionRouter): each condition has `from.match`
 * (the when side) and `to`, a list of `{match, weight}` (weight 100 when absent); the calls it
 * selects go to one of the destinations that keep a provider, at random by weight. `to: []`
 * leaves no provider. Dubbo 3.3's router reads no other field of a condition: `priority`,
 * `force`, `trafficDisable` and `ratio` there are ignored as Dubbo ignores them, and reported.
 */
function parseConditionsV31(origin: RuleOrigin, doc: Record<string, unknown>, scope: RuleScope, unsupported: Unsupported[]): ConditionRoute[] {
  const priority = Number(doc.priority ?? 0);
  return (doc.conditions as unknown[]).map((raw, i): ConditionRoute => {
    const at = `conditions[${i}]`;
    const c = mapping(raw, at);
    if (!c) return fail(`${at} is not a condition (from, to)`);
    const from = mapping(c.from, `${at}.from`);
    if (!from || !Array.isArray(c.to)) return fail(`${at} needs from and to, as Dubbo does ("Illegal route rule")`);
    const whenText = from.match === undefined || from.match === null ? '' : from.match;
    if (typeof whenText !== 'string') return fail(`${at}.from.match must be a string`);
    for (const k of ['priority', 'force', 'trafficDisable', 'ratio']) {
      if (c[k] !== undefined) unsupported.push({ origin, what: `${at}.${k}`, why: "Dubbo 3.3's condition router does not read it; ignored, as in Dubbo" });
    }
    const texts: string[] = [];
    const to = c.to.map((rawTo, j) => {
      const t = mapping(rawTo, `${at}.to[${j}]`) ?? {};
      const text = t.match === undefined || t.match === null ? '' : t.match;
      if (typeof text !== 'string') return fail(`${at}.to[${j}].match must be a string`);
      const weight = t.weight === undefined || t.weight === null ? 100 : Number(t.weight);
      if (!Number.isInteger(weight) || weight < 0 || weight > 1_000_000) return fail(`${at}.to[${j}].weight ${JSON.stringify(t.weight)} is not a whole number from 0 to 1000000`);
      texts.push(`${unprefixed(text)} (${weight})`);
      return { match: thenSide(text, `${at}.to[${j}].match`) ?? [], weight };
    });
    const text = `${unprefixed(whenText)} => ${texts.join(' | ')}`.trim();
    return {
      kind: 'condition',
      origin,
      scope,
      force: flag(doc.force),
      priority: Number.isFinite(priority) ? priority : 0,
      index: i,
      text,
      when: whenSide(whenText, `${at}.from.match`),
      to,
    };
  });
}

/** One side of a condition: "key = v1,v2 & key != v3". */
export function parseConditions(side: string, at: string): Condition[] {
  const out: Condition[] = [];
  for (const part of side.split('&')) {
    const p = part.trim();
    if (!p) continue;
    const m = /^([\w.\-[\]]+)\s*(!=|=)\s*(.*)$/.exec(p);
    if (!m) return fail(`${at}: "${p}" is not key = value or key != value`);
    const values = m[3]
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (values.length === 0 || values.some((v) => /[\s=!]/.test(v))) return fail(`${at}: "${p}" needs values without spaces, = or !`);
    out.push({ key: m[1], negate: m[2] === '!=', values });
  }
  return out;
}

/** Which conditions the mesh can tell apart is decided per service and port (conditions.ts), so none is refused here. */
function parseConditionRouter(origin: RuleOrigin, doc: Record<string, unknown>, nameKey: string, unsupported: Unsupported[]): Rule[] {
  checkVersion(doc);
  const scope = scopeOf(doc, nameKey);
  if (!enabled(doc.enabled)) return [];
  if (!Array.isArray(doc.conditions)) return fail('conditions must be a list');
  // Dubbo reads v3.1 (conditions as objects) by configVersion.
  if (doc.configVersion === 'v3.1') return parseConditionsV31(origin, doc, scope, unsupported);
  const priority = Number(doc.priority ?? 0);
  return doc.conditions.map((raw: unknown, i: number): ConditionRoute => {
    if (typeof raw !== 'string' || !raw.trim()) return fail(`conditions[${i}] is not a condition ("when => then")`);
    return { kind: 'condition', origin, scope, force: flag(doc.force), priority: Number.isFinite(priority) ? priority : 0, index: i, text: raw.trim(), ...conditionRoute(raw, `conditions[${i}]`) };
  });
}

// ---- Dubbo 2.6 rule URLs ----

function decodeOnce(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return fail(`"${s.slice(0, 80)}" is not URL-encoded text`);
  }
}

/**
 * A Dubbo 2.6 override:// or route:// URL (its content is the decoded znode name), mapped as
 * its YAML equivalent: an override is a service-scope configurator, a route a condition rule.
 * Semantics of Dubbo's AbstractConfigurator.configureDeprecated and ConditionStateRouter.
 */
function parseLegacyUrl(origin: RuleOrigin, url: string): { rules: Rule[]; unsupported: Unsupported[] } {
  const m = /^(override|route):\/\/([^/?]*)\/([^?]*)(?:\?(.*))?$/i.exec(url.trim());
  if (!m) return fail('not an override:// or route:// URL');
  const [, kind, authority, path, query = ''] = m;
  const params: Record<string, string> = {};
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    params[decodeOnce(eq < 0 ? part : part.slice(0, eq))] = eq < 0 ? '' : decodeOnce(part.slice(eq + 1));
  }
  const iface = params.interface || path;
  const scope = parseServiceKey(iface);
  if (params.group && params.group !== '*') scope.group = params.group;
  if (params.version && params.version !== '*' && params.version !== '0.0.0') scope.version = params.version;
  const unsupported: Unsupported[] = [];
  const note = (what: string, why: string) => unsupported.push({ origin, what, why });
  if (params.enabled === 'false') return { rules: [], unsupported };
  const colon = authority.lastIndexOf(':');
  const host = colon > 0 && !authority.endsWith(']') ? authority.slice(0, colon) : authority;
  const port = colon > 0 && !authority.endsWith(']') ? authority.slice(colon + 1) : '';

  if (kind.toLowerCase() === 'route') {
    const router = params.router ?? 'condition';
    if (router !== 'condition') {
      note(`route://, router=${router}`, 'only condition routers are evaluated; a script or file router runs inside each Dubbo consumer, so the rule is inert');
      return { rules: [], unsupported };
    }
    if (!params.rule?.trim()) return fail('route:// without a rule parameter');
    const priority = Number(params.priority ?? 0);
    const route: ConditionRoute = {
      kind: 'condition',
      origin,
      scope,
      force: flag(params.force),
      priority: Number.isFinite(priority) ? priority : 0,
      index: 0,
      text: params.rule.trim(),
      ...conditionRoute(params.rule, 'rule'),
    };
    return { rules: [route], unsupported };
  }

  // override: with a port it names a provider (0.0.0.0: every provider on that port); without
  // one, 0.0.0.0 means every provider and another address a consumer, which Dubbo applies on
  // that consumer only.
  if (!port && host !== '0.0.0.0') {
    note(`override://${host}`, 'an override for one consumer changes that Dubbo consumer, not the providers the mesh routes to');
    return { rules: [], unsupported };
  }
  if (params.side === 'consumer') {
    note('override://, side=consumer', 'consumer-side overrides change Dubbo consumers, not the providers the mesh routes to');
    return { rules: [], unsupported };
  }
  const rule: Configurator = {
    kind: 'configurator',
    origin,
    scope,
    addresses: port ? [`${host}:${port}`] : [],
    applications: params.application && params.application !== '*' ? [params.application] : [],
    services: [],
    match: { param: [] },
  };
  // Dubbo 2.6 conditions: application, side, and ~key (the provider's parameter key).
  for (const [k, v] of Object.entries(params)) {
    if (k.startsWith('~') && k.length > 1 && v !== '*') rule.match.param.push({ key: k.slice(1), match: { exact: v } });
  }
  const conditionKeys = ['category', 'check', 'dynamic', 'enabled', 'group', 'version', 'application', 'side', 'configVersion', 'compatible_config', 'interfaces', 'interface'];
  for (const [k, v] of Object.entries(params)) {
    if (k.startsWith('~') || conditionKeys.includes(k)) continue;
    if (k === 'weight') {
      if (!/^\d+$/.test(v)) return fail(`weight ${JSON.stringify(v)} is not a whole number`);
      rule.weight = Number(v);
    } else if (k === 'disabled') rule.disabled = v === 'true';
    else note(`override://, ${k}`, 'only weight and disabled change what the mesh routes to; other provider parameters stay Dubbo settings');
  }
  return { rules: rule.weight !== undefined || rule.disabled !== undefined ? [rule] : [], unsupported };
}

// ---- adapter documents ----

function parseAdapterObject(origin: RuleOrigin, raw: unknown): Rule {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('a document is not a YAML mapping');
  const o = raw as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; labels?: unknown; annotations?: unknown }; spec?: unknown };
  mapping(o.metadata, 'metadata');
  const name = o.metadata?.name;
  if (typeof name !== 'string' || !NAME.test(name)) fail(`metadata.name ${JSON.stringify(name)} is not a DNS-1123 label`);
  const at = `${o.kind} ${name}`;
  if (o.apiVersion === ADAPTER_API_VERSION && o.kind === 'TrafficPolicy') return parseTrafficPolicy(origin, name as string, o.spec, at);
  if (typeof o.apiVersion === 'string' && /^networking\.istio\.io\/v1(alpha3|beta1)?$/.test(o.apiVersion) && (o.kind === 'VirtualService' || o.kind === 'DestinationRule')) {
    return parsePassThrough(origin, o.kind, name as string, o, at);
  }
  return fail(
    `${at}: apiVersion ${JSON.stringify(o.apiVersion)} kind ${JSON.stringify(o.kind)} is neither ${ADAPTER_API_VERSION} TrafficPolicy nor a networking.istio.io VirtualService or DestinationRule`,
  );
}

function stringMap(v: unknown, at: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) return fail(`${at} must map strings to strings`);
  return v as Record<string, string>;
}

function weights(v: unknown, at: string): Record<string, number> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return fail(`${at} must map label values to weights`);
  const out: Record<string, number> = {};
  let sum = 0;
  for (const [k, w] of Object.entries(v)) {
    if (!Number.isInteger(w) || (w as number) < 0 || (w as number) > 100) fail(`${at}.${k}: weight ${JSON.stringify(w)} is not a whole number from 0 to 100`);
    out[k] = w as number;
    sum += w as number;
  }
  if (sum !== 100) fail(`${at}: weights add up to ${sum}, not 100`);
  return out;
}

/** A TrafficPolicy field shaped as an Istio message: checked against the same proto it will be encoded with. */
function istioPart(v: unknown, message: string, at: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    yamlToProto(specType(message), v, at);
  } catch (err) {
    fail((err as Error).message);
  }
  return v as Record<string, unknown>;
}

function parseTrafficPolicy(origin: RuleOrigin, name: string, spec: unknown, at: string): TrafficPolicy {
  const s = mapping(spec, `${at}: spec`) ?? {};
  const services: RuleScope[] = [
    ...strings(s.services, `${at}: spec.services`).map((k) => parseServiceKey(k)),
    ...strings(s.applications, `${at}: spec.applications`).map((application): RuleScope => ({ kind: 'application', application })),
  ];
  if (services.length === 0) fail(`${at}: spec.services or spec.applications must name what it applies to`);
  const p: TrafficPolicy = { kind: 'policy', origin, name, services };
  if (s.split !== undefined) {
    const sp = mapping(s.split, `${at}: spec.split`) ?? {};
    if (typeof sp.label !== 'string' || !LABEL_KEY.test(sp.label)) fail(`${at}: spec.split.label ${JSON.stringify(sp.label)} is not a label key`);
    const clusters: Record<string, Record<string, number>> = {};
    for (const [c, w] of Object.entries(mapping(sp.clusters, `${at}: spec.split.clusters`) ?? {})) clusters[c] = weights(w, `${at}: spec.split.clusters.${c}`);
    p.split = { label: sp.label as string, weights: sp.weights === undefined ? {} : weights(sp.weights, `${at}: spec.split.weights`), clusters };
    if (Object.keys(p.split.weights).length === 0 && Object.keys(clusters).length === 0) fail(`${at}: spec.split needs weights or clusters`);
  }
  if (s.zoneAffinity !== undefined) {
    const z = mapping(s.zoneAffinity, `${at}: spec.zoneAffinity`) ?? {};
    p.zoneAffinity = { enabled: z.enabled !== false, ...(z.failoverPriority ? { failoverPriority: strings(z.failoverPriority, `${at}: spec.zoneAffinity.failoverPriority`) } : {}) };
  }
  p.loadBalancer = istioPart(s.loadBalancer, 'LoadBalancerSettings', `${at}: spec.loadBalancer`);
  p.connectionPool = istioPart(s.connectionPool, 'ConnectionPoolSettings', `${at}: spec.connectionPool`);
  p.outlierDetection = istioPart(s.outlierDetection, 'OutlierDetection', `${at}: spec.outlierDetection`);
  p.retries = istioPart(s.retries, 'HTTPRetry', `${at}: spec.retries`);
  if (s.timeout !== undefined) {
    if (typeof s.timeout !== 'string' || !/^\d+(\.\d+)?(h|m|s|ms)$/.test(s.timeout)) fail(`${at}: spec.timeout ${JSON.stringify(s.timeout)} is not a duration such as 500ms or 3s`);
    p.timeout = s.timeout as string;
  }
  for (const k of Object.keys(s)) {
    if (!['services', 'applications', 'split', 'zoneAffinity', 'loadBalancer', 'connectionPool', 'outlierDetection', 'retries', 'timeout'].includes(k))
      fail(`${at}: spec.${k} is not a TrafficPolicy field`);
  }
  return p;
}

function parsePassThrough(
  origin: RuleOrigin,
  kind: 'VirtualService' | 'DestinationRule',
  name: string,
  o: { metadata?: { labels?: unknown; annotations?: unknown }; spec?: unknown },
  at: string,
): PassThrough {
  try {
    yamlToProto(specType(kind), o.spec, 'spec');
  } catch (err) {
    fail(`${at}: ${(err as Error).message}`);
  }
  const spec = o.spec as Record<string, unknown>;
  const hosts = kind === 'VirtualService' ? strings(spec.hosts, `${at}: spec.hosts`) : typeof spec.host === 'string' && spec.host ? [spec.host] : [];
  if (hosts.length === 0) fail(`${at}: ${kind === 'VirtualService' ? 'spec.hosts is empty' : 'spec.host is missing'}`);
  const annotations = stringMap(o.metadata?.annotations, `${at}: metadata.annotations`);
  const clusters = (annotations[CLUSTERS_ANNOTATION] ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  return { kind: 'passthrough', origin, objectKind: kind, name, clusters, labels: stringMap(o.metadata?.labels, `${at}: metadata.labels`), annotations, spec, hosts };
}
