import type { Colors } from 'picocolors/types.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  readonly level: LogLevel;
}

/** Returns true when a message at `at` passes a logger set to `level`. */
export function logs(level: LogLevel, at: LogLevel): boolean {
  return LOG_LEVELS.indexOf(at) <= LOG_LEVELS.indexOf(level);
}

/**
 * Returns a logger writing `LEVEL message` lines at or above `level` to
 * `write` (stderr by default, so stdout stays free for the plan, the report and --json).
 * With `colors`, errors are red, warnings yellow and debug lines dim.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
  colors?: Colors,
): Logger {
  const paint: Record<LogLevel, (text: string) => string> = {
    error: colors?.red ?? String,
    warn: colors?.yellow ?? String,
    info: String,
    debug: colors?.dim ?? String,
  };
  const emit = (at: LogLevel) => (message: string) => {
    if (logs(level, at)) write(`${paint[at](`${at === 'info' ? '' : `${at}: `}${message}`)}\n`);
  };
  return { level, error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') };
}
