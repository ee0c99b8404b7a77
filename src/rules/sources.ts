import zookeeper from 'node-zookeeper-client';
import { log } from '../common/log';
import type { NacosSourceConfig, RulesConfig, ZookeeperSourceConfig } from '../config/types';
import { configMd5, mapLimit, NacosClient } from '../registry/nacos-client';
import { NacosConfigListener } from '../registry/nacos-push';
import type { SourceState } from '../registry/types';
import { readChildren, readData, watchLiveness, type Client, type Watcher } from '../registry/zk-ops';
import { DUBBO_RULE_SUFFIXES, LEGACY_URL, REPORTED_RULE_SUFFIXES } from './parse';

/** What rule sources report to: documents by name (a znode path, or namespace/group/dataId). */
export interface RuleSink {
  set(source: string, document: string, content: string | undefined): void;
  replaceAll(source: string, documents: ReadonlyMap<string, string>): void;
  health(source: string, state: SourceState, reason?: string): void;
}

export interface RuleSource {
  readonly name: string;
  start(sink: RuleSink): void;
  stop(): Promise<void>;
  status(): { name: string; type: string; state: SourceState; reason?: string; documents: number };
}

/** Children of the registry root that are not interfaces. */
const NOT_INTERFACES = new Set(['config', 'metadata', 'mapping']);
const LEGACY_CATEGORIES = ['configurators', 'routers'];

function legacyContent(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name; // the parser refuses it with a reason
  }
}

const isDubboRule = (name: string): boolean => [...DUBBO_RULE_SUFFIXES, ...REPORTED_RULE_SUFFIXES].some((s) => name.endsWith(s));

export function createRuleSource(cfg: ZookeeperSourceConfig | NacosSourceConfig, rules: RulesConfig): RuleSource {
  return cfg.type === 'zookeeper' ? new ZookeeperRuleSource(cfg, rules) : new NacosRuleSource(cfg, rules);
}

/**
 * Dubbo's config-center layout in ZooKeeper: /{root}/config/{group}/{key}.{configurators|tag-router|condition-router}
 * (Dubbo 2.7.1 and later, 3.x), and the adapter's own documents under /{root}/config/{adapterGroup}.
 * Every directory and document is watched. Disconnected, the rules stay as they were; a new
 * session re-lists everything and applies only the difference. With rules.legacyUrls, Dubbo
 * 2.6's rules are read too: override:// and route:// URLs as the names of the nodes under
 * /{root}/{interface}/configurators and /routers (two watched directories per interface).
 */
export class ZookeeperRuleSource implements RuleSource {
  private client?: Client;
  private sink?: RuleSink;
  private gen = 0;
  private stopped = false;
  private stopLiveness?: () => void;
  private recoverTimer?: NodeJS.Timeout;
  private recovering = false;
  private state: SourceState = 'connecting';
  private reason?: string;
  private readonly known = new Map<string, string>();
  private readonly watchers = new Map<string, Watcher>();

  constructor(private readonly cfg: ZookeeperSourceConfig, private readonly rules: RulesConfig) {}

  get name(): string {
    return this.cfg.name;
  }

  private dirs(): { path: string; accept: (name: string) => boolean }[] {
    const base = `/${this.cfg.zookeeper.root}/config`;
    return [
      { path: `${base}/${this.rules.dubboGroup}`, accept: isDubboRule },
      { path: `${base}/${this.rules.adapterGroup}`, accept: () => true },
    ];
  }

  start(sink: RuleSink): void {
    this.sink = sink;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.gen++;
    clearTimeout(this.recoverTimer);
    this.stopLiveness?.();
    this.client?.close();
  }

  private setState(state: SourceState, reason?: string): void {
    this.state = state;
    this.reason = reason;
    this.sink?.health(this.name, state, reason);
    this.scheduleRecovery();
  }

  /**
   * Until the source is synced again, the full read is tried again every session timeout (one
   * attempt at a time): a read lost while the server was paused, or an event that never came,
   * cannot leave the rules stale for good.
   */
  private scheduleRecovery(): void {
    clearTimeout(this.recoverTimer);
    if (this.stopped || this.state === 'synced') return;
    this.recoverTimer = setTimeout(() => {
      const client = this.client;
      if (!client || this.stopped || this.state === 'synced') return;
      if (this.recovering) return this.scheduleRecovery();
      this.recovering = true;
      void this.resync(client, this.gen).finally(() => {
        this.recovering = false;
        this.scheduleRecovery();
      });
    }, this.cfg.zookeeper.sessionTimeoutMs);
    this.recoverTimer.unref();
  }

  private connect(): void {
    const gen = ++this.gen;
    this.watchers.clear();
    const z = this.cfg.zookeeper;
    const client = zookeeper.createClient(z.connect, { sessionTimeout: z.sessionTimeoutMs, spinDelay: 1000, retries: 0 });
    this.client = client;
    if (z.auth) client.addAuthInfo('digest', Buffer.from(z.auth.credentials ?? process.env[z.auth.credentialsEnv ?? ''] ?? ''));
    client.on('state', (s: zookeeper.State) => {
      if (gen !== this.gen || this.stopped) return;
      if (s === zookeeper.State.SYNC_CONNECTED) {
        // Stale while the server answers nothing; read again in full once it answers.
        this.stopLiveness?.();
        this.stopLiveness = watchLiveness(
          client,
          z.sessionTimeoutMs,
          (silentMs) => {
            if (gen !== this.gen || this.stopped) return;
            this.setState('stale', `ZooKeeper answers nothing (no reply for ${silentMs} ms); keeping the last known rules`);
            log.warn('zookeeper config center answers nothing; keeping the last known rules', { source: this.name, silentMs });
          },
          () => {
            if (gen === this.gen && !this.stopped) void this.resync(client, gen);
          },
        );
        void this.resync(client, gen);
      }
      else if (s === zookeeper.State.DISCONNECTED) this.setState(this.known.size ? 'stale' : 'connecting', 'disconnected from ZooKeeper; keeping the last known rules');
      else if (s === zookeeper.State.EXPIRED) {
        this.setState('stale', 'ZooKeeper session expired; reconnecting, keeping the last known rules');
        this.stopLiveness?.();
        client.close();
        if (!this.stopped) this.connect();
      }
    });
    client.connect();
  }

  private async resync(client: Client, gen: number): Promise<void> {
    try {
      const docs = new Map<string, string>();
      for (const dir of this.dirs()) {
        for (const name of await this.list(client, gen, dir.path, dir.accept)) {
          const content = await this.readDoc(client, gen, `${dir.path}/${name}`);
          if (content !== undefined) docs.set(`${dir.path}/${name}`, content);
        }
      }
      if (this.rules.legacyUrls) {
        await mapLimit(await this.listInterfaces(client, gen), 32, async (iface) => {
          for (const [doc, content] of await this.listLegacy(client, gen, iface)) docs.set(doc, content);
        });
      }
      if (gen !== this.gen) return;
      this.known.clear();
      for (const [k, v] of docs) this.known.set(k, v);
      this.sink?.replaceAll(this.name, docs);
      this.setState('synced');
    } catch (err) {
      if (gen !== this.gen || this.stopped) return;
      this.setState(this.known.size ? 'stale' : 'connecting', `re-list failed: ${(err as Error).message}; keeping the last known rules`);
      setTimeout(() => gen === this.gen && void this.resync(client, gen), 2000).unref();
    }
  }

  /** Children of a rule directory, watched: a new or deleted document is picked up. */
  private async list(client: Client, gen: number, path: string, accept: (n: string) => boolean): Promise<string[]> {
    const watcher = this.watcher(gen, path, () => {
      void (async () => {
        const names = await this.list(client, gen, path, accept);
        for (const n of names) if (!this.known.has(`${path}/${n}`)) await this.onDoc(client, gen, `${path}/${n}`);
        for (const doc of [...this.known.keys()]) {
          if (doc.startsWith(`${path}/`) && !names.includes(doc.slice(path.length + 1))) {
            this.known.delete(doc);
            this.sink?.set(this.name, doc, undefined);
          }
        }
      })().catch((err) => log.warn('rule directory read failed; the next re-list covers it', { source: this.name, path, error: (err as Error).message }));
    });
    return ((await readChildren(client, path, watcher)) ?? []).filter(accept).sort();
  }

  /** The interfaces under the registry root, watched: a new one gets its rule directories read. */
  private async listInterfaces(client: Client, gen: number): Promise<string[]> {
    const root = `/${this.cfg.zookeeper.root}`;
    const watcher = this.watcher(gen, root, () => {
      void (async () => {
        const ifaces = new Set(await this.listInterfaces(client, gen));
        for (const iface of ifaces) if (!this.watchers.has(`${root}/${iface}/${LEGACY_CATEGORIES[0]}`)) await this.applyLegacy(client, gen, iface);
        for (const doc of [...this.known.keys()]) {
          const iface = doc.slice(root.length + 1).split('/')[0];
          if (doc.startsWith(`${root}/`) && LEGACY_CATEGORIES.includes(doc.slice(root.length + 1).split('/')[1]) && !ifaces.has(iface)) {
            this.known.delete(doc);
            this.sink?.set(this.name, doc, undefined);
          }
        }
      })().catch((err) => log.warn('registry root read failed; the next re-list covers it', { source: this.name, error: (err as Error).message }));
    });
    return ((await readChildren(client, root, watcher)) ?? []).filter((n) => !NOT_INTERFACES.has(n)).sort();
  }

  /** An interface's Dubbo 2.6 rules: document path -> the decoded URL. Both directories watched. */
  private async listLegacy(client: Client, gen: number, iface: string): Promise<Map<string, string>> {
    const docs = new Map<string, string>();
    for (const category of LEGACY_CATEGORIES) {
      const dir = `/${this.cfg.zookeeper.root}/${iface}/${category}`;
      const watcher = this.watcher(gen, dir, () => void this.applyLegacy(client, gen, iface).catch(() => undefined));
      for (const name of (await readChildren(client, dir, watcher)) ?? []) if (LEGACY_URL.test(name)) docs.set(`${dir}/${name}`, legacyContent(name));
    }
    return docs;
  }

  /** Reads an interface's Dubbo 2.6 rules again and reports the difference. */
  private async applyLegacy(client: Client, gen: number, iface: string): Promise<void> {
    const docs = await this.listLegacy(client, gen, iface);
    if (gen !== this.gen) return;
    const prefix = `/${this.cfg.zookeeper.root}/${iface}/`;
    for (const doc of [...this.known.keys()]) {
      if (doc.startsWith(prefix) && !docs.has(doc)) {
        this.known.delete(doc);
        this.sink?.set(this.name, doc, undefined);
      }
    }
    for (const [doc, content] of docs) {
      if (this.known.get(doc) === content) continue;
      this.known.set(doc, content);
      this.sink?.set(this.name, doc, content);
    }
  }

  private readDoc(client: Client, gen: number, path: string): Promise<string | undefined> {
    return readData(client, path, this.watcher(gen, path, () => void this.onDoc(client, gen, path).catch(() => undefined)));
  }

  private async onDoc(client: Client, gen: number, path: string): Promise<void> {
    const content = await this.readDoc(client, gen, path);
    if (gen !== this.gen) return;
    if (content === undefined) this.known.delete(path);
    else this.known.set(path, content);
    this.sink?.set(this.name, path, content);
  }

  private watcher(gen: number, path: string, onFire: () => void): Watcher {
    let w = this.watchers.get(path);
    if (!w) {
      w = () => {
        if (gen === this.gen && !this.stopped) onFire();
      };
      this.watchers.set(path, w);
    }
    return w;
  }

  status(): ReturnType<RuleSource['status']> {
    return { name: this.name, type: 'zookeeper', state: this.state, reason: this.reason, documents: this.known.size };
  }
}

/**
 * Nacos config: the same rule keys as dataIds in the Dubbo group, and adapter documents in the
 * adapter group, of every configured namespace, listed and read every pollMs (only items whose
 * digest changed are read again). A failed poll changes nothing. With transport grpc (the
 * default) the items read are also listened to over Nacos's gRPC protocol, and a change Nacos
 * pushes starts a poll at once: a rule change takes effect in well under a second rather than
 * at the next poll; new items are still found by the poll.
 */
export class NacosRuleSource implements RuleSource {
  private readonly client: NacosClient;
  private sink?: RuleSink;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private state: SourceState = 'connecting';
  private reason?: string;
  /** document -> [digest, content] */
  private readonly known = new Map<string, [string, string]>();
  private readonly listeners = new Map<string, NacosConfigListener>();
  private polling = false;
  private pollAgain = false;
  /** Documents Nacos said changed: read at the next poll whatever the listing says of them. */
  private readonly pushed = new Set<string>();

  constructor(private readonly cfg: NacosSourceConfig, private readonly rules: RulesConfig) {
    this.client = new NacosClient(cfg.nacos);
  }

  get name(): string {
    return this.cfg.name;
  }

  start(sink: RuleSink): void {
    this.sink = sink;
    const n = this.cfg.nacos;
    if (n.transport === 'grpc') {
      for (const namespace of n.namespaces) {
        const headers = (_type: string, body: Record<string, unknown>) => this.client.requestHeaders('/cs/', { tenant: namespace, group: String(body.group ?? '') });
        const l = new NacosConfigListener(n, namespace, headers, (item) => {
          const doc = item && `${namespace || 'public'}/${item.group}/${item.dataId}`;
          if (doc && this.known.has(doc)) this.pushed.add(doc); // only what it listens to
          this.pollSoon();
        }, this.name);
        this.listeners.set(namespace, l);
        l.start();
      }
    }
    void this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const l of this.listeners.values()) l.stop();
    this.client.close();
  }

  /** A pushed change: poll now, or right after the poll under way. */
  private pollSoon(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    clearTimeout(this.timer);
    void this.poll();
  }

  private async poll(): Promise<void> {
    const n = this.cfg.nacos;
    this.polling = true;
    this.pollAgain = false;
    const pushed = new Set(this.pushed);
    this.pushed.clear();
    try {
      const next = new Map<string, [string, string]>();
      for (const namespace of n.namespaces) {
        for (const [group, accept] of [[this.rules.dubboGroup, isDubboRule], [this.rules.adapterGroup, () => true]] as const) {
          const items = (await this.client.listConfigs(namespace, group)).filter((i) => accept(i.dataId));
          await mapLimit(items, n.concurrency, async (i) => {
            const doc = `${namespace || 'public'}/${group}/${i.dataId}`;
            const have = this.known.get(doc);
            // (A document Nacos pushed is read even if the listing still has its old digest.)
            if (have && have[0] === i.md5 && !pushed.has(doc)) return void next.set(doc, have);
            const content = await this.client.getConfig(namespace, i.dataId, group);
            // Nacos lists from its database but may answer a read from a cache a moment older: the
            // content is remembered under its own digest, so old content fetched under a new
            // listed md5 is fetched again at the next poll instead of standing for it for good.
            if (content !== undefined) next.set(doc, [configMd5(content), content]);
          });
        }
      }
      if (this.stopped) return;
      this.known.clear();
      for (const [k, v] of next) this.known.set(k, v);
      this.sink?.replaceAll(this.name, new Map([...next].map(([k, [, c]]) => [k, c])));
      for (const [namespace, l] of this.listeners) {
        const prefix = `${namespace || 'public'}/`;
        l.listen([...next].filter(([doc]) => doc.startsWith(prefix)).map(([doc, [md5]]) => {
          const [group, ...dataId] = doc.slice(prefix.length).split('/');
          return { group, dataId: dataId.join('/'), md5 };
        }));
      }
      this.state = 'synced';
      this.reason = undefined;
      this.sink?.health(this.name, 'synced');
    } catch (err) {
      if (this.stopped) return;
      this.state = this.known.size ? 'stale' : 'connecting';
      this.reason = `Nacos config unreachable: ${(err as Error).message}; keeping the last known rules`;
      this.sink?.health(this.name, this.state, this.reason);
      log.warn('nacos rule poll failed; keeping the last known rules', { source: this.name, error: (err as Error).message });
      for (const doc of pushed) this.pushed.add(doc);
    } finally {
      this.polling = false;
      if (!this.stopped) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.poll(), this.pollAgain ? 0 : n.pollMs);
        this.timer.unref();
      }
    }
  }

  status(): ReturnType<RuleSource['status']> {
    return { name: this.name, type: 'nacos', state: this.state, reason: this.reason, documents: this.known.size };
  }
}
