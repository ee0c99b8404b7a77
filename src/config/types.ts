/** The daemon's configuration, as validated against ./schema.ts (defaults filled in). */
export interface Config {
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  admin: { address: string; port: number; tokenEnv?: string };
  sources: SourceConfig[];
  mapping: MappingConfig;
  render: RenderConfig;
  xds: XdsConfig;
  clusters: ClusterConfig[];
  protection: ProtectionConfig;
  rules: RulesConfig;
  metadataService: MetadataServiceConfig;
}

export interface MetadataServiceConfig {
  enabled: boolean;
  allowedCidrs: string[];
  timeoutMs: number;
  concurrency: number;
  retryMs: number;
  maxBytes: number;
  pendingDegradedMs: number;
}

export interface RulesConfig {
  sources: (ZookeeperSourceConfig | NacosSourceConfig)[];
  dubboGroup: string;
  adapterGroup: string;
  tagLabel: string;
  tagHeader: string;
  consumerLabel: string;
  legacyUrls: boolean;
  documents: Record<string, unknown>[];
}

export type SourceConfig = FileSourceConfig | ZookeeperSourceConfig | NacosSourceConfig;

export interface FileSourceConfig {
  name: string;
  type: 'file';
  file: { path: string; pollMs: number };
}

export interface ZookeeperSourceConfig {
  name: string;
  type: 'zookeeper';
  zookeeper: {
    /** host:port[,host:port...][/chroot] */
    connect: string;
    root: string;
    sessionTimeoutMs: number;
    /** Re-list everything this often (plus up to 20% jitter) to catch a missed watch. 0 turns it off. */
    resyncIntervalMs: number;
    auth?: { scheme: 'digest'; credentials?: string; credentialsEnv?: string };
    /** Dubbo 3 application-level discovery: instances under /{root}/{application}/{instance}. */
    applications: { enabled: boolean; root: string };
  };
}

export interface NacosSourceConfig {
  name: string;
  type: 'nacos';
  nacos: {
    /** host:port[,host:port...] */
    serverAddr: string;
    contextPath: string;
    /** Namespace ids; '' is the public namespace. */
    namespaces: string[];
    groups: string[];
    /** Only Nacos services whose name starts with this are read (Dubbo: providers:). */
    servicePrefix: string;
    /** Dubbo 3 application-level instances: any other service whose instances name a metadata revision. */
    applications: boolean;
    /** How often the service-name mapping of each interface is read again. */
    mappingRefreshMs: number;
    /** grpc: subscriptions and pushes (Nacos 2/3); http: polling the v1 API. */
    transport: 'grpc' | 'http';
    grpcPortOffset: number;
    pollMs: number;
    /** grpc: full re-list and re-subscription this often. */
    resyncMs: number;
    concurrency: number;
    timeoutMs: number;
    auth?: { username: string; password?: string; passwordEnv?: string; accessKey?: string; secretKey?: string; secretKeyEnv?: string };
    tls?: { caFile?: string; insecureSkipVerify?: boolean };
  };
}

export interface ProtocolMapping {
  /** Istio port name; its prefix (tcp-, grpc-, http-) is what tells Istio the protocol. */
  portName: string;
  protocol: 'TCP' | 'GRPC' | 'HTTP' | 'HTTP2';
  /** The service port consumers dial; endpoints keep their own port through the port map. */
  number: number;
}

export interface LabelMapping {
  /** URL parameter (or instance metadata key). */
  param: string;
  /** Kubernetes label key it becomes. */
  label: string;
}

export interface MappingConfig {
  /** Host for a service without a group. Placeholders: {interface}, {group}, {version}, {application}. */
  hostTemplate: string;
  /** Host for a service with a group: groups partition services, so they never share a host. */
  groupHostTemplate: string;
  protocols: Record<string, ProtocolMapping>;
  labels: LabelMapping[];
  locality: { region: string[]; zone: string[]; subzone: string[]; defaultRegion: string };
  /** Parameters that change on every restart; a label mapping on one of these is refused. */
  volatileParams: string[];
  meshed: { sidecarPort: number; markerParam: string; markerValue: string; byPort: boolean; label: string };
  defaultWeight: number;
}

export interface RenderConfig {
  namespace: string;
  exportTo: string[];
  endpointMode: 'workloadentry' | 'inline';
  /** Label that ties a WorkloadEntry to its ServiceEntry's workloadSelector. */
  membershipLabel: string;
  /** Labels put on every object's metadata. */
  objectLabels: Record<string, string>;
  serviceAccount?: string;
  /** How long a service whose providers all left keeps its ServiceEntry with zero endpoints. */
  emptyServiceGraceMs: number;
  virtualAddresses: VirtualAddressConfig;
}

/** A virtual IP per service (ServiceEntry.addresses), from this IPv4 range. */
export interface VirtualAddressConfig {
  enabled: boolean;
  cidr: string;
}

export interface XdsConfig {
  debounce: { quietMs: number; maxDelayMs: number };
  keepalive: { timeMs: number; timeoutMs: number };
  limits: { maxRequestBytes: number; maxResendsPerSecond: number; maxDeltaNames: number };
}

export interface ClusterConfig {
  name: string;
  listener: { address: string; port: number; tls?: { certFile: string; keyFile: string } };
  /** Value of the istio.io/rev label on every object; istiod drops objects of another revision. */
  revision?: string;
  /** Only the services whose key hashes to index (mod count). */
  shard?: { index: number; count: number };
  filter?: { services?: LabelSelector; endpoints?: LabelSelector };
  overrides?: { network?: string; locality?: string; labels?: Record<string, string> };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface ProtectionConfig {
  massRemoval: {
    /** Share (0..1] of a source's endpoints that one batch may remove before removals are held. */
    threshold: number;
    /** Below this many endpoints a source is too small for the share to mean anything. */
    minEndpoints: number;
    /** Held removals apply by themselves after this long; 0 means only an operator confirms. */
    holdMs: number;
    /** A drain over many commits counts against the largest count within this window; 0: per commit only. */
    windowMs: number;
  };
}
