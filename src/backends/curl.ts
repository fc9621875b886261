/**
 * The `-u curl` backend: one curl process per file. The password reaches curl
 * through a config on stdin (`-K -`), never through its command line.
 */
import type { TargetConfig } from '../config/types.js';
import type { Backend, UploadJob } from './backend.js';
import type { TransferLimit } from './bandwidth.js';
import type { FtpError, LocalFileError } from '../errors.js';
import { errorOfFailure, type ExitTable, type ProgramFailure } from './exit-status.js';
import { feedThrough, uploadWithProgram } from './program-upload.js';
import { control, requireProgram, runProgram, type ProgramControl, type ProgramResult } from './programs.js';
import { withPrivateDir } from './secret-files.js';

/**
 * Every curl exit status an FTP upload can meet (man curl, EXIT CODES) and
 * its kind; statuses of other protocols (HTTP, LDAP, TFTP, SSH...) fall to the
 * default: permanent. `byReply` rows are the ones where curl only says "the
 * server refused": the reply code curl prints decides, as for the internal client.
 */
export const CURL_EXIT: ExitTable = {
  1: { kind: 'permanent', what: 'this curl cannot speak the protocol (built without FTP or TLS?)' },
  2: { kind: 'permanent', what: 'curl could not initialize' },
  3: { kind: 'permanent', what: 'curl refused the URL as malformed' },
  4: { kind: 'permanent', what: 'this curl was built without a feature the upload needs' },
  5: { kind: 'connect', what: 'could not resolve the proxy' },
  6: { kind: 'connect', what: 'could not resolve the host name' },
  7: { kind: 'connect', what: 'could not connect to the server' },
  8: { kind: 'transient', what: 'the server sent a reply curl could not parse' },
  9: { kind: 'permanent', what: 'the server denied access to the folder', byReply: 'command' },
  10: { kind: 'transient', what: 'active mode: the server did not connect back' },
  11: { kind: 'auth', what: 'the server gave an unexpected reply to the password' },
  12: { kind: 'transient', what: 'active mode: the server did not connect back in time' },
  13: { kind: 'transient', what: 'the server gave an unexpected reply to PASV/EPSV' },
  14: { kind: 'transient', what: 'the server sent a malformed 227 reply' },
  15: { kind: 'transient', what: 'the address in the server\'s 227 reply cannot be used' },
  17: { kind: 'transient', what: 'the server refused binary mode', byReply: 'command' },
  18: { kind: 'transient', what: 'the transfer ended early', byReply: 'command' },
  19: { kind: 'not-found', what: 'the server could not find the file', byReply: 'command' },
  21: { kind: 'permanent', what: 'a raw FTP command failed', byReply: 'command' },
  23: { kind: 'local', what: 'curl could not write its output' },
  25: { kind: 'permanent', what: 'the server refused the upload', byReply: 'command' },
  26: { kind: 'local', what: 'the local file could not be read' },
  27: { kind: 'transient', what: 'curl ran out of memory' },
  28: { kind: 'transient', what: 'timed out (no progress within timeoutSeconds, or no reply to the upload within curl\'s fixed 60 s)' },
  30: { kind: 'permanent', what: 'the server refused PORT (active mode)', byReply: 'command' },
  31: { kind: 'permanent', what: 'the server refused REST', byReply: 'command' },
  35: { kind: 'connect', what: 'the TLS handshake failed' },
  37: { kind: 'local', what: 'curl could not open the local file' },
  42: { kind: 'transient', what: 'the transfer was aborted' },
  43: { kind: 'permanent', what: 'curl reported an internal error' },
  45: { kind: 'connect', what: 'the local network interface could not be used' },
  48: { kind: 'permanent', what: 'this curl does not know an option vmftp passes (too old?)' },
  52: { kind: 'transient', what: 'the server closed the connection without a reply' },
  53: { kind: 'permanent', what: 'the TLS crypto engine was not found' },
  54: { kind: 'permanent', what: 'the TLS crypto engine could not be set' },
  55: { kind: 'transient', what: 'sending data failed' },
  56: { kind: 'transient', what: 'receiving data failed' },
  58: { kind: 'permanent', what: 'the local TLS certificate could not be used' },
  59: { kind: 'permanent', what: 'the TLS cipher could not be used' },
  60: { kind: 'permanent', what: 'the server certificate is not trusted (set ca, or allowSelfSigned)' },
  63: { kind: 'permanent', what: 'the file is larger than allowed' },
  64: { kind: 'connect', what: 'the server does not offer the required TLS' },
  65: { kind: 'transient', what: 'curl had to resend data and could not rewind' },
  66: { kind: 'permanent', what: 'the TLS engine could not be initialized' },
  67: { kind: 'auth', what: 'the server refused the login' },
  70: { kind: 'permanent', what: 'the server is out of space' },
  77: { kind: 'permanent', what: 'the CA certificate (ca) could not be read' },
  78: { kind: 'not-found', what: 'the remote file or folder does not exist' },
  80: { kind: 'transient', what: 'closing the TLS connection failed' },
  83: { kind: 'permanent', what: 'the server certificate\'s issuer check failed' },
  84: { kind: 'permanent', what: 'the server refused PRET', byReply: 'command' },
  90: { kind: 'permanent', what: 'the server\'s public key does not match the pinned key' },
  91: { kind: 'permanent', what: 'the server certificate\'s status is invalid' },
};

/** Settings of the curl backend that are not part of the target. */
export interface CurlBackendOptions extends ProgramControl {
  /** Absolute path of curl; default: found on PATH. */
  readonly program?: string;
  /**
   * The target's `bwlimit`: curl's own --limit-rate is fixed for the life of the process, so curl
   * gets the file on stdin through vmftp's limiter, which follows the timetable.
   */
  readonly limit?: TransferLimit | undefined;
}

/** Returns the backend that sends each file of `target` with one curl process. */
export function createCurlBackend(target: TargetConfig, options: CurlBackendOptions = {}): Backend {
  const program = options.program ?? requireProgram('curl');
  return {
    method: 'curl',
    upload(job: UploadJob, onBytes?: (bytes: number) => void): Promise<void> {
      return uploadWithProgram(job, onBytes, async () => {
        const limit = options.limit;
        const run = (files: { caFile?: string | undefined; configFile?: string | undefined }): Promise<ProgramResult> => {
          const args = curlArgs(target, job, { ...files, fromStdin: limit !== undefined });
          if (limit === undefined) return runProgram(program, args, { input: curlConfig(target), ...control(options) });
          return feedThrough(limit, job, (stdin) => runProgram(program, args, { stdin, ...control(options) })).then(({ result }) => result);
        };
        const usesCa = target.secure !== false && !target.allowSelfSigned && target.ca !== undefined;
        // With the file on stdin, the login goes in a private 0600 config file instead.
        const result = await (usesCa || limit !== undefined
          ? withPrivateDir(
              async (dir) =>
                run({
                  caFile: usesCa ? await dir.writeFile('ca.pem', target.ca ?? '') : undefined,
                  configFile: limit === undefined ? undefined : await dir.writeFile('curl.cfg', curlConfig(target)),
                }),
              options.children,
            )
          : run({}));
        // --write-out comes after a failed transfer too (not when curl was killed): the report counts what went out.
        const written = result.stdout.trim();
        const sent = written === '' || !Number.isFinite(Number(written)) ? undefined : Number(written);
        return { sent, error: result.exitCode === 0 ? undefined : curlError(result, target, job) };
      });
    },
  };
}

/** Returns curl's config text for stdin: the only place the password goes. */
export function curlConfig(target: TargetConfig): string {
  return `user = ${quoteCurlConfig(`${target.user}:${target.password.reveal()}`)}\n`;
}

/** Returns `value` as a double-quoted curl config string (man curl, -K: `\\`, `\"`, `\t`, `\n`, `\r`, `\v`). */
export function quoteCurlConfig(value: string): string {
  const escaped = value.replace(/[\\"\t\n\r\v]/g, (char) => {
    switch (char) {
      case '\t':
        return '\\t';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\v':
        return '\\v';
      default:
        return `\\${char}`;
    }
  });
  return `"${escaped}"`;
}

/**
 * Returns the URL of an absolute remote path. `%2F` makes the path absolute
 * (a plain `/` would be relative to the login folder); each segment is
 * percent-encoded, so spaces, `#`, `?`, `;type=` and non-ASCII names stay names.
 */
export function curlUrl(target: TargetConfig, remotePath: string): string {
  const scheme = target.secure === 'implicit' ? 'ftps' : 'ftp';
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const segments = remotePath.split('/').filter((segment) => segment !== '').map(encodeURIComponent);
  return `${scheme}://${host}:${target.port}/%2F${segments.join('/')}`;
}

/**
 * How long after the last byte curl's speed reads 0: curl averages it over its last 5 s of
 * one-second samples (lib/progress.c), and --speed-time only starts counting then. Measured with
 * curl 7.88.1 against a stalled upload on loopback: --speed-time 1, 2, 4 and 8 end 7.3, 8.2, 9.3
 * and 14.3 s after the upload began.
 */
const CURL_SPEED_WINDOW_SECONDS = 6;

/**
 * Returns curl's --speed-time (whole seconds) for a stall to end an upload `timeoutSeconds` after
 * its last byte, as the internal client's socket timeout does: less curl's averaging window, at
 * least 1 (a `timeoutSeconds` under 7 s ends a stalled curl after ~7 s).
 */
export function curlSpeedTime(timeoutSeconds: number): number {
  return Math.max(1, Math.ceil(timeoutSeconds) - CURL_SPEED_WINDOW_SECONDS);
}

/** Returns curl's arguments for one upload; the password is not among them (it goes through `curlConfig`). */
export function curlArgs(
  target: TargetConfig,
  job: UploadJob,
  extra: {
    caFile?: string | undefined;
    /** curl's config (the login) is in this file; default: on stdin. */
    configFile?: string | undefined;
    /** The file comes on stdin from `job.offset` on (through the bandwidth limit), not from its path. */
    fromStdin?: boolean;
  } = {},
): string[] {
  const seconds = String(curlSpeedTime(target.timeoutSeconds));
  const args = [
    // -q must come first: a user's ~/.curlrc must not change what vmftp sends or where.
    '-q',
    '--silent',
    '--show-error',
    '--config',
    extra.configFile ?? '-',
    // The internal client never uses a proxy; neither does curl here, whatever *_proxy says.
    '--noproxy',
    '*',
    // -T does brace/bracket globbing on the local name: `disk[1].vmdk` is a file name, not a pattern.
    '--globoff',
    // STOR/APPE with the full path: no CWD walk, the same commands the internal client sends.
    '--ftp-method',
    'nocwd',
    '--connect-timeout',
    String(target.timeoutSeconds),
    '--speed-time',
    seconds,
    '--speed-limit',
    '1',
    // The control connection idles while the file goes up: probes keep a router from forgetting it (curl's own default is 60 s).
    '--keepalive-time',
    String(target.keepaliveSeconds),
    ...(target.activeMode ? ['--ftp-port', '-'] : ['--ftp-pasv']),
  ];
  if (target.secure !== false) args.push('--ssl-reqd');
  if (target.secure !== false && target.allowSelfSigned) args.push('--insecure');
  if (target.secure !== false && target.sslNoRevoke === true) args.push('--ssl-no-revoke');
  if (extra.caFile !== undefined) args.push('--cacert', extra.caFile);
  // An explicit offset makes curl send APPE without asking SIZE: the server holds `offset` bytes, as planned.
  // From stdin, curl would read and drop `offset` bytes (a pipe cannot seek): stdin starts there, and --append sends APPE.
  if (job.offset > 0) args.push(...(extra.fromStdin === true ? ['--append'] : ['--continue-at', String(job.offset)]));
  args.push('--upload-file', extra.fromStdin === true ? '-' : job.localPath, '--write-out', '%{size_upload}', curlUrl(target, job.remotePath));
  return args;
}

/** Returns what curl's output tells about a failure: its error line and the reply code in it, if any. */
export function curlFailure(result: Pick<ProgramResult, 'exitCode' | 'signal' | 'stderr' | 'startError'>): ProgramFailure {
  const lines = [...result.stderr.matchAll(/^curl: \(\d+\) (.*)$/gm)];
  const detail = lines.at(-1)?.[1]?.trim() ?? (result.startError ?? result.stderr.trim()).slice(0, 300);
  // curl ends its FTP refusals with the code: "Failed FTP upload: 553", "server did not report OK, got 451".
  const code = /(?::|got) ([1-5]\d\d)$/.exec(detail)?.[1];
  return {
    program: 'curl',
    exitCode: result.exitCode,
    signal: result.signal,
    detail,
    ...(code === undefined ? {} : { reply: { code: Number(code), text: '' } }),
  };
}

/**
 * Windows' own curl.exe checks TLS certificates with Schannel, which also asks the CA's revocation
 * server (CRL or OCSP); a backup host that cannot reach it fails the handshake with curl exit 35 and
 * CRYPT_E_NO_REVOCATION_CHECK (0x80092012) or CRYPT_E_REVOCATION_OFFLINE (0x80092013).
 */
const REVOCATION_NOT_CHECKED = /CRYPT_E_NO_REVOCATION_CHECK|CRYPT_E_REVOCATION_OFFLINE|0x8009201[23]/i;

/** Returns the error of a failed curl run, worded like the internal client's (exit-status.ts), with the revocation case named. */
export function curlError(result: Pick<ProgramResult, 'exitCode' | 'signal' | 'stderr' | 'startError'>, target: TargetConfig, job: UploadJob): FtpError | LocalFileError {
  const failure = curlFailure(result);
  if (failure.exitCode !== 35 || !REVOCATION_NOT_CHECKED.test(failure.detail ?? '')) return errorOfFailure(CURL_EXIT, failure, target, job);
  // Waiting does not bring the revocation server within reach: permanent, as an untrusted certificate is.
  const revocation = {
    kind: 'permanent' as const,
    what:
      "Windows could not check whether the server's certificate was revoked (its CA's revocation server cannot be reached from this host); " +
      `set targets.${target.name}.sslNoRevoke: true (curl --ssl-no-revoke) or let this host reach it`,
  };
  return errorOfFailure({ ...CURL_EXIT, 35: revocation }, failure, target, job);
}
