import { spawnSync } from 'node:child_process';
import path from 'node:path';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const GUARD = path.join(ROOT, 'test/netguard/run.sh');

/** Runs a command under its own guard: a namespace nested in the one the suites run in, if any. */
const guarded = (...cmd: string[]) => {
  const r = spawnSync(GUARD, cmd, { cwd: ROOT, encoding: 'utf8', timeout: 150_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('the network guard of make test and make bench', () => {
  it('blocks an attempt to leave this machine, counts it and fails the run', () => {
    const r = guarded('node', '-e', "require('net').connect(9, '192.0.2.1').on('error', (e) => console.log(e.code))");
    expect(r.stdout.trim()).toBe('ENETUNREACH'); // no route: refused before any packet
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('netguard: FAILED: 1 attempt(s)');
  });

  it('lets loopback through and passes a run that stays on this machine', () => {
    const r = guarded('node', '-e', "require('net').connect(9, '127.0.0.1').on('error', (e) => console.log(e.code))");
    expect(r.stdout.trim()).toBe('ECONNREFUSED');
    expect(r.status).toBe(0);
  });

  it('catches Nacos health-checking a persistent instance, and never sees one the suites register', () => {
    const r = guarded('npx', 'tsx', 'test/netguard/nacos-dials.ts');
    const seen = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { afterWriter: number; afterPlain: number };
    expect(seen.afterWriter).toBe(0);
    expect(seen.afterPlain).toBeGreaterThan(0);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/netguard: FAILED: \d+ attempt\(s\)/);
  });
});
