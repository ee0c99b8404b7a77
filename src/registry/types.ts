/**
 * What sources emit. Sources are the only code that talks to registries; they know nothing of
 * Dubbo URL syntax: an entry is the text the registry holds (a znode name, a line of a file, an
 * instance record), tagged with what it is. A "registry service" is the unit a registry lists
 * entries under, e.g. /dubbo/{interface}.
 */
export type SourceState = 'connecting' | 'synced' | 'stale' | 'failed';

/**
 * What the entries of one registry service are. The source knows it from where it read them,
 * so nothing downstream guesses a format from the text. All entries of a service are one kind.
 */
export type EntryKind =
  /** A Dubbo provider URL: a ZooKeeper znode name (URL-encoded) or a line of a file (plain). */
  | 'provider-url'
  /** A Nacos instance record (`{"nacos": {...}}`): an interface-level provider or a Dubbo 3 application instance. */
  | 'nacos-instance'
  /** A Dubbo 3 application-level instance as ZookeeperServiceDiscovery writes it (Curator's JSON). */
  | 'zookeeper-instance';

export interface ServiceEntries {
  kind: EntryKind;
  entries: readonly string[];
}

export interface SourceSink {
  /** The full current list of entries of one registry service. */
  setService(source: string, service: string, entries: ServiceEntries): void;
  removeService(source: string, service: string): void;
  /** The complete state after a (re)sync; services not in it are gone. */
  replaceAll(source: string, services: ReadonlyMap<string, ServiceEntries>): void;
  health(source: string, state: SourceState, reason?: string): void;
  /**
   * A document that entries refer to rather than carry (Dubbo 3 metadata and mapping): kept once
   * per source, however many entries need it. undefined forgets it.
   */
  setDocument(source: string, name: string, content: string | undefined): void;
  /**
   * A document entries need is being fetched elsewhere (a provider's MetadataService), or will
   * be asked again: entries waiting for it are pending, not rejected. undefined: no longer.
   */
  pendingDocument(source: string, name: string, reason: string | undefined): void;
}

/**
 * Names of the documents sources hand over, by layout rather than by registry: the ZooKeeper
 * metadata report and Nacos config keep the same two kinds.
 */
export const documentName = {
  /** Dubbo 3 MetadataInfo JSON of one application revision. */
  metadata: (application: string, revision: string): string => `metadata/${application}/${revision}`,
  /** Comma-separated applications that serve an interface (Dubbo's service-name mapping). */
  mapping: (iface: string): string => `mapping/${iface}`,
};

/** The instance metadata key that names the revision of an application instance's MetadataInfo. */
export const REVISION_KEY = 'dubbo.metadata.revision';

/** How a registry or config-center source stands (/debug/sources, /debug/rules). */
export interface SourceStatus {
  name: string;
  type: string;
  state: SourceState;
  reason?: string;
  /** When the source last completed a full sync (ms since epoch). */
  lastSyncMs?: number;
  details?: Record<string, unknown>;
}

export interface RegistryStatus extends SourceStatus {
  services: number;
  entries: number;
}

export interface RegistrySource {
  readonly name: string;
  start(sink: SourceSink): Promise<void>;
  stop(): Promise<void>;
  status(): RegistryStatus;
  /** Re-list everything now and reconcile (also runs after reconnects and periodically). */
  resync(reason: string): Promise<void>;
}
