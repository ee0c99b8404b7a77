import type { RulesConfig, ZookeeperSourceConfig } from '../config/types';
import { log } from '../common/log';
import { SourceBase } from './base';
import { isDubboRule, LEGACY_URL, type RuleSink, type RuleSource, type RuleSourceStatus } from './config-center';
import { mapLimit } from './nacos-client';
import { NOT_INTERFACES, readChildren, readData, type Client } from './zk-ops';
import { SessionReads, ZookeeperSessions, type ReadReason } from './zk-session';

const LEGACY_CATEGORIES = ['configurators', 'routers'];

function legacyContent(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name; // the parser refuses it with a reason
  }
}

/**
 * Dubbo's config-center layout in ZooKeeper: /{root}/config/{group}/{key}.{configurators|tag-router|condition-router}
 * (Dubbo 2.7.1 and later, 3.x), and the adapter's own documents under /{root}/config/{adapterGroup}.
 * Every directory and document is watched. On the session the registry source uses when both
 * name the same ZooKeeper (./zk-session.ts): disconnected, the rules stay as they were; a new
 * session re-lists everything and applies only the difference. With rules.legacyUrls, Dubbo
 * 2.6's rules are read too: override:// and route:// URLs as the names of the nodes under
 * /{root}/{interface}/configurators and /routers (two watched directories per interface).
 */
export class ZookeeperRuleSource extends SourceBase<RuleSink> implements RuleSource {
  private readonly known = new Map<string, string>();
  private readonly reads: SessionReads;

  constructor(
    private readonly cfg: ZookeeperSourceConfig,
    private readonly rules: RulesConfig,
    sessions: ZookeeperSessions = new ZookeeperSessions(),
  ) {
    super(cfg.name);
    this.reads = new SessionReads(sessions.of(cfg.zookeeper), this, cfg.zookeeper);
  }

  private get root(): string {
    return `/${this.cfg.zookeeper.root}`;
  }

  private dirs(): { path: string; accept: (name: string) => boolean }[] {
    const base = `${this.root}/config`;
    return [
      { path: `${base}/${this.rules.dubboGroup}`, accept: isDubboRule },
      { path: `${base}/${this.rules.adapterGroup}`, accept: () => true },
    ];
  }

  start(sink: RuleSink): void {
    this.sink = sink;
    this.reads.start();
  }

  async stop(): Promise<void> {
    await this.reads.stop();
  }

  ready(reason: ReadReason): void {
    void this.reads.read(reason);
  }

  unavailable(state: 'stale' | 'failed', reason: string): void {
    this.degraded(reason, state === 'failed');
  }

  readFailed(err: Error): void {
    this.degraded(`re-list failed: ${err.message}; keeping the last known rules`);
  }

  async readAll(client: Client, gen: number): Promise<void> {
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
    if (!this.reads.live(gen)) return;
    this.known.clear();
    for (const [k, v] of docs) this.known.set(k, v);
    this.sink?.replaceAll(this.name, docs);
    this.synced();
  }

  private forget(doc: string): void {
    this.known.delete(doc);
    this.sink?.set(this.name, doc, undefined);
  }

  /** Children of a rule directory, watched: a new or deleted document is picked up. */
  private async list(client: Client, gen: number, path: string, accept: (n: string) => boolean): Promise<string[]> {
    const watcher = this.reads.watcher(gen, path, () => {
      void (async () => {
        const names = await this.list(client, gen, path, accept);
        for (const n of names) if (!this.known.has(`${path}/${n}`)) await this.onDoc(client, gen, `${path}/${n}`);
        for (const doc of [...this.known.keys()]) if (doc.startsWith(`${path}/`) && !names.includes(doc.slice(path.length + 1))) this.forget(doc);
      })().catch((err) => log.warn('rule directory read failed; the next re-list covers it', { source: this.name, path, error: (err as Error).message }));
    });
    return ((await readChildren(client, path, watcher)) ?? []).filter(accept).sort();
  }

  /** The interfaces under the registry root, watched: a new one gets its rule directories read. */
  private async listInterfaces(client: Client, gen: number): Promise<string[]> {
    const root = this.root;
    const watcher = this.reads.watcher(gen, root, () => {
      void (async () => {
        const ifaces = new Set(await this.listInterfaces(client, gen));
        for (const iface of ifaces) if (!this.reads.watches(gen, `${root}/${iface}/${LEGACY_CATEGORIES[0]}`)) await this.applyLegacy(client, gen, iface);
        for (const doc of [...this.known.keys()]) {
          const [iface, category] = doc.slice(root.length + 1).split('/');
          if (doc.startsWith(`${root}/`) && LEGACY_CATEGORIES.includes(category) && !ifaces.has(iface)) this.forget(doc);
        }
      })().catch((err) => log.warn('registry root read failed; the next re-list covers it', { source: this.name, error: (err as Error).message }));
    });
    return ((await readChildren(client, root, watcher)) ?? []).filter((n) => !NOT_INTERFACES.has(n)).sort();
  }

  /** An interface's Dubbo 2.6 rules: document path -> the decoded URL. Both directories watched. */
  private async listLegacy(client: Client, gen: number, iface: string): Promise<Map<string, string>> {
    const docs = new Map<string, string>();
    for (const category of LEGACY_CATEGORIES) {
      const dir = `${this.root}/${iface}/${category}`;
      const watcher = this.reads.watcher(gen, dir, () => void this.applyLegacy(client, gen, iface).catch(() => undefined));
      for (const name of (await readChildren(client, dir, watcher)) ?? []) if (LEGACY_URL.test(name)) docs.set(`${dir}/${name}`, legacyContent(name));
    }
    return docs;
  }

  /** Reads an interface's Dubbo 2.6 rules again and reports the difference. */
  private async applyLegacy(client: Client, gen: number, iface: string): Promise<void> {
    const docs = await this.listLegacy(client, gen, iface);
    if (!this.reads.live(gen)) return;
    const prefix = `${this.root}/${iface}/`;
    for (const doc of [...this.known.keys()]) if (doc.startsWith(prefix) && !docs.has(doc)) this.forget(doc);
    for (const [doc, content] of docs) {
      if (this.known.get(doc) === content) continue;
      this.known.set(doc, content);
      this.sink?.set(this.name, doc, content);
    }
  }

  private readDoc(client: Client, gen: number, path: string): Promise<string | undefined> {
    return readData(
      client,
      path,
      this.reads.watcher(gen, path, () => void this.onDoc(client, gen, path).catch(() => undefined)),
    );
  }

  private async onDoc(client: Client, gen: number, path: string): Promise<void> {
    const content = await this.readDoc(client, gen, path);
    if (!this.reads.live(gen)) return;
    if (content === undefined) this.known.delete(path);
    else this.known.set(path, content);
    this.sink?.set(this.name, path, content);
  }

  status(): RuleSourceStatus {
    return this.statusOf('zookeeper', { documents: this.known.size }, { connect: this.cfg.zookeeper.connect, sessionId: this.reads.session.sessionId, watchedPaths: this.reads.watchedPaths });
  }
}
