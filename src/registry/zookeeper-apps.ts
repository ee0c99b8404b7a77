import { sameList } from './base';
import { localMetadataServiceTarget, type MetadataFetcher, type MetadataServiceTarget } from './metadata-service';
import { documentName, REVISION_KEY, type SourceSink } from './types';
import { readChildren, readData, type Client, type Watcher } from './zk-ops';

/** What the application-level watcher borrows from the ZooKeeper source that owns the session. */
export interface ZkSession {
  readonly name: string;
  sink(): SourceSink | undefined;
  /** One stable watcher per path and session. */
  watcher(gen: number, path: string, onFire: () => void): Watcher;
  /** The session of `gen` is still the live one. */
  live(gen: number): boolean;
  onWatchError(err: unknown, gen: number): void;
}

export interface ApplicationPaths {
  /** Where ZookeeperServiceDiscovery registers instances: /{services}/{application}/{instance}. */
  services: string;
  /** The metadata report: /{root}/metadata/{application}/{revision}. */
  metadata: string;
  /** The service-name mapping: /{root}/mapping/{interface}. */
  mapping: string;
}

/** Registry service name of an application's instances, apart from interface names (no colon in Java names). */
export const applicationService = (app: string): string => `app:${app}`;

/**
 * Dubbo 3 application-level discovery in ZooKeeper. Instances are znodes whose data is the
 * instance record; the services an instance exports are in the MetadataInfo of its revision,
 * and the mapping names the applications of each interface. All three are watched. An
 * application's instances are handed to the sink only after the metadata report was read for
 * the revisions they name, so a healthy start reports no "metadata missing"; a revision asked of
 * providers instead (no report) leaves its instances pending meanwhile.
 */
export class ZookeeperApplications {
  /** application -> instance id -> znode data */
  private readonly instances = new Map<string, Map<string, string>>();
  private readonly published = new Map<string, readonly string[]>();
  /** Documents handed to the sink, by document name. */
  private readonly docs = new Map<string, string>();
  /** Metadata documents asked of providers and not answered yet. */
  private readonly pending = new Set<string>();
  private readonly mappings = new Set<string>();
  /** Metadata reads in flight or done in this session, by znode path. */
  private metadataReads = new Map<string, Promise<void>>();
  private readonly appliedSeq = new Map<string, number>();
  private seq = 0;
  private gen = -1;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: ApplicationPaths,
    private readonly fetcher?: MetadataFetcher,
  ) {}

  /** Full re-list; returns how many applications or documents differed from what was known. */
  async resync(client: Client, gen: number): Promise<number> {
    this.newSession(gen);
    const before = new Map(this.published);
    const docsBefore = new Map(this.docs);
    await Promise.all([this.readApplications(client, gen, true), this.readMappings(client, gen, true)]);
    if (!this.session.live(gen)) return 0;
    this.pruneMetadata();
    let differences = 0;
    for (const app of new Set([...before.keys(), ...this.published.keys()])) if (!sameList(before.get(app), this.published.get(app))) differences++;
    for (const name of new Set([...docsBefore.keys(), ...this.docs.keys()])) if (docsBefore.get(name) !== this.docs.get(name)) differences++;
    return differences;
  }

  counts(): { applications: number; instances: number; metadata: number; mappings: number } {
    let instances = 0;
    for (const e of this.published.values()) instances += e.length;
    return { applications: this.published.size, instances, metadata: this.docs.size - this.mappings.size, mappings: this.mappings.size };
  }

  /** Published entries per registry service, for the owner's status counts. */
  known(): ReadonlyMap<string, readonly string[]> {
    return new Map([...this.published].map(([app, e]) => [applicationService(app), e]));
  }

  private newSession(gen: number): void {
    if (gen === this.gen) return;
    this.gen = gen;
    this.metadataReads = new Map();
  }

  /** all: read every child again (a resync, maybe in a new session); else only new children. */
  private async readApplications(client: Client, gen: number, all: boolean): Promise<void> {
    const root = this.paths.services;
    const apps =
      (await readChildren(
        client,
        root,
        this.session.watcher(gen, root, () => this.guard(gen, this.readApplications(client, gen, false))),
      )) ?? [];
    if (!this.session.live(gen)) return;
    const present = new Set(apps);
    for (const app of [...this.instances.keys()]) {
      if (present.has(app)) continue;
      this.instances.delete(app);
      this.publish(app);
    }
    await Promise.all(apps.filter((app) => all || !this.instances.has(app)).map((app) => this.readApplication(client, gen, app, all)));
  }

  private async readApplication(client: Client, gen: number, app: string, all: boolean): Promise<void> {
    const path = `${this.paths.services}/${app}`;
    const seq = ++this.seq;
    const ids =
      (await readChildren(
        client,
        path,
        this.session.watcher(gen, path, () => this.guard(gen, this.readApplication(client, gen, app, false))),
      )) ?? [];
    if (!this.current(gen, path, seq)) return;
    const known = this.instances.get(app) ?? new Map<string, string>();
    const present = new Set(ids);
    for (const id of [...known.keys()]) if (!present.has(id)) known.delete(id);
    this.instances.set(app, known);
    // Outside a resync, instances already read keep their own data watch: only new ones are read.
    await Promise.all(ids.filter((id) => all || !known.has(id)).map((id) => this.readInstance(client, gen, app, id, false)));
    if (this.session.live(gen)) this.publish(app);
  }

  private async readInstance(client: Client, gen: number, app: string, id: string, publish = true): Promise<void> {
    const path = `${this.paths.services}/${app}/${id}`;
    const seq = ++this.seq;
    const data = await readData(
      client,
      path,
      this.session.watcher(gen, path, () => this.guard(gen, this.readInstance(client, gen, app, id))),
    );
    if (!this.current(gen, path, seq)) return;
    const known = this.instances.get(app);
    if (!known) return;
    if (data === undefined) known.delete(id);
    else {
      known.set(id, data);
      const revision = revisionIn(data);
      if (revision) {
        await this.readMetadata(client, gen, app, revision);
        // Not awaited: the instance is published pending (fetchMetadata says so before its first
        // wait), and a provider that never answers holds up no other instance nor the sync.
        if (!this.docs.has(documentName.metadata(app, revision))) this.guard(gen, this.fetchMetadata(gen, app, revision));
      }
    }
    if (publish && this.session.live(gen)) this.publish(app);
  }

  /** Metadata of a revision is written once and never changes, but may appear after the instance. */
  private readMetadata(client: Client, gen: number, app: string, revision: string): Promise<void> {
    const path = `${this.paths.metadata}/${app}/${revision}`;
    let read = this.metadataReads.get(path);
    if (!read) {
      const name = documentName.metadata(app, revision);
      read = (async () => {
        const watcher = this.session.watcher(gen, path, () => {
          this.metadataReads.delete(path);
          this.guard(gen, this.readMetadata(client, gen, app, revision));
        });
        const content = await readData(client, path, watcher);
        // Deleted while instances still name it: keep the last known content (it cannot change).
        if (content !== undefined && this.session.live(gen)) this.setDocument(name, content);
      })();
      read.catch(() => this.metadataReads.delete(path));
      this.metadataReads.set(path, read);
    }
    return read;
  }

  /**
   * A revision without a metadata report, on Dubbo's default (storage-type local): asked of the
   * MetadataService of its instances; asked again after retryMs while none answers and an
   * instance still names it.
   */
  private async fetchMetadata(gen: number, app: string, revision: string): Promise<void> {
    if (!this.fetcher) return;
    const targets: MetadataServiceTarget[] = [];
    for (const data of this.instances.get(app)?.values() ?? []) {
      const t = localMetadataTarget(data, revision);
      if (t) targets.push(t);
    }
    if (targets.length === 0) return;
    const name = documentName.metadata(app, revision);
    const sink = () => this.session.sink();
    if (!this.pending.has(name)) sink()?.pendingDocument(this.session.name, name, 'asking the MetadataService');
    this.pending.add(name);
    const r = await this.fetcher.get(app, revision, targets);
    if (!this.session.live(gen) || this.docs.has(name)) return;
    if (r.content !== undefined) {
      this.setDocument(name, r.content);
      this.pending.delete(name);
      return sink()?.pendingDocument(this.session.name, name, undefined);
    }
    sink()?.pendingDocument(this.session.name, name, r.reason ?? 'the MetadataService did not answer');
    setTimeout(() => {
      if (this.session.live(gen) && !this.docs.has(name)) this.guard(gen, this.fetchMetadata(gen, app, revision));
    }, this.fetcher.retryMs).unref();
  }

  private async readMappings(client: Client, gen: number, all: boolean): Promise<void> {
    const root = this.paths.mapping;
    const ifaces =
      (await readChildren(
        client,
        root,
        this.session.watcher(gen, root, () => this.guard(gen, this.readMappings(client, gen, false))),
      )) ?? [];
    if (!this.session.live(gen)) return;
    const present = new Set(ifaces);
    for (const iface of [...this.mappings]) {
      if (present.has(iface)) continue;
      this.mappings.delete(iface);
      this.setDocument(documentName.mapping(iface), undefined);
    }
    await Promise.all(ifaces.filter((i) => all || !this.mappings.has(i)).map((iface) => this.readMapping(client, gen, iface)));
  }

  private async readMapping(client: Client, gen: number, iface: string): Promise<void> {
    const path = `${this.paths.mapping}/${iface}`;
    const seq = ++this.seq;
    const content = await readData(
      client,
      path,
      this.session.watcher(gen, path, () => this.guard(gen, this.readMapping(client, gen, iface))),
    );
    if (!this.current(gen, path, seq)) return;
    if (content === undefined) this.mappings.delete(iface);
    else this.mappings.add(iface);
    this.setDocument(documentName.mapping(iface), content);
  }

  private publish(app: string): void {
    const entries = [...(this.instances.get(app)?.values() ?? [])].sort();
    if (sameList(this.published.get(app), entries.length ? entries : undefined)) return;
    if (entries.length === 0) {
      this.instances.delete(app);
      this.published.delete(app);
      this.session.sink()?.removeService(this.session.name, applicationService(app));
    } else {
      this.published.set(app, entries);
      this.session.sink()?.setService(this.session.name, applicationService(app), { kind: 'zookeeper-instance', entries });
    }
  }

  private setDocument(name: string, content: string | undefined): void {
    if (this.docs.get(name) === content) return;
    if (content === undefined) this.docs.delete(name);
    else this.docs.set(name, content);
    this.session.sink()?.setDocument(this.session.name, name, content);
  }

  /** Metadata no instance names any more (an old revision after an upgrade) is forgotten. */
  private pruneMetadata(): void {
    const named = new Set<string>();
    for (const [app, byId] of this.instances) {
      for (const data of byId.values()) {
        const r = revisionIn(data);
        if (r) named.add(documentName.metadata(app, r));
      }
    }
    for (const name of [...this.docs.keys()]) if (name.startsWith('metadata/') && !named.has(name)) this.setDocument(name, undefined);
    for (const name of [...this.pending]) {
      if (named.has(name) && !this.docs.has(name)) continue;
      this.pending.delete(name);
      this.session.sink()?.pendingDocument(this.session.name, name, undefined);
    }
  }

  /** Reads of one path are applied in the order they were issued, so an older answer never wins. */
  private current(gen: number, path: string, seq: number): boolean {
    if (!this.session.live(gen) || (this.appliedSeq.get(path) ?? 0) > seq) return false;
    this.appliedSeq.set(path, seq);
    return true;
  }

  private guard(gen: number, p: Promise<void>): void {
    p.catch((err) => this.session.onWatchError(err, gen));
  }
}

/** Where an instance of `revision` on local metadata serves its MetadataService, if it is one. */
function localMetadataTarget(data: string, revision: string): MetadataServiceTarget | undefined {
  try {
    const r = JSON.parse(data) as { address?: unknown; payload?: { metadata?: Record<string, string> } };
    const m = r.payload?.metadata;
    if (!m || typeof r.address !== 'string' || m[REVISION_KEY] !== revision) return undefined;
    return localMetadataServiceTarget(r.address, m);
  } catch {
    return undefined;
  }
}

/** The revision an instance record names, without judging the rest of it (src/dubbo does that). */
function revisionIn(data: string): string | undefined {
  try {
    const r = (JSON.parse(data) as { payload?: { metadata?: Record<string, unknown> } }).payload?.metadata?.[REVISION_KEY];
    return typeof r === 'string' && /^[\w.-]+$/.test(r) && r !== '0' ? r : undefined;
  } catch {
    return undefined;
  }
}
