import { log } from '../common/log';
import type { NacosSourceConfig, RulesConfig } from '../config/types';
import { SourceBase } from './base';
import { isDubboRule, type RuleSink, type RuleSource, type RuleSourceStatus } from './config-center';
import { configMd5, mapLimit, NacosClient } from './nacos-client';
import { NacosConfigListener } from './nacos-push';

/**
 * Nacos config: the same rule keys as dataIds in the Dubbo group, and adapter documents in the
 * adapter group, of every configured namespace, listed and read every pollMs (only items whose
 * digest changed are read again). A failed poll changes nothing. With transport grpc (the
 * default) the items read are also listened to over Nacos's gRPC protocol, and a change Nacos
 * pushes starts a poll at once: a rule change takes effect in well under a second rather than
 * at the next poll; new items are still found by the poll.
 */
export class NacosRuleSource extends SourceBase<RuleSink> implements RuleSource {
  private readonly client: NacosClient;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** document -> [digest, content] */
  private readonly known = new Map<string, [string, string]>();
  private readonly listeners = new Map<string, NacosConfigListener>();
  private polling = false;
  private pollAgain = false;
  /** Documents Nacos said changed: read at the next poll whatever the listing says of them. */
  private readonly pushed = new Set<string>();

  constructor(
    private readonly cfg: NacosSourceConfig,
    private readonly rules: RulesConfig,
  ) {
    super(cfg.name);
    this.client = new NacosClient(cfg.nacos);
  }

  start(sink: RuleSink): void {
    this.sink = sink;
    const n = this.cfg.nacos;
    if (n.transport === 'grpc') {
      for (const namespace of n.namespaces) {
        const headers = (_type: string, body: Record<string, unknown>) => this.client.requestHeaders('/cs/', { tenant: namespace, group: String(body.group ?? '') });
        const l = new NacosConfigListener(
          n,
          namespace,
          headers,
          (item) => {
            const doc = item && `${namespace || 'public'}/${item.group}/${item.dataId}`;
            if (doc && this.known.has(doc)) this.pushed.add(doc); // only what it listens to
            this.pollSoon();
          },
          this.name,
        );
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
        for (const [group, accept] of [
          [this.rules.dubboGroup, isDubboRule],
          [this.rules.adapterGroup, () => true],
        ] as const) {
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
        l.listen(
          [...next]
            .filter(([doc]) => doc.startsWith(prefix))
            .map(([doc, [md5]]) => {
              const [group, ...dataId] = doc.slice(prefix.length).split('/');
              return { group, dataId: dataId.join('/'), md5 };
            }),
        );
      }
      this.synced();
    } catch (err) {
      if (this.stopped) return;
      this.degraded(`Nacos config unreachable: ${(err as Error).message}; keeping the last known rules`);
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

  status(): RuleSourceStatus {
    return this.statusOf('nacos', { documents: this.known.size }, { serverAddr: this.cfg.nacos.serverAddr, namespaces: this.cfg.nacos.namespaces, transport: this.cfg.nacos.transport });
  }
}
