/**
 * vsftpd 3.0.3 from Debian as a foreground child process on 127.0.0.1, for listing
 * compatibility: vsftpd has no MLSD, so clients fall back to LIST and parse `ls -l` lines.
 *
 *   test('...', async (t) => {
 *     if (!requireVsftpd(t)) return;               // skips locally, fails under CI=true
 *     const server = await startVsftpd({ root });
 *     t.after(() => server.stop());
 *     // log in as server.user ('anonymous'); write under server.writableDir ('/pub')
 *   });
 *
 * - Unpacked (not installed) by scripts/ensure-test-deps.sh into $VMFTP_TEST_SERVERS (default
 *   /opt/vmftp-test-servers): vsftpd, proftpd and pure-ftpd all provide `ftp-server` in apt.
 * - Needs root. The login is anonymous with write rights: a local user would need PAM and a
 *   system account. vsftpd refuses a writable anonymous root, so `root` (what the client sees as
 *   `/`) stays root-owned and `root/pub` is the writable folder: use remoteDir '/pub/...'.
 * - Anonymous sessions run as `daemon` (uid 1), not nobody: vsftpd changes into the FTP user's
 *   home before anon_root, and nobody's home (/nonexistent) does not exist. chownToVsftpdUser()
 *   hands a folder a test filled behind the server's back to that user.
 * - No TLS (test FTPS on proftpd); no seccomp sandbox; control port a free ephemeral port,
 *   passive ports a 100-port window in 10000-19999.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { passiveWindow, startDaemon, stopThenRemove, withStateDir } from './daemon.js';
import type { FtpServerHandle } from './ftp-srv.js';
import { TEST_SERVERS_DIR } from './proftpd.js';
import { requireOrSkip } from './pure-ftpd.js';

export const VSFTPD = path.join(TEST_SERVERS_DIR, 'usr', 'sbin', 'vsftpd');
/** The account anonymous sessions run as (its home must exist, see the header). */
const FTP_ACCOUNT = 'daemon';

export interface StartVsftpdOptions {
  /** Folder served as `/` (root-owned); `<root>/pub` is created writable for the FTP user. */
  root: string;
}

/** A running vsftpd. */
export interface VsftpdHandle extends Omit<FtpServerHandle, 'kind'> {
  readonly kind: 'vsftpd';
  /** The folder (as the client sees it) where the anonymous user may write: '/pub'. */
  readonly writableDir: '/pub';
}

function account(): { uid: number; gid: number; home: string } | undefined {
  const r = spawnSync('getent', ['passwd', FTP_ACCOUNT], { encoding: 'utf8', timeout: 5000 });
  const fields = r.status === 0 ? r.stdout.trim().split(':') : [];
  if (fields.length < 6) return undefined;
  return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '' };
}

/** Why vsftpd tests cannot run on this machine, or undefined when they can. */
export function vsftpdUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'vsftpd tests run on Linux only';
  if (!existsSync(VSFTPD)) return `${VSFTPD} is missing (run scripts/ensure-test-deps.sh as root)`;
  if (process.getuid?.() !== 0) return 'vsftpd must be started as root';
  const who = account();
  if (who === undefined || !existsSync(who.home)) return `the account ${FTP_ACCOUNT} with an existing home folder is missing`;
  const libs = spawnSync('ldd', [VSFTPD], { encoding: 'utf8', timeout: 5000 });
  if (/not found/.test(libs.stdout)) return `libraries of ${VSFTPD} are missing: run scripts/ensure-test-deps.sh as root`;
  return undefined;
}

let cachedReason: { reason: string | undefined } | undefined;

/** requireOrSkip for vsftpd, with the reason in the message. */
export function requireVsftpd(t: Pick<TestContext, 'skip'>): boolean {
  cachedReason ??= { reason: vsftpdUnavailableReason() };
  return requireOrSkip(t, cachedReason.reason === undefined, `vsftpd: ${cachedReason.reason ?? ''}`);
}

/** Hands a folder (recursively) to the account vsftpd's anonymous sessions run as, so the server may rename/delete in it. */
export function chownToVsftpdUser(dir: string): void {
  const who = account();
  if (who === undefined || process.getuid?.() !== 0) return;
  chownSync(dir, who.uid, who.gid);
  for (const entry of readdirSync(dir, { recursive: true })) chownSync(path.join(dir, String(entry)), who.uid, who.gid);
}

/** Returns a started vsftpd (see the header); rejects with its output when it does not come up. */
export async function startVsftpd(opts: StartVsftpdOptions): Promise<VsftpdHandle> {
  const reason = vsftpdUnavailableReason();
  if (reason) throw new Error(`cannot start vsftpd: ${reason}`);
  const root = path.resolve(opts.root);
  mkdirSync(path.join(root, 'pub'), { recursive: true });
  chownSync(root, 0, 0);
  chownToVsftpdUser(path.join(root, 'pub'));

  return withStateDir('vmftp-vsftpd-', async (state) => {
    const empty = path.join(state, 'empty');
    mkdirSync(empty);
    const confFile = path.join(state, 'vsftpd.conf');
    const daemon = await startDaemon({
      name: 'vsftpd',
      program: VSFTPD,
      args: (port) => {
        const pasv = passiveWindow(port);
        const lines = [
          'listen=YES',
          'listen_ipv6=NO',
          'listen_address=127.0.0.1',
          `listen_port=${port}`,
          'background=NO',
          'seccomp_sandbox=NO',
          'anonymous_enable=YES',
          'local_enable=NO',
          'no_anon_password=YES',
          `ftp_username=${FTP_ACCOUNT}`,
          `anon_root=${root}`,
          'write_enable=YES',
          'anon_upload_enable=YES',
          'anon_mkdir_write_enable=YES',
          'anon_other_write_enable=YES',
          // Anonymous uploads are otherwise 0600 owned by the session: readable by the test (root) anyway, but keep them plain.
          'anon_umask=022',
          'anon_world_readable_only=NO',
          'pasv_enable=YES',
          'pasv_address=127.0.0.1',
          `pasv_min_port=${pasv.low}`,
          `pasv_max_port=${pasv.high}`,
          'connect_from_port_20=NO',
          `secure_chroot_dir=${empty}`,
          'xferlog_enable=NO',
          'dirmessage_enable=NO',
          'use_localtime=NO',
          'max_clients=100',
          'max_per_ip=100',
        ];
        writeFileSync(confFile, `${lines.join('\n')}\n`, { mode: 0o600 });
        return [confFile];
      },
      banner: /^220 .*vsFTPd/m,
    });
    return {
      host: '127.0.0.1',
      port: daemon.port,
      user: 'anonymous',
      password: 'vmftp@example.org',
      root,
      kind: 'vsftpd',
      writableDir: '/pub',
      stop: stopThenRemove(() => daemon.stop(), state),
    };
  });
}
