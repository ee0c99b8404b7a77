import { log } from './common/log';
import { Metrics } from './common/metrics';
import type { ClusterConfig, Config } from './config/types';
import { canonicalJson } from './common/hash';
import yaml from 'js-yaml';
import { hostOf, renderPassThrough, renderService, type RenderSettings } from './istio/render';
import type { IstioObject } from './istio/types';
import { validateObject } from './istio/validate';
import { Catalog } from './model/catalog';
import { createSource } from './registry';
import type { RegistrySource } from './registry/types';
import { ResourceCache, SnapshotBuilder, type ClusterSnapshot } from './xds/snapshot';
import { XdsServer } from './xds/server';
import { AdminServer, type AdminView, type Readiness } from './admin/server';
import type { RuleSet } from './rules/model';
import { applyRules } from './rules/policy';
import { createRuleSource, type RuleSource } from './rules/sources';
import { RuleStore } from './rules/store';

/** The id under which pass-through Istio objects travel through the snapshot builders. */
const PASS_THROUGH = '~rules/pass-through';
const INLINE_RULES = 'config';

/**
 * The imperative shell: sources feed the catalog; a debounced flush commits it, renders the
 * services that changed for every cluster view, and hands new snapshots to the xDS server.
 */
export class Daemon {
  readonly metrics: Metrics;
  readonly catalog: Catalog;
  readonly sources: RegistrySource[];
  readonly rules: RuleStore;
  readonly ruleSources: RuleSource[];
  private readonly ruleHealth = new Map<string, { state: string; reason?: string; syncedOnce: boolean }>();
  private rulesDirty = true;
  readonly xds: XdsServer;
  private readonly builders: SnapshotBuilder[];
  private readonly settings: RenderSettings;
  private admin?: AdminServer;
  private quietTimer?: NodeJS.Timeout;
  private wakeTimer?: NodeJS.Timeout;
  private batchStartedMs?: number;
  private published = false;
  private stopped = false;
  adminPort?: number;

  constructor(
    private readonly config: Config,
    opts: { metrics?: Metrics } = {},
  ) {
    this.metrics = opts.metrics ?? new Metrics();
    const m = this.metrics;
    this.settings = { mapping: config.mapping, render: config.render };
    this.rules = new RuleStore([INLINE_RULES, ...config.rules.sources.map((s) => s.name)], {
      rejected: (origin, error, kept) => {
        m.rejectedInputs.inc({ source: origin.source, kind: 'rule', reason: reasonClass(error) });
        log.warn(`rule document rejected; ${kept ? 'its last good version stays in force' : 'it has no version in force'}`, { source: origin.source, document: origin.document, error });
      },
      changed: () => {
        this.rulesDirty = true;
        this.schedule();
      },
    });
    // Inline documents are part of the config: a bad one stops the start, like any config error.
    config.rules.documents.forEach((doc, i) => {
      const problem = this.rules.set(INLINE_RULES, `rules/documents/${i}`, yaml.dump(doc), Date.now());
      if (problem) throw new Error(`config: rules/documents/${i}: ${problem}`);
    });
    this.ruleSources = config.rules.sources.map((s) => createRuleSource(s, config.rules));
    for (const s of this.ruleSources) this.ruleHealth.set(s.name, { state: 'connecting', syncedOnce: false });
    this.catalog = new Catalog(
      config.mapping,
      config.protection,
      config.sources.map((s) => s.name),
      {
        rejected: (source, entry, reason) => {
          m.rejectedInputs.inc({ source, kind: 'provider', reason: reasonClass(reason) });
          log.warn('provider entry rejected', { source, entry, reason });
        },
        warning: (source, entry, message) => {
          m.inputWarnings.inc({ source });
          log.warn('provider entry accepted with a warning', { source, entry, warning: message });
        },
        event: (source, kind) => m.sourceEvents.inc({ source, kind }),
      },
      config.render.emptyServiceGraceMs,
    );
    this.catalog.setListeners({
      dirty: () => this.schedule(),
      health: (source, state) => {
        for (const st of ['connecting', 'synced', 'stale', 'failed'] as const) m.sourceState.set({ source, state: st }, st === state ? 1 : 0);
        if (state === 'synced') m.sourceLastSync.set({ source }, Date.now() / 1000);
      },
    });
    this.sources = config.sources.map((s) =>
      createSource(s, {
        missedEvents: (source, n) => m.missedEvents.inc({ source }, n),
        resynced: (source, reason) => m.sourceResyncs.inc({ source, reason }),
      }),
    );
    const shared = new ResourceCache();
    this.builders = config.clusters.map(
      (c) =>
        new SnapshotBuilder(c.name, {
          encoded: (n) => m.encodes.inc(n),
          unencodable: (kind, name, error) => {
            m.rejectedInputs.inc({ source: 'render', kind, reason: 'unencodable' });
            log.error('object could not be encoded; its previous version stays', { cluster: c.name, kind, name, error: error.message });
          },
          conflict: (kind, name, owners) => {
            m.conflicts.inc({ kind: 'name' });
            log.warn('two services render the same object; the first by service id wins', { cluster: c.name, kind, name, services: owners });
          },
        }, shared),
    );
    this.xds = new XdsServer(config.clusters, config.xds, m);
  }

  async start(): Promise<void> {
    await this.xds.start();
    this.admin = new AdminServer(this.adminView());
    this.adminPort = await this.admin.start(this.config.admin.address, this.config.admin.port);
    await this.startSources();
  }

  /** Registries and rule sources only (also what `render` runs, without xDS or admin). */
  async startSources(): Promise<void> {
    for (const s of this.sources) await s.start(this.catalog);
    for (const s of this.ruleSources) {
      s.start({
        set: (source, doc, content) => this.rules.set(source, doc, content, Date.now()),
        replaceAll: (source, docs) => this.rules.replaceAll(source, docs, Date.now()),
        health: (source, state, reason) => {
          const h = this.ruleHealth.get(source)!;
          this.ruleHealth.set(source, { state, reason, syncedOnce: h.syncedOnce || state === 'synced' });
          for (const st of ['connecting', 'synced', 'stale', 'failed'] as const) this.metrics.sourceState.set({ source, state: st }, st === state ? 1 : 0);
          this.schedule();
        },
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    clearTimeout(this.wakeTimer);
    await this.xds.stop();
    await Promise.all([...this.sources, ...this.ruleSources].map((s) => s.stop()));
    await this.admin?.stop();
  }

  private ruleSettings(set: RuleSet): NonNullable<RenderSettings['rules']> {
    return { set, tagLabel: this.config.rules.tagLabel, tagHeader: this.config.rules.tagHeader };
  }

  /** Every registry and rule source has been read once. */
  sourcesSynced(): boolean {
    return [...this.catalog.sourceHealth().values(), ...this.ruleHealth.values()].every((h) => h.syncedOnce);
  }

  /** The objects of one view for the current state, with the rules in force (what `render` prints). */
  renderAll(view: ClusterConfig): IstioObject[] {
    const set = this.rules.ruleSet();
    const settings: RenderSettings = { ...this.settings, rules: this.ruleSettings(set) };
    const out = [...this.catalog.serviceIds()].sort().flatMap((id) => renderService(this.catalog.service(id)!, settings, view));
    return [...out, ...renderPassThrough(set, this.config.render, view)];
  }

  snapshots(): ClusterSnapshot[] {
    return this.builders.map((b) => b.latest());
  }

  /** Debounce: push once quiet for quietMs, but never later than maxDelayMs after a batch began. */
  private schedule(): void {
    if (this.stopped) return;
    const { quietMs, maxDelayMs } = this.config.xds.debounce;
    const now = Date.now();
    this.batchStartedMs ??= now;
    const deadline = this.batchStartedMs + maxDelayMs;
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.flush(), Math.max(0, Math.min(now + quietMs, deadline) - now));
  }

  /** Commit, render what changed, publish. Never throws: a failure keeps the last snapshot. */
  flush(): void {
    const started = this.batchStartedMs ?? Date.now();
    this.batchStartedMs = undefined;
    try {
      const now = Date.now();
      const { changed, wakeAtMs } = this.catalog.commit(now);
      const rulesChanged = this.rulesDirty;
      this.rulesDirty = false;
      const ruleSet = this.rules.ruleSet();
      this.settings.rules = this.ruleSettings(ruleSet);
      // A rule change may touch any service: render them all again (unchanged objects keep their bytes).
      if (rulesChanged) for (const id of this.catalog.serviceIds()) changed.add(id);
      log.debug('flush', { changedServices: changed.size, wakeAtMs, rulesChanged });
      // Views that render alike (same filter, overrides and revision) share one render.
      const rendered = new Map<string, Map<string, IstioObject[]>>();
      for (const b of this.builders) {
        const view = this.config.clusters.find((c) => c.name === b.cluster)!;
        const key = renderKey(view, ruleSet);
        let changes = rendered.get(key);
        if (!changes) {
          changes = new Map();
          for (const id of changed) {
            const svc = this.catalog.service(id);
            changes.set(id, svc ? this.validated(renderService(svc, this.settings, view), b.cluster) : []);
          }
          if (rulesChanged) changes.set(PASS_THROUGH, this.validated(renderPassThrough(ruleSet, this.config.render, view), b.cluster));
          rendered.set(key, changes);
        }
        b.update(changes);
      }
      this.updateGauges();
      if (rulesChanged) this.updateRuleGauges(ruleSet);
      // Rules count as much as endpoints: a blue/green split must not start out as 50/50.
      const allSynced = this.sourcesSynced();
      if (allSynced) {
        if (!this.published) log.info('all sources synced once; serving the mesh', { services: this.catalog.stats().services });
        this.published = true;
        for (const b of this.builders) this.xds.setSnapshot(b.latest());
        this.metrics.pushLatency.observe((Date.now() - started) / 1000);
      }
      clearTimeout(this.wakeTimer);
      if (wakeAtMs !== undefined) this.wakeTimer = setTimeout(() => this.flush(), Math.max(0, wakeAtMs - Date.now()) + 5);
    } catch (err) {
      log.error('flush failed; the last snapshot stays in force', { error: (err as Error).stack });
    }
  }

  private validated(objects: IstioObject[], cluster: string): IstioObject[] {
    return objects.filter((o) => {
      const problems = validateObject(o);
      if (problems.length === 0) return true;
      this.metrics.rejectedInputs.inc({ source: 'render', kind: o.kind, reason: reasonClass(problems[0]) });
      log.error('rendered object is invalid and was not sent', { cluster, kind: o.kind, name: o.name, problems });
      return false;
    });
  }

  private updateGauges(): void {
    const st = this.catalog.stats();
    this.metrics.services.set(st.services);
    this.metrics.servicesInGrace.set(st.inGrace);
    for (const [s, n] of st.endpointsBySource) this.metrics.endpoints.set({ source: s }, n);
    const held = new Map(this.catalog.guards().map((g) => [g.source, g.heldRemovals]));
    for (const s of this.config.sources) this.metrics.heldRemovals.set({ source: s.name }, held.get(s.name) ?? 0);
    for (const b of this.builders) for (const [kind, t] of b.latest().types) this.metrics.snapshotResources.set({ cluster: b.cluster, kind }, t.resources.size);
  }

  private updateRuleGauges(set: RuleSet): void {
    const status = this.rules.status();
    for (const state of ['ok', 'rejected'] as const) this.metrics.ruleDocuments.set({ state }, status.filter((d) => d.state === state).length);
    let notes = set.unsupported.length;
    for (const r of this.effectiveRules(this.config.clusters[0]?.name)) notes += r.notes.length;
    this.metrics.ruleNotes.set(notes);
  }

  /** The rules in force per service in one view, with what each did and what could not be done. */
  effectiveRules(cluster?: string): { service: string; host: string; cluster: string; applied: ReturnType<typeof applyRules>['applied']; notes: string[]; destinationRule?: unknown; virtualService?: unknown }[] {
    const view = this.config.clusters.find((c) => c.name === cluster) ?? this.config.clusters[0];
    const set = this.rules.ruleSet();
    const rules = { mapping: this.config.mapping, ...this.ruleSettings(set) };
    const out: ReturnType<Daemon['effectiveRules']> = [];
    if (set.rules.length === 0) return out;
    for (const id of [...this.catalog.serviceIds()].sort()) {
      const svc = this.catalog.service(id)!;
      const host = hostOf(svc, this.config.mapping);
      const ports = svc.protocols.map((p) => this.config.mapping.protocols[p]).filter(Boolean).map((m) => ({ number: m.number, protocol: m.protocol, name: m.portName }));
      const p = applyRules(svc, host, ports, set, view, rules);
      if (p.applied.length || p.notes.length || p.destinationRule || p.virtualService) out.push({ service: id, host, cluster: view.name, applied: p.applied, notes: p.notes, destinationRule: p.destinationRule, virtualService: p.virtualService });
    }
    return out;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    let ready = this.xds.listening();
    if (!ready) reasons.push('xds listeners are not up');
    for (const [name, h] of this.catalog.sourceHealth()) {
      if (!h.syncedOnce) {
        ready = false;
        reasons.push(`source ${name} has not synced yet (${h.state}${h.reason ? `: ${h.reason}` : ''}); istiod is not answered for our types until it has`);
      } else if (h.state !== 'synced') {
        reasons.push(`source ${name} is ${h.state}: ${h.reason ?? 'no reason given'}; its last known endpoints stay published`);
      }
    }
    for (const s of this.ruleSources) {
      const h = this.ruleHealth.get(s.name)!;
      const st = s.status();
      if (!h.syncedOnce) {
        ready = false;
        reasons.push(`rule source ${s.name} has not synced yet (${st.state}${st.reason ? `: ${st.reason}` : ''})`);
      } else if (st.state !== 'synced') reasons.push(`rule source ${s.name} is ${st.state}: ${st.reason ?? 'no reason given'}; its last known rules stay in force`);
    }
    const rejected = this.rules.status().filter((d) => d.state === 'rejected');
    for (const d of rejected) reasons.push(`rule ${d.source}:${d.document} is invalid (${d.error}); ${d.inForce ? 'its last good version stays in force' : 'nothing of it is in force'}`);
    if (ready && !this.published) {
      ready = false;
      reasons.push('every source has synced; the first snapshot is being built');
    }
    for (const g of this.catalog.guards()) {
      reasons.push(`source ${g.source}: ${g.heldRemovals} of ${g.publishedEndpoints} endpoints would be removed at once; held ${g.releaseAtMs ? `until ${new Date(g.releaseAtMs).toISOString()}` : 'until confirmed'} (POST /admin/confirm-removals?source=${g.source})`);
    }
    return { ready, status: !ready ? 'not-ready' : reasons.length ? 'degraded' : 'ok', reasons };
  }

  private adminView(): AdminView {
    return {
      readiness: () => this.readiness(),
      snapshots: () => this.snapshots(),
      connections: () => this.xds.connections(),
      sources: () => this.sources.map((s) => s.status()),
      guards: () => this.catalog.guards(),
      confirmRemovals: (source) => this.catalog.confirmRemovals(source),
      rules: (cluster) => ({
        sources: this.ruleSources.map((s) => s.status()),
        documents: this.rules.status(),
        unsupported: this.rules.ruleSet().unsupported,
        services: this.effectiveRules(cluster ?? undefined),
      }),
      metrics: this.metrics.registry,
    };
  }
}

/** What makes two cluster views render differently; views with the same key get the same objects. */
function renderKey(view: ClusterConfig, rules: RuleSet): string {
  // Rules that name clusters (split weights, pass-through targets) make every view its own.
  const perCluster = rules.rules.some((r) => (r.kind === 'policy' && r.split && Object.keys(r.split.clusters).length > 0) || (r.kind === 'passthrough' && r.clusters.length > 0));
  return canonicalJson({ filter: view.filter ?? null, overrides: view.overrides ?? null, revision: view.revision ?? null, shard: view.shard ?? null, cluster: perCluster ? view.name : null });
}

/** A bounded label value for a free-text reason: quoted values and numbers folded away. */
export function reasonClass(reason: string): string {
  return reason.replace(/"[^"]*"/g, '…').replace(/\d+/g, 'N').slice(0, 80);
}
