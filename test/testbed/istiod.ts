import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { canConnect, freePort, waitFor } from './net';
import { fileTail, stopProcess } from './process';

const ROOT = path.resolve(__dirname, '../..');
export const ISTIOD_BIN = path.join(ROOT, '.cache/istiod/bin/pilot-discovery');

/** Builds pilot-discovery once into .cache/istiod (see test/servers/istiod/provision.sh). */
export function provisionIstiod(): void {
  const r = spawnSync(path.join(ROOT, 'test/servers/istiod/provision.sh'), { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(ISTIOD_BIN)) throw new Error('could not build istiod; see the output of test/servers/istiod/provision.sh');
}

export interface IstiodOptions {
  /** meshConfig.configSources: addresses (xds://127.0.0.1:15051), or entries with their tlsSettings. */
  configSources: (string | { address: string; tlsSettings?: Record<string, unknown> })[];
  /** REVISION of this istiod: it drops objects whose istio.io/rev label differs. */
  revision?: string;
}

export interface ConfigzObject {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; creationTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/**
 * A real istiod (pilot-discovery) on loopback, without Kubernetes: its only config comes from
 * the adapter through meshConfig.configSources. Synced once its xDS port accepts connections,
 * which istiod opens only after every config source answered every type.
 */
export class Istiod {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dia-istiod-'));
  httpPort = 0;
  grpcPort = 0;
  private proc?: ChildProcess;

  constructor(private readonly opts: IstiodOptions) {}

  get xdsAddress(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  async start(): Promise<this> {
    this.httpPort = await freePort();
    this.grpcPort = await freePort();
    const monitoringPort = await freePort();
    const mesh = path.join(this.dir, 'mesh.yaml');
    writeFileSync(mesh, yaml.dump({ configSources: this.opts.configSources.map((s) => (typeof s === 'string' ? { address: s } : s)), rootNamespace: 'istio-system' }));
    const log = openSync(path.join(this.dir, 'istiod.log'), 'a');
    this.proc = spawn(
      ISTIOD_BIN,
      [
        'discovery',
        '--registries=',
        `--meshConfig=${mesh}`,
        `--httpAddr=127.0.0.1:${this.httpPort}`,
        `--grpcAddr=127.0.0.1:${this.grpcPort}`,
        '--secureGRPCAddr=',
        `--monitoringAddr=127.0.0.1:${monitoringPort}`,
        '--log_output_level=default:info',
      ],
      {
        stdio: ['ignore', log, log],
        env: {
          ...process.env,
          POD_NAMESPACE: 'istio-system',
          POD_NAME: 'istiod-it',
          ENABLE_CA_SERVER: 'false',
          ...(this.opts.revision ? { REVISION: this.opts.revision } : {}),
        },
      },
    );
    const proc = this.proc;
    await waitFor(
      `istiod xDS port ${this.grpcPort}`,
      () => {
        if (proc.exitCode !== null) throw new Error(`istiod exited (${proc.exitCode}):\n${this.logTail()}`);
        return canConnect(this.grpcPort);
      },
      90000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.logTail()}`);
    });
    return this;
  }

  logTail(): string {
    return fileTail(path.join(this.dir, 'istiod.log'));
  }

  /** What istiod stored from its config sources (/debug/configz). */
  async configz(): Promise<ConfigzObject[]> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/debug/configz`);
    if (!res.ok) throw new Error(`configz: HTTP ${res.status}`);
    return (await res.json()) as ConfigzObject[];
  }

  /**
   * What istiod noted while building config for proxies in its last push (/debug/push_status):
   * metric name -> key -> detail, e.g. pilot_conflict_outbound_listener_tcp_over_current_tcp. The
   * same notes feed its metrics, which it refreshes only every 10 s.
   */
  async pushStatus(): Promise<Record<string, Record<string, unknown>>> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/debug/push_status`);
    if (!res.ok) throw new Error(`push_status: HTTP ${res.status}`);
    const text = await res.text();
    return text ? (JSON.parse(text) as Record<string, Record<string, unknown>>) : {};
  }

  async configzOf(kind: string): Promise<Map<string, ConfigzObject>> {
    return new Map((await this.configz()).filter((o) => o.kind === kind).map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]));
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    await stopProcess(p, 5000);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
