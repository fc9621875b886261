/**
 * proftpd 1.3.8 from Debian as a foreground child process on 127.0.0.1, with one virtual user,
 * optionally FTPS (explicit or implicit, mod_tls), and HASH/XSHA256/XMD5/XCRC (mod_digest).
 *
 *   test('...', async (t) => {
 *     if (!requireProftpd(t)) return;              // skips locally, fails under CI=true
 *     const cert = makeCertificate(dir);            // self-signed, CN and SAN 127.0.0.1
 *     const server = await startProftpd({ root, tls: 'implicit', certificate: cert });
 *     t.after(() => server.stop());
 *     ...
 *   });
 *
 * - The binary and its modules are not installed: proftpd, vsftpd and pure-ftpd all provide
 *   `ftp-server` in apt, so scripts/ensure-test-deps.sh unpacks proftpd-core and
 *   proftpd-mod-crypto (mod_tls) into $VMFTP_TEST_SERVERS (default /opt/vmftp-test-servers)
 *   and installs only their libraries. `proftpd -l` there: mod_auth_file, mod_delay, mod_ls,
 *   mod_facts (MLSD) are built in; mod_tls and mod_digest are loaded from the unpacked ModulePath.
 * - Needs root (it binds, chroots and switches to the user's uid itself). The virtual user
 *   (AuthUserFile, SHA-512 crypt hash from `openssl passwd -6`) maps to nobody/nogroup (65534),
 *   like pure-ftpd's; the root folder is chowned to it, and chownToFtpUser() from pure-ftpd.ts
 *   hands over anything a test puts there later. proftpd looks up the home with the user's
 *   rights, so the folders above root (inside the OS temp folder) get the o+x search bit.
 * - No PAM, no /etc/ftpusers, no shell check, no reverse DNS, mod_delay off (it would slow
 *   every login to hide which users exist), every user chrooted into root (DefaultRoot ~).
 * - With tls: TLSRequired on (control and data), TLS 1.2/1.3, the client's TLS session must be
 *   reused on data connections (proftpd's default, as on real servers). The TLS log (`tlsLog`)
 *   shows each handshake, which is how a test proves that a session really was TLS.
 * - Control port: a free ephemeral port; passive ports: a 100-port window in 10000-19999.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { passiveWindow, startDaemon, stopThenRemove, withStateDir } from './daemon.js';
import type { FtpServerHandle, StartServerOptions } from './ftp-srv.js';
import { prepareVirtualUser, requireOrSkip } from './pure-ftpd.js';

/** Where scripts/ensure-test-deps.sh unpacks proftpd and vsftpd. */
export const TEST_SERVERS_DIR = process.env.VMFTP_TEST_SERVERS ?? '/opt/vmftp-test-servers';
export const PROFTPD = path.join(TEST_SERVERS_DIR, 'usr', 'sbin', 'proftpd');
const MODULE_PATH = path.join(TEST_SERVERS_DIR, 'usr', 'lib', 'proftpd');
const NOBODY = 65534;

/** A certificate and its key, PEM files. */
export interface Certificate {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface StartProftpdOptions extends StartServerOptions {
  /** FTPS: 'explicit' (AUTH TLS on the control port) or 'implicit' (TLS from the first byte). Default: plain FTP. */
  tls?: 'explicit' | 'implicit';
  /** The server's certificate with tls; default: a fresh self-signed one for 127.0.0.1. */
  certificate?: Certificate;
  /** mod_digest: HASH (SHA-256, SHA-512, SHA-1, MD5, CRC32) and XSHA256/XSHA512/XSHA1/XMD5/XCRC. Default true. */
  hash?: boolean;
}

/** A running proftpd. */
export interface ProftpdHandle extends Omit<FtpServerHandle, 'kind'> {
  readonly kind: 'proftpd';
  readonly tls: 'explicit' | 'implicit' | undefined;
  /** The certificate the server presents (undefined without tls). */
  readonly certificate: Certificate | undefined;
  /** Returns mod_tls's log so far ('' without tls): one "TLS/TLS-C negotiated" line per TLS control connection. */
  tlsLog(): string;
  /** Returns the server's system log so far (logins, errors). */
  systemLog(): string;
}

/** Why proftpd tests cannot run on this machine, or undefined when they can. */
export function proftpdUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'proftpd tests run on Linux only';
  const missing = [PROFTPD, path.join(MODULE_PATH, 'mod_tls.so'), path.join(MODULE_PATH, 'mod_digest.so')].filter((f) => !existsSync(f));
  if (missing.length > 0) return `${missing.join(', ')} missing (run scripts/ensure-test-deps.sh as root)`;
  if (process.getuid?.() !== 0) return 'proftpd must be started as root (it chroots and switches to the user itself)';
  const version = spawnSync(PROFTPD, ['-v'], { encoding: 'utf8', timeout: 5000 });
  if (version.status !== 0) return `${PROFTPD} does not run: ${(version.stderr || version.error?.message || '').trim()}`;
  if (spawnSync('openssl', ['version'], { timeout: 5000 }).status !== 0) return 'openssl is missing (apt-get install openssl)';
  return undefined;
}

let cachedReason: { reason: string | undefined } | undefined;

/** requireOrSkip for proftpd, with the reason in the message. */
export function requireProftpd(t: Pick<TestContext, 'skip'>): boolean {
  cachedReason ??= { reason: proftpdUnavailableReason() };
  return requireOrSkip(t, cachedReason.reason === undefined, `proftpd: ${cachedReason.reason ?? ''}`);
}

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/**
 * Returns a new self-signed certificate (RSA 2048, 2 days) for CN and subjectAltName IP:127.0.0.1,
 * written as `<dir>/<name>.crt` and `<dir>/<name>.key`. It is its own CA: give the .crt as `ca`.
 */
export function makeCertificate(dir: string, name = 'server'): Certificate {
  mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile,
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  return { certFile, keyFile };
}

/**
 * proftpd resolves the user's home (DefaultRoot ~) with the user's rights, before the chroot:
 * every folder above root must be searchable by nobody. mkdtemp folders are 0700, so this adds
 * the search bit (o+x, not the read bit: their contents stay unlisted) to the folders between
 * the OS temp folder and root. A root elsewhere must already be reachable.
 */
function makeReachable(root: string): void {
  const tmp = path.resolve(os.tmpdir());
  for (let dir = path.dirname(root); dir.startsWith(`${tmp}${path.sep}`); dir = path.dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
  }
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Returns the proftpd.conf text for one instance. */
function config(o: {
  port: number;
  state: string;
  root: string;
  tls: 'explicit' | 'implicit' | undefined;
  certificate: Certificate | undefined;
  hash: boolean;
}): string {
  const pasv = passiveWindow(o.port);
  const lines = [
    `ModulePath ${MODULE_PATH}`,
    ...(o.hash ? ['LoadModule mod_digest.c'] : []),
    ...(o.tls ? ['LoadModule mod_tls.c'] : []),
    'ServerName "vmftp test proftpd"',
    'ServerType standalone',
    'DefaultAddress 127.0.0.1',
    'SocketBindTight on',
    'UseIPv6 off',
    `Port ${o.port}`,
    `PassivePorts ${pasv.low} ${pasv.high}`,
    'User nobody',
    'Group nogroup',
    'UseReverseDNS off',
    'DelayEngine off',
    'WtmpLog off',
    'AuthPAM off',
    'UseFtpUsers off',
    'RequireValidShell off',
    'AuthOrder mod_auth_file.c',
    `AuthUserFile ${o.state}/passwd`,
    `AuthGroupFile ${o.state}/group`,
    'DefaultRoot ~',
    'MaxInstances 100',
    `PidFile ${o.state}/proftpd.pid`,
    `ScoreboardFile ${o.state}/proftpd.scoreboard`,
    `SystemLog ${o.state}/system.log`,
    'TransferLog none',
    'AllowOverwrite on',
    'AllowStoreRestart on',
    'Umask 022',
  ];
  if (o.hash) lines.push('DigestEngine on', 'DigestAlgorithms all');
  if (o.tls && o.certificate) {
    lines.push(
      'TLSEngine on',
      `TLSLog ${o.state}/tls.log`,
      'TLSProtocol TLSv1.2 TLSv1.3',
      `TLSRSACertificateFile ${o.certificate.certFile}`,
      `TLSRSACertificateKeyFile ${o.certificate.keyFile}`,
      'TLSRequired on',
      'TLSVerifyClient off',
      ...(o.tls === 'implicit' ? ['TLSOptions UseImplicitSSL'] : []),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Returns a started proftpd (see the header); rejects with its log when it does not come up. */
export async function startProftpd(opts: StartProftpdOptions): Promise<ProftpdHandle> {
  const reason = proftpdUnavailableReason();
  if (reason) throw new Error(`cannot start proftpd: ${reason}`);
  const { user, password, root } = prepareVirtualUser('proftpd', opts);
  makeReachable(root);

  // mkdtemp gives 0700: proftpd refuses a scoreboard in a world-writable folder.
  return withStateDir('vmftp-proftpd-', async (state) => {
    const certificate = opts.tls ? (opts.certificate ?? makeCertificate(state)) : undefined;
    const hash = run('openssl', ['passwd', '-6', '-stdin'], `${password}\n`).trim();
    // ftpasswd format (= /etc/passwd): name:hash:uid:gid:gecos:home:shell
    writeFileSync(path.join(state, 'passwd'), `${user}:${hash}:${NOBODY}:${NOBODY}::${root}:/bin/false\n`, { mode: 0o600 });
    writeFileSync(path.join(state, 'group'), `nogroup:x:${NOBODY}:\n`, { mode: 0o600 });
    const confFile = path.join(state, 'proftpd.conf');
    const systemLog = () => readIfThere(path.join(state, 'system.log'));
    const daemon = await startDaemon({
      name: 'proftpd',
      program: PROFTPD,
      args: (port) => {
        writeFileSync(confFile, config({ port, state, root, tls: opts.tls, certificate, hash: opts.hash ?? true }));
        return ['-n', '-q', '-c', confFile];
      },
      banner: /^220 .*ProFTPD/m,
      implicitTls: opts.tls === 'implicit',
      diagnostics: systemLog,
    });
    return {
      host: '127.0.0.1',
      port: daemon.port,
      user,
      password,
      root,
      kind: 'proftpd',
      tls: opts.tls,
      certificate,
      tlsLog: () => readIfThere(path.join(state, 'tls.log')),
      systemLog,
      stop: stopThenRemove(() => daemon.stop(), state),
    };
  });
}
