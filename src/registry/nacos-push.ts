import { cutText, log } from '../common/log';
import type { NacosSourceConfig } from '../config/types';
import { NACOS_ERROR, NacosGrpcConnection, NacosGrpcError, type NacosGrpcOptions } from './nacos-grpc';
import { mapLimit } from './nacos-client';

/** instances: an instance list; services: services appearing or going; unreadable: a push not understood. */
export type PushKind = 'instances' | 'services' | 'unreadable';

export type NacosHost = { ip: string; port: number; weight: number; healthy: boolean; enabled: boolean; clusterName?: string; metadata?: Record<string, string> };

/** What a namespace watcher reports to its source. */
export interface NamingEvents {
  /** A service's instances as Nacos now has them (pushed, or answered); undefined: the service is gone. */
  service(namespace: string, group: string, service: string, hosts: readonly NacosHost[] | undefined, pushed: boolean): void;
  /** Listed and subscribed: every service of the namespace is known (again). */
  synced(namespace: string): void;
  /** The connection is lost (the last state stays served) or cannot be made. */
  unavailable(namespace: string, reason: string, refused: boolean): void;
  /** A list or subscription failed (credentials refused among the reasons). */
  failed(namespace: string, err: Error): void;
  push(kind: PushKind): void;
  subscriptions(namespace: string, n: number): void;
  reconnected(): void;
  request(): void;
}

/** The parts of the HTTP client a gRPC connection shares: credentials. */
export type HeadersOf = NacosGrpcOptions['headers'];

/**
 * One namespace of Nacos over gRPC: every service of the configured groups subscribed, the
 * instance lists Nacos pushes applied, and services that appear or go found by Nacos 3's fuzzy
 * watch (one pattern per group), or, where the server has no fuzzy watch (Nacos 2) or refuses the
 * pattern (more services than it lets one pattern match, 500 by default), by listing the
 * services every pollMs: one request per 1,000 services. Every resyncMs, and after every
 * reconnection (Nacos forgets a connection's subscriptions with it), everything is listed and
 * subscribed again, and only the real difference is reported.
 */
export class NacosNamingWatcher {
  private readonly conn: NacosGrpcConnection;
  /** Subscribed services ("group@@service"). */
  private readonly subscribed = new Set<string>();
  /**
   * Subscriptions in flight, with the last push that arrived meanwhile: the answer and a push
   * travel on different HTTP/2 streams, and the push, sent after the server registered the
   * subscription, is the newer one, so it is applied after the answer. (Nacos's lastRefTime
   * does not order them: a push can carry an older one than the answer.)
   */
  private readonly inflight = new Map<string, ServiceInfo | undefined>();
  /** Of those, the ones subscribed on the current connection (Nacos forgets them with it). */
  private readonly live = new Set<string>();
  /** Groups whose fuzzy watch Nacos accepted on this connection. */
  private readonly fuzzy = new Set<string>();
  /** Groups whose fuzzy watch Nacos refused: they are listed every pollMs instead. */
  private readonly fuzzyRefused = new Map<string, string>();
  private syncing?: Promise<void>;
  private again = false;
  private listTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly ns: string;
  private readonly name: string;

  constructor(
    private readonly cfg: NacosSourceConfig['nacos'],
    readonly namespace: string,
    private readonly events: NamingEvents,
    headers: HeadersOf,
    private readonly wanted: (service: string) => boolean,
    name: string,
  ) {
    this.ns = namespace || 'public';
    this.name = name;
    this.conn = new NacosGrpcConnection({
      ...connectionOptions(cfg, name, 'naming', namespace, headers),
      // An instance list of a large service, a page of 1,000 service names.
      maxMessageBytes: 64 * 1024 * 1024,
      onPush: (type, body) => this.onPush(type, body),
      onRequest: () => events.request(),
      onBadPush: () => events.push('unreadable'),
      onConnected: () => {
        if (this.conn.everConnected && this.subscribed.size) events.reconnected();
        // The server forgot this client's subscriptions and watches with the old connection:
        // everything is listed and subscribed again, and what went meanwhile is forgotten.
        this.fuzzy.clear();
        this.live.clear();
        void this.sync('connected');
      },
      onDisconnected: (reason) => events.unavailable(namespace, reason, false),
      onConnectFailed: (reason, refused) => events.unavailable(namespace, reason, refused),
    });
  }

  get everConnected(): boolean {
    return this.conn.everConnected;
  }

  details(): Record<string, unknown> {
    return {
      namespace: this.ns,
      connected: this.conn.connected,
      server: this.conn.server,
      subscriptions: this.subscribed.size,
      fuzzyWatch: [...this.fuzzy],
      listed: Object.fromEntries(this.fuzzyRefused),
    };
  }

  start(): void {
    this.conn.start();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.listTimer);
    clearTimeout(this.resyncTimer);
    this.conn.close();
  }

  /** Lists every service, subscribes to the new ones, forgets the gone ones; one at a time. */
  sync(reason: string): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = this.fullSync(reason)
      .catch((err) => {
        if (this.stopped) return;
        this.events.failed(this.namespace, err as Error);
        log.warn('Nacos list over gRPC failed; keeping the last known providers, trying again', { source: this.name, namespace: this.ns, error: cutText((err as Error).message, 300) });
        this.schedule('list', Math.min(this.cfg.pollMs, 5000));
      })
      .finally(() => {
        this.syncing = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.sync('again');
        }
      });
    return this.syncing;
  }

  private async fullSync(reason: string): Promise<void> {
    const all = new Set<string>();
    for (const group of this.cfg.groups) for (const s of await this.listServices(group)) all.add(s);
    // What is not subscribed on this connection yet; on resync, everything again.
    const fresh = [...all].filter((g) => !this.live.has(g) || reason === 'resync');
    await mapLimit(fresh, this.cfg.concurrency, (g) => this.subscribe(g));
    for (const g of [...this.subscribed]) if (!all.has(g)) this.forget(g);
    // A refused watch is asked for again at each resync: the estate may have shrunk under the limit.
    if (reason === 'resync') this.fuzzyRefused.clear();
    for (const group of this.cfg.groups) if (!this.fuzzy.has(group) && !this.fuzzyRefused.has(group)) await this.watch(group);
    this.events.subscriptions(this.namespace, this.subscribed.size);
    this.events.synced(this.namespace);
    if (this.cfg.groups.some((g) => !this.fuzzy.has(g))) this.schedule('list', this.cfg.pollMs);
    if (this.cfg.resyncMs > 0 && !this.resyncTimer) this.schedule('resync', this.cfg.resyncMs);
    log.debug('nacos gRPC sync complete', { source: this.name, namespace: this.ns, reason, services: this.subscribed.size });
  }

  private schedule(what: 'list' | 'resync', ms: number): void {
    if (this.stopped) return;
    const key = what === 'list' ? 'listTimer' : 'resyncTimer';
    clearTimeout(this[key]);
    this[key] = setTimeout(() => {
      this[key] = undefined;
      if (this.conn.connected) void this.sync(what);
    }, ms);
    this[key]!.unref();
  }

  /** Grouped names ("group@@service") of the group's services this source reads. */
  private async listServices(group: string): Promise<string[]> {
    const out: string[] = [];
    const pageSize = 1000;
    for (let page = 1; ; page++) {
      const r = await this.conn.request<{ count?: number; serviceNames?: string[] }>('ServiceListRequest', {
        namespace: this.ns,
        groupName: group,
        serviceName: '',
        pageNo: page,
        pageSize,
        module: 'naming',
      });
      const names = Array.isArray(r.serviceNames) ? r.serviceNames.filter((n): n is string => typeof n === 'string') : [];
      for (const n of names) {
        const g = grouped(group, n);
        if (this.wanted(g.slice(group.length + 2))) out.push(g);
      }
      if (names.length < pageSize || page * pageSize >= (r.count ?? 0)) return out;
    }
  }

  private async subscribe(g: string): Promise<void> {
    const [group, service] = splitGrouped(g);
    this.inflight.set(g, undefined);
    try {
      const r = await this.conn.request<{ serviceInfo?: ServiceInfo }>('SubscribeServiceRequest', {
        namespace: this.ns,
        groupName: group,
        serviceName: service,
        subscribe: true,
        clusters: '',
        module: 'naming',
      });
      const pushed = this.inflight.get(g);
      this.subscribed.add(g);
      this.live.add(g);
      this.apply(group, service, r.serviceInfo, false);
      if (pushed) this.apply(group, service, pushed, true);
    } finally {
      this.inflight.delete(g);
    }
  }

  private forget(g: string): void {
    this.subscribed.delete(g);
    this.live.delete(g);
    const [group, service] = splitGrouped(g);
    this.events.service(this.namespace, group, service, undefined, false);
    if (this.conn.connected)
      void this.conn.request('SubscribeServiceRequest', { namespace: this.ns, groupName: group, serviceName: service, subscribe: false, clusters: '', module: 'naming' }).catch(() => undefined);
  }

  private async watch(group: string): Promise<void> {
    const pattern = `${this.ns}>>${group}>>${this.cfg.applications ? '*' : `${this.cfg.servicePrefix}*`}`;
    try {
      await this.conn.request('NamingFuzzyWatchRequest', {
        namespace: this.ns,
        groupKeyPattern: pattern,
        watchType: 'WATCH',
        isInitializing: true,
        receivedGroupKeys: [...this.subscribed].filter((g) => g.startsWith(`${group}@@`)).map((g) => `${this.ns}@@${g}`),
        module: 'naming',
      });
      this.fuzzy.add(group);
    } catch (err) {
      if (!(err instanceof NacosGrpcError)) throw err;
      const why =
        err.errorCode === NACOS_ERROR.NO_HANDLER
          ? 'no fuzzy watch on this server (Nacos 2)'
          : err.errorCode === NACOS_ERROR.FUZZY_WATCH_OVER_LIMIT
            ? 'more services than the server lets one fuzzy watch pattern match'
            : err.message;
      if (!this.fuzzyRefused.has(group))
        log.info('Nacos fuzzy watch not available; the service list is read every pollMs instead', { source: this.name, namespace: this.ns, group, reason: why, pollMs: this.cfg.pollMs });
      this.fuzzyRefused.set(group, why);
    }
  }

  private onPush(type: string, body: Record<string, unknown>): string | undefined {
    log.debug('nacos push', { source: this.name, namespace: this.ns, type, body: cutText(JSON.stringify(body), 300) });
    switch (type) {
      case 'NotifySubscriberRequest': {
        const info = body.serviceInfo as ServiceInfo | undefined;
        if (!info || typeof info.name !== 'string') return 'NotifySubscriberResponse';
        const group = typeof info.groupName === 'string' && info.groupName ? info.groupName : info.name.split('@@')[0];
        const service = info.name.includes('@@') ? info.name.slice(info.name.indexOf('@@') + 2) : info.name;
        this.events.push('instances');
        const g = `${group}@@${service}`;
        if (this.inflight.has(g)) this.inflight.set(g, info);
        else if (this.subscribed.has(g)) this.apply(group, service, info, true);
        return 'NotifySubscriberResponse';
      }
      case 'NamingFuzzyWatchChangeNotifyRequest':
        this.events.push('services');
        this.serviceKeyChanged(String(body.serviceKey ?? ''), String(body.changedType ?? ''));
        return 'NamingFuzzyWatchChangeNotifyResponse';
      case 'NamingFuzzyWatchSyncRequest': {
        this.events.push('services');
        const contexts = Array.isArray(body.contexts) ? (body.contexts as { serviceKey?: unknown; changedType?: unknown }[]) : [];
        for (const c of contexts) this.serviceKeyChanged(String(c?.serviceKey ?? ''), String(c?.changedType ?? ''));
        return 'NamingFuzzyWatchSyncResponse';
      }
      default:
        return undefined;
    }
  }

  /** A fuzzy watch notification: "namespace@@group@@service" added or deleted. */
  private serviceKeyChanged(serviceKey: string, changedType: string): void {
    const parts = serviceKey.split('@@');
    if (parts.length !== 3 || parts[0] !== this.ns || !this.cfg.groups.includes(parts[1]) || !this.wanted(parts[2])) return;
    const g = `${parts[1]}@@${parts[2]}`;
    if (changedType === 'DELETE_SERVICE') {
      if (this.subscribed.has(g)) this.forget(g);
    } else if (changedType === 'ADD_SERVICE' && !this.live.has(g)) {
      this.subscribe(g).catch((err) => {
        log.warn('Nacos subscription failed; the next list tries again', { source: this.name, namespace: this.ns, service: g, error: cutText((err as Error).message, 300) });
        this.schedule('list', Math.min(this.cfg.pollMs, 5000));
      });
    }
  }

  private apply(group: string, service: string, info: ServiceInfo | undefined, pushed: boolean): void {
    const hosts = Array.isArray(info?.hosts) ? info.hosts : [];
    this.events.service(this.namespace, group, service, hosts, pushed);
  }
}

/** What every connection of a source shares: its servers, port, namespace, credentials and limits. */
function connectionOptions(cfg: NacosSourceConfig['nacos'], name: string, module: 'naming' | 'config', namespace: string, headers: HeadersOf) {
  return { name, servers: cfg.serverAddr.split(',').map((s) => s.trim()), portOffset: cfg.grpcPortOffset, module, namespace, timeoutMs: cfg.timeoutMs, tls: cfg.tls, headers };
}

interface ServiceInfo {
  name?: string;
  groupName?: string;
  hosts?: NacosHost[];
}

/** Nacos answers service names with their group ("group@@service"); older servers without. */
function grouped(group: string, name: string): string {
  return name.startsWith(`${group}@@`) ? name : `${group}@@${name}`;
}

function splitGrouped(g: string): [string, string] {
  const i = g.indexOf('@@');
  return [g.slice(0, i), g.slice(i + 2)];
}

/**
 * Config items of one namespace listened to over gRPC (Nacos 2/3): Nacos pushes a
 * ConfigChangeNotifyRequest when one of them changes, and `changed` says so, so that its reader
 * reads it now rather than at its next poll. Which items exist is still found by listing them.
 * After a reconnection everything is listened to again (Nacos forgets listeners with their
 * connection) and `changed` is called once, as anything may have changed meanwhile.
 */
export class NacosConfigListener {
  private readonly conn: NacosGrpcConnection;
  /** "group\u0000dataId" -> md5 the server was told. */
  private told = new Map<string, string>();
  private wanted = new Map<string, string>();
  private sending?: Promise<void>;

  constructor(
    cfg: NacosSourceConfig['nacos'],
    private readonly namespace: string,
    headers: HeadersOf,
    /** An item changed (undefined: anything may have, after a reconnection). */
    private readonly changed: (item: { group: string; dataId: string } | undefined) => void,
    name: string,
  ) {
    this.conn = new NacosGrpcConnection({
      ...connectionOptions(cfg, name, 'config', namespace, headers),
      maxMessageBytes: 16 * 1024 * 1024,
      onPush: (type, body) => {
        if (type !== 'ConfigChangeNotifyRequest') return undefined;
        this.changed({ group: String(body.group ?? ''), dataId: String(body.dataId ?? '') });
        return 'ConfigChangeNotifyResponse';
      },
      onConnected: () => {
        this.told = new Map();
        void this.send();
        this.changed(undefined);
      },
      onDisconnected: () => undefined,
    });
  }

  get connected(): boolean {
    return this.conn.connected;
  }

  start(): void {
    this.conn.start();
  }

  stop(): void {
    this.conn.close();
  }

  /** The items to listen to, with the digest of the content last read. */
  listen(items: { group: string; dataId: string; md5: string }[]): void {
    this.wanted = new Map(items.map((i) => [`${i.group}\u0000${i.dataId}`, i.md5]));
    void this.send();
  }

  /** Tells the server what changed in the listened set; one batch at a time. */
  private async send(): Promise<void> {
    if (this.sending || !this.conn.connected) return;
    this.sending = (async () => {
      while (this.conn.connected) {
        const add = [...this.wanted].filter(([k, md5]) => this.told.get(k) !== md5);
        const drop = [...this.told.keys()].filter((k) => !this.wanted.has(k));
        if (!add.length && !drop.length) return;
        const context = ([k, md5]: [string, string]) => ({ group: k.split('\u0000')[0], dataId: k.split('\u0000')[1], md5, tenant: this.namespace });
        if (drop.length) {
          await this.conn.request('ConfigBatchListenRequest', { listen: false, configListenContexts: drop.map((k) => context([k, ''])), module: 'config' });
          for (const k of drop) this.told.delete(k);
        }
        if (add.length) {
          const r = await this.conn.request<{ changedConfigs?: unknown[] }>('ConfigBatchListenRequest', { listen: true, configListenContexts: add.map(context), module: 'config' });
          for (const [k, md5] of add) this.told.set(k, md5);
          // Changed between our read and the listen: read again now.
          for (const c of Array.isArray(r.changedConfigs) ? (r.changedConfigs as { group?: unknown; dataId?: unknown }[]) : [])
            this.changed({ group: String(c?.group ?? ''), dataId: String(c?.dataId ?? '') });
        }
      }
    })()
      .catch((err) => {
        log.debug('nacos config listen failed; the next poll reads changes', { namespace: this.namespace, error: (err as Error).message });
      })
      .finally(() => (this.sending = undefined));
  }
}
