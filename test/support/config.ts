import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';

/** A complete config from a partial one, through the real loader (schema defaults included). */
export function testConfig(partial: Record<string, unknown> = {}): Config {
  return parseConfig(yaml.dump({ sources: [{ name: 'test', type: 'file', file: { path: 'unused.yaml' } }], ...partial }));
}

export const FIXTURES = path.resolve(__dirname, '../fixtures');

/** The real provider URLs of test/fixtures, one znode name (URL-encoded) per line. */
export function fixtureProviderEntries(): string[] {
  return readFileSync(path.join(FIXTURES, 'zk-provider-urls.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
