import zookeeper from 'node-zookeeper-client';
import type { ZookeeperSourceConfig } from '../config/types';
import { log } from '../common/log';
import { counts, sameList, SourceBase } from './base';
import type { RegistrySource, SourceSink, SourceStatus } from './types';
import type { MetadataFetcher } from './metadata-service';
import { ZookeeperApplications } from './zookeeper-apps';
import { exists, getChildren, watchLiveness, type Client, type Watcher } from './zk-ops';

/** Children of the registry root that Dubbo uses for other things than interfaces. */
const NOT_INTERFACES = new Set(['config', 'mapping', 'metadata']);

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
export class ZookeeperSource extends SourceBase implements RegistrySource {
  private client?: Client;
  private generation = 0;
  private stopped = false;
  private expired = false;
  private disconnectTimer?: NodeJS.Timeout;
  private everConnected = false;
  /** Entries per interface as last given to the sink. */
  private readonly known = new Map<string, readonly string[]>();
  private readonly watchers = new Map<string, Watcher>();
  private readSeq = 0;
  private readonly appliedSeq = new Map<string, number>();
  private resyncTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private resyncing?: Promise<void>;
  private stopLiveness?: () => void;
  private readonly apps?: ZookeeperApplications;

  constructor(
    private readonly cfg: ZookeeperSourceConfig,
    private readonly hooks: ZookeeperSourceHooks = {},
  ) {
    super(cfg.name);
    const a = cfg.zookeeper.applications;
    if (a.enabled) {
      const session = {
        name: cfg.name,
        sink: () => this.sink,
        watcher: (gen: number, path: string, onFire: () => void) => this.watcher(gen, path, onFire),
        live: (gen: number) => gen === this.generation && !this.stopped,
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
    this.stopped = false;
    this.setState('connecting');
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.resyncTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.disconnectTimer);
    this.stopLiveness?.();
    this.generation++;
    const c = this.client;
    this.client = undefined;
    if (c) await new Promise<void>((resolve) => {
      c.once('disconnected', () => resolve());
      c.close();
      setTimeout(resolve, 1000).unref();
    });
  }

  private connect(): void {
    const gen = ++this.generation;
    this.watchers.clear();
    const z = this.cfg.zookeeper;
    const client = zookeeper.createClient(z.connect, { sessionTimeout: z.sessionTimeoutMs, spinDelay: 1000, retries: 0 });
    this.client = client;
    if (z.auth) {
      const creds = z.auth.credentials ?? process.env[z.auth.credentialsEnv ?? ''] ?? '';
      client.addAuthInfo('digest', Buffer.from(creds));
    }
    client.on('state', (s: zookeeper.State) => {
      if (gen !== this.generation || this.stopped) return;
      if (s === zookeeper.State.SYNC_CONNECTED) {
        clearTimeout(this.disconnectTimer);
        const reason = this.expired ? 'session-expired' : this.everConnected ? 'reconnected' : 'connected';
        this.everConnected = true;
        this.expired = false;
        log.info('zookeeper connected', { source: this.name, sessionId: client.getSessionId().toString('hex') });
        this.watchSilence(client, gen);
        void this.resync(reason);
      } else if (s === zookeeper.State.DISCONNECTED) {
        this.setState(this.lastSyncMs ? 'stale' : 'connecting', 'disconnected from ZooKeeper; keeping the last known providers');
        log.warn('zookeeper disconnected', { source: this.name });
        // As Curator does: once disconnected for a whole session timeout, the server has expired
        // the session whether or not we hear it. A server restarted with an empty data dir also
        // refuses this client forever (it has seen a newer zxid), so only a new client gets in.
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = setTimeout(() => {
          if (gen === this.generation && !this.stopped) this.renewSession(client, 'disconnected longer than the session timeout');
        }, z.sessionTimeoutMs);
        this.disconnectTimer.unref();
      } else if (s === zookeeper.State.EXPIRED) {
        this.renewSession(client, 'session expired');
      } else if (s === zookeeper.State.AUTH_FAILED) {
        this.setState('failed', 'ZooKeeper authentication failed: check the digest credentials');
        log.error('zookeeper authentication failed', { source: this.name });
      }
    });
    client.connect();
  }

  /** Stale while the server answers nothing (watchLiveness); re-listed when it answers again. */
  private watchSilence(client: zookeeper.Client, gen: number): void {
    this.stopLiveness?.();
    let hung = false;
    this.stopLiveness = watchLiveness(
      client,
      this.cfg.zookeeper.sessionTimeoutMs,
      (silentMs) => {
        if (gen !== this.generation || this.stopped || this.state !== 'synced') return;
        hung = true;
        this.setState('stale', `ZooKeeper answers nothing (no reply for ${silentMs} ms); keeping the last known providers`);
        log.warn('zookeeper answers nothing; serving the last known state', { source: this.name, silentMs });
      },
      () => {
        if (gen !== this.generation || this.stopped || !hung) return;
        hung = false;
        log.info('zookeeper answers again; re-listing', { source: this.name });
        void this.resync('answering-again');
      },
    );
  }

  private renewSession(client: zookeeper.Client, why: string): void {
    this.stopLiveness?.();
    clearTimeout(this.disconnectTimer);
    this.setState(this.lastSyncMs ? 'stale' : 'connecting', `ZooKeeper ${why}; reconnecting with a new session`);
    log.warn('zookeeper session lost; starting a new session and a full resync', { source: this.name, why });
    this.expired = true;
    this.generation++;
    client.close();
    if (!this.stopped) this.connect();
  }

  /** Full re-list. Concurrent calls share one run. */
  resync(reason: string): Promise<void> {
    if (!this.resyncing) {
      this.resyncing = this.doResync(reason).finally(() => {
        this.resyncing = undefined;
      });
    }
    return this.resyncing;
  }

  private async doResync(reason: string): Promise<void> {
    const client = this.client;
    const gen = this.generation;
    if (!client || !this.sink) return;
    clearTimeout(this.resyncTimer);
    try {
      const started = Date.now();
      const before = new Map(this.known);
      const appsResync = this.apps?.resync(client, gen) ?? Promise.resolve(0);
      // Awaited below; if the interface listing fails first, its failure must not go unhandled.
      appsResync.catch(() => undefined);
      const { ifaces, removed } = await this.listRoot(client, gen);
      if (gen !== this.generation) return;
      let missed = removed;
      await Promise.all(ifaces.map(async (iface) => {
        const prev = before.get(iface);
        await this.readProviders(client, gen, iface);
        const now = this.known.get(iface);
        if (!sameList(prev, now)) missed++;
      }));
      missed += await appsResync;
      if (gen !== this.generation) return;
      if (reason !== 'connected' && missed > 0) {
        this.hooks.missedEvents?.(this.name, missed);
        log.warn('resync found differences no watch reported', { source: this.name, reason, differences: missed });
      }
      this.lastSyncMs = Date.now();
      this.setState('synced');
      this.hooks.resynced?.(this.name, reason);
      log.info('zookeeper resync complete', { source: this.name, reason, interfaces: ifaces.length, ...this.apps?.counts(), ms: Date.now() - started });
      this.scheduleResync();
    } catch (err) {
      if (gen !== this.generation || this.stopped) return;
      log.warn('zookeeper resync failed; will retry', { source: this.name, reason, error: (err as Error).message });
      this.setState(this.lastSyncMs ? 'stale' : 'connecting', `resync failed: ${(err as Error).message}`);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.resync('retry'), 2000);
      this.retryTimer.unref();
    }
  }

  private scheduleResync(): void {
    const every = this.cfg.zookeeper.resyncIntervalMs;
    if (every <= 0 || this.stopped) return;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => void this.resync('periodic'), every * (1 + Math.random() * 0.2));
    this.resyncTimer.unref();
  }

  /**
   * Children of the root, with the watch re-armed; a missing root means no services. Interfaces
   * gone from the listing are forgotten here, at once: ZooKeeper answers one session in order, so
   * this listing is the newest, and a caller that applied it after awaiting more reads could undo
   * interfaces that a newer listing has added meanwhile.
   */
  private async listRoot(client: Client, gen: number): Promise<{ ifaces: string[]; removed: number }> {
    const watcher = this.watcher(gen, this.root, () => void this.onRootChanged(client, gen));
    let children = await getChildren(client, this.root, watcher);
    // Created between the two reads: only a child watch tells us about interfaces.
    if (children === undefined && (await exists(client, this.root, watcher))) children = await getChildren(client, this.root, watcher);
    const ifaces = (children ?? []).filter((c) => !NOT_INTERFACES.has(c));
    let removed = 0;
    if (gen === this.generation) {
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
      if (gen !== this.generation) return;
      await Promise.all(ifaces.filter((iface) => !this.watchers.has(this.providersPath(iface))).map((iface) => this.readProviders(client, gen, iface)));
    } catch (err) {
      this.onWatchError(err, gen);
    }
  }

  private providersPath(iface: string): string {
    return `${this.root}/${iface}/providers`;
  }

  private async readProviders(client: Client, gen: number, iface: string): Promise<void> {
    const path = this.providersPath(iface);
    const watcher = this.watcher(gen, path, () => {
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
    if (gen !== this.generation || (this.appliedSeq.get(iface) ?? 0) > seq) return;
    this.appliedSeq.set(iface, seq);
    if (children === undefined || children.length === 0) {
      if (this.known.has(iface)) this.forget(iface);
      return;
    }
    const sorted = [...children].sort();
    if (sameList(this.known.get(iface), sorted)) return;
    this.known.set(iface, sorted);
    this.sink?.setService(this.name, iface, sorted);
  }

  private forget(iface: string): void {
    this.known.delete(iface);
    this.sink?.removeService(this.name, iface);
  }

  /** One stable watcher function per path and session, so re-arming never stacks duplicates. */
  private watcher(gen: number, path: string, onFire: () => void): Watcher {
    let w = this.watchers.get(path);
    if (!w) {
      w = (event) => {
        log.debug('zookeeper watch fired', { source: this.name, path, event: String(event) });
        if (gen === this.generation && !this.stopped) onFire();
      };
      this.watchers.set(path, w);
    }
    return w;
  }

  private onWatchError(err: unknown, gen: number): void {
    if (gen !== this.generation || this.stopped) return;
    // A read that failed (usually connection loss) is covered by the resync after reconnecting.
    log.warn('zookeeper watch read failed; the next resync covers it', { source: this.name, error: (err as Error).message });
  }

  status(): SourceStatus {
    const known = this.apps ? new Map([...this.known, ...this.apps.known()]) : this.known;
    return this.statusOf('zookeeper', counts(known), {
      connect: this.cfg.zookeeper.connect,
      root: this.root,
      applicationLevel: this.apps?.counts() ?? 'off',
      sessionId: this.client?.getSessionId().toString('hex'),
      watchedPaths: this.watchers.size,
    });
  }
}
