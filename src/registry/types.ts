/**
 * What sources emit. Sources are the only code that talks to registries; they know nothing of
 * Dubbo URL syntax: an entry is an opaque string (a znode name, a line of a file).
 * A "registry service" is the unit a registry lists entries under, e.g. /dubbo/{interface}.
 */
export type SourceState = 'connecting' | 'synced' | 'stale' | 'failed';

export interface SourceSink {
  /** The full current list of entries of one registry service. */
  setService(source: string, service: string, entries: readonly string[]): void;
  removeService(source: string, service: string): void;
  /** The complete state after a (re)sync; services not in it are gone. */
  replaceAll(source: string, services: ReadonlyMap<string, readonly string[]>): void;
  health(source: string, state: SourceState, reason?: string): void;
}

export interface SourceStatus {
  name: string;
  type: string;
  state: SourceState;
  reason?: string;
  /** When the source last completed a full sync (ms since epoch). */
  lastSyncMs?: number;
  services: number;
  entries: number;
  details?: Record<string, unknown>;
}

export interface RegistrySource {
  readonly name: string;
  start(sink: SourceSink): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
  /** Re-list everything now and reconcile (also runs after reconnects and periodically). */
  resync(reason: string): Promise<void>;
}
