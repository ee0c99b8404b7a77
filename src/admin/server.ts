import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import yaml from 'js-yaml';
import type { Registry } from 'prom-client';
import { log } from '../common/log';
import { toManifest } from '../istio/manifest';
import { ISTIO_KINDS } from '../istio/types';
import type { GuardStatus, PendingDocument } from '../model/catalog';
import type { RegistryStatus } from '../registry/types';
import type { ClusterSnapshot } from '../xds/snapshot';
import type { ConnectionInfo } from '../xds/server';

export interface Readiness {
  ready: boolean;
  /** ok: all fresh; degraded: serving the last good state of a stale source or holding removals. */
  status: 'ok' | 'degraded' | 'not-ready';
  reasons: string[];
}

/** What admin HTTP may look at; the daemon provides it. Read-only but for confirmRemovals. */
export interface AdminView {
  readiness(): Readiness;
  snapshots(): ClusterSnapshot[];
  connections(): ConnectionInfo[];
  sources(): RegistryStatus[];
  guards(): GuardStatus[];
  /** Dubbo 3 metadata being fetched from providers, and the instances waiting for it. */
  pendingMetadata(): PendingDocument[];
  confirmRemovals(source: string): boolean;
  /** Rule documents, their state, and the effective rules per service in one view. */
  rules(cluster: string | null): unknown;
  metrics: Registry;
}

/**
 * Who may call the endpoints that change something (POST /admin/...): with a token, a request
 * that carries it as a bearer token; without one, only a caller on this host (loopback), such as
 * `kubectl exec ... curl localhost`. Reading stays open to whoever reaches the port (the chart's
 * NetworkPolicy decides that, docs/security.md).
 */
export function mayChange(req: Pick<http.IncomingMessage, 'headers' | 'socket'>, token: string | undefined): boolean {
  if (token) {
    const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const want = Buffer.from(token);
    return given.length === want.length && timingSafeEqual(given, want);
  }
  const peer = req.socket.remoteAddress ?? '';
  return peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
}

export class AdminServer {
  private server?: http.Server;

  constructor(
    private readonly view: AdminView,
    /** Bearer token for the endpoints that change something (mayChange). */
    private readonly token?: string,
  ) {}

  async start(address: string, port: number): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        log.error('admin request failed', { url: req.url, error: err.stack });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => resolve());
    });
    const bound = (server.address() as { port: number }).port;
    log.info('admin http up', { address, port: bound });
    return bound;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const q = url.searchParams;
    const json = q.get('format') === 'json';
    const send = (status: number, body: unknown): void => {
      if (typeof body === 'string') {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(body);
      } else if (json) {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body, null, 2) + '\n');
      } else {
        res.writeHead(status, { 'content-type': 'application/yaml' });
        res.end(yaml.dump(body, { noRefs: true, sortKeys: false, lineWidth: 200 }));
      }
    };
    if (req.method === 'POST' && url.pathname === '/admin/confirm-removals') {
      if (!mayChange(req, this.token)) return send(this.token ? 401 : 403, this.token ? 'a bearer token is required\n' : 'only from this host (or configure admin.tokenEnv)\n');
      const source = q.get('source') ?? '';
      const ok = this.view.confirmRemovals(source);
      return send(ok ? 200 : 404, ok ? `confirmed: held removals of ${source} apply now\n` : `no removals are held for source "${source}"\n`);
    }
    if (req.method !== 'GET') return send(405, 'method not allowed\n');
    switch (url.pathname) {
      case '/healthz':
        return send(200, 'ok\n');
      case '/readyz': {
        const r = this.view.readiness();
        return send(r.ready ? 200 : 503, r.reasons.length ? `${r.status}\n${r.reasons.map((x) => `- ${x}`).join('\n')}\n` : `${r.status}\n`);
      }
      case '/metrics':
        res.writeHead(200, { 'content-type': this.view.metrics.contentType });
        res.end(await this.view.metrics.metrics());
        return;
      case '/debug/snapshot':
        return send(200, this.snapshotDump(q.get('cluster'), q.get('kind')));
      case '/debug/connections':
        return send(200, { connections: this.view.connections() });
      case '/debug/rules':
        return send(200, this.view.rules(q.get('cluster')));
      case '/debug/sources':
        return send(200, {
          sources: this.view.sources(),
          pendingMetadata: this.view.pendingMetadata().map((p) => ({ ...p, sinceMs: undefined, since: new Date(p.sinceMs).toISOString() })),
          heldRemovals: this.view.guards().map((g) => ({
            ...g,
            sinceMs: undefined,
            since: new Date(g.sinceMs).toISOString(),
            releaseAt: g.releaseAtMs ? new Date(g.releaseAtMs).toISOString() : 'on confirmation only',
            releaseAtMs: undefined,
          })),
        });
      default:
        return send(404, 'not found: try /healthz /readyz /metrics /debug/snapshot /debug/connections /debug/sources /debug/rules\n');
    }
  }

  private snapshotDump(cluster: string | null, kind: string | null): unknown {
    const out: Record<string, unknown> = {};
    for (const s of this.view.snapshots()) {
      if (cluster && s.cluster !== cluster) continue;
      const types: Record<string, unknown> = {};
      for (const k of ISTIO_KINDS) {
        if (kind && k.toLowerCase() !== kind.toLowerCase()) continue;
        const t = s.types.get(k);
        if (!t) continue;
        types[k] = { version: t.version, count: t.resources.size, resources: [...t.resources.values()].map((r) => toManifest(r.object)) };
      }
      out[s.cluster] = { serial: s.serial, ...types };
    }
    return { clusters: out };
  }
}
