import zookeeper from 'node-zookeeper-client';
import type { ZookeeperSourceConfig } from '../config/types';
import { log } from '../common/log';
import type { RegistrySource, SourceSink, SourceState, SourceStatus } from './types';

type Client = zookeeper.Client;
type Watcher = (event: zookeeper.Event) => void;

export interface ZookeeperSourceHooks {
  /** A re-list found a difference no watch had reported. */
  missedEvents?(source: string, count: number): void;
  resynced?(source: string, reason: string): void;
}

/**
 * Watches /{root}/{interface}/providers for interface-level Dubbo registrations.
 *
 * ZooKeeper watches fire once: every handler re-reads with the watch re-armed in the same call,
 * so nothing that happens in between is lost. Reads of one path are sequenced so an older answer
 * never overwrites a newer one. After every (re)connect, after a session expiry (with a new
 * session) and periodically, the whole tree is re-listed and only real differences are applied.
 */
export class ZookeeperSource implements RegistrySource {
  readonly name: string;
  private sink?: SourceSink;
  private client?: Client;
  private generation = 0;
  private stopped = false;
  private state: SourceState = 'connecting';
  private reason?: string;
  private lastSyncMs?: number;
  private everConnected = false;
  /** Entries per interface as last given to the sink. */
  private readonly known = new Map<string, readonly string[]>();
  private readonly watchers = new Map<string, Watcher>();
  private readSeq = 0;
  private readonly appliedSeq = new Map<string, number>();
  private resyncTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private resyncing?: Promise<void>;

  constructor(
    private readonly cfg: ZookeeperSourceConfig,
    private readonly hooks: ZookeeperSourceHooks = {},
  ) {
    this.name = cfg.name;
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
        const reason = this.everConnected ? 'reconnected' : 'connected';
        this.everConnected = true;
        log.info('zookeeper connected', { source: this.name, sessionId: client.getSessionId().toString('hex') });
        void this.resync(reason);
      } else if (s === zookeeper.State.DISCONNECTED) {
        this.setState(this.lastSyncMs ? 'stale' : 'connecting', 'disconnected from ZooKeeper; keeping the last known providers');
        log.warn('zookeeper disconnected', { source: this.name });
      } else if (s === zookeeper.State.EXPIRED) {
        this.setState(this.lastSyncMs ? 'stale' : 'connecting', 'ZooKeeper session expired; reconnecting with a new session');
        log.warn('zookeeper session expired; starting a new session and a full resync', { source: this.name });
        this.generation++;
        client.close();
        if (!this.stopped) this.connect();
      } else if (s === zookeeper.State.AUTH_FAILED) {
        this.setState('failed', 'ZooKeeper authentication failed: check the digest credentials');
        log.error('zookeeper authentication failed', { source: this.name });
      }
    });
    client.connect();
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
      const ifaces = await this.listRoot(client, gen);
      if (gen !== this.generation) return;
      const before = new Map(this.known);
      let missed = 0;
      await Promise.all(ifaces.map(async (iface) => {
        const prev = before.get(iface);
        await this.readProviders(client, gen, iface);
        const now = this.known.get(iface);
        if (!sameList(prev, now)) missed++;
      }));
      if (gen !== this.generation) return;
      const present = new Set(ifaces);
      for (const iface of [...this.known.keys()]) {
        if (!present.has(iface)) {
          missed++;
          this.forget(iface);
        }
      }
      if (reason !== 'connected' && missed > 0) {
        this.hooks.missedEvents?.(this.name, missed);
        log.warn('resync found differences no watch reported', { source: this.name, reason, differences: missed });
      }
      this.lastSyncMs = Date.now();
      this.setState('synced');
      this.hooks.resynced?.(this.name, reason);
      log.info('zookeeper resync complete', { source: this.name, reason, interfaces: ifaces.length, ms: Date.now() - started });
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

  /** Children of the root, with the watch re-armed; a missing root means no services. */
  private async listRoot(client: Client, gen: number): Promise<string[]> {
    const watcher = this.watcher(gen, this.root, () => void this.onRootChanged(client, gen));
    const children = await getChildren(client, this.root, watcher);
    if (children === undefined) {
      await exists(client, this.root, watcher);
      return [];
    }
    return children;
  }

  private async onRootChanged(client: Client, gen: number): Promise<void> {
    try {
      const ifaces = await this.listRoot(client, gen);
      if (gen !== this.generation) return;
      const present = new Set(ifaces);
      for (const iface of ifaces) if (!this.watchers.has(this.providersPath(iface))) await this.readProviders(client, gen, iface);
      for (const iface of [...this.known.keys()]) if (!present.has(iface)) this.forget(iface);
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
      w = () => {
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

  private setState(state: SourceState, reason?: string): void {
    this.state = state;
    this.reason = reason;
    this.sink?.health(this.name, state, reason);
  }

  status(): SourceStatus {
    let entries = 0;
    for (const e of this.known.values()) entries += e.length;
    return {
      name: this.name,
      type: 'zookeeper',
      state: this.state,
      reason: this.reason,
      lastSyncMs: this.lastSyncMs,
      services: this.known.size,
      entries,
      details: {
        connect: this.cfg.zookeeper.connect,
        root: this.root,
        sessionId: this.client?.getSessionId().toString('hex'),
        watchedPaths: this.watchers.size,
      },
    };
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function getChildren(client: Client, path: string, watcher: Watcher): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    client.getChildren(path, watcher, (err, children) => {
      if (!err) resolve(children);
      else if ((err as zookeeper.Exception).getCode?.() === zookeeper.Exception.NO_NODE) resolve(undefined);
      else reject(err);
    });
  });
}

function exists(client: Client, path: string, watcher: Watcher): Promise<boolean> {
  return new Promise((resolve, reject) => {
    client.exists(path, watcher, (err, stat) => (err ? reject(err) : resolve(!!stat)));
  });
}
