import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import type { ServiceEntries } from '../../src/registry/types';

/** A complete config from a partial one, through the real loader (schema defaults included). */
export function testConfig(partial: Record<string, unknown> = {}): Config {
  return parseConfig(yaml.dump({ sources: [{ name: 'test', type: 'file', file: { path: 'unused.yaml' } }], ...withTestDefaults(partial) }));
}

/**
 * The suites assert on WorkloadEntries, one object per provider, so they run the workloadentry
 * mode unless a test asks for another; inline mode has its own tests (and is the default).
 * The MetadataService is only ever called on loopback and on the test hosts of the network
 * guard (198.18.0.0/15): fixture instances at made-up addresses are never dialled.
 */
export function withTestDefaults(partial: Record<string, unknown>): Record<string, unknown> {
  const render = (partial.render ?? {}) as Record<string, unknown>;
  const metadataService = (partial.metadataService ?? {}) as Record<string, unknown>;
  return { ...partial, render: { endpointMode: 'workloadentry', ...render }, metadataService: { allowedCidrs: TEST_CIDRS, ...metadataService } };
}

export const TEST_CIDRS = ['127.0.0.0/8', '198.18.0.0/15'];

export const FIXTURES = path.resolve(__dirname, '../fixtures');

/** The real provider URLs of test/fixtures, one znode name (URL-encoded) per line. */
export function fixtureProviderEntries(): string[] {
  return readFileSync(path.join(FIXTURES, 'zk-provider-urls.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Dubbo 3 znodes of test/fixtures/dubbo3-zookeeper.yaml: path -> data, per example estate. */
export interface Dubbo3Fixture {
  greetings: { interfaceLevel: Record<string, string>; applicationLevel: Record<string, string> };
  shop: { rev1: string; rev2: string; applicationLevel: Record<string, string>; upgraded: Record<string, string> };
}

export function dubbo3Fixture(): Dubbo3Fixture {
  return yaml.load(readFileSync(path.join(FIXTURES, 'dubbo3-zookeeper.yaml'), 'utf8')) as Dubbo3Fixture;
}

/** The znode of a fixture whose path starts with prefix, as [path, data]. */
export function znode(nodes: Record<string, string>, prefix: string): [string, string] {
  const hit = Object.entries(nodes).find(([p]) => p.startsWith(prefix));
  if (!hit) throw new Error(`no fixture znode under ${prefix}`);
  return hit;
}

/** A TrafficPolicy splitting config/providers.yaml's OrderService blue/green, as a config center holds it. */
export const ordersSplitPolicy = (blue: number): string => `apiVersion: dubbo-istio-adapter.io/v1
kind: TrafficPolicy
metadata: {name: orders}
spec:
  services: [payments/com.example.order.OrderService]
  split: {label: env, weights: {blue: ${blue}, green: ${100 - blue}}}
`;

/** A registry service's entries as a source hands them on, tagged with their kind. */
export const urls = (entries: readonly string[]): ServiceEntries => ({ kind: 'provider-url', entries });
export const zkInstances = (entries: readonly string[]): ServiceEntries => ({ kind: 'zookeeper-instance', entries });
/** Every registry service of a map, as provider URLs. */
export const urlServices = (services: ReadonlyMap<string, readonly string[]>): Map<string, ServiceEntries> => new Map([...services].map(([s, e]) => [s, urls(e)]));
