export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  readonly level: LogLevel;
}

/**
 * Returns a logger writing `LEVEL message` lines at or above `level` to
 * `write` (stderr by default, so stdout stays free for the plan, the report and --json).
 */
export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(at) <= threshold) write(`${at === 'info' ? '' : `${at}: `}${message}\n`);
  };
  return { level, error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') };
}
