import zookeeper from 'node-zookeeper-client';
import { log } from '../common/log';
import { zookeeperSessionKey } from '../config/load';
import type { ZookeeperSourceConfig } from '../config/types';
import type { SourceState } from './types';
import { watchLiveness, type Client, type Watcher } from './zk-ops';

type ZookeeperConnection = ZookeeperSourceConfig['zookeeper'];

/** Why a session user is asked to read everything again. */
export type ReadReason = 'connected' | 'reconnected' | 'session-expired' | 'answering-again' | 'retry' | 'periodic';

/** What a source on a shared session hears from it. */
export interface SessionUser {
  readonly name: string;
  /** A session is usable (new, back, or answering after silence): read everything again. */
  ready(reason: ReadReason): void;
  /** Reads cannot be served now; the user keeps its last known state. */
  unavailable(state: Extract<SourceState, 'stale' | 'failed'>, reason: string): void;
}

/**
 * One ZooKeeper session, shared by every source that names the same ensemble and credentials (a
 * ZooKeeper used as registry and as config center holds one session, not two). It connects on
 * the first user and closes after the last; it starts a new session when the server expires the
 * old one, and also after a whole session timeout of disconnection (as Curator does: by then the
 * server has expired it whether or not we hear it, and a server restarted with an empty data dir
 * refuses this client forever because it has seen a newer zxid); it reports authentication
 * failures, and a server that keeps the connection but answers nothing (watchLiveness).
 */
export class ZookeeperSession {
  private client?: Client;
  private gen = 0;
  private connected = false;
  private everConnected = false;
  private expired = false;
  private silent = false;
  private disconnectTimer?: NodeJS.Timeout;
  private stopLiveness?: () => void;
  private readonly users = new Set<SessionUser>();

  constructor(
    private readonly z: ZookeeperConnection,
    private readonly onClosed: () => void = () => undefined,
  ) {}

  /** The generation of the live session: reads and watches of an older one are ignored. */
  get generation(): number {
    return this.gen;
  }

  /** The client of the live session, while there is one. */
  get current(): Client | undefined {
    return this.client;
  }

  get sessionId(): string | undefined {
    return this.connected ? this.client?.getSessionId().toString('hex') : undefined;
  }

  live(gen: number): boolean {
    return gen === this.gen && this.client !== undefined;
  }

  join(user: SessionUser): void {
    this.users.add(user);
    if (!this.client) this.connect();
    else if (this.connected && !this.silent) setImmediate(() => this.users.has(user) && user.ready('connected'));
  }

  async leave(user: SessionUser): Promise<void> {
    this.users.delete(user);
    if (this.users.size > 0) return;
    this.onClosed();
    this.gen++;
    clearTimeout(this.disconnectTimer);
    this.stopLiveness?.();
    const c = this.client;
    this.client = undefined;
    this.connected = false;
    if (c)
      await new Promise<void>((resolve) => {
        c.once('disconnected', () => resolve());
        c.close();
        setTimeout(resolve, 1000).unref();
      });
  }

  private names(): string {
    return [...this.users].map((u) => u.name).join(',');
  }

  private each(f: (u: SessionUser) => void): void {
    for (const u of [...this.users]) f(u);
  }

  private connect(): void {
    const gen = ++this.gen;
    const z = this.z;
    const client = zookeeper.createClient(z.connect, { sessionTimeout: z.sessionTimeoutMs, spinDelay: 1000, retries: 0 });
    this.client = client;
    this.connected = false;
    if (z.auth) client.addAuthInfo('digest', Buffer.from(credentials(z)));
    client.on('state', (s: zookeeper.State) => {
      if (gen !== this.gen) return;
      if (s === zookeeper.State.SYNC_CONNECTED) {
        clearTimeout(this.disconnectTimer);
        const reason: ReadReason = this.expired ? 'session-expired' : this.everConnected ? 'reconnected' : 'connected';
        this.connected = true;
        this.everConnected = true;
        this.expired = false;
        this.silent = false;
        log.info('zookeeper connected', { sources: this.names(), sessionId: this.sessionId });
        this.watchSilence(client, gen);
        this.each((u) => u.ready(reason));
      } else if (s === zookeeper.State.DISCONNECTED) {
        this.connected = false;
        log.warn('zookeeper disconnected', { sources: this.names() });
        this.each((u) => u.unavailable('stale', 'disconnected from ZooKeeper; keeping the last known state'));
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = setTimeout(() => {
          if (gen === this.gen) this.renew(client, 'disconnected longer than the session timeout');
        }, z.sessionTimeoutMs);
        this.disconnectTimer.unref();
      } else if (s === zookeeper.State.EXPIRED) {
        this.renew(client, 'session expired');
      } else if (s === zookeeper.State.AUTH_FAILED) {
        log.error('zookeeper authentication failed', { sources: this.names() });
        this.each((u) => u.unavailable('failed', 'ZooKeeper authentication failed: check the digest credentials'));
      }
    });
    client.connect();
  }

  /** Stale while the server answers nothing; read again in full when it answers. */
  private watchSilence(client: Client, gen: number): void {
    this.stopLiveness?.();
    this.stopLiveness = watchLiveness(
      client,
      this.z.sessionTimeoutMs,
      (silentMs) => {
        if (gen !== this.gen) return;
        this.silent = true;
        log.warn('zookeeper answers nothing; serving the last known state', { sources: this.names(), silentMs });
        this.each((u) => u.unavailable('stale', `ZooKeeper answers nothing (no reply for ${silentMs} ms); keeping the last known state`));
      },
      () => {
        if (gen !== this.gen) return;
        this.silent = false;
        log.info('zookeeper answers again; re-listing', { sources: this.names() });
        this.each((u) => u.ready('answering-again'));
      },
    );
  }

  private renew(client: Client, why: string): void {
    this.stopLiveness?.();
    clearTimeout(this.disconnectTimer);
    log.warn('zookeeper session lost; starting a new session and a full re-read', { sources: this.names(), why });
    this.each((u) => u.unavailable('stale', `ZooKeeper ${why}; reconnecting with a new session`));
    this.expired = true;
    this.gen++;
    client.close();
    if (this.users.size > 0) this.connect();
  }
}

function credentials(z: ZookeeperConnection): string {
  return z.auth?.credentials ?? process.env[z.auth?.credentialsEnv ?? ''] ?? '';
}

/**
 * The sessions of one daemon, one per ensemble and credentials. A source asks for its session
 * here; sources that name the same ZooKeeper share it (the config check makes them agree on
 * the session timeout).
 */
export class ZookeeperSessions {
  private readonly sessions = new Map<string, ZookeeperSession>();

  of(z: ZookeeperConnection): ZookeeperSession {
    const key = zookeeperSessionKey(z);
    let s = this.sessions.get(key);
    if (!s) {
      s = new ZookeeperSession(z, () => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }
}

/**
 * What every source on a session does the same way: one full read at a time (an ask while one
 * runs is followed by one more), tried again after a failure (2 s, doubling up to the session
 * timeout) until it succeeds, repeated every resyncIntervalMs (plus up to 20% jitter) to catch a
 * missed watch; one stable watcher function per path and session, so re-arming never stacks
 * duplicates.
 */
export class SessionReads {
  private running?: Promise<void>;
  private pendingReason?: string;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private periodicTimer?: NodeJS.Timeout;
  private watchGen = -1;
  private readonly watchers = new Map<string, Watcher>();
  private stopped = true;

  constructor(
    readonly session: ZookeeperSession,
    private readonly user: SessionUser & { readAll(client: Client, gen: number, reason: string): Promise<void>; readFailed(err: Error, reason: string): void },
    private readonly z: Pick<ZookeeperConnection, 'sessionTimeoutMs' | 'resyncIntervalMs'>,
  ) {}

  start(): void {
    this.stopped = false;
    this.session.join(this.user);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.periodicTimer);
    await this.session.leave(this.user);
  }

  get watchedPaths(): number {
    return this.watchers.size;
  }

  /** The session of `gen` is still the live one and the source still runs. */
  live(gen: number): boolean {
    return !this.stopped && this.session.live(gen);
  }

  /** Full read now; a read under way is followed by one more (what it read may be older than the ask). */
  read(reason: string): Promise<void> {
    if (this.running) {
      this.pendingReason = reason;
      return this.running;
    }
    this.running = this.run(reason).finally(() => {
      this.running = undefined;
      const again = this.pendingReason;
      this.pendingReason = undefined;
      if (again && !this.stopped) void this.read(again);
    });
    return this.running;
  }

  private async run(reason: string): Promise<void> {
    const client = this.session.current;
    const gen = this.session.generation;
    if (!client || this.stopped) return;
    clearTimeout(this.retryTimer);
    clearTimeout(this.periodicTimer);
    try {
      await this.user.readAll(client, gen, reason);
      if (!this.live(gen)) return;
      this.failures = 0;
      const every = this.z.resyncIntervalMs;
      if (every > 0) this.later('periodicTimer', every * (1 + Math.random() * 0.2), 'periodic');
    } catch (err) {
      if (!this.live(gen)) return;
      this.user.readFailed(err as Error, reason);
      this.later('retryTimer', Math.min(2000 * 2 ** this.failures++, Math.max(2000, this.z.sessionTimeoutMs)), 'retry');
    }
  }

  private later(timer: 'retryTimer' | 'periodicTimer', ms: number, reason: string): void {
    clearTimeout(this[timer]);
    this[timer] = setTimeout(() => void this.read(reason), ms);
    this[timer].unref();
  }

  watcher(gen: number, path: string, onFire: () => void): Watcher {
    if (gen !== this.watchGen) {
      this.watchGen = gen;
      this.watchers.clear();
    }
    let w = this.watchers.get(path);
    if (!w) {
      w = (event) => {
        log.debug('zookeeper watch fired', { source: this.user.name, path, event: String(event) });
        if (this.live(gen)) onFire();
      };
      this.watchers.set(path, w);
    }
    return w;
  }

  /** Whether `path` has a watcher in the session of `gen` (it has been read in that session). */
  watches(gen: number, path: string): boolean {
    return gen === this.watchGen && this.watchers.has(path);
  }
}
