import { log } from '../common/log';
import type { NacosSourceConfig } from '../config/types';
import { counts, sameList, SourceBase } from './base';
import { localMetadataServiceTarget, type MetadataFetcher, type MetadataServiceTarget } from './metadata-service';
import { configMd5, CredentialsRefused, mapLimit, NacosClient } from './nacos-client';
import { NACOS_ERROR, NacosGrpcError } from './nacos-grpc';
import { NacosConfigListener, NacosNamingWatcher, type HeadersOf, type NacosHost, type NamingEvents, type PushKind } from './nacos-push';
import { documentName, REVISION_KEY, type RegistrySource, type SourceSink, type RegistryStatus } from './types';

/** Dubbo's interface-level and governance names; any other service may be an application. */
const DUBBO_CATEGORY = /^(providers|consumers|configurators|routers):/;

/** What a Nacos source reports, for metrics (src/daemon/telemetry.ts). */
export interface NacosSourceHooks {
  /** Asks providers for the metadata of revisions without a metadata report (Dubbo's default). */
  metadata?: MetadataFetcher;
  /** A push from Nacos over gRPC: an instance list, or services appearing or going. */
  nacosPush?(source: string, kind: PushKind): void;
  nacosSubscriptions?(source: string, n: number): void;
  nacosReconnect?(source: string): void;
  /** A request sent to Nacos, by transport (health checks and config reads included). */
  nacosRequest?(source: string, transport: 'grpc' | 'http'): void;
  /** From a push received to its instances handed on (documents read first if needed). */
  nacosPushApplied?(source: string, seconds: number): void;
}

/** A service as the transport last reported it, already reduced to what Dubbo would read. */
interface ServiceState {
  namespace: string;
  service: string;
  entries: readonly string[];
  /**
   * Application-level services: the revisions their instances name (the documents to read),
   * each with the MetadataServices that can answer for it; worked out once per instance list.
   */
  revisions?: ReadonlyMap<string, readonly MetadataServiceTarget[]>;
}

/**
 * Watches Dubbo's services in Nacos: interface-level (`providers:{interface}:{version}:{group}`)
 * and Dubbo 3 application-level instances (service name = application, metadata with a
 * revision), whose MetadataInfo comes from Nacos config (dataId = application, group =
 * revision) or from the providers' MetadataService, and the mapping of their interfaces
 * (dataId = interface, group = mapping). An instance goes on as a JSON entry; src/dubbo turns
 * it into a URL.
 *
 * Two transports feed the same state:
 * - grpc (Nacos 2.x, 3.x; default): one connection per namespace, every service subscribed and
 *   the instance lists Nacos pushes applied as they come (./nacos-push.ts);
 * - http (Nacos 1.x, or a closed gRPC port): every service and its instances listed every
 *   pollMs over the v1 open API. grpc falls back to it, logged, when the gRPC port refuses and
 *   HTTP answers.
 * Either way only the difference is handed on, and a lost connection or a failed poll leaves
 * the last state served (stale), never empty. Config (documents) is read over HTTP.
 *
 * Why not the `nacos` npm client: it speaks only the v1 HTTP API and expects UDP pushes that
 * Nacos 2.x and later no longer send, and it cannot list services or tell "empty" from
 * "unreachable". See docs/nacos.md.
 */
export class NacosSource extends SourceBase<SourceSink> implements RegistrySource {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;
  private readonly client: NacosClient;
  private transport: 'grpc' | 'http';
  /** Why grpc fell back to http, when it did. */
  private fallback?: string;
  private watchers: NacosNamingWatcher[] = [];
  /** gRPC: the Dubbo 3 documents read (or missing) listened to, per namespace. */
  private readonly docListeners = new Map<string, NacosConfigListener>();
  /** Namespaces (gRPC) listed and subscribed on their current connection. */
  private readonly syncedNamespaces = new Set<string>();
  private readonly subscriptions = new Map<string, number>();
  /** The transport's latest state, by registry service key; `known` is what the sink has. */
  private readonly latest = new Map<string, ServiceState>();
  private readonly dirty = new Set<string>();
  /** When the oldest push not yet handed on arrived, per service (gRPC). */
  private readonly pushedAt = new Map<string, number>();
  private readonly known = new Map<string, readonly string[]>();
  private queuedFlush?: Promise<void>;
  private flushChain: Promise<void> = Promise.resolve();
  private retryFlush?: NodeJS.Timeout;
  private docTimer?: NodeJS.Timeout;
  /** Metadata documents asked of providers and not answered yet. */
  private readonly pending = new Set<string>();
  /**
   * Documents handed to the sink, with what every round asks of them worked out once (a round
   * runs per push over gRPC); metadata of a revision never changes once readable.
   */
  private readonly docs = new Map<string, KnownDocument>();
  private mappingsReadAtMs = 0;
  /** Mappings read since mappingsReadAtMs, present or not. */
  private readonly mappingsRead = new Set<string>();

  constructor(
    private readonly cfg: NacosSourceConfig,
    private readonly hooks: NacosSourceHooks = {},
  ) {
    super(cfg.name);
    this.client = new NacosClient(cfg.nacos, () => hooks.nacosRequest?.(cfg.name, 'http'));
    this.transport = cfg.nacos.transport;
  }

  private get fetcher(): MetadataFetcher | undefined {
    return this.hooks.metadata;
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.setState('connecting');
    if (this.transport === 'http') void this.resync('start');
    else this.startGrpc();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryFlush);
    clearTimeout(this.docTimer);
    for (const w of this.watchers) w.stop();
    for (const l of this.docListeners.values()) l.stop();
    await this.running?.catch(() => undefined);
    await this.flushChain.catch(() => undefined);
    this.client.close();
  }

  /** One full listing (http), or a re-list and re-subscription of every namespace (grpc). */
  resync(reason: string): Promise<void> {
    if (this.transport === 'grpc') return Promise.all(this.watchers.map((w) => w.sync('resync'))).then(() => undefined);
    if (!this.running) {
      this.running = this.poll(reason).finally(() => {
        this.running = undefined;
        if (!this.stopped && this.transport === 'http') {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => void this.resync('poll'), this.cfg.nacos.pollMs);
          this.timer.unref();
        }
      });
    }
    return this.running;
  }

  private wanted = (service: string): boolean => service.startsWith(this.cfg.nacos.servicePrefix) || (this.cfg.nacos.applications && !DUBBO_CATEGORY.test(service));

  private startGrpc(): void {
    const n = this.cfg.nacos;
    const events: NamingEvents = {
      service: (namespace, group, service, hosts, pushed) => {
        const key = serviceKeyOf(namespace, group, service);
        if (pushed && !this.pushedAt.has(key)) this.pushedAt.set(key, Date.now());
        this.setLatest(key, namespace, service, hosts);
        void this.flushSoon();
      },
      synced: (namespace) => {
        this.syncedNamespaces.add(namespace);
        void this.flushSoon();
      },
      unavailable: (namespace, reason, refused) => {
        this.syncedNamespaces.delete(namespace);
        if (this.stopped) return;
        if (this.lastSyncMs) this.setState('stale', `Nacos gRPC connection lost: ${reason}; keeping the last known providers`);
        else this.setState('connecting', `connecting to Nacos over gRPC: ${reason}`);
        if (refused && !this.watchers.some((w) => w.everConnected)) void this.tryHttpFallback(reason);
      },
      failed: (namespace, err) => {
        if (err instanceof CredentialsRefused || (err instanceof NacosGrpcError && err.errorCode === NACOS_ERROR.NO_RIGHT)) {
          this.syncedNamespaces.delete(namespace);
          this.setState('failed', `Nacos refused our credentials: ${err.message}; keeping the last known providers`);
        }
      },
      push: (kind) => this.hooks.nacosPush?.(this.name, kind),
      subscriptions: (namespace, count) => {
        this.subscriptions.set(namespace, count);
        this.hooks.nacosSubscriptions?.(
          this.name,
          [...this.subscriptions.values()].reduce((a, b) => a + b, 0),
        );
      },
      reconnected: () => this.hooks.nacosReconnect?.(this.name),
      request: () => this.hooks.nacosRequest?.(this.name, 'grpc'),
    };
    const headers: HeadersOf = (_type, body) => this.client.requestHeaders('/ns/', { serviceName: String(body.serviceName ?? ''), groupName: String(body.groupName ?? '') });
    this.watchers = n.namespaces.map((ns) => new NacosNamingWatcher(n, ns, events, headers, this.wanted, this.name));
    for (const w of this.watchers) w.start();
    for (const ns of n.namespaces) {
      const configHeaders: HeadersOf = (_type, body) => this.client.requestHeaders('/cs/', { tenant: ns, group: String(body.group ?? '') });
      const l = new NacosConfigListener(
        n,
        ns,
        configHeaders,
        (item) => {
          // A mapping is read again at once; metadata not readable yet is read at every round.
          if (!item) this.mappingsRead.clear();
          else if (item.group === 'mapping') this.mappingsRead.delete(documentName.mapping(item.dataId));
          void this.flushSoon();
        },
        this.name,
      );
      this.docListeners.set(ns, l);
      l.start();
    }
  }

  /** The gRPC port refuses: if HTTP answers, poll over HTTP from now on (Nacos 1.x, or a closed port). */
  private async tryHttpFallback(reason: string): Promise<void> {
    if (this.running || this.transport === 'http') return;
    this.transport = 'http';
    const ok = await this.poll('grpc refused').then(() => this.state === 'synced');
    if (this.watchers.some((w) => w.everConnected) || this.stopped) {
      this.transport = 'grpc';
      return;
    }
    if (!ok) {
      this.transport = 'grpc'; // neither answers: Nacos is down; gRPC keeps trying
      return;
    }
    this.fallback = reason;
    for (const w of this.watchers) w.stop();
    this.watchers = [];
    for (const l of this.docListeners.values()) l.stop();
    this.docListeners.clear();
    log.warn('the Nacos gRPC port refuses but its HTTP API answers: polling over HTTP (transport: http) from now on', { source: this.name, reason, pollMs: this.cfg.nacos.pollMs });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.resync('poll'), this.cfg.nacos.pollMs);
    this.timer.unref();
  }

  private setLatest(key: string, namespace: string, service: string, hosts: readonly NacosHost[] | undefined): void {
    let state: ServiceState | undefined;
    if (hosts) {
      if (service.startsWith(this.cfg.nacos.servicePrefix)) state = { namespace, service, entries: hosts.map((h) => instanceEntry(service, h)).sort() };
      else {
        // Not Dubbo unless its instances name a metadata revision (e.g. a Spring Cloud service).
        const appHosts = hosts.filter((h) => typeof h.metadata?.[REVISION_KEY] === 'string');
        if (appHosts.length) {
          const revisions = new Map<string, MetadataServiceTarget[]>();
          for (const h of appHosts) {
            const targets = revisions.get(h.metadata![REVISION_KEY]) ?? [];
            revisions.set(h.metadata![REVISION_KEY], targets);
            // On Dubbo's default metadata (no report), its MetadataService answers instead.
            const t = localMetadataServiceTarget(h.ip, h.metadata!);
            if (t) targets.push(t);
          }
          state = { namespace, service, entries: appHosts.map((h) => instanceEntry(service, h)).sort(), revisions };
        }
      }
    }
    if (state) this.latest.set(key, state);
    else this.latest.delete(key);
    this.dirty.add(key);
  }

  /** Hands on what changed, after the documents it needs; one at a time, later calls coalesce. */
  private flush(): Promise<void> {
    if (this.queuedFlush) return this.queuedFlush;
    const run = this.flushChain
      .catch(() => undefined)
      .then(() => {
        this.queuedFlush = undefined;
        return this.handOn();
      });
    this.queuedFlush = run;
    this.flushChain = run;
    return run;
  }

  /** A flush for pushes: a failed document read is retried shortly, the instances wait for it. */
  private flushSoon(): Promise<void> {
    return this.flush().catch((err) => {
      if (this.stopped) return;
      log.warn('Nacos config could not be read for pushed instances; trying again', { source: this.name, error: (err as Error).message });
      clearTimeout(this.retryFlush);
      this.retryFlush = setTimeout(() => void this.flushSoon(), Math.min(this.cfg.nacos.pollMs, 2000));
      this.retryFlush.unref();
    });
  }

  private async handOn(): Promise<void> {
    // What changed until now, and the documents it needs: a service that changes while the
    // documents are read waits for the next round, which reads what it needs.
    const keys = [...this.dirty];
    this.dirty.clear();
    const revisions = new Map<string, Revision>();
    for (const s of this.latest.values()) {
      for (const [revision, targets] of s.revisions ?? []) {
        const name = documentName.metadata(s.service, revision);
        const r = revisions.get(name) ?? { namespace: s.namespace, app: s.service, revision, targets: [] };
        revisions.set(name, r);
        r.targets.push(...targets);
      }
    }
    let docs: Map<string, string | undefined>;
    try {
      docs = await this.readDocuments(revisions);
    } catch (err) {
      for (const k of keys) this.dirty.add(k);
      throw err;
    }
    if (this.stopped) return;
    // Documents first, so the instances that name them are normalized with them.
    for (const [name, content] of docs) this.setDocument(name, content);
    const now = Date.now();
    for (const key of keys) {
      const at = this.pushedAt.get(key);
      this.pushedAt.delete(key);
      const entries = this.latest.get(key)?.entries;
      if (sameList(this.known.get(key), entries)) continue;
      if (entries) {
        this.known.set(key, entries);
        this.sink?.setService(this.name, key, { kind: 'nacos-instance', entries });
      } else {
        this.known.delete(key);
        this.sink?.removeService(this.name, key);
      }
      if (at !== undefined) this.hooks.nacosPushApplied?.(this.name, (now - at) / 1000);
    }
    if (this.transport === 'grpc' && this.watchers.length && this.syncedNamespaces.size === this.watchers.length && this.state !== 'synced') {
      this.synced();
    }
    if (this.transport === 'grpc' && revisions.size) this.readDocumentsAgain(revisions);
  }

  /**
   * Over gRPC nothing else brings a round when no instance changes: metadata that is not
   * readable yet (published after its instances) is asked again every pollMs, and mappings are
   * read again every mappingRefreshMs, as a poll would.
   */
  private readDocumentsAgain(revisions: ReadonlyMap<string, Revision>): void {
    // Listened to as well: Nacos pushes a change (or the creation of what is missing) at once.
    const items = new Map<string, { group: string; dataId: string; md5: string }[]>();
    const add = (namespace: string, group: string, dataId: string, doc: KnownDocument | undefined) => {
      const list = items.get(namespace) ?? [];
      items.set(namespace, list);
      list.push({ group, dataId, md5: doc?.md5 ?? '' });
    };
    for (const [name, r] of revisions) {
      const doc = this.docs.get(name);
      add(r.namespace, r.revision, r.app, doc);
      for (const iface of doc?.interfaces ?? []) add(r.namespace, 'mapping', iface, this.docs.get(documentName.mapping(iface)));
    }
    for (const [namespace, l] of this.docListeners) l.listen(items.get(namespace) ?? []);
    const missing = [...revisions.keys()].some((name) => !this.docs.get(name)?.readable);
    clearTimeout(this.docTimer);
    this.docTimer = setTimeout(() => void this.flushSoon(), missing ? this.cfg.nacos.pollMs : this.cfg.nacos.mappingRefreshMs);
    this.docTimer.unref();
  }

  private async poll(reason: string): Promise<void> {
    const started = Date.now();
    const n = this.cfg.nacos;
    try {
      const seen = new Map<string, { namespace: string; service: string; hosts: NacosHost[] }>();
      for (const namespace of n.namespaces) {
        for (const group of n.groups) {
          const services = (await this.listServices(namespace, group)).filter(this.wanted);
          await mapLimit(services, n.concurrency, async (service) => {
            seen.set(serviceKeyOf(namespace, group, service), { namespace, service, hosts: await this.listInstances(namespace, group, service) });
          });
        }
      }
      // Applied only after every list call succeeded: a failed poll changes nothing.
      const before = new Map(this.latest);
      this.latest.clear();
      this.dirty.clear();
      for (const [key, s] of seen) this.setLatest(key, s.namespace, s.service, s.hosts);
      for (const key of before.keys()) if (!this.latest.has(key)) this.dirty.add(key);
      try {
        await this.flush();
      } catch (err) {
        // Documents unreadable: the next poll starts from what the sink has.
        this.latest.clear();
        for (const [k, v] of before) this.latest.set(k, v);
        throw err;
      }
      if (this.stopped) return;
      this.synced();
      log.debug('nacos poll complete', { source: this.name, reason, services: seen.size, ms: Date.now() - started });
    } catch (err) {
      if (this.stopped) return;
      const message = (err as Error).message;
      const failed = err instanceof CredentialsRefused;
      this.degraded(`${failed ? 'Nacos refused our credentials' : 'Nacos unreachable'}: ${message}; keeping the last known providers`, failed);
      log.warn('nacos poll failed; keeping the last known providers', { source: this.name, error: message });
    }
  }

  private async listServices(namespace: string, group: string): Promise<string[]> {
    const out: string[] = [];
    const pageSize = 1000;
    for (let page = 1; ; page++) {
      const r = (await this.client.get('/v1/ns/service/list', { pageNo: String(page), pageSize: String(pageSize), namespaceId: namespace, groupName: group })) as { count: number; doms: string[] };
      out.push(...(r.doms ?? []));
      if (!r.doms || r.doms.length < pageSize || out.length >= r.count) return out;
    }
  }

  private async listInstances(namespace: string, group: string, service: string): Promise<NacosHost[]> {
    const r = (await this.client.get('/v1/ns/instance/list', { serviceName: service, groupName: group, namespaceId: namespace, healthyOnly: 'false' })) as { hosts?: NacosHost[] };
    return r.hosts ?? [];
  }

  /**
   * The metadata of every revision instances name, and the mapping of the interfaces it lists.
   * A revision's metadata is read until it is readable JSON, then kept; mappings are read again
   * every mappingRefreshMs. Documents no instance needs any more are forgotten.
   */
  private async readDocuments(revisions: Map<string, Revision>): Promise<Map<string, string | undefined>> {
    const n = this.cfg.nacos;
    const out = new Map<string, string | undefined>();
    const pending = [...revisions].filter(([name]) => !this.docs.get(name)?.readable);
    await mapLimit(pending, n.concurrency, async ([name, r]) => {
      const content = await this.client.getConfig(r.namespace, r.app, r.revision);
      if (content !== undefined) out.set(name, content);
      else if (this.fetcher && r.targets.length) {
        if (!this.pending.has(name)) this.sink?.pendingDocument(this.name, name, 'asking the MetadataService');
        this.pending.add(name);
        const fetched = await this.fetcher.get(r.app, r.revision, r.targets);
        if (fetched.content !== undefined) out.set(name, fetched.content);
        else this.sink?.pendingDocument(this.name, name, fetched.reason ?? 'the MetadataService did not answer');
      }
    });
    const ifaces = new Map<string, string>();
    for (const [name, r] of revisions) for (const iface of out.has(name) ? interfacesIn(out.get(name)) : (this.docs.get(name)?.interfaces ?? [])) ifaces.set(documentName.mapping(iface), r.namespace);
    if (Date.now() - this.mappingsReadAtMs >= n.mappingRefreshMs) {
      this.mappingsRead.clear();
      this.mappingsReadAtMs = Date.now();
    }
    const mappings = [...ifaces].filter(([name]) => !this.mappingsRead.has(name));
    await mapLimit(mappings, n.concurrency, async ([name, namespace]) => {
      out.set(name, await this.client.getConfig(namespace, name.slice('mapping/'.length), 'mapping'));
      this.mappingsRead.add(name);
    });
    for (const name of this.docs.keys()) if (!revisions.has(name) && !ifaces.has(name)) out.set(name, undefined);
    // Pending no longer: answered (its document goes out first), or no instance names it.
    for (const name of [...this.pending]) {
      if (revisions.has(name) && out.get(name) === undefined && !this.docs.get(name)?.readable) continue;
      this.pending.delete(name);
      this.sink?.pendingDocument(this.name, name, undefined);
    }
    return out;
  }

  private setDocument(name: string, content: string | undefined): void {
    if (this.docs.get(name)?.content === content) return;
    if (content === undefined) this.docs.delete(name);
    else this.docs.set(name, { content, md5: configMd5(content), readable: isJson(content), interfaces: interfacesIn(content) });
    this.sink?.setDocument(this.name, name, content);
  }

  status(): RegistryStatus {
    const n = this.cfg.nacos;
    return this.statusOf('nacos', counts(this.known), {
      serverAddr: n.serverAddr,
      namespaces: n.namespaces,
      groups: n.groups,
      transport: this.transport,
      ...(this.fallback ? { fallback: `gRPC refused: ${this.fallback}` } : {}),
      ...(this.watchers.length ? { grpc: this.watchers.map((w) => w.details()) } : {}),
    });
  }
}

/** The registry service key of a Nacos service: namespace ("" public), group, name. */
function serviceKeyOf(namespace: string, group: string, service: string): string {
  return `${namespace || 'public'}/${group}/${service}`;
}

function instanceEntry(service: string, h: NacosHost): string {
  return JSON.stringify({ nacos: { service, ip: h.ip, port: h.port, weight: h.weight, healthy: h.healthy, enabled: h.enabled, cluster: h.clusterName, metadata: sortKeys(h.metadata ?? {}) } });
}

function isJson(text: string | undefined): boolean {
  if (text === undefined) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A document handed on, and what rounds ask of it: its digest (to listen), whether it parses, the interfaces it lists. */
interface KnownDocument {
  content: string;
  md5: string;
  readable: boolean;
  interfaces: string[];
}

/** A revision instances name: where its metadata report would be, and the MetadataServices that can answer for it. */
interface Revision {
  namespace: string;
  app: string;
  revision: string;
  targets: MetadataServiceTarget[];
}

/** Interface names a MetadataInfo lists, to read their mapping; src/dubbo judges the rest. */
function interfacesIn(metadata: string | undefined): string[] {
  try {
    const services = (JSON.parse(metadata ?? '') as { services?: Record<string, { name?: unknown }> }).services ?? {};
    return Object.values(services).flatMap((s) => (typeof s?.name === 'string' && /^[\w$.]+$/.test(s.name) ? [s.name] : []));
  } catch {
    return [];
  }
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
