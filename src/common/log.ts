import winston from 'winston';

export type Logger = winston.Logger;

// One process-wide logger: structured JSON on stderr so stdout stays free for `render` output.
export const log: Logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});

/** Precedence: --log-level, then the LOG_LEVEL environment variable, then the config file. */
export function setLogLevel(level: string, fromFlag = false): void {
  log.level = fromFlag ? level : (process.env.LOG_LEVEL ?? level);
}

/**
 * The first `max` characters of a string from outside (a client's node id, a registry entry) for
 * a log line or a field kept in memory, saying how long it was: such a string can be megabytes.
 */
export function cutText(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

/**
 * At most `max` lines of one kind per window; the rest are counted, and the first line of a
 * later window says how many were left out. For lines a client can cause at will (a stream opened,
 * a NACK): a reconnect storm must not write the log full.
 */
export class LogBudget {
  private windowStart = 0;
  private used = 0;
  private suppressed = 0;

  constructor(
    private readonly event: string,
    private readonly max: number,
    private readonly windowMs = 60_000,
  ) {}

  allow(nowMs = Date.now()): boolean {
    if (nowMs - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) log.warn('log lines left out', { event: this.event, count: this.suppressed, windowMs: this.windowMs });
      this.windowStart = nowMs;
      this.used = 0;
      this.suppressed = 0;
    }
    if (this.used < this.max) {
      this.used++;
      return true;
    }
    this.suppressed++;
    return false;
  }
}
