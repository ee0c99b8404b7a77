import { cutText, log, LogBudget } from '../common/log';
import type { Metrics } from '../common/metrics';
import type { SourceState } from '../registry/types';
import type { MetadataFetchObserver } from '../registry/metadata-service';
import type { ZookeeperSourceHooks } from '../registry/zookeeper';
import type { NacosSourceHooks } from '../registry/nacos';
import type { CatalogObserver } from '../model/catalog';
import type { RuleStoreObserver } from '../rules/store';
import type { BuilderObserver } from '../xds/snapshot';
import type { XdsObserver } from '../xds/server';

/*
 * Observers that turn what the stages report into metrics and log lines. The stages report
 * through these interfaces and never see the metrics themselves; every label value here comes
 * from config (source and cluster names, kinds) or from reasonClass, so series stay bounded.
 */

/** What of a registry entry goes into a log line: a registration can be megabytes. */
const ENTRY_LOG_MAX = 512;
const entryText = (entry: string): string => cutText(entry, ENTRY_LOG_MAX);
/** Lines about bad registry entries per minute: a registry with thousands of them must not fill the log. */
const ENTRY_LOG_LINES_PER_MINUTE = 100;

export function catalogTelemetry(m: Metrics): CatalogObserver {
  const rejectedLog = new LogBudget('provider entry rejected', ENTRY_LOG_LINES_PER_MINUTE);
  const warningLog = new LogBudget('provider entry accepted with a warning', ENTRY_LOG_LINES_PER_MINUTE);
  return {
    rejected: (source, entry, reason) => {
      m.rejectedInputs.inc({ source, kind: 'provider', reason: reasonClass(reason) });
      if (rejectedLog.allow()) log.warn('provider entry rejected', { source, entry: entryText(entry), reason: entryText(reason) });
    },
    warning: (source, entry, message) => {
      m.inputWarnings.inc({ source });
      if (warningLog.allow()) log.warn('provider entry accepted with a warning', { source, entry: entryText(entry), warning: entryText(message) });
    },
    event: (source, kind) => m.sourceEvents.inc({ source, kind }),
  };
}

export function ruleStoreTelemetry(m: Metrics, changed: () => void, documentsChanged: () => void): RuleStoreObserver {
  return {
    rejected: (origin, error, kept) => {
      m.rejectedInputs.inc({ source: origin.source, kind: 'rule', reason: reasonClass(error) });
      log.warn(`rule document rejected; ${kept ? 'its last good version stays in force' : 'it has no version in force'}`, { source: origin.source, document: origin.document, error });
      // The rules in force did not change, so no run follows: the document gauge must move now.
      documentsChanged();
    },
    changed,
  };
}

export function builderTelemetry(m: Metrics, cluster: string): BuilderObserver {
  return {
    encoded: (n) => m.encodes.inc(n),
    unencodable: (kind, name, error) => {
      m.rejectedInputs.inc({ source: 'render', kind, reason: 'unencodable' });
      log.error('object could not be encoded; its previous version stays', { cluster, kind, name, error: error.message });
    },
    conflict: (kind, name, owners) => {
      m.conflicts.inc({ kind: 'name' });
      log.warn('two services render the same object; the first by service id wins', { cluster, kind, name, services: owners });
    },
  };
}

export function registryTelemetry(m: Metrics): ZookeeperSourceHooks & NacosSourceHooks {
  return {
    missedEvents: (source, n) => m.missedEvents.inc({ source }, n),
    resynced: (source, reason) => m.sourceResyncs.inc({ source, reason }),
    nacosPush: (source, kind) => m.nacosPushes.inc({ source, kind }),
    nacosSubscriptions: (source, n) => m.nacosSubscriptions.set({ source }, n),
    nacosReconnect: (source) => m.nacosReconnects.inc({ source }),
    nacosRequest: (source, transport) => m.nacosRequests.inc({ source, transport }),
    nacosPushApplied: (source, seconds) => m.nacosPushApply.observe({ source }, seconds),
  };
}

/** Calls to providers' MetadataService: outcomes, durations, and the revisions kept. */
export function metadataFetchTelemetry(m: Metrics): MetadataFetchObserver {
  const failedLog = new LogBudget('MetadataService call failed', ENTRY_LOG_LINES_PER_MINUTE);
  return {
    call: (ok, ms, reason) => {
      m.metadataCalls.inc({ outcome: ok ? 'ok' : 'failed' });
      m.metadataCallSeconds.observe(ms / 1000);
      if (!ok && failedLog.allow()) log.warn('MetadataService call failed; another instance of the revision is asked, or the revision later', { reason: cutText(reason ?? '', 300) });
    },
    cached: (n) => m.metadataCached.set(n),
  };
}

/**
 * One series per state, exactly one of them 1: what a dashboard can sum and alert on. Registries
 * also record when they last synced (recordSync); rule sources do not.
 */
export function sourceStateTelemetry(m: Metrics, source: string, state: SourceState, recordSync = false): void {
  for (const st of ['connecting', 'synced', 'stale', 'failed'] as const) m.sourceState.set({ source, state: st }, st === state ? 1 : 0);
  if (recordSync && state === 'synced') m.sourceLastSync.set({ source }, Date.now() / 1000);
}

/** A rendered object that failed validation and was not sent. */
export function invalidObjectTelemetry(m: Metrics, cluster: string, o: { kind: string; name: string }, problems: string[]): void {
  m.rejectedInputs.inc({ source: 'render', kind: o.kind, reason: reasonClass(problems[0]) });
  log.error('rendered object is invalid and was not sent', { cluster, kind: o.kind, name: o.name, problems });
}

/** A service that got no virtual IP because render.virtualAddresses.cidr is full. */
export function noVirtualAddressTelemetry(m: Metrics, serviceId: string): void {
  m.inputWarnings.inc({ source: 'render' });
  log.warn('no virtual address left for a service: its TCP ports share the wildcard listener; widen render.virtualAddresses.cidr', { service: serviceId });
}

/** A bounded label value for a free-text reason: quoted values and numbers folded away. */
export function reasonClass(reason: string): string {
  return reason
    .replace(/"[^"]*"/g, '…')
    .replace(/\d+/g, 'N')
    .slice(0, 80);
}

/** The xDS server's reports as metrics. An ACKed-version series lives while its stream does. */
export function xdsTelemetry(m: Metrics): XdsObserver {
  /** connection id -> kind -> the labels of its ACKed-version series */
  const acked = new Map<string, Map<string, Record<string, string>>>();
  return {
    framedWrites: (active) => m.framedWrites.set(active ? 1 : 0),
    streamOpened: (cluster, protocol) => m.connections.inc({ cluster, protocol }),
    streamClosed: (cluster, protocol, connection) => {
      m.connections.dec({ cluster, protocol });
      for (const labels of acked.get(connection)?.values() ?? []) m.ackedVersion.remove(labels);
      acked.delete(connection);
    },
    pushed: (cluster, protocol, type, bytes) => {
      m.pushes.inc({ cluster, protocol, type });
      m.pushBytes.inc({ cluster }, bytes);
    },
    versionSkipped: (cluster) => m.skippedVersions.inc({ cluster }),
    answered: (cluster, result) => m.acks.inc({ cluster, result }),
    ackedVersion: (cluster, connection, type, version) => {
      let byType = acked.get(connection);
      if (!byType) acked.set(connection, (byType = new Map()));
      const old = byType.get(type);
      if (old) m.ackedVersion.remove(old);
      const labels = { cluster, connection, type, version };
      m.ackedVersion.set(labels, 1);
      byType.set(type, labels);
    },
    streamRejected: (reason) => m.rejectedInputs.inc({ source: 'xds', kind: 'stream', reason }),
  };
}
