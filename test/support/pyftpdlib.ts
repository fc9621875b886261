/**
 * A server configured like those in the field: Debian's python3-pyftpdlib, subclassed by
 * test/support/pyftpdlib-server.py, as a foreground child process on 127.0.0.1.
 *
 *   test('...', async (t) => {
 *     if (!requirePyftpdlib(t)) return;             // skips locally, fails under CI=true
 *     const server = await startPyftpdlib({ root, masquerade: '10.255.255.1', remove: ['EPSV'] });
 *     t.after(() => server.stop());
 *     ...
 *   });
 *
 * - masquerade: PASV names this address (a NAS behind NAT); remove: these commands answer
 *   `500 Command not understood` and leave FEAT; msdos: LIST lines in the MS-DOS / IIS format;
 *   maxConsPerIp: one more connection from 127.0.0.1 gets `421 Too many connections`;
 *   refuseListing: listing these folders answers `550 Permission denied.`, CWD into them works.
 *   pyftpdlib itself answers `OPTS UTF8` with 501 and MKD of an existing folder with 550.
 * - Debian's /usr/bin/python3, not whatever python3 comes first on PATH (pyenv's has no pyftpdlib).
 * - The password reaches the server through its environment, never its command line.
 * - Runs as the test's user (root here): files it writes belong to that user, no chown needed.
 * - Control port: a free ephemeral port; passive ports: a 100-port window in 10000-19999.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { passiveWindow, startDaemon } from './daemon.js';
import { randomPassword, type FtpServerHandle, type StartServerOptions } from './ftp-srv.js';
import { requireOrSkip } from './pure-ftpd.js';

export const DEBIAN_PYTHON = '/usr/bin/python3';
const SERVER_SCRIPT = fileURLToPath(new URL('./pyftpdlib-server.py', import.meta.url));

export interface StartPyftpdlibOptions extends StartServerOptions {
  /** The address PASV names instead of 127.0.0.1. */
  readonly masquerade?: string;
  /** Commands the server does not know: 'SIZE', 'EPSV', 'MLSD', 'MLST', 'FEAT', 'APPE', 'REST'... */
  readonly remove?: readonly string[];
  /** LIST in the MS-DOS / IIS format. */
  readonly msdos?: boolean;
  /** Connections allowed from one address (default: no limit). */
  readonly maxConsPerIp?: number;
  /** Folders (as the user sees them, e.g. `/backups/Homer`) whose listing answers 550 while CWD into them works. */
  readonly refuseListing?: readonly string[];
}

/** A running pyftpdlib server. */
export interface PyftpdlibHandle extends Omit<FtpServerHandle, 'kind'> {
  readonly kind: 'pyftpdlib';
}

/** Why pyftpdlib tests cannot run on this machine, or undefined when they can. */
export function pyftpdlibUnavailableReason(): string | undefined {
  if (!existsSync(DEBIAN_PYTHON)) return `${DEBIAN_PYTHON} is missing (apt-get install python3-pyftpdlib)`;
  const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import pyftpdlib'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `python3-pyftpdlib is missing (run scripts/ensure-test-deps.sh as root): ${probe.stderr.trim()}`;
  return undefined;
}

/** requireOrSkip for pyftpdlib, with the reason in the message. */
export function requirePyftpdlib(t: Pick<TestContext, 'skip'>): boolean {
  const reason = pyftpdlibUnavailableReason();
  return requireOrSkip(t, reason === undefined, `pyftpdlib: ${reason ?? ''}`);
}

/** Returns a started server (see the header); stop() ends it. */
export async function startPyftpdlib(opts: StartPyftpdlibOptions): Promise<PyftpdlibHandle> {
  const root = path.resolve(opts.root);
  mkdirSync(root, { recursive: true });
  const user = opts.user ?? 'backup';
  const password = opts.password ?? randomPassword();
  const daemon = await startDaemon({
    name: 'pyftpdlib',
    program: DEBIAN_PYTHON,
    args: (port) => {
      const { low, high } = passiveWindow(port);
      return [
        SERVER_SCRIPT,
        '--root', root,
        '--port', String(port),
        '--user', user,
        '--passive-ports', `${low}-${high}`,
        ...(opts.masquerade === undefined ? [] : ['--masquerade', opts.masquerade]),
        ...(opts.remove === undefined ? [] : ['--remove', opts.remove.join(',')]),
        ...(opts.msdos === true ? ['--msdos'] : []),
        ...(opts.maxConsPerIp === undefined ? [] : ['--max-cons-per-ip', String(opts.maxConsPerIp)]),
        ...(opts.refuseListing === undefined ? [] : ['--refuse-listing', opts.refuseListing.join(',')]),
      ];
    },
    banner: /vmftp test server \(pyftpdlib\)/,
    portTakenOutput: /Address already in use/i,
    env: { VMFTP_PYFTPD_PASSWORD: password },
  });
  return { host: '127.0.0.1', port: daemon.port, user, password, root, kind: 'pyftpdlib', stop: () => daemon.stop() };
}
