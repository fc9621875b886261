/**
 * pure-ftpd (Debian's /usr/sbin/pure-ftpd) as a foreground child process on 127.0.0.1, with one
 * virtual user (puredb). The real C server: MLSD, SIZE, APPE, REST, RNFR/RNTO, MDTM like a NAS.
 *
 *   test('...', async (t) => {
 *     if (!requirePureFtpd(t)) return;           // skips locally, fails under CI=true
 *     const server = await startPureFtpd({ root });
 *     t.after(() => server.stop());
 *     ...
 *   });
 *
 * - Needs root: Debian's build uses privilege separation and answers "421 Sorry, but I can't
 *   trust you" to every login when it was not started as root. The virtual user maps to
 *   nobody/nogroup (65534) and the root folder is chowned to it (recursively, so files the test
 *   put there beforehand are visible and deletable through FTP). Files uploaded through FTP are
 *   owned by 65534 locally; the test process (root) can still read and remove them.
 * - The password hash comes from `openssl passwd -6` (SHA-512 crypt): a login takes ~10 ms.
 *   pure-pw's default argon2 hash takes ~3 s per login.
 * - Control port: a free ephemeral port (retried if someone takes it first). Passive ports: a
 *   100-port window in 20000-31999 (below Linux's ephemeral range) derived from the control
 *   port; pure-ftpd tries another port of the window when one is busy.
 * - The server runs in its own process group; stop() signals the group (master and every
 *   session process). A server a test forgot to stop is killed when the test process exits.
 * - Dot files are listed (-D); anonymous login is off; every user is chrooted into root.
 * - A FAILED login takes ~3.5-4 s (pure-ftpd's built-in delay, not configurable): give the
 *   client a timeout well above 5 s in wrong-password tests, or test those on ftp-srv.
 * - Seeding the root after start: call chownToFtpUser(dir) so the server may rename/delete.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { startDaemon, stopThenRemove, withStateDir, type StartDaemonOptions } from './daemon.js';
import { randomPassword, type FtpServerHandle, type StartServerOptions } from './ftp-srv.js';

export const PURE_FTPD = '/usr/sbin/pure-ftpd';
const NOBODY = 65534;

/** A running pure-ftpd; restart() stops it (every session too) and starts it again on the same port, root and user. */
export interface PureFtpdHandle extends FtpServerHandle<'pure-ftpd'> {
  restart(): Promise<void>;
}

export interface StartPureFtpdOptions extends StartServerOptions {
  /** More pure-ftpd flags, e.g. ['-G'] (no rename), ['-K'] (keep all files), ['-n', '1000:10'] (quota). */
  extraArgs?: string[];
}

function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why pure-ftpd tests cannot run on this machine, or undefined when they can. */
export function pureFtpdUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'pure-ftpd tests run on Linux only';
  if (!existsSync(PURE_FTPD)) return `${PURE_FTPD} is missing (run scripts/ensure-test-deps.sh as root, or apt-get install pure-ftpd)`;
  if (!findProgram('pure-pw')) return 'pure-pw is missing (apt-get install pure-ftpd)';
  if (!findProgram('openssl')) return 'openssl is missing (apt-get install openssl)';
  if (process.getuid?.() !== 0) return "pure-ftpd must be started as root (Debian's privsep build refuses logins otherwise)";
  return undefined;
}

export function pureFtpdAvailable(): boolean {
  return pureFtpdUnavailableReason() === undefined;
}

/**
 * Test policy for optional programs. Returns true when the test can go on. When `available` is
 * false: outside CI the test is marked skipped (with `what` as the reason) and false is returned,
 * so write `if (!requireOrSkip(t, ok, 'curl')) return;`. With CI=true it throws instead, which
 * fails the test: CI must run every test.
 */
export function requireOrSkip(t: Pick<TestContext, 'skip'>, available: boolean, what: string): boolean {
  if (available) return true;
  if (process.env.CI === 'true') throw new Error(`required test program not available under CI=true: ${what}`);
  t.skip(`not available: ${what}`);
  return false;
}

/** requireOrSkip for pure-ftpd, with the reason in the message. */
export function requirePureFtpd(t: Pick<TestContext, 'skip'>): boolean {
  const reason = pureFtpdUnavailableReason();
  return requireOrSkip(t, reason === undefined, `pure-ftpd: ${reason ?? ''}`);
}


function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { recursive: true })) chownSync(path.join(dir, String(entry)), uid, gid);
}

/**
 * Hands a folder (recursively) to the FTP user (65534). startPureFtpd() does this for its root;
 * call it again after putting files into a running server's root behind its back, so that the
 * server can rename/delete them. No-op when not running as root.
 */
export function chownToFtpUser(dir: string): void {
  if (process.getuid?.() === 0) chownTree(dir, NOBODY, NOBODY);
}

/**
 * The login and root folder of a server with one virtual user mapped to 65534 (pure-ftpd,
 * proftpd): opts.user (default 'backup') and opts.password (default random), checked for the
 * passwd-style line both servers read; the root folder is made and handed (recursively) to 65534.
 */
export function prepareVirtualUser(server: string, opts: StartServerOptions): { user: string; password: string; root: string } {
  const user = opts.user ?? 'backup';
  const password = opts.password ?? randomPassword();
  if (/[:\s]/.test(user) || /[\r\n]/.test(password)) throw new Error(`${server} user must not contain ":" or spaces, password no newline`);
  const root = path.resolve(opts.root);
  mkdirSync(root, { recursive: true });
  chownTree(root, NOBODY, NOBODY);
  return { user, password, root };
}

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args[0] ?? ''} failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

export async function startPureFtpd(opts: StartPureFtpdOptions): Promise<PureFtpdHandle> {
  const reason = pureFtpdUnavailableReason();
  if (reason) throw new Error(`cannot start pure-ftpd: ${reason}`);
  const { user, password, root } = prepareVirtualUser('pure-ftpd', opts);

  return withStateDir('vmftp-pureftpd-', async (state) => {
    const hash = run('openssl', ['passwd', '-6', '-stdin'], `${password}\n`).trim();
    // user:hash:uid:gid:gecos:home/./ (the /./ chroots into home), then 12 empty limit fields.
    writeFileSync(path.join(state, 'pw.txt'), `${user}:${hash}:${NOBODY}:${NOBODY}::${root}/./::::::::::::\n`, { mode: 0o600 });
    const pdb = path.join(state, 'pw.pdb');
    run('pure-pw', ['mkdb', pdb, '-f', path.join(state, 'pw.txt')]);

    const args = (port: number) => {
      const pasvLow = 20000 + ((port * 7) % 120) * 100;
      return [
        '-S', `127.0.0.1,${port}`, '-4', '-H', '-E', '-A', '-j', '-D',
        '-l', `puredb:${pdb}`,
        '-p', `${pasvLow}:${pasvLow + 99}`, '-P', '127.0.0.1',
        '-c', '100', '-C', '100',
        ...(opts.extraArgs ?? []),
      ];
    };
    const daemonOptions: StartDaemonOptions = {
      name: 'pure-ftpd',
      program: PURE_FTPD,
      args,
      // Make sure the greeting is from our child, not from something else that took the port.
      banner: /Pure-FTPd/,
      portTakenOutput: /Address already in use/i,
    };
    let daemon = await startDaemon(daemonOptions);
    const { port } = daemon;
    const stopServer = stopThenRemove(() => daemon.stop(), state);
    let stopped = false;
    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      root,
      kind: 'pure-ftpd',
      async restart() {
        if (stopped) throw new Error('pure-ftpd: restart() after stop()');
        await daemon.stop();
        // Same port, root, user and state folder; the files in root stay as they are.
        daemon = await startDaemon({ ...daemonOptions, port });
      },
      stop() {
        stopped = true;
        return stopServer();
      },
    };
  });
}
