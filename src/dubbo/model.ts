/**
 * The internal model every registry record is normalized into. Plain data, no behaviour.
 */
import { intern, keepShared, sharedRecord } from '../common/hash';

/** Dubbo's identity of a service: different groups never mix; version is matched by consumers. */
export interface ServiceKey {
  interface: string;
  group: string;
  version: string;
}

export interface Endpoint {
  address: string;
  /** Dubbo interface version this provider serves ('' for none). One process may serve several. */
  version: string;
  /** The port traffic goes to: the sidecar port for a meshed provider. */
  port: number;
  protocol: string;
  /** The provider's Dubbo application ('' when the URL does not say), for application-scope rules. */
  application: string;
  /** Dubbo weight; 0 means Dubbo never picks it while another provider has weight. */
  weight: number;
  /** Mapped labels, values as the registry had them (render sanitizes them for Kubernetes). */
  labels: Readonly<Record<string, string>>;
  locality: { region?: string; zone?: string; subzone?: string };
  meshed: boolean;
  /** Provider's own registration time (its `timestamp` parameter), if any. */
  registeredAtMs?: number;
}

const serviceKeyIds = new WeakMap<ServiceKey, string>();

/**
 * Dubbo's own service key format: group/interface:version. Keys are shared objects (see
 * serviceKey), so each one's id is built once, not once per endpoint.
 */
export function serviceKeyId(k: ServiceKey): string {
  let id = serviceKeyIds.get(k);
  if (id === undefined) serviceKeyIds.set(k, (id = `${k.group ? k.group + '/' : ''}${k.interface}${k.version ? ':' + k.version : ''}`));
  return id;
}

export function endpointId(e: Pick<Endpoint, 'address' | 'port' | 'protocol' | 'version'>): string {
  return `${e.protocol}://${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}${e.version ? `?version=${e.version}` : ''}`;
}

/** The one shared ServiceKey object for these parts (shareRecord explains why). */
export function serviceKey(iface: string, group: string, version: string): ServiceKey {
  const key = `K${iface}\u0001${group}\u0001${version}`;
  return sharedRecord<ServiceKey>(key) ?? keepShared(key, { interface: intern(iface), group: intern(group), version: intern(version) });
}

/**
 * The service as the mesh sees it: one host. Version is not part of it unless the host template
 * uses {version}; otherwise versions are endpoint labels (and subsets) of one host.
 */
export function meshServiceKey(k: ServiceKey, versionInHost: boolean): ServiceKey {
  return versionInHost || !k.version ? k : serviceKey(k.interface, k.group, '');
}
