import { KINDS } from './kinds';
import type { IstioObject } from './types';

/** An IstioObject as the Kubernetes manifest an operator would apply (for render and debug). */
export function toManifest(o: IstioObject): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name: o.name, namespace: o.namespace };
  if (Object.keys(o.labels).length) metadata.labels = o.labels;
  if (Object.keys(o.annotations).length) metadata.annotations = o.annotations;
  metadata.resourceVersion = o.version;
  metadata.creationTimestamp = new Date(o.createdAtMs).toISOString();
  return { apiVersion: KINDS[o.kind].apiVersion, kind: o.kind, metadata, spec: o.spec };
}
