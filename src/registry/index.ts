import type { NacosSourceConfig, RulesConfig, SourceConfig, ZookeeperSourceConfig } from '../config/types';
import type { RuleSource } from './config-center';
import { FileSource } from './file';
import { NacosSource, type NacosSourceHooks } from './nacos';
import { NacosRuleSource } from './nacos-rules';
import type { RegistrySource } from './types';
import { ZookeeperSource, type ZookeeperSourceHooks } from './zookeeper';
import { ZookeeperRuleSource } from './zookeeper-rules';
import { ZookeeperSessions } from './zk-session';

/** Connections that registry and config-center sources share: one ZooKeeper session per ensemble and credentials. */
export interface SharedConnections {
  zookeeper: ZookeeperSessions;
}

export const sharedConnections = (): SharedConnections => ({ zookeeper: new ZookeeperSessions() });

export function createSource(cfg: SourceConfig, hooks: ZookeeperSourceHooks & NacosSourceHooks = {}, shared = sharedConnections()): RegistrySource {
  switch (cfg.type) {
    case 'file':
      return new FileSource(cfg);
    case 'zookeeper':
      return new ZookeeperSource(cfg, hooks, shared.zookeeper);
    case 'nacos':
      return new NacosSource(cfg, hooks);
  }
}

export function createRuleSource(cfg: ZookeeperSourceConfig | NacosSourceConfig, rules: RulesConfig, shared = sharedConnections()): RuleSource {
  return cfg.type === 'zookeeper' ? new ZookeeperRuleSource(cfg, rules, shared.zookeeper) : new NacosRuleSource(cfg, rules);
}
