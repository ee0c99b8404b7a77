import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the daemon exports. Stages increment these; only admin HTTP reads them.
 * Kept in one place so docs/operations.md can list them from a single source.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly sourceState = new Gauge({
    name: 'dia_source_state',
    help: 'Source health: 1 for the state the source is in (connecting, synced, stale, failed), 0 otherwise',
    labelNames: ['source', 'state'],
    registers: [this.registry],
  });
  readonly sourceLastSync = new Gauge({
    name: 'dia_source_last_sync_timestamp_seconds',
    help: 'When the source was last fully read (Unix time); alert on its age while the source is stale',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly sourceEvents = new Counter({
    name: 'dia_source_events_total',
    help: 'Changes a source reported that reached the catalog (service-changed, service-removed), by source',
    labelNames: ['source', 'kind'],
    registers: [this.registry],
  });
  readonly sourceResyncs = new Counter({
    name: 'dia_source_resyncs_total',
    help: 'Full re-lists of a source (after reconnect, session expiry or the periodic timer)',
    labelNames: ['source', 'reason'],
    registers: [this.registry],
  });
  readonly missedEvents = new Counter({
    name: 'dia_source_missed_events_total',
    help: 'Differences found by a re-list that no watch reported: each is a missed event',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly rejectedInputs = new Counter({
    name: 'dia_rejected_inputs_total',
    help: 'Inputs skipped because they were invalid (provider URL, config, object), by kind and reason',
    labelNames: ['source', 'kind', 'reason'],
    registers: [this.registry],
  });
  readonly inputWarnings = new Counter({
    name: 'dia_input_warnings_total',
    help: 'Inputs accepted with a warning (a weight that is not a number, application metadata that lags and keeps the last services)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly ruleDocuments = new Gauge({
    name: 'dia_rule_documents',
    help: 'Rule documents known from config centers and the config file, by state (ok, rejected: the last good version stays in force)',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly ruleNotes = new Gauge({
    name: 'dia_rule_notes',
    help: 'Rule parts not applied in the first cluster view: unsupported conditions, conflicts, routes left out (see /debug/rules)',
    registers: [this.registry],
  });
  readonly services = new Gauge({
    name: 'dia_services',
    help: 'Dubbo services (interface, group, version) in the catalog',
    registers: [this.registry],
  });
  readonly endpoints = new Gauge({
    name: 'dia_endpoints',
    help: 'Routable endpoints in the catalog, by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly servicesInGrace = new Gauge({
    name: 'dia_services_in_grace',
    help: 'Services with no provider left, kept with zero endpoints until their grace period ends',
    registers: [this.registry],
  });
  readonly heldRemovals = new Gauge({
    name: 'dia_held_removals',
    help: 'Endpoint removals held back by mass-removal protection, by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly conflicts = new Counter({
    name: 'dia_conflicts_total',
    help: 'Rendering conflicts resolved deterministically (for example two services mapping to one host)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly snapshotResources = new Gauge({
    name: 'dia_snapshot_resources',
    help: 'Resources in the current snapshot, by cluster view and kind',
    labelNames: ['cluster', 'kind'],
    registers: [this.registry],
  });
  readonly encodes = new Counter({
    name: 'dia_resource_encodes_total',
    help: 'Resources encoded to protobuf (an unchanged resource is never encoded again)',
    registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'dia_xds_pushes_total',
    help: 'xDS responses sent, by cluster view, protocol (sotw, delta) and type',
    labelNames: ['cluster', 'protocol', 'type'],
    registers: [this.registry],
  });
  readonly pushBytes = new Counter({
    name: 'dia_xds_push_bytes_total',
    help: 'Bytes of xDS responses sent, by cluster view',
    labelNames: ['cluster'],
    registers: [this.registry],
  });
  readonly pushLatency = new Histogram({
    name: 'dia_push_latency_seconds',
    help: 'From the first registry change of a batch to the snapshot being handed to the xDS server',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly metadataCalls = new Counter({
    name: 'dia_metadata_service_calls_total',
    help: "Calls to providers' MetadataService (Dubbo 3 instances without a metadata report), by outcome",
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly metadataCallSeconds = new Histogram({
    name: 'dia_metadata_service_call_seconds',
    help: "Duration of calls to providers' MetadataService",
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly pendingInstances = new Gauge({
    name: 'dia_pending_instances',
    help: 'Dubbo 3 instances waiting for metadata asked of their providers (not served yet, not rejected), by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly metadataCached = new Gauge({
    name: 'dia_metadata_service_cached_revisions',
    help: 'Application revisions whose MetadataService answer (or failure) is kept',
    registers: [this.registry],
  });
  readonly nacosPushes = new Counter({
    name: 'dia_nacos_pushes_total',
    help: 'Pushes received from Nacos over gRPC, by source and kind (instances: an instance list; services: services appearing or going; unreadable: not a Nacos payload, or not understood)',
    labelNames: ['source', 'kind'],
    registers: [this.registry],
  });
  readonly nacosSubscriptions = new Gauge({
    name: 'dia_nacos_subscriptions',
    help: 'Nacos services subscribed over gRPC, by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly nacosReconnects = new Counter({
    name: 'dia_nacos_reconnects_total',
    help: 'gRPC connections to Nacos set up again after one was lost, by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly nacosRequests = new Counter({
    name: 'dia_nacos_requests_total',
    help: 'Requests sent to Nacos, by source and transport (grpc, http; health checks and config reads included)',
    labelNames: ['source', 'transport'],
    registers: [this.registry],
  });
  readonly nacosPushApply = new Histogram({
    name: 'dia_nacos_push_apply_seconds',
    help: 'From an instance list pushed by Nacos to its instances handed to the catalog (the rest of the way to istiod is dia_push_latency_seconds)',
    labelNames: ['source'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly framedWrites = new Gauge({
    name: 'dia_xds_framed_writes',
    help: '1 when grpc-js writes pre-framed responses as they are (src/xds/grpc-framed-writes.ts), 0 when its internals differ and every response is copied per stream',
    registers: [this.registry],
  });
  readonly connections = new Gauge({
    name: 'dia_xds_connections',
    help: 'Open xDS streams, by cluster view and protocol',
    labelNames: ['cluster', 'protocol'],
    registers: [this.registry],
  });
  readonly acks = new Counter({
    name: 'dia_xds_acks_total',
    help: 'ACKs and NACKs received, by cluster view and result',
    labelNames: ['cluster', 'result'],
    registers: [this.registry],
  });
  readonly ackedVersion = new Gauge({
    name: 'dia_xds_acked_version_info',
    help: 'Set to 1 for the version each connection has acknowledged, per type',
    labelNames: ['cluster', 'connection', 'type', 'version'],
    registers: [this.registry],
  });
  readonly skippedVersions = new Counter({
    name: 'dia_xds_skipped_versions_total',
    help: 'Snapshot versions a slow client never saw because it was skipped ahead to the latest',
    labelNames: ['cluster'],
    registers: [this.registry],
  });

  constructor(withDefaults = true) {
    if (withDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'dia_' });
  }
}
