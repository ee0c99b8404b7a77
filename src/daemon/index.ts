import { log } from '../common/log';
import { Metrics } from '../common/metrics';
import type { Config } from '../config/types';
import { AdminServer, type AdminView, type Readiness } from '../admin/server';
import { Catalog } from '../model/catalog';
import { createRuleSource, createSource, sharedConnections } from '../registry';
import type { RuleSource } from '../registry/config-center';
import type { RegistrySource, SourceState } from '../registry/types';
import type { RuleSet } from '../rules/model';
import { RuleStore } from '../rules/store';
import type { ClusterSnapshot } from '../xds/snapshot';
import { XdsServer } from '../xds/server';
import { INLINE_RULES, Pipeline, setInlineRules, type EffectiveRules } from './pipeline';
import { readiness } from './readiness';
import { FlushScheduler } from './scheduler';
import {
  builderTelemetry,
  catalogTelemetry,
  invalidObjectTelemetry,
  metadataFetchTelemetry,
  noVirtualAddressTelemetry,
  registryTelemetry,
  ruleStoreTelemetry,
  sourceStateTelemetry,
  xdsTelemetry,
} from './telemetry';
import { MetadataFetcher } from '../registry/metadata-service';

/**
 * The imperative shell, wiring only: sources feed the catalog and the rule store; the scheduler
 * runs the pipeline (commit → render per view → snapshot) when input settles; once every source
 * has been read, each run's snapshots go to the xDS server. Telemetry observes every stage.
 */
export class Daemon {
  readonly metrics: Metrics;
  readonly catalog: Catalog;
  readonly sources: RegistrySource[];
  readonly rules: RuleStore;
  readonly ruleSources: RuleSource[];
  readonly xds: XdsServer;
  readonly pipeline: Pipeline;
  /** Whether each rule source has been read in full once (registries: the catalog knows). */
  private readonly rulesSyncedOnce = new Map<string, boolean>();
  private readonly scheduler: FlushScheduler;
  private admin?: AdminServer;
  private published = false;
  adminPort?: number;

  constructor(
    private readonly config: Config,
    opts: { metrics?: Metrics } = {},
  ) {
    const m = (this.metrics = opts.metrics ?? new Metrics());
    this.scheduler = new FlushScheduler(config.xds.debounce, (started) => this.flush(started));
    this.rules = new RuleStore(
      [INLINE_RULES, ...config.rules.sources.map((s) => s.name)],
      ruleStoreTelemetry(
        m,
        () => {
          this.pipeline.rulesChanged();
          this.scheduler.schedule();
        },
        () => this.updateRuleDocumentGauge(),
      ),
    );
    // One ZooKeeper session per ensemble, whether it serves as registry, config center or both.
    const shared = sharedConnections();
    this.ruleSources = config.rules.sources.map((s) => createRuleSource(s, config.rules, shared));
    for (const s of this.ruleSources) this.rulesSyncedOnce.set(s.name, false);
    this.catalog = new Catalog(
      config.mapping,
      config.protection,
      config.sources.map((s) => s.name),
      catalogTelemetry(m),
      config.render.emptyServiceGraceMs,
    );
    this.catalog.setListeners({
      dirty: () => this.scheduler.schedule(),
      health: (source, state) => sourceStateTelemetry(m, source, state, true),
    });
    // One fetcher for every registry: one MetadataService call per application and revision.
    const metadata = config.metadataService.enabled ? new MetadataFetcher(config.metadataService, metadataFetchTelemetry(m)) : undefined;
    this.sources = config.sources.map((s) => createSource(s, { ...registryTelemetry(m), metadata }, shared));
    this.pipeline = new Pipeline(config, this.catalog, this.rules, {
      builder: (cluster) => builderTelemetry(m, cluster),
      invalid: (cluster, o, problems) => invalidObjectTelemetry(m, cluster, o, problems),
      noVirtualAddress: (id) => noVirtualAddressTelemetry(m, id),
    });
    // Inline documents are part of the config: a bad one stops the start, like any config error.
    const problem = setInlineRules(this.rules, config.rules.documents, Date.now());
    if (problem) throw new Error(problem);
    this.xds = new XdsServer(config.clusters, config.xds, xdsTelemetry(m));
  }

  async start(): Promise<void> {
    await this.xds.start();
    const tokenEnv = this.config.admin.tokenEnv;
    const token = tokenEnv ? process.env[tokenEnv] : undefined;
    if (tokenEnv && !token) throw new Error(`config: admin/tokenEnv: environment variable ${tokenEnv} is empty or unset`);
    this.admin = new AdminServer(this.adminView(), token);
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
        health: (source, state: SourceState) => {
          if (state === 'synced') this.rulesSyncedOnce.set(source, true);
          sourceStateTelemetry(this.metrics, source, state);
          this.scheduler.schedule();
        },
      });
    }
  }

  /** Sources only: what `render` started. */
  async stopSources(): Promise<void> {
    await Promise.all([...this.sources, ...this.ruleSources].map((s) => s.stop()));
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    await this.xds.stop();
    await this.stopSources();
    await this.admin?.stop();
  }

  /** Every registry and rule source has been read once. */
  sourcesSynced(): boolean {
    return [...this.catalog.sourceHealth().values()].every((h) => h.syncedOnce) && [...this.rulesSyncedOnce.values()].every(Boolean);
  }

  snapshots(): ClusterSnapshot[] {
    return this.pipeline.snapshots();
  }

  /** Run the pipeline now, without waiting for the debounce window. */
  flushNow(): void {
    this.scheduler.runNow();
  }

  /** Run the pipeline; publish once every source has been read. Never throws: a failure keeps the last snapshot. */
  private flush(started: number): void {
    try {
      const run = this.pipeline.run(Date.now());
      log.debug('flush', { changedServices: run.changedServices, wakeAtMs: run.wakeAtMs, rulesChanged: run.rulesChanged });
      this.updateGauges();
      if (run.rulesChanged) this.updateRuleGauges(run.ruleSet);
      // Rules count as much as endpoints: a blue/green split must not start out as 50/50.
      if (this.sourcesSynced()) {
        if (!this.published) log.info('all sources synced once; serving the mesh', { services: this.catalog.stats().services });
        this.published = true;
        for (const s of this.pipeline.snapshots()) this.xds.setSnapshot(s);
        this.metrics.pushLatency.observe((Date.now() - started) / 1000);
      }
      this.scheduler.wakeAt(run.wakeAtMs);
    } catch (err) {
      log.error('flush failed; the last snapshot stays in force', { error: (err as Error).stack });
    }
  }

  private updateGauges(): void {
    const st = this.catalog.stats();
    this.metrics.services.set(st.services);
    this.metrics.servicesInGrace.set(st.inGrace);
    for (const [s, n] of st.endpointsBySource) this.metrics.endpoints.set({ source: s }, n);
    const held = new Map(this.catalog.guards().map((g) => [g.source, g.heldRemovals]));
    for (const s of this.config.sources) this.metrics.heldRemovals.set({ source: s.name }, held.get(s.name) ?? 0);
    for (const snap of this.pipeline.snapshots()) for (const [kind, t] of snap.types) this.metrics.snapshotResources.set({ cluster: snap.cluster, kind }, t.resources.size);
    const pending = new Map<string, number>();
    for (const p of this.catalog.pendingDocuments()) pending.set(p.source, (pending.get(p.source) ?? 0) + p.entries);
    for (const s of this.config.sources) this.metrics.pendingInstances.set({ source: s.name }, pending.get(s.name) ?? 0);
  }

  private updateRuleDocumentGauge(): void {
    const status = this.rules.status();
    for (const state of ['ok', 'rejected'] as const) this.metrics.ruleDocuments.set({ state }, status.filter((d) => d.state === state).length);
  }

  private updateRuleGauges(set: RuleSet): void {
    this.updateRuleDocumentGauge();
    let notes = set.unsupported.length;
    for (const r of this.pipeline.effectiveRules(this.config.clusters[0]?.name)) notes += r.notes.length;
    this.metrics.ruleNotes.set(notes);
  }

  /** The rules in force per service in one view, with what each did and what could not be done. */
  effectiveRules(cluster?: string): EffectiveRules[] {
    return this.pipeline.effectiveRules(cluster);
  }

  readiness(): Readiness {
    return readiness({
      xdsListening: this.xds.listening(),
      published: this.published,
      registries: [...this.catalog.sourceHealth()].map(([name, h]) => ({ name, ...h })),
      ruleSources: this.ruleSources.map((s) => ({ ...s.status(), syncedOnce: this.rulesSyncedOnce.get(s.name)! })),
      ruleDocuments: this.rules.status(),
      guards: this.catalog.guards(),
      pendingMetadata: this.catalog.pendingDocuments(),
      pendingDegradedMs: this.config.metadataService.pendingDegradedMs,
      nowMs: Date.now(),
    });
  }

  private adminView(): AdminView {
    return {
      readiness: () => this.readiness(),
      snapshots: () => this.snapshots(),
      connections: () => this.xds.connections(),
      sources: () => this.sources.map((s) => s.status()),
      guards: () => this.catalog.guards(),
      pendingMetadata: () => this.catalog.pendingDocuments(),
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
