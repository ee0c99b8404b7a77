import { log } from '../common/log';
import type { NacosSourceConfig } from '../config/types';
import { counts, sameList, SourceBase } from './base';
import { localMetadataServiceTarget, type MetadataFetcher, type MetadataServiceTarget } from './metadata-service';
import { CredentialsRefused, mapLimit, NacosClient } from './nacos-client';
import { documentName, REVISION_KEY, type RegistrySource, type SourceSink, type SourceStatus } from './types';

type NacosHost = { ip: string; port: number; weight: number; healthy: boolean; enabled: boolean; clusterName?: string; metadata?: Record<string, string> };

/** Dubbo's interface-level and governance names; any other service may be an application. */
const DUBBO_CATEGORY = /^(providers|consumers|configurators|routers):/;

/**
 * Watches Dubbo's interface-level services in Nacos through Nacos's HTTP open API (v1, which
 * Nacos 2.x serves and 3.x keeps for client compatibility). Nacos has no "children" watch, so
 * the source lists the services of each configured namespace and group, and the instances of
 * each, every pollMs. An instance goes on as a JSON entry; src/dubbo turns it into a URL.
 *
 * Dubbo 3 application-level instances (service name = application, metadata with a revision) are
 * read too, with the MetadataInfo of each revision from Nacos config (dataId = application,
 * group = revision) and the mapping of its interfaces (dataId = interface, group = mapping).
 *
 * Why not the `nacos` npm client: its naming client speaks the v1 HTTP API with UDP push,
 * which Nacos 2.x and later no longer push over, so it ends up polling per subscribed service
 * anyway, without a way to list services or to tell "empty" from "unreachable". Polling the
 * same API ourselves gives us both, with bounded concurrency. See docs/nacos.md.
 */
export class NacosSource extends SourceBase implements RegistrySource {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;
  private readonly client: NacosClient;
  private readonly known = new Map<string, readonly string[]>();
  /** Metadata documents asked of providers and not answered yet. */
  private readonly pending = new Set<string>();
  /** Documents handed to the sink; metadata of a revision never changes once readable. */
  private readonly docs = new Map<string, string>();
  private mappingsReadAtMs = 0;
  /** Mappings read since mappingsReadAtMs, present or not. */
  private readonly mappingsRead = new Set<string>();

  constructor(
    private readonly cfg: NacosSourceConfig,
    /** Asks providers for the metadata of revisions without a metadata report (Dubbo's default). */
    private readonly fetcher?: MetadataFetcher,
  ) {
    super(cfg.name);
    this.client = new NacosClient(cfg.nacos);
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.setState('connecting');
    void this.resync('start');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.client.close();
  }

  /** One full listing; concurrent calls share it. */
  resync(reason: string): Promise<void> {
    if (!this.running) {
      this.running = this.poll(reason).finally(() => {
        this.running = undefined;
        if (!this.stopped) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => void this.resync('poll'), this.cfg.nacos.pollMs);
          this.timer.unref();
        }
      });
    }
    return this.running;
  }

  private async poll(reason: string): Promise<void> {
    const started = Date.now();
    const n = this.cfg.nacos;
    try {
      const seen = new Map<string, readonly string[]>();
      const revisions = new Map<string, Revision>();
      for (const namespace of n.namespaces) {
        for (const group of n.groups) {
          const all = await this.listServices(namespace, group);
          const services = all.filter((s) => s.startsWith(n.servicePrefix) || (n.applications && !DUBBO_CATEGORY.test(s)));
          await mapLimit(services, n.concurrency, async (service) => {
            const key = `${namespace || 'public'}/${group}/${service}`;
            let hosts = await this.listInstances(namespace, group, service);
            if (!service.startsWith(n.servicePrefix)) {
              // Not Dubbo unless its instances name a metadata revision (e.g. a Spring Cloud service).
              hosts = hosts.filter((h) => typeof h.metadata?.[REVISION_KEY] === 'string');
              if (hosts.length === 0) return;
              for (const h of hosts) {
                const revision = h.metadata![REVISION_KEY];
                const name = documentName.metadata(service, revision);
                const r = revisions.get(name) ?? { namespace, app: service, revision, targets: [] };
                revisions.set(name, r);
                // On Dubbo's default metadata (no report), its MetadataService answers instead.
                const t = localMetadataServiceTarget(h.ip, h.metadata!);
                if (t) r.targets.push(t);
              }
            }
            seen.set(key, hosts.map((h) => instanceEntry(service, h)).sort());
          });
        }
      }
      const docs = await this.readDocuments(revisions);
      if (this.stopped) return;
      // Applied only after every read succeeded: a failed poll changes nothing. Documents first,
      // so the instances that name them are normalized with them.
      for (const [name, content] of docs) this.setDocument(name, content);
      for (const [key, entries] of seen) {
        if (sameList(this.known.get(key), entries)) continue;
        this.known.set(key, entries);
        this.sink?.setService(this.name, key, entries);
      }
      for (const key of [...this.known.keys()]) {
        if (seen.has(key)) continue;
        this.known.delete(key);
        this.sink?.removeService(this.name, key);
      }
      this.lastSyncMs = Date.now();
      this.setState('synced');
      log.debug('nacos poll complete', { source: this.name, reason, services: seen.size, ms: Date.now() - started });
    } catch (err) {
      if (this.stopped) return;
      const message = (err as Error).message;
      const failed = err instanceof CredentialsRefused;
      this.setState(failed ? 'failed' : this.lastSyncMs ? 'stale' : 'connecting', `${failed ? 'Nacos refused our credentials' : 'Nacos unreachable'}: ${message}; keeping the last known providers`);
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
    const pending = [...revisions].filter(([name]) => !isJson(this.docs.get(name)));
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
    for (const [name, r] of revisions) for (const iface of interfacesIn(out.get(name) ?? this.docs.get(name))) ifaces.set(documentName.mapping(iface), r.namespace);
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
      if (revisions.has(name) && out.get(name) === undefined && !isJson(this.docs.get(name))) continue;
      this.pending.delete(name);
      this.sink?.pendingDocument(this.name, name, undefined);
    }
    return out;
  }

  private setDocument(name: string, content: string | undefined): void {
    if (this.docs.get(name) === content) return;
    if (content === undefined) this.docs.delete(name);
    else this.docs.set(name, content);
    this.sink?.setDocument(this.name, name, content);
  }

  status(): SourceStatus {
    return this.statusOf('nacos', counts(this.known), { serverAddr: this.cfg.nacos.serverAddr, namespaces: this.cfg.nacos.namespaces, groups: this.cfg.nacos.groups });
  }
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

/** Interface names a MetadataInfo lists, to read their mapping; src/dubbo judges the rest. */
/** A revision instances name: where its metadata report would be, and the MetadataServices that can answer for it. */
interface Revision {
  namespace: string;
  app: string;
  revision: string;
  targets: MetadataServiceTarget[];
}

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
