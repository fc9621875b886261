/**
 * The project's error kinds and the one place that maps them to exit codes.
 * Messages say what happened, to what, and what to do next.
 */

/** Exit codes are part of the interface (README, --help). */
export const ExitCode = {
  /** Every planned upload verified and every planned delete done. */
  Ok: 0,
  /** Some transfer, verify, rename or delete failed; the rest ran. */
  PartialFailure: 1,
  /** Bad flags or config; nothing was changed. */
  Usage: 2,
  /** Another vmftp run holds the lock. */
  Locked: 3,
  /** A target could not be reached or refused the login. */
  Unreachable: 4,
  /** Stopped by SIGINT/SIGTERM/SIGHUP. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Returns what an exit code means, in the words of the README and --help. */
export function describeExitCode(code: ExitCode): string {
  switch (code) {
    case ExitCode.Ok:
      return 'all done';
    case ExitCode.PartialFailure:
      return 'some transfer, verify, rename or delete failed';
    case ExitCode.Usage:
      return 'usage or config error, nothing was changed';
    case ExitCode.Locked:
      return 'another vmftp run holds the lock';
    case ExitCode.Unreachable:
      return 'a target could not be reached or refused the login';
    case ExitCode.Interrupted:
      return 'interrupted';
  }
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

/** The run was stopped by a signal. */
export class InterruptedError extends VmftpError {
  readonly exitCode = ExitCode.Interrupted;
}

/** Returns the exit code for anything thrown; unknown errors are bugs and count as partial failure. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof VmftpError ? error.exitCode : ExitCode.PartialFailure;
}
