/**
 * An in-process FTP server for tests: the npm package `ftp-srv` (4.6.3) on 127.0.0.1.
 *
 *   const server = await startFtpSrv({ root });   // user 'backup', random password
 *   after(() => server.stop());
 *   await client.access({ host: server.host, port: server.port, user: server.user, password: server.password });
 *
 * Control port and passive ports are ephemeral (port 0), so parallel test files never collide.
 * Known limits of ftp-srv (see docs/ftp-servers.md): no MLSD (clients fall back to LIST),
 * REST+STOR corrupts the file (APPE works), slow for big files. Use pure-ftpd for anything
 * where server fidelity matters.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { AddressInfo, Server } from 'node:net';
import { FtpSrv } from 'ftp-srv';

export type FtpServerKind = 'ftp-srv' | 'pure-ftpd';

/** What every test FTP server helper returns. */
export interface FtpServerHandle<K extends FtpServerKind = FtpServerKind> {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Absolute local path of the folder the FTP user sees as `/`. */
  readonly root: string;
  readonly kind: K;
  /** Stops the server and closes every connection. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** Folder served as `/`; created if missing. */
  root: string;
  /** Default 'backup'. */
  user?: string;
  /** Default: a random password, so a test that leaks it somewhere is easy to spot. */
  password?: string;
}

/** Password for tests that don't care: random per call. */
export function randomPassword(): string {
  return `pw-${randomBytes(6).toString('hex')}`;
}

// bunyan is ftp-srv's own dependency; resolve it from there so this works without hoisting.
const requireHere = createRequire(import.meta.url);
const bunyan = createRequire(requireHere.resolve('ftp-srv'))('bunyan') as {
  createLogger(options: { name: string; level: string }): unknown;
};

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

export async function startFtpSrv(opts: StartServerOptions): Promise<FtpServerHandle<'ftp-srv'>> {
  const root = path.resolve(opts.root);
  const user = opts.user ?? 'backup';
  const password = opts.password ?? randomPassword();
  mkdirSync(root, { recursive: true });

  // ftp-srv's constructor adds process-wide SIGTERM/SIGINT/SIGQUIT handlers that call
  // process.exit(0): that would turn a test runner's kill into a clean exit. Remove them;
  // the test owns the server's lifetime through stop().
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const srv = new FtpSrv({
    url: 'ftp://127.0.0.1:0',
    pasv_url: '127.0.0.1',
    // pasv_min = pasv_max = 0: every PASV/EPSV listens on an ephemeral port chosen by the OS.
    pasv_min: 0,
    pasv_max: 0,
    anonymous: false,
    greeting: 'vmftp test server (ftp-srv)',
    log: bunyan.createLogger({ name: 'ftp-srv', level: 'fatal' }),
  });
  for (const s of SIGNALS) {
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.removeListener(s, l);
  }

  srv.on('login', ({ username, password: given }, resolve, reject) => {
    if (username === user && given === password) resolve({ root });
    else reject(new Error('Login incorrect.')); // ftp-srv answers 530 <message>
  });

  await srv.listen();
  const netServer = (srv as unknown as { server: Server }).server;
  const port = (netServer.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    root,
    kind: 'ftp-srv',
    stop() {
      stopping ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            netServer.close();
            resolve();
          }, 3000);
        });
        await Promise.race([Promise.resolve(srv.close()).then(() => undefined, () => undefined), timeout]);
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
