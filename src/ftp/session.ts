import type { Readable } from 'node:stream';
import { Client, FileType, FTPError } from 'basic-ftp';
import type { TargetConfig } from '../config/types.js';
import { FtpError, type FtpErrorKind } from '../errors.js';

/** One entry of a remote directory listing. */
export interface RemoteEntry {
  readonly name: string;
  readonly kind: 'file' | 'dir' | 'other';
  readonly size: number;
}

/** Node socket error codes that mean the server could not be reached at all. */
const CONNECT_ERRNOS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * Returns the project's FtpError for anything basic-ftp or the socket threw.
 * The kind comes from the reply code or errno, never from message text.
 */
export function translateFtpError(error: unknown, target: TargetConfig, what: string): FtpError {
  if (error instanceof FtpError) return error;
  const where = `${target.name} (${target.host}:${target.port})`;
  if (error instanceof FTPError) {
    const kind = kindOfReply(error.code);
    const hint = kind === 'auth' ? `check targets.${target.name}.user and its password` : undefined;
    return new FtpError(`${what} on ${where}: server replied ${error.message}`, kind, error.code, hint, { cause: error });
  }
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  if (errno !== undefined && CONNECT_ERRNOS.has(errno)) {
    return new FtpError(
      `cannot connect to ${where}: ${errno}`,
      'connect',
      undefined,
      `check that the server runs and targets.${target.name}.host/port are right`,
      { cause: error },
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new FtpError(`${what} on ${where} failed: ${detail}`, 'transient', undefined, undefined, { cause: error });
}

/** Returns the error kind of an FTP reply code (RFC 959 and the codes servers really send). */
export function kindOfReply(code: number): FtpErrorKind {
  if (code === 530 || code === 331 || code === 332) return 'auth';
  // 452/552 mean the server is out of space: retrying now only fills it again.
  if (code === 452 || code === 552) return 'permanent';
  if (code >= 400 && code < 500) return 'transient';
  return 'permanent';
}

/**
 * The one wrapper around basic-ftp: every listing, size, mkdir, rename and
 * delete of a target goes through here, whichever program moves the bytes.
 * A session reconnects by itself when its connection was lost, so one cut
 * costs the transfer it hit, not the rest of the run.
 */
export class FtpSession {
  readonly #client: Client;
  #connected = false;
  #closed = false;

  private constructor(readonly target: TargetConfig) {
    this.#client = new Client(target.timeoutSeconds * 1000);
  }

  /** Returns a logged-in session; rejects with FtpError kind 'connect' or 'auth'. */
  static async open(target: TargetConfig): Promise<FtpSession> {
    const session = new FtpSession(target);
    await session.#connect();
    return session;
  }

  async #connect(): Promise<void> {
    const { target } = this;
    try {
      await this.#client.access({
        host: target.host,
        port: target.port,
        user: target.user,
        password: target.password.reveal(),
        secure: target.secure,
        secureOptions: {
          rejectUnauthorized: !target.allowSelfSigned,
          ...(target.ca === undefined ? {} : { ca: target.ca }),
        },
      });
      this.#connected = true;
    } catch (error) {
      this.#client.close();
      const translated = translateFtpError(error, target, 'login');
      // Before the login completes, a lost connection is "could not connect", not a transfer hiccup.
      throw translated.kind === 'transient'
        ? new FtpError(translated.message, 'connect', translated.replyCode, translated.hint, { cause: error })
        : translated;
    }
  }

  async #run<T>(what: string, task: (client: Client) => Promise<T>): Promise<T> {
    if (this.#closed) throw new FtpError(`${what}: the session to ${this.target.name} is closed`, 'permanent');
    if (!this.#connected || this.#client.closed) {
      this.#connected = false;
      await this.#connect();
    }
    try {
      return await task(this.#client);
    } catch (error) {
      throw translateFtpError(error, this.target, what);
    }
  }

  /** Returns the entries of `dir`, or undefined when it does not exist. */
  async list(dir: string): Promise<RemoteEntry[] | undefined> {
    try {
      return await this.#run(`list ${dir}`, async (client) =>
        (await client.list(dir)).map((info) => ({
          name: info.name,
          kind: info.type === FileType.File ? 'file' : info.type === FileType.Directory ? 'dir' : 'other',
          size: info.size,
        })),
      );
    } catch (error) {
      // Servers answer a listing of a missing folder with 550, 450 or 451: only CWD tells "missing" from "failing".
      if (error instanceof FtpError && error.replyCode !== undefined && !(await this.#exists(dir))) return undefined;
      throw error;
    }
  }

  async #exists(dir: string): Promise<boolean> {
    try {
      await this.#run(`open folder ${dir}`, (client) => client.cd(dir));
      await this.#run('open folder /', (client) => client.cd('/'));
      return true;
    } catch (error) {
      if (error instanceof FtpError && error.replyCode !== undefined && error.replyCode >= 500) return false;
      throw error;
    }
  }

  /** Returns the size of a remote file as the server reports it. */
  size(file: string): Promise<number> {
    return this.#run(`size ${file}`, (client) => client.size(file));
  }

  /** Creates `dir` and its parents as needed. */
  ensureDir(dir: string): Promise<void> {
    return this.#run(`create folder ${dir}`, async (client) => {
      await client.ensureDir(dir);
      // ensureDir leaves the working directory inside `dir`; every other call uses absolute paths.
      await client.cd('/');
    });
  }

  /** Renames `from` to `to` (same server). */
  async rename(from: string, to: string): Promise<void> {
    await this.#run(`rename ${from} to ${to}`, (client) => client.rename(from, to));
  }

  /** Deletes the folder `dir` and everything in it. */
  removeDir(dir: string): Promise<void> {
    return this.#run(`delete ${dir}`, (client) => client.removeDir(dir));
  }

  /** Sends `source` into `file`: STOR when `offset` is 0, else APPE (the server already holds `offset` bytes). */
  async upload(source: Readable, file: string, offset: number): Promise<void> {
    await this.#run(`upload ${file}`, (client) =>
      offset === 0 ? client.uploadFrom(source, file) : client.appendFrom(source, file),
    );
  }

  /** Calls `onBytes` with the bytes of the current transfer so far; `undefined` stops it. */
  trackProgress(onBytes: ((bytes: number) => void) | undefined): void {
    this.#client.trackProgress(onBytes === undefined ? undefined : (info) => onBytes(info.bytes));
  }

  /** Closes the connection; the session can no longer be used. */
  close(): void {
    this.#closed = true;
    this.#connected = false;
    this.#client.close();
  }
}
