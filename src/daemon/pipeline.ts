import yaml from 'js-yaml';
import { canonicalJson } from '../common/hash';
import type { ClusterConfig, Config, LabelMapping } from '../config/types';
import { AddressBook } from '../istio/addresses';
import { renderPassThrough, renderService, servicePlan, type RenderSettings } from '../istio/render';
import type { IstioObject } from '../istio/types';
import { validateObject } from '../istio/kinds';
import type { Catalog } from '../model/catalog';
import type { RuleSet } from '../rules/model';
import { ruleParamLabels, type AppliedRule } from '../rules/policy';
import type { RuleStore } from '../rules/store';
import { ResourceCache, SnapshotBuilder, type BuilderObserver, type ClusterSnapshot } from '../xds/snapshot';

/** The id under which pass-through Istio objects travel through the snapshot builders. */
const PASS_THROUGH = '~rules/pass-through';
/** The rule source of the documents written inline in the config file. */
export const INLINE_RULES = 'config';

export interface PipelineObserver {
  builder(cluster: string): BuilderObserver;
  /** A rendered object failed validation: it is not sent, and its previous version stays. */
  invalid(cluster: string, object: IstioObject, problems: string[]): void;
  /** Every address of render.virtualAddresses.cidr is taken: the service has none. */
  noVirtualAddress(serviceId: string): void;
}

export interface EffectiveRules {
  service: string;
  host: string;
  cluster: string;
  applied: AppliedRule[];
  notes: string[];
  destinationRule?: unknown;
  virtualService?: unknown;
}

/**
 * commit → render per view → snapshot, with no I/O and no timers: the daemon decides when it
 * runs and where the snapshots go. The one render path: what `run` serves, what `render` prints
 * and what /debug/rules explains all come from here, view by view.
 */
export class Pipeline {
  /** One snapshot builder per cluster view, with the view it renders. */
  private readonly views: { view: ClusterConfig; builder: SnapshotBuilder }[];
  private rulesDirty = true;
  /** Provider parameters the rules in force name, read as labels (ruleParamLabels). */
  private ruleLabels: LabelMapping[] = [];
  /** Hosts and virtual IPs, handed out as services appear and kept while they exist. */
  private readonly addresses: AddressBook;

  constructor(
    private readonly config: Config,
    readonly catalog: Catalog,
    readonly rules: RuleStore,
    private readonly observer: PipelineObserver,
  ) {
    this.addresses = new AddressBook(config.mapping, config.render.virtualAddresses);
    const shared = new ResourceCache();
    this.views = config.clusters.map((view) => ({ view, builder: new SnapshotBuilder(view.name, observer.builder(view.name), shared) }));
  }

  /** A rule document changed: the next run renders every service again. */
  rulesChanged(): void {
    this.rulesDirty = true;
  }

  /**
   * Commits the catalog, renders what changed for every view and cuts new snapshots. Returns
   * whether the rules were part of it, the rules in force, and when the catalog wants the next run.
   */
  run(nowMs: number): { rulesChanged: boolean; ruleSet: RuleSet; changedServices: number; wakeAtMs?: number } {
    const rulesChanged = this.rulesDirty;
    this.rulesDirty = false;
    const ruleSet = this.rules.ruleSet();
    // The provider parameters the rules name are read before the commit that renders with them.
    if (rulesChanged) {
      this.ruleLabels = ruleParamLabels(ruleSet, this.config.mapping);
      this.catalog.setExtraLabels(this.ruleLabels);
    }
    const { changed, wakeAtMs } = this.catalog.commit(nowMs);
    this.assignAddresses(changed);
    const settings = this.settings(ruleSet);
    // A rule change may touch any service: render them all again (unchanged objects keep their bytes).
    if (rulesChanged) for (const id of this.catalog.serviceIds()) changed.add(id);
    // Views that render alike (same filter, overrides and revision) share one render.
    const rendered = new Map<string, Map<string, IstioObject[]>>();
    for (const { view, builder } of this.views) {
      const key = renderKey(view, ruleSet);
      let changes = rendered.get(key);
      if (!changes) {
        changes = new Map();
        for (const id of changed) {
          const svc = this.catalog.service(id);
          changes.set(id, svc ? this.valid(renderService(svc, settings, view), view.name) : []);
        }
        if (rulesChanged) changes.set(PASS_THROUGH, this.valid(renderPassThrough(ruleSet, this.config.render, view), view.name));
        rendered.set(key, changes);
      }
      builder.update(changes);
    }
    return { rulesChanged, ruleSet, changedServices: changed.size, wakeAtMs };
  }

  snapshots(): ClusterSnapshot[] {
    return this.views.map((v) => v.builder.latest());
  }

  /** Every object one view serves after the last run, by kind and name: what `render` prints. */
  objects(cluster: string): IstioObject[] {
    const snapshot = this.views.find((v) => v.view.name === cluster)?.builder.latest();
    if (!snapshot) return [];
    return [...snapshot.types.values()].flatMap((t) => [...t.resources.values()].map((r) => r.object));
  }

  /** The rules in force per service in one view (the first by default), as that view serves it. */
  effectiveRules(cluster?: string): EffectiveRules[] {
    const view = this.config.clusters.find((c) => c.name === cluster) ?? this.config.clusters[0];
    const settings = this.settings(this.rules.ruleSet());
    const out: EffectiveRules[] = [];
    for (const id of [...this.catalog.serviceIds()].sort()) {
      const plan = servicePlan(this.catalog.service(id)!, settings, view);
      const p = plan?.policy;
      if (p && (p.applied.length || p.notes.length || p.destinationRule || p.virtualService)) {
        out.push({ service: id, host: plan.host, cluster: view.name, applied: p.applied, notes: p.notes, destinationRule: p.destinationRule, virtualService: p.virtualService });
      }
    }
    return out;
  }

  private settings(set: RuleSet): RenderSettings {
    const { render, rules } = this.config;
    const mapping = this.ruleLabels.length ? { ...this.config.mapping, labels: [...this.config.mapping.labels, ...this.ruleLabels] } : this.config.mapping;
    return { mapping, render, rules: { set, tagLabel: rules.tagLabel, tagHeader: rules.tagHeader, consumerLabel: rules.consumerLabel }, addressOf: (id) => this.addresses.get(id) };
  }

  /**
   * Frees the addresses of services that are gone, then gives new ones theirs, eldest first: so
   * at start-up, when every service is new, the same services win the same collisions as before.
   */
  private assignAddresses(changed: Set<string>): void {
    const added = [];
    for (const id of changed) {
      const svc = this.catalog.service(id);
      if (!svc) this.addresses.remove(id);
      else if (!this.addresses.get(id)) added.push(svc);
    }
    added.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1));
    for (const svc of added) {
      const given = this.addresses.add(svc.id, svc.key);
      if (this.config.render.virtualAddresses.enabled && !given.address) this.observer.noVirtualAddress(svc.id);
    }
  }

  private valid(objects: IstioObject[], cluster: string): IstioObject[] {
    return objects.filter((o) => {
      const problems = validateObject(o);
      if (problems.length > 0) this.observer.invalid(cluster, o, problems);
      return problems.length === 0;
    });
  }
}

/**
 * Puts the rule documents written inline in the config into the store. They are part of the
 * config, so a bad one is a config error: the first problem comes back, with its path.
 */
export function setInlineRules(store: RuleStore, documents: readonly unknown[], nowMs: number): string | undefined {
  for (const [i, doc] of documents.entries()) {
    const problem = store.set(INLINE_RULES, `rules/documents/${i}`, yaml.dump(doc), nowMs);
    if (problem) return `config: rules/documents/${i}: ${problem}`;
  }
  return undefined;
}

/** What makes two cluster views render differently; views with the same key get the same objects. */
function renderKey(view: ClusterConfig, rules: RuleSet): string {
  // Rules that name clusters (split weights, pass-through targets) make every view its own.
  const perCluster = rules.rules.some((r) => (r.kind === 'policy' && r.split && Object.keys(r.split.clusters).length > 0) || (r.kind === 'passthrough' && r.clusters.length > 0));
  return canonicalJson({ filter: view.filter ?? null, overrides: view.overrides ?? null, revision: view.revision ?? null, shard: view.shard ?? null, cluster: perCluster ? view.name : null });
}
