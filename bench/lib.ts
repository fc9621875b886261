/**
 * Helpers of the benchmark (bench/run.ts): bounded child processes with wall time and peak RSS,
 * cleanup on exit and on signals, tool installation, random files, ports, statistics and
 * formatting. Nothing here is part of vmftp itself.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
export { freePort } from '../test/support/ports.js';

// ---------------------------------------------------------------------------------------------
// Child processes

export interface ChildSpec {
  readonly cmd: string;
  readonly args: readonly string[];
  /** The child (and its process group) is SIGKILLed after this long. */
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Written to stdin, which is then closed (e.g. curl's `-K -` config with the password). */
  readonly input?: string;
  /** The child's stderr goes to the bench's own (its progress lines) instead of into the result. */
  readonly passStderr?: boolean;
}

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** Wall time from spawn to the end of the process and its output, in ms. */
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Highest VmHWM seen while polling /proc/<pid>/status, in KiB (undefined if never read). */
  readonly peakRssKiB: number | undefined;
}

export interface RunningChild {
  readonly pid: number;
  readonly done: Promise<ChildResult>;
  /** SIGKILLs the child's process group now. */
  kill(): void;
}

/** Process groups of the children still running: killed by killAllChildren() on exit or signal. */
const liveGroups = new Set<number>();

const RSS_POLL_MS = 20;

function readHwmKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined; // gone, or a zombie without memory
  }
}

/**
 * Starts a child in its own process group (so a timeout or Ctrl-C also ends what it started, e.g.
 * the curl that `vmftp -u curl` runs), polls its peak RSS and resolves when it has ended.
 */
export function startChild(spec: ChildSpec): RunningChild {
  const started = performance.now();
  const child = spawn(spec.cmd, [...spec.args], {
    env: spec.env ?? process.env,
    cwd: spec.cwd,
    detached: true,
    stdio: [spec.input === undefined ? 'ignore' : 'pipe', 'pipe', spec.passStderr === true ? 'inherit' : 'pipe'],
  });
  const pid = child.pid ?? -1;
  if (pid > 0) liveGroups.add(pid);
  if (spec.input !== undefined) {
    child.stdin?.on('error', () => undefined); // a child that exits early closes its stdin
    child.stdin?.end(spec.input);
  }
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stdout.length < 64 << 20) stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  let peak: number | undefined;
  const poll = setInterval(() => {
    const hwm = pid > 0 ? readHwmKiB(pid) : undefined;
    if (hwm !== undefined && (peak === undefined || hwm > peak)) peak = hwm;
  }, RSS_POLL_MS);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pid);
  }, spec.timeoutMs);
  const done = new Promise<ChildResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearInterval(poll);
      clearTimeout(timer);
      // Whatever the child left behind in its group goes too.
      killGroup(pid);
      resolve({ code, signal, timedOut, ms: performance.now() - started, stdout, stderr, peakRssKiB: peak });
    };
    child.once('error', (error) => {
      stderr += String(error);
      finish(null, null);
    });
    child.once('close', finish);
  });
  return { pid, done, kill: () => killGroup(pid) };
}

export function runChild(spec: ChildSpec): Promise<ChildResult> {
  return startChild(spec).done;
}

function killGroup(pid: number): void {
  if (pid <= 0 || !liveGroups.has(pid)) return;
  liveGroups.delete(pid);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function killAllChildren(): void {
  for (const pid of [...liveGroups]) killGroup(pid);
}

/** Returns a one-line description of how a child ended, with the tail of its stderr. */
export function describeEnd(result: ChildResult): string {
  const how = result.timedOut ? 'timed out' : result.signal !== null ? `killed by ${result.signal}` : `exit ${result.code}`;
  const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
  return tail === '' ? how : `${how}: ${tail}`;
}

/** Runs a short helper command; throws with its stderr when it fails. */
export function runSync(cmd: string, args: readonly string[], timeoutMs = 60_000): string {
  const result = spawnSync(cmd, [...args], { encoding: 'utf8', timeout: timeoutMs });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${result.status ?? result.signal ?? result.error?.message}): ${result.stderr}`);
  }
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------
// Cleanup

const cleanups: (() => unknown)[] = [];
let cleaning: Promise<void> | undefined;

/** Registers a cleanup step; steps run in reverse order, each at most once, errors ignored. */
export function onCleanup(step: () => unknown): void {
  cleanups.push(step);
}

export function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    killAllChildren();
    while (cleanups.length > 0) {
      const step = cleanups.pop()!;
      try {
        await step();
      } catch (error) {
        process.stderr.write(`bench: cleanup step failed: ${String(error)}\n`);
      }
    }
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// Tools

export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return path.join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Installs the Debian packages of the missing programs when running as root with apt-get
 * (`apt-get update` once, only when something is missing). Returns the programs still missing.
 */
export async function ensurePrograms(needed: Readonly<Record<string, string>>, log: (line: string) => void): Promise<string[]> {
  const missing = () => Object.keys(needed).filter((program) => findProgram(program) === undefined);
  const before = missing();
  if (before.length === 0) return [];
  const packages = [...new Set(before.map((program) => needed[program]!))];
  if (process.getuid?.() !== 0 || findProgram('apt-get') === undefined) {
    log(`missing: ${before.join(', ')}; install with: apt-get install -y ${packages.join(' ')}`);
    return before;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing ${packages.join(' ')} (missing: ${before.join(', ')})`);
  const update = await runChild({ cmd: 'apt-get', args: ['update'], env, timeoutMs: 5 * 60_000 });
  if (update.code !== 0) log(`apt-get update: ${describeEnd(update)}`);
  const install = await runChild({ cmd: 'apt-get', args: ['install', '-y', ...packages], env, timeoutMs: 10 * 60_000 });
  if (install.code !== 0) log(`apt-get install: ${describeEnd(install)}`);
  return missing();
}

// ---------------------------------------------------------------------------------------------
// lftp

/**
 * Writes `<dir>/<name>.lftp`, an lftp script (mode 0600, so that the password is not in lftp's
 * argv) that logs into `server` over plain FTP, runs `commands` and quits; returns its path.
 */
export function lftpScript(
  dir: string,
  name: string,
  server: { readonly host: string; readonly port: number; readonly user: string; readonly password: string },
  commands: readonly string[],
): string {
  const file = path.join(dir, `${name}.lftp`);
  mkdirSync(dir, { recursive: true });
  const lines = [
    'set ftp:ssl-allow no',
    'set net:max-retries 1',
    'set net:timeout 60',
    'set xfer:clobber on',
    `open -u ${server.user},${server.password} -p ${server.port} ${server.host}`,
    ...commands,
    'quit',
  ];
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

// ---------------------------------------------------------------------------------------------
// Files

const RAND_CHUNK = 1 << 30; // `openssl rand` takes an int count

/** Writes `bytes` bytes of random data (openssl's DRBG, ~0.4 GB/s here) to `file`. */
export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const fd = openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= RAND_CHUNK) {
      const count = Math.min(left, RAND_CHUNK);
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn('openssl', ['rand', String(count)], { stdio: ['ignore', fd, 'pipe'] });
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.once('error', (error) => resolve({ code: null, stderr: String(error) }));
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
      });
      if (result.code !== 0) throw new Error(`openssl rand failed: ${result.stderr}`);
    }
  } finally {
    closeSync(fd);
  }
  const size = statSync(file).size;
  if (size !== bytes) throw new Error(`${file}: wrote ${size} bytes, wanted ${bytes}`);
}

/** Returns the number and total size of the regular files under `dir` (0, 0 when it does not exist). */
export function treeStats(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }).map(String);
  } catch {
    return { files, bytes };
  }
  for (const entry of entries) {
    const stats = statSync(path.join(dir, entry));
    if (stats.isFile()) {
      files++;
      bytes += stats.size;
    }
  }
  return { files, bytes };
}

export function fileSize(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** Flushes dirty pages so that one run's writeback does not slow down the next one. */
export async function syncDisks(): Promise<void> {
  await runChild({ cmd: 'sync', args: [], timeoutMs: 120_000 });
}

// ---------------------------------------------------------------------------------------------
// Ports


/** True when something listens on 127.0.0.1:port (read from /proc/net/tcp, without connecting). */
function isListening(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const table = readFileSync('/proc/net/tcp', 'utf8');
  return table.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[3] === '0A' && (fields[1] === `0100007F:${hexPort}` || fields[1] === `00000000:${hexPort}`);
  });
}

export async function waitListening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isListening(port)) {
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const MB = 1e6;
export const GiB = 1 << 30;
export const MiB = 1 << 20;

/** Throughput in MB/s (10^6 bytes per second). */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / MB / (ms / 1000);
}

/** Returns the load average of the last 1, 5 and 15 minutes, as `19.4 / 18.8 / 19.1`. */
export function loadText(): string {
  return os.loadavg().map((load) => fixed(load, 1)).join(' / ');
}

export function fixed(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function seconds(ms: number, digits = 2): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(digits)} s` : '–';
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : '–';
}

/** A target of the bench and how this run did against it. */
export interface Verdict {
  readonly target: string;
  readonly measured: string;
  readonly result: 'PASS' | 'FAIL' | 'SKIP';
}

/** A markdown table; cells are escaped for `|`. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}
