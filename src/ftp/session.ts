import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { type Client, type FileInfo, FTPError } from 'basic-ftp';
import type { TargetConfig } from '../config/types.js';
import { FtpError, type FtpErrorKind } from '../errors.js';
import { chooseRemoteHash, parseRemoteHash, type RemoteHashMethod } from './hash.js';
import { kindOfFileType, listingDifference, listingFormat, parseStatReply, statMayList, type ListingFormat } from './listing.js';
import { createClient, type DataConnection } from './passive.js';

/** One entry of a remote directory listing. */
export interface RemoteEntry {
  readonly name: string;
  readonly kind: 'file' | 'dir' | 'other';
  readonly size: number;
}

/** Node socket error codes that mean the server could not be reached at all. */
const CONNECT_ERRNOS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** Node's TLS verification failures (OpenSSL's X509 error names, and the host name check). */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

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
  if (errno !== undefined && CERTIFICATE_ERRORS.has(errno)) {
    // Waiting does not make a certificate trusted: not retried, and the fix is in the config.
    const detail = error instanceof Error ? error.message : String(error);
    return new FtpError(
      `${what} on ${where} failed: the server's TLS certificate is not trusted (${detail}; ${errno})`,
      'permanent',
      undefined,
      errno === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `the certificate is not for ${target.host}: set targets.${target.name}.host to a name it is for`
        : `set targets.${target.name}.ca to the certificate of the CA that signed it, or allowSelfSigned: true to skip the check`,
      { cause: error },
    );
  }
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

/** Returns the error of a port where an SSH server answered (`said`: its greeting line) instead of an FTP server. */
function sshServerError(target: TargetConfig, said: string): FtpError {
  return new FtpError(
    `login on ${target.name} (${target.host}:${target.port}) failed: this is an SSH (SFTP) server; vmftp speaks FTP/FTPS (it greeted with "${said.slice(0, 80)}")`,
    'permanent',
    undefined,
    `set targets.${target.name}.port to the server's FTP port (usually 21) and turn its FTP service on`,
  );
}

/**
 * Ends the login at once when the server greets like an SSH server (`SSH-2.0-...`, RFC 4253
 * 4.2) instead of with an FTP reply: basic-ftp would wait for a reply code until the timeout,
 * and every retry would wait again. A port mix-up (22, an SFTP-only NAS) is not fixed by waiting.
 * Watches the plain control connection that access() has just opened (with implicit TLS the SSH
 * greeting ends the handshake with a TLS error instead: see greetsLikeSsh).
 */
function refuseSshGreeting(client: Client, target: TargetConfig): void {
  const socket = client.ftp.socket;
  let greeting = '';
  const onData = (chunk: string | Buffer): void => {
    greeting += chunk.toString();
    if (greeting.length < 4 && !greeting.includes('\n')) return;
    socket.off('data', onData);
    if (!greeting.startsWith('SSH-')) return;
    client.ftp.closeWithError(sshServerError(target, greeting.split(/\r?\n/)[0]!));
  };
  socket.on('data', onData);
}

/** How long the look at a port's plain greeting waits: an SSH server sends its version line at once. */
const SSH_PROBE_MS = 5000;

/**
 * Returns the greeting line when the port speaks SSH, else undefined. Asked only after an implicit
 * TLS handshake failed on what the port sent first (OpenSSL's "wrong version number"): one plain
 * connection, which reads the first line and closes.
 */
function greetsLikeSsh(target: TargetConfig): Promise<string | undefined> {
  return new Promise((resolve) => {
    let greeting = '';
    const socket = net.connect({ host: target.host, port: target.port });
    const done = (line: string | undefined): void => {
      socket.destroy();
      resolve(line);
    };
    socket.setTimeout(Math.min(SSH_PROBE_MS, target.timeoutSeconds * 1000), () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      greeting += chunk.toString('latin1');
      if (greeting.length < 4 && !greeting.includes('\n')) return;
      done(greeting.startsWith('SSH-') ? greeting.split(/\r?\n/)[0]! : undefined);
    });
  });
}

/** Returns true for a TLS handshake that failed on what the server sent (not a certificate check). */
function isTlsProtocolError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_SSL_');
}

/**
 * Returns true when `code` says the server does not know the command at all (500 "not
 * understood", 502 "not implemented"), as opposed to refusing it for this file or now.
 */
export function isUnknownCommand(code: number | undefined): boolean {
  return code === 500 || code === 502;
}

/** Returns true for a 2xx reply: the command did what it asked. */
function isPositiveCompletion(code: number): boolean {
  return code >= 200 && code < 300;
}

/** Returns `/a`, `/a/b`, `/a/b/c` for `/a/b/c`: each folder of an absolute path, from the top. */
function foldersDownTo(dir: string): string[] {
  const names = dir.split('/').filter((name) => name !== '');
  return names.map((_, index) => `/${names.slice(0, index + 1).join('/')}`);
}

/** 10 MB/s: a NAS on a single old disk still hashes faster than that. */
const SLOWEST_SERVER_HASH_BYTES_PER_MS = 10_000;

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
  /** The algorithm `OPTS HASH` chose on this connection. */
  #hashSelected: string | undefined;
  /** Files this connection gave a digest of (see remoteHash). */
  readonly #digested = new Set<string>();
  /** How the last data connection was opened (EPSV, or PASV and the address it named). */
  #dataConnection: DataConnection | undefined;
  /** With TLS: whether the last data connection resumed the control connection's TLS session. */
  #tlsSessionReused: boolean | undefined;
  /** The format of the last listing that held a line. */
  #listingFormat: ListingFormat | undefined;
  /** The command of the last listing that held a line. */
  #listingCommand: string | undefined;
  /**
   * The commands this connection lists folders with, best first: basic-ftp's choice at login (MLSD
   * where FEAT names MLST, then `LIST -a`, LIST), until a listing proved which one lists this
   * server's folders (see #listByBestCommand).
   */
  #listCommands: readonly string[] = [];
  /** 'listing' once SIZE proved unknown to this server: sizes then come from the folder's listing. */
  #sizeBy: 'SIZE' | 'listing' | undefined;

  private constructor(readonly target: TargetConfig) {
    this.#client = createClient(target.timeoutSeconds * 1000, {
      opened: (how) => (this.#dataConnection = how),
      tlsSessionReused: (reused) => (this.#tlsSessionReused = reused),
    });
    const parse = this.#client.parseList;
    this.#client.parseList = (raw) => {
      this.#listingFormat = listingFormat(raw) ?? this.#listingFormat;
      return parse(raw);
    };
  }

  /** Returns how the last data connection was opened, undefined before the first one. */
  get dataConnection(): DataConnection | undefined {
    return this.#dataConnection;
  }

  /**
   * Returns how this connection lists folders: the command of the last listing that held a line
   * (MLSD, `LIST -a` or LIST) and the format of its lines; undefined before such a listing.
   */
  get listing(): { readonly command: string; readonly format: ListingFormat } | undefined {
    const command = this.#listingCommand;
    return this.#listingFormat === undefined || command === undefined ? undefined : { command, format: this.#listingFormat };
  }

  /**
   * Returns the TLS version of the control connection (undefined for plain FTP) and whether the
   * last data connection resumed its TLS session (undefined before the first one).
   */
  get tls(): { readonly version: string; readonly dataSessionReused: boolean | undefined } | undefined {
    const socket = this.#client.ftp.socket;
    if (!(socket instanceof TLSSocket)) return undefined;
    return { version: socket.getProtocol() ?? 'TLS', dataSessionReused: this.#tlsSessionReused };
  }

  /** Returns where sizes come from on this server: SIZE, the listing, or undefined before the first size. */
  get sizeSource(): 'SIZE' | 'listing' | undefined {
    return this.#sizeBy;
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
      const access = this.#client.access({
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
      refuseSshGreeting(this.#client, target);
      await access;
      this.#listCommands = this.#client.availableListCommands;
      this.#keepControlConnectionAlive();
      this.#connected = true;
      this.#hashSelected = undefined;
      this.#digested.clear();
    } catch (error) {
      this.#client.close();
      if (target.secure === 'implicit' && isTlsProtocolError(error)) {
        const ssh = await greetsLikeSsh(target);
        if (ssh !== undefined) throw sshServerError(target, ssh);
      }
      const translated = translateFtpError(error, target, 'login');
      // Before the login completes, a lost connection is "could not connect", not a transfer hiccup.
      throw translated.kind === 'transient'
        ? new FtpError(translated.message, 'connect', translated.replyCode, translated.hint, { cause: error })
        : translated;
    }
  }

  /**
   * A router or firewall forgets a connection idle for 5 to 60 minutes, and the control connection
   * is idle while a large file uploads: without traffic on it, the server's final reply to the
   * upload would never arrive. basic-ftp turns TCP keepalive on with the system's idle time (2 hours
   * on Linux and Windows); probes every `keepaliveSeconds` keep the mapping, as curl's
   * --keepalive-time does. Set once logged in: access() replaced the socket when it upgraded it to
   * TLS, and a TLS socket passes the setting on to the TCP socket it wraps.
   */
  #keepControlConnectionAlive(): void {
    this.#client.ftp.socket.setKeepAlive(true, this.target.keepaliveSeconds * 1000);
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

  /**
   * Returns the entries of `dir`, or undefined when it does not exist. 'proven' (the default) lists
   * with MLSD (LIST where the server has no MLSD); 'fast' may read the folder from STAT instead (see
   * #statListing). 'fast' only on a connection that will never change anything: a file name holding
   * CR LF can end a STAT reply early and leave the rest to answer a later command (see facts/inventory.ts).
   */
  async list(dir: string, how: 'fast' | 'proven' = 'proven'): Promise<RemoteEntry[] | undefined> {
    if (how === 'fast' && this.#statListing !== 'off' && statMayList(dir)) {
      const viaStat = await this.#listByStat(dir);
      if (viaStat !== 'plain') return viaStat;
    }
    return this.#listPlain(dir);
  }

  /**
   * Whether `list(dir, 'fast')` reads folders from `STAT <dir>` on the control connection: one round
   * trip instead of EPSV, a data connection, MLSD and 226. 'checking' until a STAT listing holding a
   * file matched the MLSD/LIST listing of the same folder; 'off' for the rest of the session at the
   * first doubt (a difference, an error code, a reply that is not a clean `ls -l` listing).
   */
  #statListing: 'checking' | 'on' | 'off' = 'checking';
  /**
   * The checked STAT listing held the folder's own `.` (pure-ftpd -D, proftpd, vsftpd): a later reply
   * without it is not trusted as a folder (vsftpd answers STAT of a file with that file alone).
   */
  #statShowsDot = false;

  /** Returns the entries of `dir` (undefined: it does not exist), or 'plain' when MLSD/LIST must answer. */
  async #listByStat(dir: string): Promise<RemoteEntry[] | undefined | 'plain'> {
    let reply: { code: number; message: string };
    try {
      reply = await this.#run(`list ${dir}`, (client) => client.sendIgnoringError(`STAT ${dir}`));
    } catch {
      // A lost connection, a timeout, or a reply over basic-ftp's 64 KiB limit for one control reply
      // (a folder of ~900 entries; basic-ftp then closes the connection): the plain listing reconnects.
      this.#statListing = 'off';
      return 'plain';
    }
    const stat = parseStatReply(reply.code, reply.message);
    if (stat.kind === 'unusable') this.#statListing = 'off';
    // An empty reply may be a missing folder (pure-ftpd, vsftpd): the plain listing tells.
    if (stat.kind !== 'listing' || (this.#statShowsDot && !stat.sawDot)) return 'plain';
    if (this.#statListing === 'on') return stat.entries;
    const plain = await this.#listPlain(dir);
    const difference = plain === undefined ? 'no such folder by the plain listing' : listingDifference(stat.entries, plain);
    if (difference !== undefined) this.#statListing = 'off';
    else {
      this.#statShowsDot ||= stat.sawDot;
      // A listing with a file in it has shown that sizes read right too.
      if (stat.entries.some((entry) => entry.kind === 'file')) this.#statListing = 'on';
    }
    return plain;
  }

  async #listPlain(dir: string): Promise<RemoteEntry[] | undefined> {
    try {
      return await this.#run(`list ${dir}`, async (client) =>
        (await this.#listByBestCommand(client, dir)).map((info) => ({ name: info.name, kind: kindOfFileType(info.type), size: info.size })),
      );
    } catch (error) {
      // Servers answer a listing of a missing folder with 550, 450 or 451: only CWD tells "missing" from "failing".
      if (error instanceof FtpError && error.replyCode !== undefined && !(await this.#exists(dir))) return undefined;
      throw error;
    }
  }

  /**
   * Returns the listing of `dir` by the first of the connection's list commands the server answers,
   * trying the next after any refusal, as basic-ftp's list() does. basic-ftp then keeps the command
   * that answered as the only one for the rest of the connection: pure-ftpd refuses MLSD of a
   * missing folder and answers `LIST -a` of it with an empty 226, so after a first night's listing
   * of a folder not made yet every listing went by `LIST -a` (no exact facts, nothing at all on some
   * servers). Here that narrowing is kept only when the listing proved it: it held entries, and every
   * command before it was refused for good (5xx). A refusal to try again (4xx) or an empty listing
   * proves nothing: the next listing asks the best command again. Once narrowed, a refusal is about
   * the folder (#listPlain then asks whether it exists).
   */
  async #listByBestCommand(client: Client, dir: string): Promise<FileInfo[]> {
    let refusedForGood = true;
    let lastRefusal: unknown;
    for (const command of this.#listCommands) {
      client.availableListCommands = [command];
      let entries: FileInfo[];
      try {
        entries = await client.list(dir);
      } catch (error) {
        if (!(error instanceof FTPError)) throw error;
        refusedForGood &&= error.code >= 500;
        lastRefusal = error;
        continue;
      }
      if (entries.length > 0) {
        this.#listingCommand = command;
        if (refusedForGood) this.#listCommands = [command];
      }
      return entries;
    }
    throw lastRefusal;
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

  /**
   * Returns the size of a remote file as the server reports it: by SIZE, or by the listing of its
   * folder on a server that does not know SIZE (docs/design.md allows either). A file missing from
   * that listing rejects with kind 'not-found'.
   */
  async size(file: string): Promise<number> {
    if (this.#sizeBy !== 'listing') {
      try {
        const size = await this.#run(`size ${file}`, (client) => client.size(file));
        this.#sizeBy = 'SIZE';
        return size;
      } catch (error) {
        if (!(error instanceof FtpError && this.#sizeBy === undefined && isUnknownCommand(error.replyCode))) throw error;
        this.#sizeBy = 'listing';
      }
    }
    return this.#sizeFromListing(file);
  }

  async #sizeFromListing(file: string): Promise<number> {
    const dir = path.posix.dirname(file);
    const name = path.posix.basename(file);
    const entry = (await this.list(dir))?.find((candidate) => candidate.name === name);
    if (entry === undefined || entry.kind !== 'file') {
      throw new FtpError(`size ${file} on ${this.target.name}: not in the listing of ${dir}`, 'not-found');
    }
    return entry.size;
  }

  /** Returns how this server gives file digests (FEAT), undefined when it gives none. */
  async remoteHashMethod(): Promise<RemoteHashMethod | undefined> {
    return this.#run('ask the server for its features (FEAT)', async (client) => chooseRemoteHash(await client.features()));
  }

  /**
   * Returns the server's digest of `file` (`size` bytes) in lower-case hex, or undefined when
   * the server refuses for good (5xx) or answers without one; a 4xx rejects as transient.
   * proftpd caches digests per connection by path and modification time, which a copy sent again
   * can share (ncftpput sets the local file's time): a file this connection gave a digest of
   * before is asked about on a new connection.
   */
  remoteHash(file: string, method: RemoteHashMethod, size: number): Promise<string | undefined> {
    if (this.#digested.has(file)) this.dropConnection();
    return this.#run(`${method.command} ${file}`, async (client) => {
      if (method.command === 'HASH' && this.#hashSelected !== method.algorithm) {
        await client.send(`OPTS HASH ${method.algorithm}`);
        this.#hashSelected = method.algorithm;
      }
      const reply = client.sendIgnoringError(`${method.command} ${file}`);
      // The server reads the whole file before it answers: the usual wait, plus the file at a slow disk's pace.
      client.ftp.socket.setTimeout(this.target.timeoutSeconds * 1000 + Math.ceil(size / SLOWEST_SERVER_HASH_BYTES_PER_MS));
      const { code, message } = await reply;
      if (code >= 400 && code < 500) throw new FtpError(`${method.command} ${file}: server replied ${message}`, 'transient', code);
      this.#digested.add(file);
      return parseRemoteHash(method, code, message, size);
    });
  }

  /**
   * Creates the folder `dir` (an absolute path) and its parents as needed. One MKD of the whole path
   * when its parent is there (tonight's backup of a VM the target knows); else an existing `dir` is
   * found by CWD, and a new one made one MKD per folder from the top. Rejects with the reply to the
   * last MKD when `dir` is not there in the end.
   */
  ensureDir(dir: string): Promise<void> {
    return this.#run(`create folder ${dir}`, async (client) => {
      let made = await client.sendIgnoringError(`MKD ${dir}`);
      if (isPositiveCompletion(made.code) || (await this.#entersFolder(client, dir))) return;
      for (const folder of foldersDownTo(dir)) made = await client.sendIgnoringError(`MKD ${folder}`);
      if (!isPositiveCompletion(made.code)) throw new FTPError(made);
    });
  }

  /** Returns whether `dir` can be entered (it exists); the working directory stays `/`, as every other call uses absolute paths. */
  async #entersFolder(client: Client, dir: string): Promise<boolean> {
    const entered = await client.sendIgnoringError(`CWD ${dir}`);
    if (!isPositiveCompletion(entered.code)) return false;
    await client.cd('/');
    return true;
  }

  /** Renames `from` to `to` (same server). */
  async rename(from: string, to: string): Promise<void> {
    await this.#run(`rename ${from} to ${to}`, (client) => client.rename(from, to));
  }

  /**
   * Renames the folder `from` to `to`; returns true when `to` existed, blocked the rename, and was
   * deleted first. Some servers refuse to rename onto an existing name, each with its own code
   * (553, 550; pure-ftpd 451 "Directory not empty"): whatever the code, when `to` is there it is
   * deleted, then the rename tried again. The caller says so in its report: nothing planned it.
   */
  async renameReplacing(from: string, to: string): Promise<boolean> {
    try {
      await this.rename(from, to);
      return false;
    } catch (error) {
      if (!(error instanceof FtpError) || error.replyCode === undefined) throw error;
      const siblings = (await this.list(path.posix.dirname(to))) ?? [];
      if (!siblings.some((entry) => entry.name === path.posix.basename(to))) throw error;
      await this.removeDir(to);
      await this.rename(from, to);
      return true;
    }
  }

  /** Deletes the file `file`. */
  removeFile(file: string): Promise<void> {
    return this.#run(`delete ${file}`, async (client) => {
      await client.remove(file);
    });
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

  /** Closes the connection; the next call opens a new one, so nothing the server kept for this connection carries over. */
  dropConnection(): void {
    this.#connected = false;
    this.#client.close();
  }

  /** Closes the connection; the session can no longer be used. */
  close(): void {
    this.#closed = true;
    this.#connected = false;
    this.#client.close();
  }
}
