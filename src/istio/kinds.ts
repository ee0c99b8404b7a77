import { checkLabels, validateDestinationRule, validateServiceEntry, validateVirtualService, validateWorkloadEntry } from './validate';
import { isDns1123Label } from './names';

/** What the adapter must know of one Istio kind to render, validate, encode and serve it. */
export interface IstioKindInfo {
  /** The API group of its GVK type URL (networking.istio.io/v1/ServiceEntry). */
  group: string;
  /**
   * The GVK versions istiod may ask for it in: v1 from istiod 1.24, v1alpha3 up to 1.23. istiod
   * matches the version exactly, so each request is answered under the type URL it used.
   */
  servedVersions: readonly string[];
  /** The apiVersion of its manifests (render, /debug/snapshot). */
  apiVersion: string;
  /** The proto message of its spec: the v1alpha3 package, whatever version istiod asked in. */
  protoMessage: string;
  /** Appends the problems of a spec; istiod ACKs what it cannot use, so we check before sending. */
  validate(spec: Record<string, unknown>, problems: string[]): void;
}

const NETWORKING = { group: 'networking.istio.io', servedVersions: ['v1', 'v1beta1', 'v1alpha3'], apiVersion: 'networking.istio.io/v1' } as const;

/**
 * One row per kind, in the order snapshots, /debug/snapshot and render list them: adding a kind
 * is a row here (with its proto in proto/ and its checks in validate.ts).
 */
const TABLE = {
  ServiceEntry: { ...NETWORKING, protoMessage: 'istio.networking.v1alpha3.ServiceEntry', validate: validateServiceEntry },
  WorkloadEntry: { ...NETWORKING, protoMessage: 'istio.networking.v1alpha3.WorkloadEntry', validate: validateWorkloadEntry },
  DestinationRule: { ...NETWORKING, protoMessage: 'istio.networking.v1alpha3.DestinationRule', validate: validateDestinationRule },
  VirtualService: { ...NETWORKING, protoMessage: 'istio.networking.v1alpha3.VirtualService', validate: validateVirtualService },
} satisfies Record<string, IstioKindInfo>;

export type IstioKind = keyof typeof TABLE;
export const KINDS: Readonly<Record<IstioKind, IstioKindInfo>> = TABLE;
export const ISTIO_KINDS = Object.keys(TABLE) as readonly IstioKind[];

/** The kind istiod asks for under a GVK type URL, if we serve it in that version. */
export function kindOfTypeUrl(typeUrl: string): IstioKind | undefined {
  const [group, version, kind, ...rest] = typeUrl.split('/');
  if (rest.length > 0 || !Object.hasOwn(TABLE, kind)) return undefined;
  const info = KINDS[kind as IstioKind];
  return info.group === group && info.servedVersions.includes(version) ? (kind as IstioKind) : undefined;
}

/** The type URL of the Any that carries a spec of this kind in an MCP Resource. */
export function bodyTypeUrl(kind: IstioKind): string {
  return `type.googleapis.com/${KINDS[kind].protoMessage}`;
}

/** The problems of an object (an IstioObject, of types.ts, which builds on this table); an empty list means it is fit to send. */
export function validateObject(o: { kind: IstioKind; name: string; namespace: string; labels: Record<string, string>; spec: Record<string, unknown> }): string[] {
  const p: string[] = [];
  if (!isDns1123Label(o.name)) p.push(`name "${o.name}" is not a DNS-1123 label`);
  if (!isDns1123Label(o.namespace)) p.push(`namespace "${o.namespace}" is not a DNS-1123 label`);
  checkLabels(o.labels, 'metadata.labels', p);
  KINDS[o.kind].validate(o.spec, p);
  return p;
}
