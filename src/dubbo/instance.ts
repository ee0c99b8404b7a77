/**
 * Dubbo 3 application-level discovery. A process registers one instance for its application;
 * which services it exports is in the MetadataInfo of the instance's revision (kept in the
 * metadata report: ZooKeeper /dubbo/metadata/{app}/{revision}, Nacos config dataId={app},
 * group={revision}). The port of each protocol is in the instance's dubbo.endpoints metadata.
 * This file turns an instance plus its MetadataInfo into the provider URLs the interface-level
 * model would have held, so both models normalize through the same code. Pure.
 */
import { REVISION_KEY } from '../registry/types';
import type { NacosInstanceEntry } from './nacos';
import type { ProviderUrl } from './url';

export interface AppInstance {
  application: string;
  /** The registry's id of the instance: stable while the process lives, whatever its revision. */
  id: string;
  address: string;
  port: number;
  metadata: Readonly<Record<string, string>>;
  registeredAtMs?: number;
}

export interface ServiceInfo {
  name: string;
  group: string;
  version: string;
  protocol: string;
  path: string;
  /** Written by Dubbo 3.1 and later; older revisions leave the port to dubbo.endpoints. */
  port?: number;
  params: Readonly<Record<string, string>>;
}

export interface MetadataInfo {
  app: string;
  revision: string;
  services: ServiceInfo[];
}

type Failure = { error: string };

/**
 * The znode data of /services/{app}/{id}: Curator's ServiceInstance JSON, as Dubbo 3's
 * ZookeeperServiceDiscovery writes it, with Dubbo's metadata under payload.metadata.
 */
export function parseZookeeperInstance(json: string): AppInstance | Failure {
  let raw: {
    name?: unknown;
    id?: unknown;
    address?: unknown;
    port?: unknown;
    registrationTimeUTC?: unknown;
    payload?: { metadata?: unknown } | null;
  };
  try {
    raw = JSON.parse(json) as typeof raw;
  } catch (err) {
    return { error: `instance is not valid JSON: ${(err as Error).message}` };
  }
  if (!raw || typeof raw !== 'object') return { error: 'instance record is not a JSON object' };
  if (typeof raw.name !== 'string' || !raw.name) return { error: 'instance has no application name' };
  if (typeof raw.address !== 'string' || !raw.address) return { error: 'instance has no address' };
  if (!isPort(raw.port)) return { error: `instance port ${JSON.stringify(raw.port)} is not a port` };
  const metadata = stringMap(raw.payload?.metadata);
  const inst: AppInstance = {
    application: raw.name,
    id: typeof raw.id === 'string' && raw.id ? raw.id : `${raw.address}:${raw.port}`,
    address: raw.address,
    port: raw.port,
    metadata,
  };
  // The provider's own timestamp, as its interface-level URL carries it, before ZooKeeper's.
  const at = Number(metadata.timestamp) || (typeof raw.registrationTimeUTC === 'number' ? raw.registrationTimeUTC : NaN);
  if (Number.isFinite(at) && at > 0) inst.registeredAtMs = at;
  return inst;
}

/** A Nacos instance of an application-level service (service name = application). */
export function appInstanceOfNacos(i: NacosInstanceEntry): AppInstance | Failure {
  if (typeof i.ip !== 'string' || !i.ip) return { error: 'instance has no ip' };
  if (!isPort(i.port)) return { error: `instance port ${JSON.stringify(i.port)} is not a port` };
  const metadata = stringMap(i.metadata);
  const inst: AppInstance = { application: i.service, id: `${i.ip}:${i.port}`, address: i.ip, port: i.port, metadata };
  const at = Number(metadata.timestamp);
  if (Number.isFinite(at) && at > 0) inst.registeredAtMs = at;
  return inst;
}

export function revisionOf(inst: AppInstance): string | undefined {
  const r = inst.metadata[REVISION_KEY];
  return r && r !== '0' ? r : undefined;
}

/** MetadataInfo JSON as Dubbo 3 reports it: {app, revision, services: {matchKey: ServiceInfo}}. */
export function parseMetadataInfo(json: string): MetadataInfo | Failure {
  let raw: { app?: unknown; revision?: unknown; services?: unknown };
  try {
    raw = JSON.parse(json) as typeof raw;
  } catch (err) {
    return { error: `metadata is not valid JSON: ${(err as Error).message}` };
  }
  if (!raw || typeof raw !== 'object') return { error: 'metadata is not a JSON object' };
  if (!raw.services || typeof raw.services !== 'object') return { error: 'metadata has no services map' };
  const services: ServiceInfo[] = [];
  for (const [matchKey, s] of Object.entries(raw.services as Record<string, unknown>)) {
    if (!s || typeof s !== 'object') return { error: `metadata service "${matchKey}" is not an object` };
    const o = s as Record<string, unknown>;
    if (typeof o.name !== 'string' || !o.name) return { error: `metadata service "${matchKey}" has no name` };
    const info: ServiceInfo = {
      name: o.name,
      group: typeof o.group === 'string' ? o.group : '',
      version: typeof o.version === 'string' ? o.version : '',
      protocol: typeof o.protocol === 'string' && o.protocol ? o.protocol : 'dubbo',
      path: typeof o.path === 'string' && o.path ? o.path : o.name,
      params: stringMap(o.params),
    };
    if (isPort(o.port)) info.port = o.port;
    services.push(info);
  }
  services.sort((a, b) => cmp(`${a.group}/${a.name}:${a.version}:${a.protocol}`, `${b.group}/${b.name}:${b.version}:${b.protocol}`));
  return { app: typeof raw.app === 'string' ? raw.app : '', revision: typeof raw.revision === 'string' ? raw.revision : '', services };
}

/** dubbo.endpoints: [{"port":20880,"protocol":"dubbo"}, ...], the port of each protocol. */
export function parseEndpoints(value: string | undefined): Map<string, number> | Failure {
  const out = new Map<string, number>();
  if (value === undefined || value === '') return out;
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch (err) {
    return { error: `dubbo.endpoints is not valid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(list)) return { error: 'dubbo.endpoints is not a JSON list' };
  for (const e of list as { port?: unknown; protocol?: unknown }[]) {
    if (!e || typeof e.protocol !== 'string' || !isPort(e.port)) return { error: `dubbo.endpoints entry ${JSON.stringify(e)} has no protocol and port` };
    out.set(e.protocol, e.port);
  }
  return out;
}

/**
 * The provider URL of each service the instance exports, as Dubbo's InstanceAddressURL sees it:
 * service parameters first, then the instance's own metadata (labels such as env and zone live
 * there); the port of the service's protocol from dubbo.endpoints, else the instance port.
 */
export function providerUrlsOfInstance(inst: AppInstance, meta: MetadataInfo): ProviderUrl[] | Failure {
  const ports = parseEndpoints(inst.metadata['dubbo.endpoints']);
  if ('error' in ports) return ports;
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(inst.metadata)) if (!k.startsWith('dubbo.')) own[k] = v;
  return meta.services.map((s) => {
    const params: Record<string, string> = { ...own, ...s.params, interface: s.name, side: 'provider' };
    if (s.group) params.group = s.group;
    else delete params.group;
    if (s.version) params.version = s.version;
    else delete params.version;
    params.application ??= inst.application;
    if (!params.timestamp && inst.registeredAtMs) params.timestamp = String(inst.registeredAtMs);
    return { protocol: s.protocol, host: inst.address, port: ports.get(s.protocol) ?? s.port ?? inst.port, path: s.path, params };
  });
}

/** Dubbo's mapping content: applications separated by commas. */
export function parseMapping(content: string): string[] {
  return content
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
}

function isPort(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
