import { ISTIO_KINDS, type IstioKind } from '../istio/types';

/**
 * istiod asks for each collection by GVK, e.g. networking.istio.io/v1/ServiceEntry (1.24 and
 * later) or networking.istio.io/v1alpha3/ServiceEntry (1.23 and earlier), and matches the
 * version exactly: we answer under the type URL it used. The body is always the v1alpha3 proto.
 */
export const SERVED_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;
const GROUP = 'networking.istio.io';

export function kindOfTypeUrl(typeUrl: string): IstioKind | undefined {
  const parts = typeUrl.split('/');
  if (parts.length !== 3 || parts[0] !== GROUP) return undefined;
  if (!(SERVED_VERSIONS as readonly string[]).includes(parts[1])) return undefined;
  return (ISTIO_KINDS as readonly string[]).includes(parts[2]) ? (parts[2] as IstioKind) : undefined;
}

export function typeUrlOf(kind: IstioKind, version: (typeof SERVED_VERSIONS)[number] = 'v1'): string {
  return `${GROUP}/${version}/${kind}`;
}

export function bodyTypeUrl(kind: IstioKind): string {
  return `type.googleapis.com/istio.networking.v1alpha3.${kind}`;
}
