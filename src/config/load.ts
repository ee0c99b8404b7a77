import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import { cidrsOverlap, parseCidr } from '../common/cidr';
import { loadYaml, yamlProblem } from '../common/yaml';
import { configSchema } from './schema';
import type { Config, ZookeeperSourceConfig } from './types';

/** Istio's own auto-allocation range for ServiceEntries (istiod's PILOT_IP_AUTOALLOCATE_IPV4_PREFIX default). */
const ISTIO_AUTO_ALLOCATION = '240.240.0.0/16';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n  - ${problems.join('\n  - ')}`);
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validate = ajv.compile(configSchema);

/** Reads, validates and completes a config file. Relative paths resolve against the file's folder. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file = '<inline>'): Config {
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch (err) {
    throw new ConfigError(file, [yamlProblem(err, true)]);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(file, ['(root): must be a mapping with at least a "sources" list; see config/adapter.yaml']);
  }
  if (!validate(doc)) throw new ConfigError(file, explain(validate.errors ?? []));
  const config = doc as unknown as Config;
  const problems = semanticProblems(config);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const base = file === '<inline>' ? process.cwd() : path.dirname(path.resolve(file));
  for (const s of config.sources) if (s.type === 'file') s.file.path = path.resolve(base, s.file.path);
  return config;
}

/** Config keys whose values are secrets: an error names the key, never the value. */
const SECRET_KEY = /(password|secretkey|credentials|token)$/i;

/** ajv's errors, reduced to one line each that names the path, the value and the fix. */
function explain(errors: ErrorObject[]): string[] {
  const lines = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'propertyNames') continue;
    const where = e.instancePath === '' ? '(root)' : e.instancePath.slice(1);
    const got = SECRET_KEY.test(where) ? '(value not shown: a secret)' : `(got ${JSON.stringify(e.data)})`;
    let line: string;
    if (e.propertyName !== undefined) line = `${where}: key ${JSON.stringify(e.propertyName)} is not a valid label key (DNS-1123 prefix/, then up to 63 letters, digits, '-', '_', '.')`;
    else if (e.keyword === 'additionalProperties') line = `${where}: unknown key "${(e.params as { additionalProperty: string }).additionalProperty}" (check its spelling)`;
    else if (e.keyword === 'required') line = `${where}: missing "${(e.params as { missingProperty: string }).missingProperty}"`;
    else if (e.keyword === 'not') line = `${where}: a source of type "${(e.data as { type?: string }).type}" takes only its own block (file:, zookeeper: or nacos:)`;
    else if (e.keyword === 'enum') line = `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')} ${got}`;
    else line = `${where}: ${e.message} ${got}`;
    lines.add(line);
  }
  return [...lines];
}

/**
 * Sources that name the same ZooKeeper (connect string and credentials) share one session, as
 * registry and as config center (src/registry/zk-session.ts).
 */
export const zookeeperSessionKey = (z: ZookeeperSourceConfig['zookeeper']): string => JSON.stringify([z.connect, z.auth ?? null]);

function semanticProblems(c: Config): string[] {
  const problems: string[] = [];
  const dup = (items: string[], what: string): void => {
    const seen = new Set<string>();
    for (const i of items) {
      if (seen.has(i)) problems.push(`${what}: "${i}" is used twice; each must be unique`);
      seen.add(i);
    }
  };
  dup(
    [...c.sources, ...c.rules.sources].map((s) => s.name),
    'sources/*/name and rules/sources/*/name',
  );
  // One ZooKeeper (connect string and credentials) is read on one session, with one timeout.
  const sessions = new Map<string, { where: string; timeoutMs: number }>();
  const sameSession = (where: string, s: Config['sources'][number]): void => {
    if (s.type !== 'zookeeper') return;
    const key = zookeeperSessionKey(s.zookeeper);
    const first = sessions.get(key);
    if (!first) sessions.set(key, { where, timeoutMs: s.zookeeper.sessionTimeoutMs });
    else if (first.timeoutMs !== s.zookeeper.sessionTimeoutMs) {
      problems.push(
        `${where}/zookeeper/sessionTimeoutMs: ${s.zookeeper.sessionTimeoutMs} differs from ${first.timeoutMs} in ${first.where}; both name the same ZooKeeper, which the daemon reads on one session with one timeout`,
      );
    }
  };
  c.sources.forEach((s, i) => sameSession(`sources/${i}`, s));
  c.rules.sources.forEach((s, i) => sameSession(`rules/sources/${i}`, s));
  dup(
    c.clusters.map((k) => k.name),
    'clusters/*/name',
  );
  dup(
    c.clusters.filter((k) => k.listener.port !== 0).map((k) => `${k.listener.address}:${k.listener.port}`),
    'clusters/*/listener',
  );
  c.clusters.forEach((k, i) => {
    if (k.listener.port !== 0 && k.listener.port === c.admin.port && k.listener.address === c.admin.address) {
      problems.push(`clusters/${i}/listener/port: ${k.listener.port} is also the admin port; pick another`);
    }
  });
  c.clusters.forEach((k, i) => {
    if (k.shard && k.shard.index >= k.shard.count) problems.push(`clusters/${i}/shard/index: ${k.shard.index} is not below count ${k.shard.count}; shards are numbered from 0`);
    for (const which of ['services', 'endpoints'] as const) {
      k.filter?.[which]?.matchExpressions?.forEach((x, j) => {
        const where = `clusters/${i}/filter/${which}/matchExpressions/${j}`;
        const needsValues = x.operator === 'In' || x.operator === 'NotIn';
        if (needsValues && !x.values?.length) problems.push(`${where}: ${x.operator} needs a non-empty "values" list`);
        if (!needsValues && x.values?.length) problems.push(`${where}: ${x.operator} takes no "values"; remove them`);
      });
    }
  });
  const volatile = new Set(c.mapping.volatileParams);
  c.mapping.labels.forEach((l, i) => {
    if (volatile.has(l.param)) {
      problems.push(
        `mapping/labels/${i}/param: "${l.param}" changes on every provider restart; as a label it would rewrite objects and force full pushes. Remove it, or drop it from mapping.volatileParams if you really mean it`,
      );
    }
  });
  dup(
    c.mapping.labels.map((l) => l.label),
    'mapping/labels/*/label',
  );
  const ports = new Map<number, string>();
  for (const [proto, m] of Object.entries(c.mapping.protocols)) {
    const other = ports.get(m.number);
    if (other) problems.push(`mapping/protocols/${proto}/number: ${m.number} is also used by ${other}; a ServiceEntry cannot have one port twice`);
    ports.set(m.number, proto);
  }
  if (c.mapping.labels.some((l) => l.label === c.render.membershipLabel)) {
    problems.push(`render/membershipLabel: "${c.render.membershipLabel}" is also a mapped label; pick a key of its own`);
  }
  c.sources.forEach((s, i) => {
    if (s.type === 'zookeeper' && s.zookeeper.auth) {
      const a = s.zookeeper.auth;
      if (!a.credentials === !a.credentialsEnv) problems.push(`sources/${i}/zookeeper/auth: set exactly one of credentials or credentialsEnv`);
    }
    if (s.type === 'nacos' && s.nacos.auth) {
      const a = s.nacos.auth;
      if (!a.password === !a.passwordEnv) problems.push(`sources/${i}/nacos/auth: set exactly one of password or passwordEnv`);
      if (a.accessKey && !a.secretKey === !a.secretKeyEnv) problems.push(`sources/${i}/nacos/auth: with accessKey, set exactly one of secretKey or secretKeyEnv`);
    }
  });
  if (!/\{interface\}/.test(c.mapping.hostTemplate)) problems.push('mapping/hostTemplate: must contain {interface}');
  if (!/\{interface\}/.test(c.mapping.groupHostTemplate) || !/\{group\}/.test(c.mapping.groupHostTemplate)) {
    problems.push('mapping/groupHostTemplate: must contain {group} and {interface}, since groups never share a host');
  }
  const range = parseCidr(c.render.virtualAddresses.cidr);
  if (typeof range === 'string') problems.push(`render/virtualAddresses/cidr: ${range}`);
  else if (cidrsOverlap(range, parseCidr(ISTIO_AUTO_ALLOCATION) as { base: number; size: number })) {
    problems.push(`render/virtualAddresses/cidr: ${c.render.virtualAddresses.cidr} overlaps Istio's own auto-allocation range ${ISTIO_AUTO_ALLOCATION}`);
  }
  c.metadataService.allowedCidrs.forEach((cidr, i) => {
    const r = cidr === '::/0' ? undefined : parseCidr(cidr);
    if (typeof r === 'string') problems.push(`metadataService/allowedCidrs/${i}: ${r}`);
  });
  // The catalog keys services by version or not for both templates at once.
  if (/\{version\}/.test(c.mapping.hostTemplate) !== /\{version\}/.test(c.mapping.groupHostTemplate)) {
    problems.push('mapping: hostTemplate and groupHostTemplate must both contain {version}, or neither');
  }
  return problems;
}
