import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { DiscoveryRequest, DiscoveryResponse } from '../../src/xds/proto';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';
export const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function loadEnvoyTypes(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : path.join(__dirname, '../proto', target));
  root.loadSync(
    [
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
      'envoy/config/listener/v3/listener.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
    ],
    { keepCase: false },
  );
  root.resolveAll();
  return root;
}
const envoy = loadEnvoyTypes();
const Cluster = envoy.lookupType('envoy.config.cluster.v3.Cluster');
const ClusterLoadAssignment = envoy.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
const Listener = envoy.lookupType('envoy.config.listener.v3.Listener');
const RouteConfiguration = envoy.lookupType('envoy.config.route.v3.RouteConfiguration');
const TcpProxy = envoy.lookupType('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');

/** Where a route or TCP proxy sends traffic: one cluster, or clusters by weight. */
export type ProbeTarget = { cluster: string } | { weighted: { name: string; weight: number }[] };

export interface ProbeCluster {
  name: string;
  type: string;
  edsServiceName: string;
}

export interface ProbeEndpoint {
  address: string;
  port: number;
  weight: number;
  locality: { region: string; zone: string; subZone: string };
  metadata: Record<string, unknown>;
}

/**
 * Connects to istiod's xDS port as a sidecar would, and keeps the latest CDS and EDS. It
 * subscribes to EDS for every EDS cluster CDS names, the way Envoy does.
 */
export class EnvoyProbe {
  readonly clusters = new Map<string, ProbeCluster>();
  readonly endpoints = new Map<string, ProbeEndpoint[]>();
  /** Per outbound listener: the targets of its TCP proxies. */
  readonly tcpTargets = new Map<string, ProbeTarget[]>();
  /** Per route configuration (RDS name) and domain: the target of its first route. */
  readonly routes = new Map<string, Map<string, ProbeTarget>>();
  private routeNames: string[] = [];
  private readonly client: grpc.Client;
  private stream?: grpc.ClientDuplexStream<object, Buffer>;
  private edsNames: string[] = [];
  private readonly versions = new Map<string, string>();
  private readonly node: object;

  /** `labels`: the workload labels the probe's sidecar reports (istiod matches sourceLabels against them). */
  constructor(address: string, nodeId = 'sidecar~10.0.0.9~probe.default~default.svc.cluster.local', labels: Record<string, string> = {}) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
    const labelFields = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { stringValue: v }]));
    this.node = {
      id: nodeId,
      metadata: {
        fields: {
          NAMESPACE: { stringValue: 'default' },
          ISTIO_VERSION: { stringValue: '1.29.0' },
          CLUSTER_ID: { stringValue: 'Kubernetes' },
          ...(Object.keys(labels).length ? { LABELS: { structValue: { fields: labelFields } } } : {}),
        },
      },
    };
  }

  /** opts.listeners: also subscribe to LDS; opts.routes: RDS names to subscribe to (sidecar outbound: the port). */
  connect(opts: { listeners?: boolean; routes?: string[] } = {}): this {
    this.stream = this.client.makeBidiStreamRequest(
      ADS + 'StreamAggregatedResources',
      (m: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish()),
      (b: Buffer) => b,
    );
    this.stream.on('data', (b: Buffer) => this.onResponse(b));
    this.stream.on('error', () => {});
    this.stream.write({ node: this.node, typeUrl: CDS });
    if (opts.listeners) this.stream.write({ typeUrl: LDS });
    if (opts.routes?.length) {
      this.routeNames = opts.routes;
      this.stream.write({ typeUrl: RDS, resourceNames: opts.routes });
    }
    return this;
  }

  private onResponse(b: Buffer): void {
    const msg = DiscoveryResponse.decode(b) as unknown as { typeUrl: string; versionInfo: string; nonce: string; resources: { typeUrl: string; value: Uint8Array }[] };
    this.versions.set(msg.typeUrl, msg.versionInfo);
    if (msg.typeUrl === CDS) {
      this.clusters.clear();
      for (const r of msg.resources) {
        const c = Cluster.toObject(Cluster.decode(r.value), { enums: String, defaults: true }) as { name: string; type: string; edsClusterConfig?: { serviceName: string } };
        this.clusters.set(c.name, { name: c.name, type: c.type, edsServiceName: c.edsClusterConfig?.serviceName || c.name });
      }
      this.stream!.write({ typeUrl: CDS, versionInfo: msg.versionInfo, responseNonce: msg.nonce });
      const names = [...this.clusters.values()]
        .filter((c) => c.type === 'EDS')
        .map((c) => c.edsServiceName)
        .sort();
      if (names.join(',') !== this.edsNames.join(',')) {
        this.edsNames = names;
        this.stream!.write({ typeUrl: EDS, resourceNames: names, versionInfo: this.versions.get(EDS) ?? '' });
      }
    } else if (msg.typeUrl === EDS) {
      for (const r of msg.resources) {
        const cla = ClusterLoadAssignment.toObject(ClusterLoadAssignment.decode(r.value), { defaults: true }) as {
          clusterName: string;
          endpoints: {
            locality?: { region: string; zone: string; subZone: string };
            lbEndpoints: {
              endpoint: { address: { socketAddress: { address: string; portValue: number } } };
              loadBalancingWeight?: { value: number };
              metadata?: { filterMetadata: Record<string, unknown> };
            }[];
          }[];
        };
        this.endpoints.set(
          cla.clusterName,
          cla.endpoints.flatMap((l) =>
            l.lbEndpoints.map((e) => ({
              address: e.endpoint.address.socketAddress.address,
              port: e.endpoint.address.socketAddress.portValue,
              weight: e.loadBalancingWeight?.value ?? 0,
              locality: { region: l.locality?.region ?? '', zone: l.locality?.zone ?? '', subZone: l.locality?.subZone ?? '' },
              metadata: e.metadata?.filterMetadata ?? {},
            })),
          ),
        );
      }
      this.stream!.write({ typeUrl: EDS, resourceNames: this.edsNames, versionInfo: msg.versionInfo, responseNonce: msg.nonce });
    } else if (msg.typeUrl === LDS) {
      this.tcpTargets.clear();
      for (const r of msg.resources) {
        const l = Listener.toObject(Listener.decode(r.value), { defaults: true }) as { name: string; filterChains: Chain[]; defaultFilterChain?: Chain };
        const targets: ProbeTarget[] = [];
        for (const chain of [...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])]) {
          for (const f of chain.filters) {
            if (f.typedConfig?.typeUrl !== TCP_PROXY && f.typedConfig?.type_url !== TCP_PROXY) continue;
            const t = TcpProxy.toObject(TcpProxy.decode(f.typedConfig.value), { defaults: false }) as { cluster?: string; weightedClusters?: { clusters: { name: string; weight: number }[] } };
            targets.push(t.weightedClusters ? { weighted: t.weightedClusters.clusters.map((c) => ({ name: c.name, weight: c.weight })) } : { cluster: t.cluster ?? '' });
          }
        }
        this.tcpTargets.set(l.name, targets);
      }
      this.stream!.write({ typeUrl: LDS, versionInfo: msg.versionInfo, responseNonce: msg.nonce });
    } else if (msg.typeUrl === RDS) {
      for (const r of msg.resources) {
        const rc = RouteConfiguration.toObject(RouteConfiguration.decode(r.value), { defaults: false }) as {
          name: string;
          virtualHosts?: { domains?: string[]; routes?: { route?: { cluster?: string; weightedClusters?: { clusters: { name: string; weight?: { value: number } }[] } } }[] }[];
        };
        const byDomain = new Map<string, ProbeTarget>();
        for (const vh of rc.virtualHosts ?? []) {
          const action = vh.routes?.[0]?.route;
          if (!action) continue;
          const target: ProbeTarget = action.weightedClusters
            ? { weighted: action.weightedClusters.clusters.map((c) => ({ name: c.name, weight: c.weight?.value ?? 0 })) }
            : { cluster: action.cluster ?? '' };
          for (const d of vh.domains ?? []) byDomain.set(d, target);
        }
        this.routes.set(rc.name, byDomain);
      }
      this.stream!.write({ typeUrl: RDS, resourceNames: this.routeNames, versionInfo: msg.versionInfo, responseNonce: msg.nonce });
    } else {
      this.stream!.write({ typeUrl: msg.typeUrl, versionInfo: msg.versionInfo, responseNonce: msg.nonce });
    }
  }

  /** Endpoints of an outbound cluster, sorted by address and port, or undefined if none yet. */
  endpointsOf(cluster: string): ProbeEndpoint[] | undefined {
    const c = this.clusters.get(cluster);
    const eps = c ? this.endpoints.get(c.edsServiceName) : undefined;
    return eps && [...eps].sort((a, b) => `${a.address}:${a.port}`.localeCompare(`${b.address}:${b.port}`));
  }

  close(): void {
    this.stream?.cancel();
    this.client.close();
  }
}

export const outbound = (port: number, host: string, subset = ''): string => `outbound|${port}|${subset}|${host}`;

type Chain = { filters: { name: string; typedConfig?: { typeUrl?: string; type_url?: string; value: Uint8Array } }[] };
