/**
 * A C FTP server as a foreground child process on 127.0.0.1, for test/support/pure-ftpd.ts,
 * proftpd.ts and vsftpd.ts: start it on a free port (another one when something took the port
 * first; or on a given port, for a restart), wait for its 220 greeting (through TLS for implicit
 * FTPS), and stop it with its whole process group.
 *
 *   const daemon = await startDaemon({ name: 'proftpd', program, args: (port) => [...], banner: /ProFTPD/ });
 *   ...
 *   await daemon.stop();   // SIGTERM, then SIGKILL to the group; resolves once the master exited
 *
 * Servers a test forgot to stop are killed when the test process exits. withStateDir() and
 * stopThenRemove() manage the server's private folder (config, logs, pid file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { freePort } from './ports.js';

const BANNER_TIMEOUT_MS = 5000;

export interface StartDaemonOptions {
  /** For messages: 'proftpd', 'vsftpd'. */
  readonly name: string;
  readonly program: string;
  /** The command line for a control port; may write the config file for that port first. */
  readonly args: (port: number) => string[];
  /** Must match the greeting, so a greeting from whatever else took the port is not taken for ours. */
  readonly banner: RegExp;
  /** Read the greeting through TLS (implicit FTPS). */
  readonly implicitTls?: boolean;
  /** Extra text for a start failure: the server's own log file, read when it did not come up. */
  readonly diagnostics?: () => string;
  /**
   * When the server's output says that its port was taken (e.g. /Address already in use/): then
   * only this decides. Default: the server exited before greeting and the port is busy.
   */
  readonly portTakenOutput?: RegExp;
  /**
   * Listen on this port only: a restart on the port of an earlier start. Tried up to 11 times,
   * 100 ms apart, in case the old listener is still closing. Default: a free port (up to 5 ports
   * tried when something else takes one first).
   */
  readonly port?: number;
  /** More environment variables for the server (a password it reads from there, not from argv). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A running server. */
export interface Daemon {
  readonly port: number;
  /** Pid of the master process (also its process group). */
  readonly pid: number;
  /** Stops the process group and resolves once the master has exited. Safe to call more than once. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Process groups still running: killed when the test process exits without stop(). */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** Resolves with the greeting on 127.0.0.1:port (read through TLS when asked); rejects on error or after timeoutMs. */
export function readBanner(port: number, timeoutMs: number, implicitTls = false): Promise<string> {
  return new Promise((resolve, reject) => {
    // Only the greeting is read here: the certificate is the test's business, not the start-up check's.
    const sock = implicitTls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(() => done(new Error('no banner')), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      text += d;
      if (/^\d{3} .*\r?\n/m.test(text)) done(); // last line of a (multi-line) reply
    });
    sock.on('error', done);
    sock.on('close', () => done(new Error('closed before banner')));
  });
}

/** Resolves true when nothing can listen on 127.0.0.1:port right now. */
function portBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

async function killGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // group already gone
    }
  };
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000)))]);
  clearTimeout(timer);
  // Session processes may outlive the master: always finish the whole group.
  signal('SIGKILL');
  if (!ended) await Promise.race([exited, sleep(1000)]);
  liveGroups.delete(pgid);
}

async function spawnOnce(opts: StartDaemonOptions): Promise<Daemon | 'port-taken'> {
  const port = opts.port ?? (await freePort());
  const child = spawn(opts.program, opts.args(port), {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } }),
  });
  if (child.pid !== undefined) liveGroups.add(child.pid);
  child.unref();
  (child.stderr as unknown as net.Socket | null)?.unref?.();
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  child.on('error', (err) => {
    stderr += `\n${err.message}`;
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  let stopping: Promise<void> | undefined;
  const daemon: Daemon = {
    port,
    pid: child.pid ?? -1,
    stop() {
      stopping ??= killGroup(child);
      return stopping;
    },
  };
  const deadline = Date.now() + BANNER_TIMEOUT_MS;
  while (alive() && Date.now() < deadline) {
    let banner: string;
    try {
      banner = await readBanner(port, Math.max(100, deadline - Date.now()), opts.implicitTls);
    } catch {
      await sleep(20); // not listening yet
      continue;
    }
    if (opts.banner.test(banner) && alive()) return daemon;
    await daemon.stop(); // someone else answered on that port
    return 'port-taken';
  }
  const exitedEarly = !alive();
  await daemon.stop();
  await Promise.race([closed, sleep(500)]); // let stderr drain
  if (opts.portTakenOutput ? opts.portTakenOutput.test(stderr) : exitedEarly && (await portBusy(port))) return 'port-taken';
  const log = opts.diagnostics?.().trim() ?? '';
  throw new Error(
    `${opts.name} did not greet on 127.0.0.1:${port} within ${BANNER_TIMEOUT_MS} ms: ${[stderr.trim(), log].filter(Boolean).join('\n') || '(no output)'}`,
  );
}

/** Returns a started server; tries up to 5 control ports (see `port`). Rejects with the server's output when it does not come up. */
export async function startDaemon(opts: StartDaemonOptions): Promise<Daemon> {
  if (opts.port !== undefined) {
    for (let attempt = 0; ; attempt++) {
      const started = await spawnOnce(opts);
      if (started !== 'port-taken') return started;
      if (attempt >= 10) throw new Error(`${opts.name}: could not listen on 127.0.0.1:${opts.port} again`);
      await sleep(100);
    }
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = await spawnOnce(opts);
    if (started !== 'port-taken') return started;
  }
  throw new Error(`${opts.name}: could not get a free control port after 5 attempts`);
}

/** Returns the passive ports for a control port: a 100-port window in 10000-19999, apart from pure-ftpd's 20000-31999 windows. */
export function passiveWindow(port: number): { low: number; high: number } {
  const low = 10000 + ((port * 7) % 100) * 100;
  return { low, high: low + 99 };
}

/**
 * Runs start(state) with a new private folder for the server's config, logs and pid file
 * (mkdtemp under the OS temp folder, so 0700, named `<prefix>XXXXXX`), and removes the folder
 * when start() throws. A started server removes it when it stops: see stopThenRemove().
 */
export async function withStateDir<T>(prefix: string, start: (state: string) => Promise<T>): Promise<T> {
  const state = mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return await start(state);
  } catch (err) {
    rmSync(state, { recursive: true, force: true });
    throw err;
  }
}

/** Returns a handle's stop(): runs stop(), then removes dir; later calls return the first call's promise. */
export function stopThenRemove(stop: () => Promise<void>, dir: string): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stop().finally(() => rmSync(dir, { recursive: true, force: true })));
}
