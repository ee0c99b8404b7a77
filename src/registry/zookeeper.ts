import type { ZookeeperSourceConfig } from '../config/types';
import { log } from '../common/log';
import { counts, sameList, SourceBase } from './base';
import type { RegistrySource, SourceSink, RegistryStatus } from './types';
import type { MetadataFetcher } from './metadata-service';
import { ZookeeperApplications } from './zookeeper-apps';
import { exists, getChildren, NOT_INTERFACES, type Client } from './zk-ops';
import { SessionReads, ZookeeperSessions, type ReadReason } from './zk-session';

export interface ZookeeperSourceHooks {
  /** Asks providers for the metadata of revisions without a metadata report (Dubbo's default). */
  metadata?: MetadataFetcher;
  /** A re-list found a difference no watch had reported. */
  missedEvents?(source: string, count: number): void;
  resynced?(source: string, reason: string): void;
}

/**
 * Watches /{root}/{interface}/providers for interface-level Dubbo registrations, and (unless
 * turned off) Dubbo 3's application-level instances, metadata and mapping (./zookeeper-apps.ts).
 *
 * ZooKeeper watches fire once: every handler re-reads with the watch re-armed in the same call,
 * so nothing that happens in between is lost. Reads of one path are sequenced so an older answer
 * never overwrites a newer one. After every (re)connect, after a session expiry (with a new
 * session) and periodically, the whole tree is re-listed and only real differences are applied.
 */
export class ZookeeperSource extends SourceBase<SourceSink> implements RegistrySource {
  /** Entries per interface as last given to the sink. */
  private readonly known = new Map<string, readonly string[]>();
  private readSeq = 0;
  private readonly appliedSeq = new Map<string, number>();
  private readonly reads: SessionReads;
  private readonly apps?: ZookeeperApplications;

  constructor(
    private readonly cfg: ZookeeperSourceConfig,
    private readonly hooks: ZookeeperSourceHooks = {},
    sessions: ZookeeperSessions = new ZookeeperSessions(),
  ) {
    super(cfg.name);
    this.reads = new SessionReads(sessions.of(cfg.zookeeper), this, cfg.zookeeper);
    const a = cfg.zookeeper.applications;
    if (a.enabled) {
      const session = {
        name: cfg.name,
        sink: () => this.sink,
        watcher: (gen: number, path: string, onFire: () => void) => this.reads.watcher(gen, path, onFire),
        live: (gen: number) => this.reads.live(gen),
        onWatchError: (err: unknown, gen: number) => this.onWatchError(err, gen),
      };
      this.apps = new ZookeeperApplications(session, { services: `/${a.root}`, metadata: `${this.root}/metadata`, mapping: `${this.root}/mapping` }, hooks.metadata);
    }
  }

  private get root(): string {
    return '/' + this.cfg.zookeeper.root;
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.setState('connecting');
    this.reads.start();
  }

  async stop(): Promise<void> {
    await this.reads.stop();
  }

  ready(reason: ReadReason): void {
    void this.resync(reason);
  }

  unavailable(state: 'stale' | 'failed', reason: string): void {
    this.degraded(reason, state === 'failed');
  }

  readFailed(err: Error, reason: string): void {
    log.warn('zookeeper resync failed; will retry', { source: this.name, reason, error: err.message });
    this.degraded(`resync failed: ${err.message}`);
  }

  /** Full re-list (see SessionReads for when it runs). */
  resync(reason: string): Promise<void> {
    return this.reads.read(reason);
  }

  async readAll(client: Client, gen: number, reason: string): Promise<void> {
    if (!this.sink) return;
    const started = Date.now();
    const before = new Map(this.known);
    const appsResync = this.apps?.resync(client, gen) ?? Promise.resolve(0);
    // Awaited below; if the interface listing fails first, its failure must not go unhandled.
    appsResync.catch(() => undefined);
    const { ifaces, removed } = await this.listRoot(client, gen);
    if (!this.reads.live(gen)) return;
    let missed = removed;
    await Promise.all(
      ifaces.map(async (iface) => {
        const prev = before.get(iface);
        await this.readProviders(client, gen, iface);
        const now = this.known.get(iface);
        if (!sameList(prev, now)) missed++;
      }),
    );
    missed += await appsResync;
    if (!this.reads.live(gen)) return;
    if (reason !== 'connected' && missed > 0) {
      this.hooks.missedEvents?.(this.name, missed);
      log.warn('resync found differences no watch reported', { source: this.name, reason, differences: missed });
    }
    this.synced();
    this.hooks.resynced?.(this.name, reason);
    log.info('zookeeper resync complete', { source: this.name, reason, interfaces: ifaces.length, ...this.apps?.counts(), ms: Date.now() - started });
  }

  /**
   * Children of the root, with the watch re-armed; a missing root means no services. Interfaces
   * gone from the listing are forgotten here, at once: ZooKeeper answers one session in order, so
   * this listing is the newest, and a caller that applied it after awaiting more reads could undo
   * interfaces that a newer listing has added meanwhile.
   */
  private async listRoot(client: Client, gen: number): Promise<{ ifaces: string[]; removed: number }> {
    const watcher = this.reads.watcher(gen, this.root, () => void this.onRootChanged(client, gen));
    let children = await getChildren(client, this.root, watcher);
    // Created between the two reads: only a child watch tells us about interfaces.
    if (children === undefined && (await exists(client, this.root, watcher))) children = await getChildren(client, this.root, watcher);
    const ifaces = (children ?? []).filter((c) => !NOT_INTERFACES.has(c));
    let removed = 0;
    if (this.reads.live(gen)) {
      const present = new Set(ifaces);
      for (const iface of [...this.known.keys()]) {
        if (present.has(iface)) continue;
        removed++;
        this.forget(iface);
      }
    }
    return { ifaces, removed };
  }

  private async onRootChanged(client: Client, gen: number): Promise<void> {
    try {
      const { ifaces } = await this.listRoot(client, gen);
      if (!this.reads.live(gen)) return;
      await Promise.all(ifaces.filter((iface) => !this.reads.watches(gen, this.providersPath(iface))).map((iface) => this.readProviders(client, gen, iface)));
    } catch (err) {
      this.onWatchError(err, gen);
    }
  }

  private providersPath(iface: string): string {
    return `${this.root}/${iface}/providers`;
  }

  private async readProviders(client: Client, gen: number, iface: string): Promise<void> {
    const path = this.providersPath(iface);
    const watcher = this.reads.watcher(gen, path, () => {
      this.readProviders(client, gen, iface).catch((err) => this.onWatchError(err, gen));
    });
    const seq = ++this.readSeq;
    let children = await getChildren(client, path, watcher);
    if (children === undefined) {
      // No providers node (a consumer-only interface, or it was deleted): wait for it to appear.
      const there = await exists(client, path, watcher);
      if (there) children = await getChildren(client, path, watcher);
    }
    log.debug('zookeeper providers read', { source: this.name, path, providers: children?.length ?? null });
    if (!this.reads.live(gen) || (this.appliedSeq.get(iface) ?? 0) > seq) return;
    this.appliedSeq.set(iface, seq);
    if (children === undefined || children.length === 0) {
      if (this.known.has(iface)) this.forget(iface);
      return;
    }
    const sorted = [...children].sort();
    if (sameList(this.known.get(iface), sorted)) return;
    this.known.set(iface, sorted);
    this.sink?.setService(this.name, iface, { kind: 'provider-url', entries: sorted });
  }

  private forget(iface: string): void {
    this.known.delete(iface);
    this.sink?.removeService(this.name, iface);
  }

  private onWatchError(err: unknown, gen: number): void {
    if (!this.reads.live(gen)) return;
    // A read that failed (usually connection loss) is covered by the resync after reconnecting.
    log.warn('zookeeper watch read failed; the next resync covers it', { source: this.name, error: (err as Error).message });
  }

  status(): RegistryStatus {
    const known = this.apps ? new Map([...this.known, ...this.apps.known()]) : this.known;
    return this.statusOf('zookeeper', counts(known), {
      connect: this.cfg.zookeeper.connect,
      root: this.root,
      applicationLevel: this.apps?.counts() ?? 'off',
      sessionId: this.reads.session.sessionId,
      watchedPaths: this.reads.watchedPaths,
    });
  }
}
