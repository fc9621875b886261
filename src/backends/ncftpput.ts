/**
 * The `-u ncftpput` backend: one ncftpput process per file. Host, user and
 * password reach it through `-f` with a 0600 file in a private folder that is
 * removed in every case; its conversation goes to a debug log in the same
 * folder (ncftpput writes PASS there as `xxxxxxxx`), which is where the
 * server's reply codes come from.
 *
 * Resume: ncftpput's own `-z` sends REST+STOR (and without `-s` the whole
 * file after REST). ftp-srv corrupts REST+STOR, and the planned offset should
 * decide, not ncftpput's own look at the server; so a resume pipes the local
 * file from `offset` into `-c -A`, which sends APPE, exactly like the internal
 * client and curl do. ncftpput has no rate option: under a `bwlimit` every
 * file goes that way, through vmftp's limiter (`-c`, STOR from byte 0).
 */
import { promises as fs } from 'node:fs';
import type { TargetConfig } from '../config/types.js';
import { FtpError } from '../errors.js';
import type { DataConnection } from '../ftp/passive.js';
import type { Backend, UploadJob } from './backend.js';
import type { TransferLimit } from './bandwidth.js';
import { errorOfFailure, type ExitTable, type ProgramFailure } from './exit-status.js';
import { feedThrough, uploadWithProgram } from './program-upload.js';
import { control, requireProgram, runProgram, type ProgramControl, type ProgramResult } from './programs.js';
import { withPrivateDir } from './secret-files.js';

/**
 * Every ncftpput exit status (man ncftpput, DIAGNOSTICS) and its kind.
 * Status 1 covers both "no connection" and "login refused": the reply in the
 * debug log tells them apart (530 is auth).
 */
export const NCFTPPUT_EXIT: ExitTable = {
  1: { kind: 'connect', what: 'could not connect or log in', byReply: 'login' },
  2: { kind: 'connect', what: 'connecting timed out' },
  3: { kind: 'transient', what: 'the transfer failed', byReply: 'command' },
  4: { kind: 'transient', what: 'the transfer timed out (no progress within timeoutSeconds)' },
  5: { kind: 'permanent', what: 'could not change to the remote folder', byReply: 'command' },
  6: { kind: 'transient', what: 'changing to the remote folder timed out' },
  7: { kind: 'permanent', what: 'ncftpput refused the URL as malformed' },
  8: { kind: 'permanent', what: 'ncftpput refused its arguments (usage error)' },
  9: { kind: 'permanent', what: 'ncftpput could not read its login file' },
  10: { kind: 'permanent', what: 'ncftpput could not initialize its FTP library' },
  11: { kind: 'permanent', what: 'ncftpput could not initialize the session' },
};

/**
 * ncftpput reads its `-f` file line by line into a 128-byte buffer: a longer
 * value is cut (measured: 121 bytes of password reach PASS), a line break ends it.
 */
const MAX_LOGIN_VALUE_BYTES = 121;

/** Returns why ncftpput cannot log in to `target` with its `-f` file (empty: it can), each naming the field. */
export function ncftpputLoginProblems(target: TargetConfig): string[] {
  const problems: string[] = [];
  const check = (field: string, value: string): void => {
    if (/[\r\n]/.test(value)) problems.push(`targets.${target.name}.${field}: contains a line break, which ncftpput's login file cannot hold`);
    else if (Buffer.byteLength(value) > MAX_LOGIN_VALUE_BYTES) {
      problems.push(`targets.${target.name}.${field}: longer than the ${MAX_LOGIN_VALUE_BYTES} bytes ncftpput reads; use -u curl or -u internal`);
    }
  };
  check('user', target.user);
  check('password', target.password.reveal());
  return problems;
}

/** Settings of the ncftpput backend that are not part of the target. */
export interface NcftpputBackendOptions extends ProgramControl {
  /** Absolute path of ncftpput; default: found on PATH. */
  readonly program?: string;
  /** How the internal client's data connections to this target went (its PASV reply, if any). */
  readonly dataConnection?: DataConnection | undefined;
  /** The target's `bwlimit`: ncftpput has no rate option, so it gets the file on stdin through vmftp's limiter. */
  readonly limit?: TransferLimit | undefined;
}

/** libncftp's private networks (ftp.c, gPrivateNetworks), matched as text prefixes as it does. */
const LIBNCFTP_PRIVATE_PREFIXES = ['192.168.', '10.', ...Array.from({ length: 16 }, (_, i) => `172.${16 + i}.`)];

/**
 * Returns why ncftpput must not upload to `target`, undefined when it may. ncftpput has no EPSV,
 * and its library connects to the address the PASV reply names unless that address is in a
 * private network the control connection's host is not in (then it uses the control host, as
 * vmftp does): any other PASV address would send the backup to a host other than the server.
 */
export function ncftpputPassiveProblem(target: TargetConfig, how: DataConnection | undefined): string | undefined {
  if (target.activeMode || how?.command !== 'PASV' || how.announced === how.used) return undefined;
  const prefix = LIBNCFTP_PRIVATE_PREFIXES.find((candidate) => how.announced.startsWith(candidate));
  if (prefix !== undefined && !how.used.startsWith(prefix)) return undefined;
  return (
    `${target.name}'s PASV reply names ${how.announced}, not ${how.used} where the control connection went, and ncftpput ` +
    `would open its data connection to ${how.announced}; vmftp never sends a backup to another host`
  );
}

/**
 * Returns the backend that sends each file of `target` with one ncftpput process. A target
 * ncftpput cannot serve (TLS, a login its -f file cannot carry) never gets here: the run's
 * preflight (config/preflight.ts) refuses it before anything is touched.
 */
export function createNcftpputBackend(target: TargetConfig, options: NcftpputBackendOptions = {}): Backend {
  const program = options.program ?? requireProgram('ncftpput');
  const passiveProblem = ncftpputPassiveProblem(target, options.dataConnection);
  return {
    method: 'ncftpput',
    async upload(job: UploadJob, onBytes?: (bytes: number) => void): Promise<void> {
      if (passiveProblem !== undefined) throw new FtpError(`upload ${job.remotePath} not started: ${passiveProblem}`, 'permanent', undefined, 'use -u internal or -u curl for this target');
      return uploadWithProgram(job, onBytes, () =>
        withPrivateDir(async (dir) => {
          const loginFile = await dir.writeFile('login.cfg', ncftpputLoginFile(target));
          // Created here so it is 0600 too: ncftpput would create it with the umask's mode.
          const logFile = await dir.writeFile('ncftpput.log', '');
          // A resume, and a bandwidth limit (ncftpput has no rate option), feed the file on stdin: from the offset, through the limit.
          const fromStdin = job.offset > 0 || options.limit !== undefined;
          const args = ncftpputArgs(target, job, { loginFile, logFile }, fromStdin);
          const stop = control(options);
          let result: ProgramResult;
          let sent: number | undefined;
          if (fromStdin) ({ result, bytesRead: sent } = await feedThrough(options.limit, job, (stdin) => runProgram(program, args, { stdin, ...stop })));
          else result = await runProgram(program, args, stop);
          if (result.exitCode === 0) return { sent };
          const log = await fs.readFile(logFile, 'utf8').catch(() => '');
          return { error: errorOfFailure(NCFTPPUT_EXIT, ncftpputFailure(result, log), target, job) };
        }, options.children),
      );
    },
  };
}

/** Returns the text of ncftpput's `-f` login file (man ncftpput: `host`, `user`, `pass` lines). */
export function ncftpputLoginFile(target: TargetConfig): string {
  return `host ${target.host}\nuser ${target.user}\npass ${target.password.reveal()}\n`;
}

/**
 * Returns ncftpput's arguments for one upload; the password is not among them
 * (it is in `loginFile`). From the file: `-C local remote` (STOR to the exact
 * path). From stdin (`fromStdin`, always for a resume): `-c host remote`, with
 * `-A` (APPE) when the server already holds part of the file.
 */
export function ncftpputArgs(target: TargetConfig, job: UploadJob, files: { loginFile: string; logFile: string }, fromStdin = job.offset > 0): string[] {
  const args = [
    '-f',
    files.loginFile,
    '-P',
    String(target.port),
    // No progress meter; one dial: whether to try again is the caller's decision (ncftpput redials 3 times, 20 s apart).
    '-V',
    '-r',
    '1',
    '-t',
    String(Math.max(1, Math.ceil(target.timeoutSeconds))),
    // -E: PORT (active). -F: passive only, without ncftpput's silent fallback to PORT.
    target.activeMode ? '-E' : '-F',
    // write() instead of sendfile(): with sendfile a stalled server is noticed after 5 x -t (measured), not -t.
    '-s',
    '-d',
    files.logFile,
  ];
  if (!fromStdin) args.push('-C', job.localPath, job.remotePath);
  else args.push('-c', ...(job.offset > 0 ? ['-A'] : []), target.host, job.remotePath);
  return args;
}

/** A reply line of ncftpput's debug log: `2024-01-31 12:00:00  552: Disk full`. */
const LOG_REPLY = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}(\d{3}): ?(.*)$/;

/**
 * Returns the server's reply to the command that failed, from ncftpput's debug
 * log: the last reply before ncftpput says goodbye (QUIT), when it is an error.
 */
export function lastErrorReply(log: string): { code: number; text: string } | undefined {
  const lines = log.split(/\r?\n/);
  const quit = lines.findIndex((line) => /  Cmd: QUIT$/.test(line));
  let last: { code: number; text: string } | undefined;
  for (const line of quit === -1 ? lines : lines.slice(0, quit)) {
    const match = LOG_REPLY.exec(line);
    if (match !== null) last = { code: Number(match[1]), text: (match[2] ?? '').trim() };
  }
  return last !== undefined && last.code >= 400 ? last : undefined;
}

/** Returns what ncftpput's stderr and debug log tell about a failure. */
export function ncftpputFailure(result: Pick<ProgramResult, 'exitCode' | 'signal' | 'stderr' | 'startError'>, log: string): ProgramFailure {
  const detail = (result.startError ?? result.stderr).replace(/\s+/g, ' ').trim().slice(0, 300);
  return { program: 'ncftpput', exitCode: result.exitCode, signal: result.signal, detail, reply: lastErrorReply(log) };
}
