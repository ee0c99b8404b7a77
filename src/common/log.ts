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
