/**
 * How an external program's exit status becomes one of the project's error
 * kinds. Each backend has one table of these rows; this file turns a row into
 * the same FtpError (or LocalFileError) the internal client would raise, so
 * messages, retries and exit codes do not depend on the `-u` choice.
 */
import type { TargetConfig } from '../config/types.js';
import { createRedactor } from '../delivery/redact.js';
import { FtpError, LocalFileError, type FtpErrorKind } from '../errors.js';
import { kindOfReply } from '../ftp/session.js';
import type { UploadJob } from './backend.js';

/** What one exit status means. */
export interface ExitMeaning {
  /** 'local': the program could not read the local file (LocalFileError, not an FTP failure). */
  readonly kind: FtpErrorKind | 'local';
  /** Said in the error message: what went wrong, in the program's terms. */
  readonly what: string;
  /**
   * The status only says "the server refused": when the server's reply code
   * is known, the reply decides the kind (kindOfReply, the mapping the
   * internal client uses), else `kind` stands. 'login': the refusal came
   * before the login completed, where anything but auth means "could not
   * connect" (as FtpSession.open reports it).
   */
  readonly byReply?: 'command' | 'login';
}

/** One exit status per row; a status missing from the table is a permanent failure. */
export type ExitTable = Readonly<Record<number, ExitMeaning>>;

/** What a failed run of the program tells about the failure. */
export interface ProgramFailure {
  readonly program: string;
  readonly exitCode: number | undefined;
  readonly signal?: string | undefined;
  /** The server's last error reply, when the program's output shows it. */
  readonly reply?: { readonly code: number; readonly text: string } | undefined;
  /** The program's own error line, for the message. */
  readonly detail?: string | undefined;
}

/** Returns the meaning of an exit status: the table's row, or "permanent" for a status the table does not know. */
export function meaningOf(table: ExitTable, exitCode: number): ExitMeaning {
  return table[exitCode] ?? { kind: 'permanent', what: `unexpected exit status ${exitCode}` };
}

/** Returns the kind of a failure: the row's kind, or the reply's kind where the row lets the reply decide. */
export function kindOfFailure(table: ExitTable, exitCode: number, replyCode: number | undefined): FtpErrorKind | 'local' {
  const meaning = meaningOf(table, exitCode);
  if (meaning.byReply === undefined || replyCode === undefined) return meaning.kind;
  const kind = kindOfReply(replyCode);
  return meaning.byReply === 'login' && kind !== 'auth' ? 'connect' : kind;
}

/** Returns the error to throw for a failed program run, worded like the internal client's errors. */
export function errorOfFailure(table: ExitTable, failure: ProgramFailure, target: TargetConfig, job: UploadJob): FtpError | LocalFileError {
  const where = `${target.name} (${target.host}:${target.port})`;
  const what = `upload ${job.remotePath} on ${where} with ${failure.program}`;
  // Neither program prints the password, but this text reaches logs and e-mail: never let one through.
  const scrub = createRedactor([target.password]);
  const detail = failure.detail === undefined || failure.detail === '' ? '' : `: ${scrub(failure.detail)}`;

  if (failure.exitCode === undefined) {
    // Killed (out of memory, a stop from outside): another try can work. Never started: it will not start next time either.
    return failure.signal === undefined
      ? new FtpError(`${what} failed: ${failure.program} could not be started${detail}`, 'permanent')
      : new FtpError(`${what} failed: ${failure.program} was stopped by ${failure.signal}${detail}`, 'transient');
  }
  const meaning = meaningOf(table, failure.exitCode);
  const replyCode = failure.reply?.code;
  const kind = kindOfFailure(table, failure.exitCode, replyCode);
  const reply = failure.reply === undefined ? '' : `, server replied ${`${failure.reply.code} ${scrub(failure.reply.text)}`.trim()}`;
  const message = `${what} failed: ${meaning.what}${reply} (${failure.program} exit ${failure.exitCode}${detail})`;
  if (kind === 'local') return new LocalFileError(message, `check that ${job.localPath} can be read`);
  return new FtpError(message, kind, replyCode, hintFor(kind, target));
}

function hintFor(kind: FtpErrorKind, target: TargetConfig): string | undefined {
  switch (kind) {
    case 'auth':
      return `check targets.${target.name}.user and its password`;
    case 'connect':
      return `check that the server runs and targets.${target.name}.host/port (and its TLS settings) are right`;
    case 'transient':
      return 'the next run resumes it';
    default:
      return undefined;
  }
}
