import { spawn } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { linuxStat } from '../../src/run/process-identity.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built command (package.json `bin`): integration tests run what users run. */
export const CLI = path.join(projectRoot, 'dist', 'vmftp.cjs');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  readonly pid: number;
  /** Resolves when the process has ended. */
  readonly done: Promise<CliResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `node dist/vmftp.cjs ...args`; the process is killed after `timeoutMs` so no test can hang. */
export function startVmftp(
  args: readonly string[],
  /** `closeStdout`: nobody reads stdout (`vmftp | head` after head ended): every write to it fails with EPIPE. */
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; closeStdout?: boolean; cwd?: string } = {},
): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  if (options.closeStdout === true) child.stdout.destroy();
  else child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { pid: child.pid ?? -1, done, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

/** Returns stdout and stderr together, for messages that may go to either and for assertion messages. */
export function output(run: Pick<CliResult, 'stdout' | 'stderr'>): string {
  return `${run.stdout}\n${run.stderr}`;
}

/** Returns an `-x` command that creates `marker`, through the shell as a user would write it: the marker tells whether it ran. */
export function markerCommand(marker: string): string {
  return `"${process.execPath}" -e "require('fs').writeFileSync(process.argv[1],'x')" "${marker}"`;
}

/** Returns the result of `vmftp ...args` once it has ended. */
export function runVmftp(args: readonly string[], options: Parameters<typeof startVmftp>[1] = {}): Promise<CliResult> {
  return startVmftp(args, options).done;
}

export interface TargetSpec {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly remoteDir?: string;
  readonly [field: string]: unknown;
}

/** Returns the host and port of `via` (the server itself, or a proxy in front of it) with the user and password of `server`: a target's login. */
export function loginTo(
  server: { readonly host: string; readonly port: number; readonly user: string; readonly password: string },
  via: { readonly host: string; readonly port: number } = server,
): TargetSpec & { password: string } {
  return { host: via.host, port: via.port, user: server.user, password: server.password };
}

/**
 * Writes `<dir>/vmftp.config.json` for one or more targets (password from the
 * env var VMFTP_TEST_PASSWORD_<TARGET>), with `maxAge: false` unless `extra` sets it, and
 * returns its path and the env the CLI needs.
 */
export async function writeConfig(
  dir: string,
  options: {
    source: string;
    targets: Record<string, TargetSpec & { password: string }>;
    vms?: Record<string, unknown>;
    keep?: unknown;
    extra?: Record<string, unknown>;
  },
): Promise<{ configPath: string; env: NodeJS.ProcessEnv; lockFile: string }> {
  const env: NodeJS.ProcessEnv = {};
  const targets: Record<string, unknown> = {};
  for (const [name, { password, ...target }] of Object.entries(options.targets)) {
    const variable = `VMFTP_TEST_PASSWORD_${name.toUpperCase()}`;
    env[variable] = password;
    targets[name] = { remoteDir: '/backups', ...target, password: { env: variable } };
  }
  const lockFile = path.join(dir, 'vmftp.lock');
  const config = {
    source: options.source,
    lockFile,
    ...(options.keep === undefined ? {} : { keep: options.keep }),
    targets,
    vms: options.vms ?? { '*': Object.keys(options.targets) },
    // The fixtures' backups are from 2012: tests of anything but maxAge set it through `extra`.
    maxAge: false,
    ...options.extra,
  };
  const configPath = path.join(dir, 'vmftp.config.json');
  await fs.writeFile(configPath, JSON.stringify(config, null, 2));
  return { configPath, env, lockFile };
}

/** A process as /proc shows it (Linux). */
export interface ProcessInfo {
  readonly pid: number;
  readonly command: string;
}

/** Returns the running (not zombie) processes whose parent is `parent`, from /proc (Linux only). */
export function childProcesses(parent: number): ProcessInfo[] {
  const children: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = linuxStat(Number(entry));
    if (stat !== undefined && stat.ppid === parent && stat.state !== 'Z') children.push({ pid: Number(entry), command: stat.command });
  }
  return children;
}

/** Returns true while process `pid` runs (a zombie, waiting to be reaped, has ended). */
export function isRunning(pid: number): boolean {
  const stat = linuxStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}
