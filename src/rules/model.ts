/**
 * Traffic rules as the adapter understands them, whatever document they came from. Plain data.
 *
 * - Dubbo governance rules (configVersion v2.7 and v3.0) from the config center:
 *   configurators, tag routers and condition routers.
 * - The adapter's own TrafficPolicy (blue/green split per cluster, zone affinity, pool and
 *   outlier defaults, timeouts).
 * - Istio VirtualService and DestinationRule objects passed through unchanged.
 */
import type { ValueMatch } from './match';

/** Where a rule came from: a config-center source and its document (znode path or dataId). */
export interface RuleOrigin {
  source: string;
  document: string;
}

/** Which services a rule applies to: Dubbo services by key, or every service of an application. */
export type RuleScope = { kind: 'service'; interface: string; group?: string; version?: string } | { kind: 'application'; application: string };

/** One condition of Dubbo's condition grammar: key = or != values (globs, ranges, $ references; see match.ts). */
export interface Condition {
  key: string;
  negate: boolean;
  values: string[];
}

/** A v3.0 ParamMatch: a provider parameter and how its value must match. */
export interface ParamMatch {
  key: string;
  match: ValueMatch;
}

export interface Configurator {
  kind: 'configurator';
  origin: RuleOrigin;
  scope: RuleScope;
  /** Provider addresses (ip, ip:port or 0.0.0.0:port, compared exactly as Dubbo does); empty: all. */
  addresses: string[];
  /** Service-scope rules: only providers of these applications; application-scope: only these services (interface names). */
  applications: string[];
  services: string[];
  /** v3.0 `match`: every part given must hold (app and service: one of the list). */
  match: { address?: ValueMatch; providerAddress?: ValueMatch; app?: ValueMatch[]; service?: ValueMatch[]; param: ParamMatch[] };
  weight?: number;
  disabled?: boolean;
}

export interface TagRule {
  kind: 'tag';
  origin: RuleOrigin;
  application: string;
  force: boolean;
  tags: { name: string; addresses: string[]; match: ParamMatch[] }[];
}

export interface ConditionRoute {
  kind: 'condition';
  origin: RuleOrigin;
  scope: RuleScope;
  force: boolean;
  priority: number;
  /** Its place in the document's list: Dubbo chains a document's conditions in list order. */
  index: number;
  /** The rule as written, per condition, for reports. */
  text: string;
  /** Empty: every consumer. */
  when: Condition[];
  /**
   * Where the calls the when side selects go: one destination (v2.7/v3.0: the then side), or
   * several chosen at random by weight among those that keep a provider (v3.1). Empty: no
   * provider (Dubbo's blocklist form). An empty `match` keeps every provider.
   */
  to: { match: Condition[]; weight: number }[];
}

export interface TrafficPolicy {
  kind: 'policy';
  origin: RuleOrigin;
  name: string;
  services: RuleScope[];
  split?: { label: string; weights: Record<string, number>; clusters: Record<string, Record<string, number>> };
  zoneAffinity?: { enabled: boolean; failoverPriority?: string[] };
  loadBalancer?: Record<string, unknown>;
  connectionPool?: Record<string, unknown>;
  outlierDetection?: Record<string, unknown>;
  timeout?: string;
  retries?: Record<string, unknown>;
}

export interface PassThrough {
  kind: 'passthrough';
  origin: RuleOrigin;
  objectKind: 'VirtualService' | 'DestinationRule';
  name: string;
  /** Views that get it; empty: all. */
  clusters: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
  /** Hosts it covers: VirtualService hosts, or the DestinationRule host. */
  hosts: string[];
  /** When the adapter first saw this object (set by the rule store, kept across edits). */
  createdAtMs?: number;
}

export type Rule = Configurator | TagRule | ConditionRoute | TrafficPolicy | PassThrough;

/** A part of a rule that the mesh cannot express: reported, never silently dropped. */
export interface Unsupported {
  origin: RuleOrigin;
  what: string;
  why: string;
}

/** Every rule in force, with what could not be applied. Immutable once built. */
export interface RuleSet {
  version: string;
  rules: readonly Rule[];
  unsupported: readonly Unsupported[];
}

export const EMPTY_RULES: RuleSet = { version: 'empty', rules: [], unsupported: [] };
