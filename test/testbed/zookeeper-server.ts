import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, sleep, waitFor } from './net';
import { fileTail } from './process';

const ROOT = path.resolve(__dirname, '../..');
const LIB = path.join(ROOT, '.cache/zookeeper/lib');

class FatalError extends Error {}

export function provisionZookeeper(): void {
  const r = spawnSync(path.join(ROOT, 'test/servers/zookeeper/provision.sh'), { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(LIB)) throw new Error('could not provision ZooKeeper from Maven Central');
}

/**
 * A real ZooKeeper server (the Apache jar from Maven Central) on a free loopback port, standalone,
 * with a short tick so session timeouts are seconds, not minutes.
 */
export class ZookeeperServer {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dia-zk-'));
  port = 0;
  private proc?: ChildProcess;

  get connect(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    const cfg = path.join(this.dir, 'zoo.cfg');
    writeFileSync(
      cfg,
      [
        'tickTime=500',
        `dataDir=${path.join(this.dir, 'data')}`,
        `clientPort=${this.port}`,
        'clientPortAddress=127.0.0.1',
        'minSessionTimeout=1000',
        'maxSessionTimeout=30000',
        'admin.enableServer=false',
        '4lw.commands.whitelist=ruok,srvr,cons',
        'maxClientCnxns=0',
      ].join('\n') + '\n',
    );
    const log = openSync(path.join(this.dir, 'server.log'), 'a');
    this.proc = spawn(
      'java',
      [
        // The bench at size L (200,000 znodes, 10,000 watched paths) needs more than the default.
        `-Xmx${process.env.DIA_ZK_HEAP ?? '512m'}`,
        `-Dlogback.configurationFile=${path.join(ROOT, 'test/servers/zookeeper/logback.xml')}`,
        '-Djute.maxbuffer=16777216',
        '-Dzookeeper.snapCount=1000000',
        '-cp',
        `${LIB}/*`,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        cfg,
      ],
      { stdio: ['ignore', log, log] },
    );
    const proc = this.proc;
    await waitFor(
      `ZooKeeper on ${this.connect}`,
      () => {
        if (proc.exitCode !== null) throw new Error(`ZooKeeper exited (${proc.exitCode}); see ${path.join(this.dir, 'server.log')}:\n${fileTail(path.join(this.dir, 'server.log'), 2000)}`);
        // ruok answers imok before the server serves; srvr shows Mode: only once it does.
        return this.fourLetter('srvr').then((r) => r.includes('Mode:'));
      },
      60000,
      100,
    ).catch((err: Error) => {
      if (proc.exitCode !== null) throw new FatalError(err.message);
      throw err;
    });
    return this;
  }

  /** Stops the server. With wipe, its data goes too: it comes back empty. */
  async stop(opts: { wipe?: boolean } = {}): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGKILL');
      await exited;
    }
    if (opts.wipe) rmSync(path.join(this.dir, 'data'), { recursive: true, force: true });
  }

  async restart(opts: { wipe?: boolean; downMs?: number } = {}): Promise<void> {
    await this.stop(opts);
    if (opts.downMs) await sleep(opts.downMs);
    await this.start();
  }

  /** Freezes the server (SIGSTOP): its connections stay open and nothing answers, as in a long GC pause. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    this.resume();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  fourLetter(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, '127.0.0.1');
      let out = '';
      s.setTimeout(2000, () => s.destroy(new Error('timeout')));
      s.on('connect', () => s.write(cmd));
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out.trim()));
      s.on('error', reject);
    });
  }
}
