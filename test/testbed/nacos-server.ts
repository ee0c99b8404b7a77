import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConnect, freePort, waitFor } from './net';
import { fileTail, stopProcess } from './process';

const ROOT = path.resolve(__dirname, '../..');
const HOME = path.join(ROOT, '.cache/nacos');

export function provisionNacos(): void {
  const r = spawnSync(path.join(ROOT, 'test/servers/nacos/provision.sh'), { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(path.join(HOME, 'classes/dia/NacosStandalone.class'))) throw new Error('could not provision Nacos; see test/servers/nacos/provision.sh');
}

/**
 * A real Nacos server (3.1, Apache-2.0 rebuild from Maven Central) standalone on loopback, with
 * embedded storage under its own folder, so a restart keeps persistent instances.
 */
export class NacosServer {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dia-nacos-'));
  port = 0;
  private proc?: ChildProcess;

  constructor(private readonly opts: { auth?: { adminPassword: string }; properties?: Record<string, string> } = {}) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get base(): string {
    return `http://${this.address}/nacos`;
  }

  async start(): Promise<this> {
    // Nacos also listens on port+1000 (client gRPC) and port+1001 (cluster gRPC).
    while (!this.port) {
      const p = await freePort();
      if (p + 1001 < 65536 && !(await canConnect(p + 1000)) && !(await canConnect(p + 1001))) this.port = p;
    }
    mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    const auth = !!this.opts.auth;
    const log = openSync(path.join(this.dir, 'server.log'), 'a');
    this.proc = spawn(
      'java',
      [
        '-Xms256m',
        '-Xmx512m',
        '-XX:TieredStopAtLevel=1',
        '--add-opens',
        'java.base/java.lang=ALL-UNNAMED',
        '-Dnacos.standalone=true',
        `-Dnacos.home=${this.dir}`,
        `-Dnacos.server.main.port=${this.port}`,
        '-Dnacos.inetutils.ip-address=127.0.0.1',
        `-Dnacos.core.auth.enabled=${auth}`,
        `-Dnacos.core.auth.admin.enabled=${auth}`,
        ...Object.entries(this.opts.properties ?? {}).map(([k, v]) => `-D${k}=${v}`),
        // The rebuild resolves two Hessian jars; Nacos needs 4.x first on the class path.
        '-cp',
        [path.join(HOME, 'classes'), ...hessianFirst()].join(path.delimiter),
        'dia.NacosStandalone',
      ],
      { stdio: ['ignore', log, log] },
    );
    const proc = this.proc;
    await waitFor(
      `Nacos on ${this.address}`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`Nacos exited (${proc.exitCode}):\n${this.logTail()}`);
        const res = await fetch(`${this.base}/v1/ns/operator/metrics`).catch(() => undefined);
        return !!res && (res.ok || res.status === 403 || res.status === 401);
      },
      120000,
      250,
    );
    if (this.opts.auth) await this.initAdmin(this.opts.auth.adminPassword);
    return this;
  }

  private async initAdmin(password: string): Promise<void> {
    const res = await fetch(`${this.base}/v3/auth/user/admin`, { method: 'POST', body: new URLSearchParams({ password }) });
    if (!res.ok && res.status !== 409) throw new Error(`could not set the Nacos admin password: ${res.status} ${await res.text()}`);
    // Nacos reloads its user cache periodically (about 15 s): wait until the login works.
    await waitFor(
      'Nacos admin login',
      async () => {
        const login = await fetch(`${this.base}/v1/auth/login`, { method: 'POST', body: new URLSearchParams({ username: 'nacos', password }) });
        return login.ok;
      },
      60000,
      500,
    );
  }

  logTail(): string {
    return fileTail(path.join(this.dir, 'server.log'));
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    await stopProcess(p, 10000);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function hessianFirst(): string[] {
  const lib = path.join(HOME, 'lib');
  const jars = readdirSync(lib);
  const first = jars.filter((j) => /^hessian-4/.test(j));
  return [...first.map((j) => path.join(lib, j)), path.join(lib, '*')];
}

/**
 * Registers and removes instances through Nacos's HTTP API exactly as Dubbo's Nacos registry
 * lays them out: service providers:{interface}:{version}:{group}, URL parameters as metadata.
 */
export class NacosWriter {
  private token?: string;
  private readonly undialledServices = new Set<string>();

  constructor(
    private readonly base: string,
    private readonly auth?: { username: string; password: string },
  ) {}

  private async params(p: Record<string, string>): Promise<URLSearchParams> {
    if (this.auth && !this.token) {
      const res = await fetch(`${this.base}/v1/auth/login`, { method: 'POST', body: new URLSearchParams(this.auth) });
      if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`);
      this.token = ((await res.json()) as { accessToken: string }).accessToken;
    }
    return new URLSearchParams({ ...p, ...(this.token ? { accessToken: this.token } : {}) });
  }

  async register(i: {
    service: string;
    ip: string;
    port: number;
    metadata: Record<string, string>;
    namespace?: string;
    group?: string;
    weight?: number;
    enabled?: boolean;
    healthy?: boolean;
  }): Promise<void> {
    await this.undialled(i.service, i.namespace, i.group);
    const body = await this.params({
      serviceName: i.service,
      ip: i.ip,
      port: String(i.port),
      metadata: JSON.stringify(i.metadata),
      // Persistent, where Dubbo registers ephemeral instances: no heartbeat needed, and it survives
      // a server restart. Its service's health checker is NONE (undialled), so nothing dials it.
      ephemeral: 'false',
      weight: String(i.weight ?? 1),
      enabled: String(i.enabled ?? true),
      healthy: String(i.healthy ?? true),
      ...(i.namespace ? { namespaceId: i.namespace } : {}),
      ...(i.group ? { groupName: i.group } : {}),
    });
    const res = await fetch(`${this.base}/v1/ns/instance`, { method: 'POST', body });
    if (!res.ok) throw new Error(`register: ${res.status} ${await res.text()}`);
  }

  /**
   * Makes sure Nacos never dials this service's instances. Nacos health-checks persistent
   * instances itself, by opening a TCP connection to each instance's address every few seconds;
   * the suites register addresses that exist nowhere, so before the first instance of a service
   * the service is created with a cluster health checker of type NONE (Nacos's admin API; the v1
   * cluster API is gone in Nacos 3). The metadata of the instances is still exactly Dubbo's.
   */
  private async undialled(service: string, namespace = '', group = 'DEFAULT_GROUP'): Promise<void> {
    const key = `${namespace}\0${group}\0${service}`;
    if (this.undialledServices.has(key)) return;
    const where = { serviceName: service, groupName: group, ...(namespace ? { namespaceId: namespace } : {}) };
    const created = await fetch(`${this.base}/v3/admin/ns/service`, { method: 'POST', body: await this.params({ ...where, ephemeral: 'false', protectThreshold: '0' }) });
    if (!created.ok && !/already exist/i.test(await created.text())) throw new Error(`create service ${service}: ${created.status}`);
    const healthChecker = JSON.stringify({ type: 'NONE' });
    const res = await fetch(`${this.base}/v3/admin/ns/cluster`, {
      method: 'PUT',
      body: await this.params({ ...where, clusterName: 'DEFAULT', checkPort: '0', useInstancePort4Check: 'true', healthChecker }),
    });
    if (!res.ok) throw new Error(`turn off health checks of ${service}: ${res.status} ${await res.text()}`);
    this.undialledServices.add(key);
  }

  /** Publishes a config item, as Dubbo's Nacos metadata report and mapping do. */
  async publishConfig(dataId: string, group: string, content: string): Promise<void> {
    const res = await fetch(`${this.base}/v1/cs/configs`, { method: 'POST', body: await this.params({ dataId, group, content }) });
    if (!res.ok) throw new Error(`publish config: ${res.status} ${await res.text()}`);
  }

  async removeConfig(dataId: string, group: string): Promise<void> {
    const res = await fetch(`${this.base}/v1/cs/configs?${await this.params({ dataId, group })}`, { method: 'DELETE' });
    if (!res.ok) throw new Error(`remove config: ${res.status} ${await res.text()}`);
  }

  async deregister(i: { service: string; ip: string; port: number; namespace?: string; group?: string }): Promise<void> {
    const q = await this.params({
      serviceName: i.service,
      ip: i.ip,
      port: String(i.port),
      ephemeral: 'false',
      ...(i.namespace ? { namespaceId: i.namespace } : {}),
      ...(i.group ? { groupName: i.group } : {}),
    });
    const res = await fetch(`${this.base}/v1/ns/instance?${q}`, { method: 'DELETE' });
    if (!res.ok) throw new Error(`deregister: ${res.status} ${await res.text()}`);
  }
}

/** The metadata Dubbo's Nacos registry writes for a provider: its URL parameters. */
export function dubboMetadata(iface: string, extra: Record<string, string> = {}): Record<string, string> {
  return { application: 'demo', dubbo: '2.0.2', interface: iface, side: 'provider', protocol: 'dubbo', methods: 'sayHello', timestamp: '1700000000000', ...extra };
}
