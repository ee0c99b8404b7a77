import { canonicalJson, contentHash, intern, shareRecord } from '../common/hash';
import type { ClusterConfig, MappingConfig, RenderConfig } from '../config/types';
import type { CatalogEndpoint, CatalogService } from '../model/catalog';
import { templateHost, type ServiceAddress } from './addresses';
import { ANNOTATION_GROUP, ANNOTATION_INTERFACE, ANNOTATION_VERSION, labelValue, objectName } from './names';
import { endpointLabels, inView } from './view';
import type { IstioKind, IstioObject } from './types';
import type { PassThrough, RuleSet } from '../rules/model';
import { applyRules, type ServicePolicy, type ServicePort } from '../rules/policy';

export interface RenderSettings {
  mapping: MappingConfig;
  render: RenderConfig;
  /** Config-center rules in force; without them only ServiceEntries and WorkloadEntries come out. */
  rules?: { set: RuleSet; tagLabel: string; tagHeader: string; consumerLabel: string };
  /**
   * The host and virtual IP each service was given (AddressBook): the same in every view. Without
   * it, the host is what the templates give and there is no virtual IP.
   */
  addressOf?: (serviceId: string) => ServiceAddress | undefined;
}

/**
 * One Dubbo service to Istio objects for one cluster view. Pure and deterministic: the same input
 * gives the same objects, byte for byte, in any process.
 */
export function renderService(all: CatalogService, s: RenderSettings, view: ClusterConfig): IstioObject[] {
  const plan = servicePlan(all, s, view);
  if (!plan) return [];
  const { svc, host, address, ports, policy } = plan;
  const { render, mapping } = s;
  const seName = objectName(host);
  const metaLabels = objectLabels(render, view);
  const endpoints = (policy?.endpoints ?? svc.endpoints).filter((e) => isIp(e.address));
  // The version is annotated when it is part of the service (its own host). Versions that share a
  // host come and go with endpoints, and the ServiceEntry's shape must not.
  const annotations: Record<string, string> = { [ANNOTATION_INTERFACE]: svc.key.interface };
  if (svc.key.group) annotations[ANNOTATION_GROUP] = svc.key.group;
  if (svc.key.version) annotations[ANNOTATION_VERSION] = svc.key.version;

  // Inline mode: one ServiceEntry per protocol, all for the same host. Istio takes an endpoint
  // that lists no port of its ServiceEntry as serving that port on the port's own number, so a
  // tri-only provider in a ServiceEntry with a dubbo port would get dubbo connections on a port it
  // never opened. istiod merges inline ServiceEntries of one host and namespace by port, each port
  // keeping the endpoints of its own ServiceEntry (istiod 1.29, test/e2e/protocols.test.ts). It
  // does not do so for ServiceEntries that select WorkloadEntries (it keeps one of them), so in
  // workloadentry mode a service with several protocols is rendered inline too (docs/istio.md).
  // The service's first protocol in mapping order keeps the plain name, so a single-protocol
  // service renders as before; protocols never leave a service while it exists, so the names
  // stay put. The others' names carry a hash (objectName), so they can never be another host's
  // plain name.
  const protocols = Object.keys(mapping.protocols).filter((p) => svc.protocols.includes(p));
  const portOf = (protocol: string) => ports.find((x) => x.name === mapping.protocols[protocol].portName)!;
  const inline = render.endpointMode === 'inline' || protocols.length > 1;
  const groups = inline
    ? protocols.map((protocol, i) => ({ name: i === 0 ? seName : objectName(`${seName}-${portOf(protocol).name}`), protocols: [protocol], ports: [portOf(protocol)] }))
    : [{ name: seName, protocols, ports }];
  const entries: IstioObject[] = [];
  const workloadEntries: IstioObject[] = [];
  for (const g of groups) {
    // WorkloadEntries carry the label their ServiceEntry selects them by; inline endpoints need none.
    const membership = inline ? undefined : { [render.membershipLabel]: g.name };
    const workloads = endpoints.filter((e) => g.protocols.includes(e.protocol)).map((e) => ({ e, spec: workloadSpec(e, s, view, membership) }));
    const seSpec: Record<string, unknown> = { hosts: [host], ports: g.ports, location: 'MESH_INTERNAL', resolution: 'STATIC', exportTo: render.exportTo };
    // Every ServiceEntry of the host carries its address, so istiod sees one address whichever it reads.
    if (address) seSpec.addresses = [address];
    if (inline) {
      seSpec.endpoints = workloads.map((w) => w.spec);
    } else {
      seSpec.workloadSelector = { labels: { [render.membershipLabel]: g.name } };
      for (const { e, spec } of workloads) workloadEntries.push(object('WorkloadEntry', render.namespace, workloadName(seName, e, !svc.key.version), metaLabels, {}, spec, e.createdAtMs));
    }
    entries.push(object('ServiceEntry', render.namespace, g.name, metaLabels, annotations, seSpec, svc.createdAtMs));
  }
  const out: IstioObject[] = [...entries, ...workloadEntries];
  if (policy?.destinationRule) {
    const dr = policy.destinationRule;
    // Subsets select by the sanitized label values the endpoints carry.
    const subsets = (dr.subsets as { name: string; labels: Record<string, string> }[] | undefined)?.map((x) => ({ name: x.name, labels: labelValues(x.labels) }));
    out.push(object('DestinationRule', render.namespace, seName, metaLabels, annotations, { ...dr, ...(subsets ? { subsets } : {}), exportTo: render.exportTo }, svc.createdAtMs));
  }
  if (policy?.virtualService) {
    // Source labels select workloads by the sanitized values they carry, as subsets do.
    const vs = policy.virtualService as Record<string, unknown>;
    const routes = Object.fromEntries((['http', 'tcp'] as const).filter((k) => vs[k]).map((k) => [k, (vs[k] as Route[]).map(sanitizeSourceLabels)]));
    out.push(object('VirtualService', render.namespace, seName, metaLabels, annotations, { ...vs, ...routes, exportTo: render.exportTo }, svc.createdAtMs));
  }
  return out;
}

/** Label values as endpoints carry them (sanitized), for whatever selects endpoints by label. */
const labelValues = (labels: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, labelValue(v)]));

type Route = { match?: { sourceLabels?: Record<string, string> }[] };

function sanitizeSourceLabels(r: Route): Route {
  if (!r.match?.some((m) => m.sourceLabels)) return r;
  return { ...r, match: r.match.map((m) => (m.sourceLabels ? { ...m, sourceLabels: labelValues(m.sourceLabels) } : m)) };
}

/**
 * What one view serves of a service, before it becomes objects: the service as the view sees it
 * (filtered), its host and ports, and the rules in force on it. undefined when the view leaves
 * the service out. Rendering and /debug/rules both start here, so they never disagree.
 */
export function servicePlan(
  all: CatalogService,
  s: RenderSettings,
  view: ClusterConfig,
): { svc: CatalogService; host: string; address?: string; ports: ServicePort[]; policy?: ServicePolicy } | undefined {
  const { mapping } = s;
  const svc = inView(all, view, mapping.meshed.label);
  if (!svc) return undefined;
  const { host, address } = s.addressOf?.(all.id) ?? { host: templateHost(svc.key, mapping) };
  const ports = svc.protocols
    .map((p) => mapping.protocols[p])
    .filter((m) => m !== undefined)
    .sort((a, b) => a.number - b.number)
    .map((m) => ({ number: m.number, protocol: m.protocol, name: m.portName }));
  // A provider tagged in Dubbo (dubbo.tag) is isolated even before any rule document exists.
  const rules = s.rules;
  const tagged = rules !== undefined && svc.endpoints.some((e) => e.labels[rules.tagLabel]);
  const policy =
    s.rules && (s.rules.set.rules.length || tagged)
      ? applyRules(svc, host, ports, s.rules.set, view, { mapping, tagLabel: s.rules.tagLabel, tagHeader: s.rules.tagHeader, consumerLabel: s.rules.consumerLabel })
      : undefined;
  return { svc, host, address, ports, policy };
}

/** The Istio objects passed through from the config center that this view gets, unchanged but for our labels. */
export function renderPassThrough(set: RuleSet, render: RenderConfig, view: ClusterConfig): IstioObject[] {
  return set.rules
    .filter((r): r is PassThrough => r.kind === 'passthrough' && (r.clusters.length === 0 || r.clusters.includes(view.name)))
    .map((p) => object(p.objectKind, render.namespace, p.name, { ...objectLabels(render, view), ...p.labels }, p.annotations, p.spec, p.createdAtMs ?? 0));
}

function workloadSpec(e: CatalogEndpoint, s: RenderSettings, view: ClusterConfig, extraLabels?: Record<string, string>): Record<string, unknown> {
  const proto = s.mapping.protocols[e.protocol];
  const over = view.overrides ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(endpointLabels(e, s.mapping.meshed.label))) labels[k] = labelValue(v);
  for (const [k, v] of Object.entries(over.labels ?? {})) labels[k] = labelValue(v);
  if (extraLabels) Object.assign(labels, extraLabels);
  // Shared: an estate has few distinct label sets, port maps and localities (see shareRecord).
  const spec: Record<string, unknown> = { address: e.address, ports: shareRecord({ [proto.portName]: e.port }), labels: shareRecord(labels), weight: e.weight };
  const locality = over.locality ?? intern([e.locality.region ?? '', e.locality.zone ?? '', e.locality.subzone ?? ''].join('/').replace(/\/+$/, ''));
  if (locality) spec.locality = locality;
  if (over.network) spec.network = over.network;
  if (s.render.serviceAccount) spec.serviceAccount = s.render.serviceAccount;
  return spec;
}

/**
 * {service}-{address}-{port}[-{protocol}][-v{version}]: readable, and unique because an IPv4
 * address always has four parts, and the port is followed only by a protocol name or v{version}.
 * The version is there only when versions share the service (a host template without {version}).
 * Too long: hashed.
 */
function workloadName(seName: string, e: CatalogEndpoint, versionsShareService: boolean): string {
  const addr = e.address.replace(/[.:]/g, '-');
  // 1.0 and 1-0 must not meet: a version that is not plain digits, letters and dots is hashed.
  const version = !e.version || !versionsShareService ? '' : /^[0-9a-z]+(\.[0-9a-z]+)*$/.test(e.version) ? `-v${e.version.replace(/\./g, '-')}` : `-v${contentHash(e.version, 8)}`;
  const name = `${seName}-${addr}-${e.port}${e.protocol === 'dubbo' ? '' : '-' + e.protocol}${version}`;
  return name.length <= 63 ? name : objectName(name);
}

function objectLabels(render: RenderConfig, view: ClusterConfig): Record<string, string> {
  const labels = { ...render.objectLabels };
  if (view.revision) labels['istio.io/rev'] = view.revision;
  return labels;
}

export function object(
  kind: IstioKind,
  namespace: string,
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string>,
  spec: Record<string, unknown>,
  createdAtMs: number,
): IstioObject {
  const version = contentHash(canonicalJson({ kind, namespace, name, labels, annotations, spec }));
  return { kind, namespace, name, labels, annotations, spec, createdAtMs, version };
}

function isIp(address: string): boolean {
  return /^[\d.]+$/.test(address) || address.includes(':');
}
