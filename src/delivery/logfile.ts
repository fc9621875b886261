import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { format } from 'date-fns/format';
import { createStream, type Generator, type RotatingFileStream } from 'rotating-file-stream';

/** The open log file of one run. */
export interface LogFile {
  readonly file: string;
  /** Appends text; after a write error the file is given up. */
  write(text: string): void;
  /**
   * Calls `listener` once, as soon as the file cannot be written any more (a full disk): the run
   * goes on, and what it logs from then on reaches the console and the e-mail's attachment only.
   */
  onFailure(listener: (error: string) => void): void;
  /** Set when this run writes elsewhere than asked (the log file was in use): what happened and what to do. */
  readonly notice?: string;
  /** Resolves when everything written is on disk and the file is closed. */
  close(): Promise<void>;
}

/**
 * A run's log that grows past this is rotated mid-run (an endless debug loop must not fill the
 * disk); a normal night writes a few kilobytes.
 */
const MAX_RUN_LOG_SIZE = '100M';

/** `vmftp.log` for the current run, `vmftp.log.1` … `.N` for older ones, as Python's RotatingFileHandler. */
function namer(base: string): Generator {
  // rotating-file-stream asks with `null` for the current file and with 1..N for the rotated ones.
  return (time: number | Date | null) => (time === null ? base : `${base}.${String(time)}`);
}

/**
 * Windows' answers to renaming or opening a file that another program holds open without sharing
 * it (an antivirus scan, some log viewers): ERROR_SHARING_VIOLATION is EBUSY, ERROR_ACCESS_DENIED
 * on a file in use is EPERM.
 */
const IN_USE = new Set(['EBUSY', 'EPERM']);

/**
 * Returns the log file of a new run: the previous runs' logs move one step up
 * (`vmftp.log` -> `vmftp.log.1`, …, the oldest beyond `keep` is dropped) and
 * this run starts an empty `vmftp.log`. `keep` 0 keeps no older log.
 * When `vmftp.log` is held by another program, the run logs to
 * `vmftp.log.<yyyy-MM-dd-HHmmss>` beside it instead, and `notice` says so.
 * Rejects when the folder cannot be created or no file can be opened.
 */
export async function openLogFile(file: string, keep: number, now: Date = new Date()): Promise<LogFile> {
  try {
    return await openRotated(file, keep);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined || !IN_USE.has(code)) throw error;
    const aside = `${file}.${format(now, 'yyyy-MM-dd-HHmmss')}`;
    const stream = createWriteStream(aside, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', () => reject(error));
    });
    return logFileOn(
      aside,
      stream,
      `log.file: ${file} is in use by another program (${code}) and could not be rotated, so this run logs to ${aside}; ` +
        'close the program that holds it (a log viewer, an antivirus scan) so the next run can rotate it',
    );
  }
}

/**
 * Returns the current log file opened for appending, created with its folder when missing:
 * a run that must not rotate (-d, -S, a run that stops before it holds the lock) adds its lines
 * after those of the last backup run. Rejects when the folder or the file cannot be opened.
 */
export async function appendLogFile(file: string): Promise<LogFile> {
  await mkdir(path.dirname(file), { recursive: true });
  const stream = createWriteStream(file, { flags: 'a' });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  return logFileOn(file, stream);
}

async function openRotated(file: string, keep: number): Promise<LogFile> {
  const options = { path: `${path.dirname(file)}${path.sep}`, rotate: keep };
  const generator = namer(path.basename(file));
  if (keep === 0) await rm(file, { force: true });
  else {
    // A stream with a 1-byte limit rotates a non-empty file as it opens: that is the per-run rollover.
    // Nothing is written to it, so it never rotates again.
    const rollover = createStream(generator, { ...options, size: '1B' });
    rollover.end();
    await finished(rollover);
  }
  const stream: RotatingFileStream = createStream(generator, { ...options, rotate: Math.max(keep, 1), size: MAX_RUN_LOG_SIZE });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  return logFileOn(file, stream);
}

function logFileOn(file: string, stream: Writable, notice?: string): LogFile {
  let error: string | undefined;
  const listeners: ((error: string) => void)[] = [];
  stream.on('error', (cause: Error) => {
    if (error !== undefined) return;
    error = `${file}: ${cause.message}`;
    for (const listener of listeners) listener(error);
  });
  return {
    file,
    ...(notice === undefined ? {} : { notice }),
    onFailure(listener) {
      if (error === undefined) listeners.push(listener);
      else listener(error);
    },
    write(text) {
      if (error === undefined && !stream.destroyed) stream.write(text);
    },
    async close() {
      stream.end();
      await finished(stream).catch(() => undefined);
    },
  };
}
