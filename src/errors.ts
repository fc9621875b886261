/**
 * The project's error kinds and the one place that maps them to exit codes.
 * Messages say what happened, to what, and what to do next.
 */

/** Exit codes are part of the interface: EXIT_CODE_MEANINGS says what each one means. */
export const ExitCode = {
  Ok: 0,
  PartialFailure: 1,
  Usage: 2,
  Locked: 3,
  Unreachable: 4,
  Deferred: 5,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What an exit code means: `meaning` in a few words, `more` for --help; the README and docs/design.md tables say the same. */
export interface ExitCodeMeaning {
  readonly meaning: string;
  readonly more?: string;
}

/**
 * The one table of exit codes: the summary's verdict (`FAILED (exit code 4: <meaning>)`) and
 * --help are made from it, and a unit test holds the README's and docs/design.md's tables to it.
 */
export const EXIT_CODE_MEANINGS: Readonly<Record<ExitCode, ExitCodeMeaning>> = {
  [ExitCode.Ok]: {
    meaning: 'all done',
    more: 'every planned upload verified, every planned delete done (also when only the -m e-mail failed: that is logged as an error)',
  },
  [ExitCode.PartialFailure]: {
    meaning: 'some transfer, verify, rename or delete failed',
    more: 'the rest ran; also: a local VM with no target in vms, a local backup folder that could not be read, a VM folder a target refused to list, a VM older than its maxAge on a target, or a failed -x command or purge; -S: a plan with one of the first three',
  },
  [ExitCode.Usage]: { meaning: 'usage or config error, nothing was changed' },
  [ExitCode.Locked]: { meaning: 'another vmftp run holds the lock' },
  [ExitCode.Unreachable]: { meaning: 'a target could not be reached or refused the login', more: 'check: a target failed' },
  [ExitCode.Deferred]: {
    meaning: 'deferred: the window closed, unfinished backups resume next run',
    more: '--max-duration, --stop-at, window.end: they stay as .partial',
  },
  [ExitCode.Interrupted]: { meaning: 'interrupted', more: 'SIGINT/SIGTERM/SIGHUP' },
};

/** Returns what an exit code means, in a few words: `FAILED (exit code 4: <this>)`. */
export function describeExitCode(code: ExitCode): string {
  return EXIT_CODE_MEANINGS[code].meaning;
}

/** Returns the exit code table as --help prints it: one line per code, its meaning and what more there is to say. */
export function exitCodeHelp(): string {
  return Object.entries(EXIT_CODE_MEANINGS)
    .map(([code, { meaning, more }]) => `  ${code.padEnd(5)}${meaning}${more === undefined ? '' : ` (${more})`}`)
    .join('\n');
}

/** How an FTP failure behaves, whatever program met it; retries are decided from this, never from text. */
export type FtpErrorKind = 'connect' | 'auth' | 'transient' | 'permanent' | 'not-found';

export abstract class VmftpError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(
    message: string,
    /** What the user can do about it; printed on its own line. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid config file, flags or arguments. */
export class ConfigError extends VmftpError {
  readonly exitCode = ExitCode.Usage;
  constructor(
    message: string,
    /** Every problem found, each naming its field: `targets.nas.port: expected a number`. */
    readonly problems: readonly string[] = [],
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** Another run holds the lock. */
export class LockError extends VmftpError {
  readonly exitCode = ExitCode.Locked;
}

/** An FTP operation failed; `kind` says whether retrying can help. */
export class FtpError extends VmftpError {
  constructor(
    message: string,
    readonly kind: FtpErrorKind,
    /** The server's reply code, when the server gave one. */
    readonly replyCode?: number,
    hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, hint, options);
  }

  get exitCode(): ExitCode {
    return this.kind === 'connect' || this.kind === 'auth' ? ExitCode.Unreachable : ExitCode.PartialFailure;
  }
}

/** A local file changed, vanished or could not be read while it was being sent. */
export class LocalFileError extends VmftpError {
  readonly exitCode = ExitCode.PartialFailure;
}

/**
 * A local file written to after the run saw it: a new size, or a new modification time at the
 * same size (a preallocated disk image the backup job is still filling). What a server holds of
 * it is not proven a prefix of it (a job may write a file again from its start, or out of order),
 * so no run may resume from that copy.
 */
export class LocalFileRewrittenError extends LocalFileError {}

/** The run was stopped by a signal. */
export class InterruptedError extends VmftpError {
  readonly exitCode = ExitCode.Interrupted;
}

/**
 * The run's deadline came (`--max-duration`, `--stop-at`, `window.end`): the reason of the signal
 * that stops the transfers, and of every upload it stopped or kept from starting.
 */
export class DeadlineError extends VmftpError {
  readonly exitCode = ExitCode.Deferred;
}

/** Returns the exit code for anything thrown; unknown errors are bugs and count as partial failure. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof VmftpError ? error.exitCode : ExitCode.PartialFailure;
}
