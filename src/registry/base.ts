import type { SourceState, SourceStatus } from './types';

/** Health and status bookkeeping that every registry and config-center source shares. */
export abstract class SourceBase<Sink extends { health(source: string, state: SourceState, reason?: string): void }> {
  protected sink?: Sink;
  protected state: SourceState = 'connecting';
  protected reason?: string;
  /** When the source last completed a full read (ms since epoch). */
  protected lastSyncMs?: number;

  constructor(readonly name: string) {}

  protected setState(state: SourceState, reason?: string): void {
    this.state = state;
    this.reason = reason;
    this.sink?.health(this.name, state, reason);
  }

  /** A full read completed: synced, as of now. */
  protected synced(): void {
    this.lastSyncMs = Date.now();
    this.setState('synced');
  }

  /**
   * The source cannot read now and keeps what it read last: stale once it has read in full,
   * still connecting before that; failed when it cannot without an operator (credentials).
   */
  protected degraded(reason: string, failed = false): void {
    this.setState(failed ? 'failed' : this.lastSyncMs ? 'stale' : 'connecting', reason);
  }

  protected statusOf<Counts extends object>(type: string, known: Counts, details: Record<string, unknown>): SourceStatus & Counts {
    return { name: this.name, type, state: this.state, reason: this.reason, lastSyncMs: this.lastSyncMs, ...known, details };
  }
}

/** Services and entries of a source's last known state. */
export function counts(known: ReadonlyMap<string, readonly string[]>): { services: number; entries: number } {
  let entries = 0;
  for (const e of known.values()) entries += e.length;
  return { services: known.size, entries };
}

export function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
