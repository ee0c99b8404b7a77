import { createHash } from 'node:crypto';
import type { ClusterConfig, LabelSelector } from '../config/types';
import type { CatalogEndpoint, CatalogService } from '../model/catalog';
import { ANNOTATION_INTERFACE } from './names';

/** Kubernetes LabelSelector semantics: every matchLabels pair and every expression must hold. */
export function selectorMatches(sel: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const x of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, x.key);
    const ok =
      x.operator === 'Exists' ? has : x.operator === 'DoesNotExist' ? !has : x.operator === 'In' ? has && (x.values ?? []).includes(labels[x.key]) : !has || !(x.values ?? []).includes(labels[x.key]);
    if (!ok) return false;
  }
  return true;
}

/** The labels a cluster's service filter sees: the Dubbo identity of the service. */
export function serviceLabels(svc: Pick<CatalogService, 'key'>): Record<string, string> {
  const labels: Record<string, string> = { [ANNOTATION_INTERFACE]: svc.key.interface };
  if (svc.key.group) labels['dubbo.group'] = svc.key.group;
  return labels;
}

/** An endpoint's labels before sanitizing: the mapped URL parameters and the meshed marker. */
export function endpointLabels(e: Pick<CatalogEndpoint, 'labels' | 'meshed'>, meshedLabel: string): Record<string, string> {
  return { ...e.labels, [meshedLabel]: e.meshed ? 'true' : 'false' };
}

/**
 * The shard of a service, from a hash of its id (the Dubbo service key), so every replica and
 * every release puts a service in the same shard.
 */
export function shardOf(serviceId: string, count: number): number {
  if (count <= 1) return 0;
  return createHash('sha256').update(serviceId).digest().readUInt32BE(0) % count;
}

/**
 * The service as one cluster view sees it, or undefined when the view leaves it out. Filtering
 * only; overrides apply in render. The service itself comes back when the filter drops nothing.
 */
export function inView(svc: CatalogService, view: ClusterConfig, meshedLabel: string): CatalogService | undefined {
  if (view.shard && shardOf(svc.id, view.shard.count) !== view.shard.index) return undefined;
  const f = view.filter;
  if (!f) return svc;
  if (!selectorMatches(f.services, serviceLabels(svc))) return undefined;
  if (!f.endpoints) return svc;
  const endpoints = svc.endpoints.filter((e) => selectorMatches(f.endpoints, endpointLabels(e, meshedLabel)));
  return endpoints.length === svc.endpoints.length ? svc : { ...svc, endpoints };
}
