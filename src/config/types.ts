import type { FromSchema } from 'json-schema-to-ts';
import type { configSchema, nacosBlock, zookeeperBlock } from './schema';

/*
 * The daemon's configuration as validated against ./schema.ts, defaults filled in. Every type
 * here is derived from the schema (json-schema-to-ts: a property with a default is always
 * present), so a setting is defined once, in the schema, with its description and default.
 * Only the shape the schema states with if/then (a source's `type` names the one block it
 * has) is spelled out here, as the discriminated unions the code switches on.
 */

type Schema = typeof configSchema.properties;
type Of<K extends keyof Schema> = FromSchema<Schema[K]>;
type RuleSourcesSchema = Schema['rules']['properties']['sources']['items']['properties'];

export interface FileSourceConfig {
  name: string;
  type: 'file';
  file: FromSchema<Schema['sources']['items']['properties']['file']>;
}

export interface ZookeeperSourceConfig {
  name: string;
  type: 'zookeeper';
  zookeeper: FromSchema<typeof zookeeperBlock>;
}

export interface NacosSourceConfig {
  name: string;
  type: 'nacos';
  nacos: FromSchema<typeof nacosBlock>;
}

export type SourceConfig = FileSourceConfig | ZookeeperSourceConfig | NacosSourceConfig;

export type RulesConfig = Omit<Of<'rules'>, 'sources'> & {
  /** Config centers: the same blocks as the registries' (rules.sources in the schema). */
  sources: (ZookeeperSourceConfig | NacosSourceConfig)[];
};

export type MappingConfig = Of<'mapping'>;
export type ProtocolMapping = MappingConfig['protocols'][string];
export type LabelMapping = MappingConfig['labels'][number];
export type RenderConfig = Of<'render'>;
export type VirtualAddressConfig = RenderConfig['virtualAddresses'];
export type XdsConfig = Of<'xds'>;
export type ClusterConfig = Of<'clusters'>[number];
export type LabelSelector = NonNullable<NonNullable<ClusterConfig['filter']>['services']>;
export type ProtectionConfig = Of<'protection'>;
export type MetadataServiceConfig = Of<'metadataService'>;

export interface Config {
  logLevel: Of<'logLevel'>;
  admin: Of<'admin'>;
  sources: SourceConfig[];
  mapping: MappingConfig;
  render: RenderConfig;
  xds: XdsConfig;
  clusters: ClusterConfig[];
  protection: ProtectionConfig;
  rules: RulesConfig;
  metadataService: MetadataServiceConfig;
}

/*
 * Compile-time checks: Config names every top-level key of the schema, and the blocks the
 * unions name are the ones the schema's sources hold.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const everyKey: Same<keyof Config, keyof Schema> = true;
const ruleBlocks: Same<FromSchema<RuleSourcesSchema['zookeeper']>, FromSchema<typeof zookeeperBlock>> = true;
void everyKey;
void ruleBlocks;
