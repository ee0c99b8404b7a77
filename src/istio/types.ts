import type { IstioKind } from './kinds';

export { ISTIO_KINDS, type IstioKind } from './kinds';

/** A rendered Istio object: plain data, spec in the camelCase of Istio's YAML. */
export interface IstioObject {
  kind: IstioKind;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
  /** First time the object's subject was seen; never changes while the object exists. */
  createdAtMs: number;
  /** Content hash of everything above but createdAtMs: istiod rewrites an object only when it changes. */
  version: string;
}
