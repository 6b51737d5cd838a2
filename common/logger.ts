/** Structured logs: JSON lines on stderr (pino), so stdout stays free for data. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger writing JSON lines to stderr. `level` defaults to TIDE_LOG_LEVEL or `info`. */
export function createLogger(name: string, level = process.env['TIDE_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name, level, base: { component: name } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for tests and in-process tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
