import * as grpc from '@grpc/grpc-js';
import { log, LogBudget } from '../common/log';
import type { ClusterConfig, XdsConfig } from '../config/types';
import { CLIENT_LOG_LINES_PER_MINUTE, StreamLimitError, type ConnectionInfo, type Protocol, type Stream, type XdsObserver } from './connection';
import { DeltaConnection } from './delta';
import { installFramedWrites } from './grpc-framed-writes';
import { listen, shutdown } from './listeners';
import type { DeltaDiscoveryRequestMsg, DiscoveryRequestMsg } from './proto';
import { SharedResponses } from './responses';
import type { ClusterSnapshot } from './snapshot';
import { SotwConnection } from './sotw';

export type { ConnectionInfo, XdsObserver } from './connection';

type AnyConnection = SotwConnection | DeltaConnection;

/**
 * One ADS listener per cluster view; a cluster is known by the port its istiod dials. It never
 * renders or encodes: each connection (sotw.ts, delta.ts) compares what its client has with the
 * latest snapshot and streams the difference, as go-control-plane's snapshot cache does.
 */
export class XdsServer {
  private readonly servers = new Map<string, grpc.Server>();
  private readonly conns = new Map<string, Set<AnyConnection>>();
  private readonly snapshots = new Map<string, ClusterSnapshot>();
  private readonly ports = new Map<string, number>();
  private readonly responses = new SharedResponses();
  private readonly streamLog = new LogBudget('xds stream opened or closed', CLIENT_LOG_LINES_PER_MINUTE);
  private readonly nackLog = new LogBudget('xds NACK', CLIENT_LOG_LINES_PER_MINUTE);
  private readonly limitLog = new LogBudget('xds stream past a limit', CLIENT_LOG_LINES_PER_MINUTE);

  constructor(
    private readonly clusters: readonly ClusterConfig[],
    private readonly cfg: XdsConfig,
    private readonly observer: XdsObserver,
  ) {}

  async start(): Promise<void> {
    const framed = installFramedWrites();
    this.observer.framedWrites(framed);
    if (!framed) log.warn('grpc-js internals differ from the ones framed writes know: every response is copied per stream (slower with many istiods)', {});
    for (const c of this.clusters) {
      this.conns.set(c.name, new Set());
      const { server, port, address } = await listen(c, this.cfg, {
        sotw: (call) => this.serve(c.name, call, 'sotw'),
        delta: (call) => this.serve(c.name, call, 'delta'),
      });
      this.servers.set(c.name, server);
      this.ports.set(c.name, port);
      log.info('xds listener up', { cluster: c.name, address, port, tls: !!c.listener.tls });
    }
  }

  /** The port a cluster view listens on (useful when the config asked for port 0). */
  port(cluster: string): number | undefined {
    return this.ports.get(cluster);
  }

  setSnapshot(s: ClusterSnapshot): void {
    const prev = this.snapshots.get(s.cluster);
    this.snapshots.set(s.cluster, s);
    for (const c of this.conns.get(s.cluster) ?? []) c.setSnapshot(s);
    this.responses.replaced(prev, s);
  }

  connections(): ConnectionInfo[] {
    return [...this.conns.values()].flatMap((set) => [...set].map((c) => c.info()));
  }

  listening(): boolean {
    return this.servers.size === this.clusters.length;
  }

  /** Ends every stream (clients reconnect, possibly to another replica), then closes listeners. */
  async stop(graceMs = 5000): Promise<void> {
    for (const set of this.conns.values()) for (const c of set) c.end();
    await Promise.all([...this.servers.values()].map((s) => shutdown(s, graceMs)));
    this.servers.clear();
  }

  private serve(cluster: string, call: Stream<DiscoveryRequestMsg> | Stream<DeltaDiscoveryRequestMsg>, protocol: Protocol): void {
    const conn: AnyConnection =
      protocol === 'sotw'
        ? new SotwConnection(cluster, call as Stream<DiscoveryRequestMsg>, this.observer, 'sotw', this.cfg.limits, this.nackLog, this.responses)
        : new DeltaConnection(cluster, call as Stream<DeltaDiscoveryRequestMsg>, this.observer, 'delta', this.cfg.limits, this.nackLog);
    this.conns.get(cluster)!.add(conn);
    this.observer.streamOpened(cluster, protocol);
    if (this.streamLog.allow()) log.info('xds stream opened', { cluster, protocol, connection: conn.id, peer: conn.peer });
    conn.setSnapshot(this.snapshots.get(cluster));
    const done = (why: string): void => {
      if (!this.conns.get(cluster)!.delete(conn)) return;
      conn.close();
      this.observer.streamClosed(cluster, protocol, conn.id);
      if (this.streamLog.allow()) log.info('xds stream closed', { cluster, protocol, connection: conn.id, node: conn.nodeId, why });
    };
    call.on('data', (req: DiscoveryRequestMsg & DeltaDiscoveryRequestMsg) => {
      try {
        conn.onRequest(req);
      } catch (err) {
        if (err instanceof StreamLimitError) {
          this.observer.streamRejected(err.message.replace(/\d+/g, 'N'));
          if (this.limitLog.allow()) log.warn('xds stream ended: it went past a limit', { cluster, connection: conn.id, node: conn.nodeId, peer: conn.peer, limit: err.message });
          call.emit('error', Object.assign(new Error(err.message), { code: grpc.status.RESOURCE_EXHAUSTED, details: err.message }));
          return;
        }
        log.error('xds request handling failed', { cluster, connection: conn.id, error: (err as Error).stack });
      }
    });
    call.on('end', () => {
      done('client ended the stream');
      call.end();
    });
    call.on('cancelled', () => done('cancelled'));
    call.on('error', (err: Error) => done(`error: ${err.message}`));
    call.on('close', () => done('closed'));
  }
}
