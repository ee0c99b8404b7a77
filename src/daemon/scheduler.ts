/**
 * When the pipeline runs: once the input has been quiet for quietMs, but never later than
 * maxDelayMs after the first change of a batch; and again at a time the catalog asks for (a grace
 * period or a held removal running out). The task gets the time its batch began.
 */
export class FlushScheduler {
  private quietTimer?: NodeJS.Timeout;
  private wakeTimer?: NodeJS.Timeout;
  private batchStartedMs?: number;
  private stopped = false;

  constructor(
    private readonly debounce: { quietMs: number; maxDelayMs: number },
    private readonly task: (batchStartedMs: number) => void,
  ) {}

  /** Something changed: run within the debounce window. */
  schedule(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.batchStartedMs ??= now;
    const deadline = this.batchStartedMs + this.debounce.maxDelayMs;
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.runNow(), Math.max(0, Math.min(now + this.debounce.quietMs, deadline) - now));
  }

  /** Run at once (the timers call this too); the pending batch, if any, is part of this run. */
  runNow(): void {
    const started = this.batchStartedMs ?? Date.now();
    this.batchStartedMs = undefined;
    this.task(started);
  }

  /** Run again at this time, replacing an earlier wake-up; undefined cancels it. */
  wakeAt(atMs: number | undefined): void {
    clearTimeout(this.wakeTimer);
    if (atMs !== undefined && !this.stopped) this.wakeTimer = setTimeout(() => this.runNow(), Math.max(0, atMs - Date.now()) + 5);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    clearTimeout(this.wakeTimer);
  }
}
