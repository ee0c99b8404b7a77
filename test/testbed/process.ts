import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sleep } from './net';

/** SIGTERM, then SIGKILL if the process is still there after graceMs. */
export async function stopProcess(p: ChildProcess | undefined, graceMs = 10000): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  for (let waited = 0; waited < graceMs && p.exitCode === null && p.signalCode === null; waited += 100) await sleep(100);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** The end of a server's log file, for error messages; '' if there is none yet. */
export function fileTail(file: string, chars = 3000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}
