import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './net';
import { fileTail, stopProcess } from './process';

const ROOT = path.resolve(__dirname, '../..');
const HOME = path.join(ROOT, '.cache/dubbo');

export function provisionDubbo(): void {
  const r = spawnSync(path.join(ROOT, 'test/servers/dubbo/provision.sh'), { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(path.join(HOME, 'classes/dia/Provider.class'))) throw new Error('could not provision the Dubbo providers; see test/servers/dubbo/provision.sh');
}

/**
 * The addresses a provider may have: test hosts of the network guard's namespace (198.18.0.x on
 * loopback; docs/testing.md). Dubbo refuses to bind or register 127.x, and these exist only
 * inside the guard, so a provider can never register an address anything outside could reach.
 */
export function testHosts(): string[] {
  return (process.env.DIA_TEST_HOSTS ?? '').split(',').filter(Boolean);
}

export interface DubboProviderOptions {
  /** zookeeper://127.0.0.1:PORT or nacos://127.0.0.1:PORT, with Dubbo's registry parameters (?session=4000) */
  registry: string;
  /** The test host it binds and registers (testHosts()), as a pod has an address of its own. */
  host: string;
  /** protocol:port pairs, e.g. ['dubbo:20880', 'tri:50051'] */
  protocols: string[];
  /** version[:group] of GreetingService, e.g. ['1.0.0', '2.0.0:g1'] */
  services: string[];
  application?: string;
  registerMode?: 'interface' | 'instance' | 'all';
  tag?: string;
  /** remote: the metadata document goes to the registry's metadata report (Dubbo's default: local). */
  metadata?: 'local' | 'remote';
  /** Registers with mesh=true, as a sidecar re-registering its workload does. */
  meshed?: boolean;
  /** More URL parameters of every service, e.g. { env: 'blue', zone: 'zone-a' }: the endpoint's labels. */
  params?: Record<string, string>;
}

/**
 * A real Dubbo 3.3 provider (test/servers/dubbo) in a JVM of its own: it registers in the
 * registry exactly as an application on the plain Dubbo API would.
 */
export class DubboProvider {
  static readonly INTERFACE = 'dia.GreetingService';
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dia-dubbo-'));
  private proc?: ChildProcess;

  constructor(readonly opts: DubboProviderOptions) {
    if (!testHosts().includes(opts.host))
      throw new Error(`${opts.host} is not a test host of this run (${testHosts().join(', ') || 'none: run the suites under test/netguard/run.sh, as make test does'})`);
  }

  async start(): Promise<this> {
    const o = this.opts;
    const args = [
      `registry=${o.registry}`,
      `host=${o.host}`,
      `protocols=${o.protocols.join(',')}`,
      `services=${o.services.join(',')}`,
      `application=${o.application ?? 'greeting-provider'}`,
      `register-mode=${o.registerMode ?? 'all'}`,
      ...(o.tag ? [`tag=${o.tag}`] : []),
      ...(o.metadata ? [`metadata=${o.metadata}`] : []),
      ...(o.meshed ? ['mesh=true'] : []),
      ...(o.params
        ? [
            `params=${Object.entries(o.params)
              .map(([k, v]) => `${k}:${v}`)
              .join(';')}`,
          ]
        : []),
    ];
    // Its log (slf4j-simple, on stderr) apart from what it prints (stdout): just after start,
    // Dubbo's metrics job writes some hundred warnings with a stack trace each (it finds no
    // network interface for an address here), about 300 KB at once, and "ready" scrolled out of
    // the log tail the test read.
    const log = openSync(path.join(this.dir, 'provider.log'), 'a');
    const out = openSync(path.join(this.dir, 'provider.out'), 'a');
    // Dubbo's documented switches for the address it binds and the one it registers.
    const env = { ...process.env, DUBBO_IP_TO_BIND: o.host, DUBBO_IP_TO_REGISTRY: o.host };
    this.proc = spawn(
      'java',
      [
        '-Xmx256m',
        '-XX:TieredStopAtLevel=1',
        `-Duser.home=${this.dir}`,
        '-Ddubbo.application.logger=slf4j',
        '-cp',
        [path.join(HOME, 'classes'), path.join(HOME, 'lib/*')].join(path.delimiter),
        'dia.Provider',
        ...args,
      ],
      { stdio: ['ignore', out, log], env },
    );
    closeSync(out);
    closeSync(log);
    const proc = this.proc;
    try {
      await waitFor(
        `Dubbo provider at ${o.host}`,
        () => {
          // Its log tail is added below, to this error as to a timeout.
          if (proc.exitCode !== null) throw new Error(`Dubbo provider exited (${proc.exitCode})`);
          return /^ready$/m.test(fileTail(path.join(this.dir, 'provider.out')));
        },
        90000,
        250,
      );
    } catch (err) {
      (err as Error).message += `\n${this.logTail()}`;
      throw err;
    }
    return this;
  }

  logTail(chars = 3000): string {
    return fileTail(path.join(this.dir, 'provider.log'), chars);
  }

  /** As a crashed JVM: no deregistration; its ephemeral nodes go when its session expires. */
  kill(): void {
    this.proc?.kill('SIGKILL');
  }

  async destroy(): Promise<void> {
    await stopProcess(this.proc, 10000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
