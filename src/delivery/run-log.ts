import { format } from 'date-fns/format';
import type { Colors } from '../report/color.js';
import { createLogger, logs, type Logger, type LogLevel } from './log.js';
import type { LogFile } from './logfile.js';
import { NO_SECRETS, type Redactor } from './redact.js';

export interface RunLogOptions {
  /** `-v`: what the console shows. */
  readonly level: LogLevel;
  /** Where console lines go (stderr, or above the progress bars). */
  readonly console: (line: string) => void;
  readonly colors?: Colors;
  /** `log.file`, absolute; without it the run's lines are kept in memory only (for the e-mail). */
  readonly file?: string;
  /** Old logs to keep (`log.keep`). */
  readonly keep: number;
  readonly redact?: Redactor;
  /** The clock, for tests. */
  readonly now?: () => Date;
}

/** One run's log: the console, the rotated log file and the lines the e-mail attaches. */
export interface RunLog {
  readonly logger: Logger;
  /** Absolute path of the log file, once this run writes one. */
  readonly file: string | undefined;
  /**
   * Opens `log.file` and writes the lines logged so far into it. 'new' moves the older logs one
   * step up and starts an empty file: a backup run does this once it holds the lock, so only one
   * run at a time ever rotates. 'append' adds to the current file and rotates nothing: -d, -S, and
   * a run that stops before it holds the lock never push a backup run's log away.
   * The first call decides; without one, `close` appends.
   */
  openFile(mode: 'new' | 'append'): Promise<void>;
  /** Writes a block of text (the summary) to the log file and the run's lines, not to the console. */
  record(level: LogLevel, text: string): void;
  /** Returns this run's log as the log file holds it (also when there is no file). */
  text(): string;
  /** Appends to the log file if none was opened yet, flushes and closes it; the logger keeps writing to the console. */
  close(): Promise<void>;
}

/**
 * Returns the log of a run. The file (and the lines kept for the e-mail)
 * get every message at info or above, with debug too under `-v debug`, each
 * with a timestamp and level: a quiet console (`-v error` under cron) must
 * not leave an empty log. Every line passes through `redact` first.
 * The file is opened by `openFile` (or `close`): until then the lines are
 * kept in memory only. A log file that cannot be opened is reported on the
 * console and the run goes on without it: the backups matter more than their log.
 */
export async function openRunLog(options: RunLogOptions): Promise<RunLog> {
  const redact = options.redact ?? NO_SECRETS;
  const now = options.now ?? (() => new Date());
  const consoleLog = createLogger(options.level, (line) => options.console(redact(line)), options.colors);
  const fileLevel: LogLevel = options.level === 'debug' ? 'debug' : 'info';
  const lines: string[] = [];

  let file: LogFile | undefined;
  let fileChosen = false;
  let written: string | undefined;

  const keep = (at: LogLevel, message: string): void => {
    const stamp = `${format(now(), 'yyyy-MM-dd HH:mm:ss.SSS')} ${at.toUpperCase().padEnd(5)} `;
    const text = redact(message)
      .split('\n')
      .map((line) => `${stamp}${line}\n`)
      .join('');
    lines.push(text);
    file?.write(text);
  };
  const emit = (at: LogLevel) => (message: string) => {
    consoleLog[at](message);
    if (logs(fileLevel, at)) keep(at, message);
  };
  const logger: Logger = { level: options.level, error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') };

  const openFile = async (mode: 'new' | 'append'): Promise<void> => {
    if (fileChosen || options.file === undefined) return;
    fileChosen = true;
    let opened: LogFile;
    try {
      // Loaded only for a log file: rotating-file-stream (and the zlib it loads) would cost every run's start.
      const { appendLogFile, openLogFile } = await import('./logfile.js');
      opened = mode === 'new' ? await openLogFile(options.file, options.keep) : await appendLogFile(options.file);
    } catch (error) {
      logger.warn(`log.file: cannot write ${options.file} (${(error as Error).message}); this run logs to the console only. Fix the folder or its permissions`);
      return;
    }
    // Synchronous from here to the assignment: no line can slip between the ones written and the next.
    for (const text of lines) opened.write(text);
    file = opened;
    written = opened.file;
    if (opened.notice !== undefined) logger.warn(opened.notice);
    // Said when it happens, not at the end: then the e-mail (and its attached log) tells it too.
    opened.onFailure((error) =>
      logger.warn(`log.file: writing failed: ${error}; the log file misses this run's lines from here on (the -m e-mail attaches them all). Free space there`),
    );
  };

  return {
    logger,
    get file() {
      return written;
    },
    openFile,
    record: keep,
    text: () => lines.join(''),
    async close() {
      await openFile('append');
      const open = file;
      file = undefined;
      if (open === undefined) return;
      await open.close();
    },
  };
}
