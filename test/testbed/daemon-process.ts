/**
 * The daemon as it runs in production: its own process (`node dist/cli.js run`, so `make build`
 * first), its config in a file, its log in a file. For the suites that watch the process itself
 * (the adversarial suite: memory, log growth, survival) and for the benches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { parseConfig } from '../../src/config/load';
import { freePort, waitFor } from './net';

const ROOT = path.resolve(__dirname, '../..');

export class DaemonProcess {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dia-daemon-'));
  readonly log = path.join(this.dir, 'daemon.log');
  proc?: ChildProcess;
  admin = 0;

  /**
   * Writes `config` (its admin port chosen here), checks it, and spawns the daemon; returns the
   * spawn time (performance.now()). Its log goes to `log` at `logLevel`.
   */
  async start(config: Record<string, unknown>, logLevel = 'info'): Promise<number> {
    this.admin = await freePort();
    const full = { ...config, admin: { port: this.admin } };
    parseConfig(yaml.dump(full)); // fail early on a bad config
    const file = path.join(this.dir, 'adapter.yaml');
    writeFileSync(file, yaml.dump(full));
    const out = openSync(this.log, 'a');
    const t0 = performance.now();
    this.proc = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'run', '--config', file], { stdio: ['ignore', out, out], env: { ...process.env, LOG_LEVEL: logLevel } });
    return t0;
  }

  /** Answering /healthz (listening, not necessarily synced). */
  async up(): Promise<void> {
    await waitFor('daemon up', async () => (await fetch(`http://127.0.0.1:${this.admin}/healthz`).catch(() => undefined))?.ok, 60000, 5);
  }

  /** Answering /readyz with 200: every source read once and the first snapshot published. */
  async ready(): Promise<void> {
    await waitFor('daemon ready', async () => (await fetch(`http://127.0.0.1:${this.admin}/readyz`).catch(() => undefined))?.ok, 60000);
  }

  alive(): boolean {
    return this.proc?.exitCode === null;
  }

  rssMb(): number {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.proc!.pid}/status`, 'utf8'))![1]) / 1024;
  }

  /** The process's peak resident set so far (VmHWM), where the kernel reports it. */
  peakRssMb(): number | undefined {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.proc!.pid}/status`, 'utf8'))?.[1];
      return kb ? Number(kb) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  logBytes(): number {
    return statSync(this.log).size;
  }

  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.admin}/metrics`)).text();
  }

  /** A metric's value, summed over its label sets; NaN when it has none. */
  async metric(name: string): Promise<number> {
    const lines = (await this.metrics()).split('\n').filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
    return lines.length ? lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0) : NaN;
  }

  /** SIGTERM, and wait for the exit; the directory with its config and log goes too. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
