import type { SourceConfig } from '../config/types';
import { FileSource } from './file';
import { NacosSource, type NacosSourceHooks } from './nacos';
import type { RegistrySource } from './types';
import { ZookeeperSource, type ZookeeperSourceHooks } from './zookeeper';

export function createSource(cfg: SourceConfig, hooks: ZookeeperSourceHooks & NacosSourceHooks = {}): RegistrySource {
  switch (cfg.type) {
    case 'file':
      return new FileSource(cfg);
    case 'zookeeper':
      return new ZookeeperSource(cfg, hooks);
    case 'nacos':
      return new NacosSource(cfg, hooks);
  }
}
