import { toManifest } from '../../src/istio/manifest';
import type { Daemon } from '../../src/daemon';
import type { ConfigzObject, Istiod } from './istiod';
import { waitFor } from './net';
import { outbound, type EnvoyProbe, type ProbeEndpoint } from './envoy-probe';

export type Manifest = ReturnType<typeof toManifest> & {
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion: string; creationTimestamp: string };
  spec: Record<string, unknown>;
};

/** The objects the daemon serves to one cluster view, as Kubernetes-style manifests, by kind. */
export function served(daemon: Daemon, cluster = 'default'): Map<string, Map<string, Manifest>> {
  const snap = daemon.snapshots().find((s) => s.cluster === cluster)!;
  const out = new Map<string, Map<string, Manifest>>();
  for (const [kind, t] of snap.types) {
    out.set(
      kind,
      new Map(
        [...t.resources.values()].map((r) => {
          const m = toManifest(r.object) as Manifest;
          return [`${m.metadata.namespace}/${m.metadata.name}`, m];
        }),
      ),
    );
  }
  return out;
}

/** One object as istiod stored it, reduced to the fields we send, for comparison with ours. */
export function storedAs(o: ConfigzObject): Record<string, unknown> {
  return {
    kind: o.kind,
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    labels: o.metadata.labels ?? {},
    annotations: o.metadata.annotations ?? {},
    version: o.metadata.resourceVersion,
    created: o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : undefined,
    spec: o.spec,
  };
}

export function sentAs(m: Manifest): Record<string, unknown> {
  const meta = m.metadata as Manifest['metadata'] & { annotations?: Record<string, string> };
  return {
    kind: m.kind,
    name: meta.name,
    namespace: meta.namespace,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    version: meta.resourceVersion,
    // istiod keeps create_time to the second.
    created: Math.floor(Date.parse(meta.creationTimestamp) / 1000) * 1000,
    spec: JSON.parse(JSON.stringify(m.spec)),
  };
}

export type ExpectedEndpoint = Pick<ProbeEndpoint, 'address' | 'port' | 'weight' | 'locality'>;

/**
 * What istiod should generate from our objects: for each ServiceEntry port, the cluster
 * outbound|PORT||HOST and its endpoints, from the WorkloadEntries the ServiceEntry selects
 * (workloadentry mode) or from its inline endpoints; and for each subset of a DestinationRule
 * on that host, outbound|PORT|SUBSET|HOST with the endpoints whose labels the subset selects.
 */
export function expectedEndpoints(objects: Map<string, Map<string, Manifest>>): Map<string, ExpectedEndpoint[]> {
  const out = new Map<string, ExpectedEndpoint[]>();
  const workloads = [...(objects.get('WorkloadEntry')?.values() ?? [])];
  for (const se of objects.get('ServiceEntry')?.values() ?? []) {
    const spec = se.spec as { hosts: string[]; ports: { name: string; number: number }[]; workloadSelector?: { labels: Record<string, string> }; endpoints?: WorkloadSpec[] };
    const members: WorkloadSpec[] = spec.workloadSelector
      ? workloads.map((w) => w.spec as unknown as WorkloadSpec).filter((w) => Object.entries(spec.workloadSelector!.labels).every(([k, v]) => w.labels?.[k] === v))
      : (spec.endpoints ?? []);
    for (const host of spec.hosts) {
      const subsets = [...(objects.get('DestinationRule')?.values() ?? [])]
        .filter((d) => (d.spec as { host: string }).host === host)
        .flatMap((d) => (d.spec as { subsets?: { name: string; labels: Record<string, string> }[] }).subsets ?? []);
      for (const p of spec.ports) {
        const endpoints = (ws: WorkloadSpec[]) => ws.map((w) => toEndpoint(w, p)).sort((a, b) => `${a.address}:${a.port}`.localeCompare(`${b.address}:${b.port}`));
        out.set(outbound(p.number, host), endpoints(members));
        for (const sub of subsets) out.set(outbound(p.number, host, sub.name), endpoints(members.filter((w) => Object.entries(sub.labels).every(([k, v]) => w.labels?.[k] === v))));
      }
    }
  }
  return out;
}

interface WorkloadSpec {
  address: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  weight?: number;
  locality?: string;
}

function toEndpoint(w: WorkloadSpec, p: { name: string; number: number }): ExpectedEndpoint {
  const [region = '', zone = '', subZone = ''] = (w.locality ?? '').split('/');
  return { address: w.address, port: w.ports?.[p.name] ?? p.number, weight: w.weight ?? 1, locality: { region, zone, subZone } };
}

export function comparable(eps: ProbeEndpoint[] | undefined): ExpectedEndpoint[] | undefined {
  return eps?.map(({ address, port, weight, locality }) => ({ address, port, weight, locality }));
}

/** Every object we serve is in istiod's store, unchanged; nothing else is. */
export async function expectIstiodStores(istiod: Istiod, daemon: Daemon, cluster = 'default'): Promise<void> {
  const ours = served(daemon, cluster);
  const stored = await istiod.configz();
  for (const kind of ['ServiceEntry', 'WorkloadEntry']) {
    const sent = [...(ours.get(kind as never)?.values() ?? [])].map(sentAs).sort(byName);
    const got = stored
      .filter((o) => o.kind === kind)
      .map(storedAs)
      .sort(byName);
    expect(got).toEqual(sent);
  }
}
const byName = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.name).localeCompare(String(b.name));

/** istiod generated the clusters and endpoints our objects mean, and no others. */
export function expectEnvoyConfig(probe: EnvoyProbe, daemon: Daemon, cluster = 'default'): void {
  const want = expectedEndpoints(served(daemon, cluster));
  const outboundClusters = [...probe.clusters.keys()].filter((n) => n.startsWith('outbound|')).sort();
  expect(outboundClusters).toEqual([...want.keys()].sort());
  for (const [name, eps] of want) expect({ name, endpoints: comparable(probe.endpointsOf(name)) }).toEqual({ name, endpoints: eps });
}

export async function converged(istiod: Istiod, probe: EnvoyProbe, daemon: Daemon, cluster = 'default'): Promise<void> {
  await waitFor(
    'istiod and its proxy converge on what we serve',
    async () => {
      try {
        await expectIstiodStores(istiod, daemon, cluster);
        expectEnvoyConfig(probe, daemon, cluster);
        return true;
      } catch (err) {
        throw new Error((err as Error).message.slice(0, 1500), { cause: err });
      }
    },
    30000,
    100,
  );
}
