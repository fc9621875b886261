/**
 * `npm run bench`: vmftp against curl, lftp and the wire, on 127.0.0.1, against pure-ftpd from
 * Debian started and stopped here (issue 7). Not part of `npm test`.
 *
 *   npm run bench                     build, then every section (~25 min under load, of which ~7 for
 *                                     sections 1-5); writes bench/RESULTS.md
 *   npm run bench -- --big            also the peak RSS of a 6 GiB upload (+12 GB of disk, ~2 min)
 *   npm run bench -- --reps 5         repetitions per measurement (default 3; medians are reported)
 *   npm run bench -- --only upload,plan   some sections only (upload, rss, inventory, plan, nightly,
 *                                     links, small, bwlimit, deadline); prints the tables but leaves
 *                                     bench/RESULTS.md alone
 *   npm run bench -- --only links,small,bwlimit,deadline --reps 1 --quick
 *                                     the short version of issue 14's shaped sections (~8 min): the
 *                                     nightly set at 100 Mbit/s (30 MB vmdks with --quick) and 1 Gbit/s,
 *                                     1000 small files over a 20 ms round trip, --bwlimit's accuracy
 *                                     and a timetable change, the deadline and the next run
 *                                     (bench/shaped.ts and bench/window.ts, in `unshare -n`);
 *                                     --quick leaves bench/RESULTS.md alone
 *   npm run bench -- --only upload --methods curl,internal,ceiling
 *                                     some clients of the upload section only (ceiling, curl, lftp,
 *                                     internal, vmftp-curl, vmftp-ncftpput); leaves RESULTS.md alone
 *
 * Needs root (Debian's pure-ftpd refuses logins otherwise) and ~15 GB free in the temp folder.
 * Installs lftp socat curl ncftp pure-ftpd iproute2 util-linux with apt-get when one is missing. Every child has a
 * time limit; servers, children and temp files are removed at the end, on error and on Ctrl-C.
 * Exit code: 0 every target PASS (or SKIP), 1 some target FAIL, 2 the bench could not run.
 *
 * MB = 10^6 bytes everywhere (throughput and RSS). Wall times of the CLIs include their process
 * start: that is what a scheduled task pays.
 */
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LocalBackup, PlanSettings, RemoteBackup, TargetInventory } from '../src/core/model.js';
import { planRun } from '../src/core/plan.js';
import { CLI, writeConfig } from '../test/support/cli.js';
import type { FtpServerHandle } from '../test/support/ftp-srv.js';
import { chownToFtpUser, pureFtpdUnavailableReason, startPureFtpd } from '../test/support/pure-ftpd.js';
import { beforeAndAfter } from './before.js';
import { PARENT_NETNS_ENV, SHAPED_SECTIONS, type ShapedResult, type ShapedSection } from './shaped.js';
import {
  GiB,
  MB,
  MiB,
  describeEnd,
  ensurePrograms,
  fileSize,
  fixed,
  freePort,
  loadText,
  lftpScript,
  mbPerSecond,
  median,
  onCleanup,
  ratio,
  runChild,
  runCleanups,
  runSync,
  seconds,
  startChild,
  syncDisks,
  table,
  treeStats,
  waitListening,
  writeRandomFile,
  type ChildResult,
  type Verdict,
} from './lib.js';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(PROJECT, 'bench', 'RESULTS.md');

const SECTIONS = ['upload', 'rss', 'inventory', 'plan', 'nightly', ...SHAPED_SECTIONS] as const;
type Section = (typeof SECTIONS)[number];
/** The clients of the upload section, by the id of their runner (uploadRunners). */
const UPLOAD_METHODS = ['ceiling', 'curl', 'lftp', 'internal', 'vmftp-curl', 'vmftp-ncftpput'] as const;

const STAMP = '2024-05-01-013000';
const UPLOAD_BYTES = 2 * GiB;
const SMALL_BYTES = 512 * MiB;
const BIG_BYTES = 6 * GiB;
const RSS_LIMIT_MB = 150;
/** "The same peak" for two file sizes: within this many MB. */
const RSS_SAME_MB = 15;
const INVENTORY = { vms: 200, stamps: 10, files: 5 } as const;
const PLAN = { vms: 1000, stamps: 100 } as const;
const NIGHTLY = { vms: 20, files: 3, bytes: 50 * MB } as const;
/** The same run over links: each server's uploads throttled (pure-ftpd -T, KiB/s), first `vms` VMs only. */
const LINK = { vms: 5, kibPerSecond: 100 * 1024 } as const;

/** Time limits of one child: a 2 GiB upload at a dreadful 10 MB/s still fits. */
const UPLOAD_TIMEOUT_MS = 5 * 60_000;
const SHORT_TIMEOUT_MS = 2 * 60_000;
/** The whole bench, whatever happens. */
const OVERALL_LIMIT_MS = 60 * 60_000;

const PROGRAMS = {
  lftp: 'lftp',
  socat: 'socat',
  curl: 'curl',
  ncftpput: 'ncftp',
  'pure-ftpd': 'pure-ftpd',
  'pure-pw': 'pure-ftpd',
  openssl: 'openssl',
  // The shaped links (bench/shaped.ts): a private network namespace, its loopback shaped with tc.
  unshare: 'util-linux',
  ip: 'iproute2',
  tc: 'iproute2',
} as const;
/** The shaped sections, in their namespace, whatever happens. */
const SHAPED_TIMEOUT_MS = 30 * 60_000;
/**
 * Taken out of the environment the clients inherit, when set. This machine sets NODE_EXTRA_CA_CERTS
 * (a proxy's bundle of 144 CA certificates), and every node process then reads and parses it before
 * it runs a line: `node -e 0` takes 0.069 s of CPU with it, 0.028 s without, and a vmftp upload run
 * 0.86x its CPU without it. lftp and curl never read it; a scheduled task has it only where an
 * administrator set it for the whole system, and vmftp takes a target's CA from its own `ca`.
 */
const DROPPED_ENV = ['NODE_EXTRA_CA_CERTS'] as const;

// ---------------------------------------------------------------------------------------------

interface Options {
  readonly big: boolean;
  /** `--quick`: the nightly set at 100 Mbit/s with 30 MB vmdks (bench/shaped.ts). */
  readonly quick: boolean;
  readonly reps: number;
  readonly sections: ReadonlySet<Section>;
  /** `--methods`: the upload section's clients to run (default all). */
  readonly methods: ReadonlySet<string>;
  readonly writeResults: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      big: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      reps: { type: 'string', default: '3' },
      only: { type: 'string' },
      methods: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      `usage: npm run bench [-- --big] [--quick] [--reps N] [--only ${SECTIONS.join(',')}] [--methods ${UPLOAD_METHODS.join(',')}]\n`,
    );
    process.exit(0);
  }
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new UsageError('--reps: a whole number from 1 to 20');
  const only = values.only?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of only ?? []) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new UsageError(`--only: unknown section ${name} (${SECTIONS.join(', ')})`);
  }
  const methods = values.methods?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of methods ?? []) {
    if (!(UPLOAD_METHODS as readonly string[]).includes(name)) throw new UsageError(`--methods: unknown client ${name} (${UPLOAD_METHODS.join(', ')})`);
  }
  if (methods !== undefined && methods.length === 0) throw new UsageError('--methods: name at least one client');
  return {
    big: values.big === true,
    quick: values.quick === true,
    reps,
    sections: new Set((only ?? SECTIONS) as Section[]),
    methods: new Set(methods ?? UPLOAD_METHODS),
    // A partial or quick run must not overwrite the full one's record.
    writeResults: only === undefined && methods === undefined && values.quick !== true,
  };
}

class UsageError extends Error {}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

type Server = FtpServerHandle<'pure-ftpd'>;

async function startServer(root: string, extraArgs: string[] = []): Promise<Server> {
  const server = await startPureFtpd({ root, extraArgs });
  onCleanup(() => server.stop());
  return server;
}

function rm(target: string): void {
  rmSync(target, { recursive: true, force: true });
}

/** Removes what the uploads left in a server root, then flushes the disk for the next run. */
async function clearUploads(root: string, names: readonly string[]): Promise<void> {
  for (const name of names) rm(path.join(root, name));
  await syncDisks();
}

// ---------------------------------------------------------------------------------------------
// vmftp CLI

interface VmftpConfig {
  readonly configPath: string;
  readonly env: NodeJS.ProcessEnv;
}

async function vmftpConfig(
  work: string,
  name: string,
  source: string,
  targets: Readonly<Record<string, { server: Server; remoteDir: string }>>,
): Promise<VmftpConfig> {
  const dir = path.join(work, 'cfg', name);
  mkdirSync(dir, { recursive: true });
  const specs = Object.fromEntries(
    Object.entries(targets).map(([target, { server, remoteDir }]) => [
      target,
      { host: server.host, port: server.port, user: server.user, password: server.password, remoteDir },
    ]),
  );
  const { configPath, env } = await writeConfig(dir, { source, targets: specs });
  return { configPath, env };
}

function runVmftp(config: VmftpConfig, args: readonly string[], timeoutMs: number): Promise<ChildResult> {
  return runChild({
    cmd: process.execPath,
    args: [CLI, '-c', config.configPath, ...args],
    env: { ...process.env, NO_COLOR: '1', ...config.env },
    timeoutMs,
  });
}

interface ReportJson {
  report?: { exitCode?: number; targets?: { target: string; error?: string; actions?: { action: string; status: string; bytes: number; durationMs: number }[] }[] };
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Exit 2 with "not available": the backend is not in this build yet. */
function notAvailable(result: ChildResult): boolean {
  return result.code === 2 && /not available/i.test(result.stderr);
}

// ---------------------------------------------------------------------------------------------
// 1 + 2. Uploads

interface Sample {
  readonly ms: number;
  readonly peakRssKiB: number | undefined;
  /** The upload action's own duration from vmftp's --json report (ensure folder, send, verify, rename). */
  readonly actionMs?: number;
}

interface MethodResult {
  readonly id: string;
  readonly label: string;
  readonly samples: Sample[];
  skip?: string;
  fail?: string;
}

interface UploadContext {
  readonly work: string;
  readonly server: Server;
  readonly reps: number;
}

type Runner = (source: string, bytes: number) => Promise<Sample | { skip: string } | { fail: string }>;

const UPLOADED_NAMES = ['up', 'curl.bin', 'lftp.bin', 'ceiling.bin'];

/** One VM, one backup, one file: the source tree the vmftp runs send. */
async function makeUploadTree(work: string, name: string, bytes: number): Promise<{ root: string; file: string; relative: string }> {
  const root = path.join(work, 'data', name);
  const relative = `VM01/${STAMP}/VM01-flat.vmdk`;
  const file = path.join(root, ...relative.split('/'));
  mkdirSync(path.dirname(file), { recursive: true });
  log(`writing ${fixed(bytes / MiB)} MiB of random data to ${file}`);
  await writeRandomFile(file, bytes);
  await syncDisks();
  return { root, file, relative };
}

function vmftpRunner(config: VmftpConfig, method: string, serverRoot: string, relative: string): Runner {
  return async (_source, bytes) => {
    const result = await runVmftp(config, ['--json', '-u', method], UPLOAD_TIMEOUT_MS);
    if (notAvailable(result)) return { skip: `vmftp -u ${method}: ${result.stderr.trim().split('\n')[0] ?? ''}` };
    const uploaded = fileSize(path.join(serverRoot, 'up', ...relative.split('/')));
    if (result.code !== 0 || uploaded !== bytes) return { fail: `vmftp -u ${method} ${describeEnd(result)}; ${uploaded ?? 'no'} bytes on the server` };
    const action = parseJson<ReportJson>(result.stdout)?.report?.targets?.[0]?.actions?.find((candidate) => candidate.action === 'upload');
    return { ms: result.ms, peakRssKiB: result.peakRssKiB, ...(action === undefined ? {} : { actionMs: action.durationMs }) };
  };
}

function uploadRunners(context: UploadContext, config: VmftpConfig, relative: string): { id: string; label: string; run: Runner }[] {
  const { server, work } = context;
  const root = server.root;
  return [
    {
      id: 'ceiling',
      label: 'ceiling: socat, 1 MiB buffers, TCP into a file in the same folder',
      run: async (source, bytes) => {
        const dest = path.join(root, 'ceiling.bin');
        const port = await freePort();
        const sink = startChild({
          cmd: 'socat',
          args: ['-b1048576', '-u', `TCP-LISTEN:${port},reuseaddr,bind=127.0.0.1`, `OPEN:${dest},creat,trunc`],
          timeoutMs: UPLOAD_TIMEOUT_MS,
        });
        try {
          await waitListening(port, 5000);
        } catch (error) {
          sink.kill();
          return { fail: `socat listener: ${String(error)}` };
        }
        const started = performance.now();
        const send = startChild({
          cmd: 'socat',
          args: ['-b1048576', '-u', `OPEN:${source},rdonly`, `TCP:127.0.0.1:${port}`],
          timeoutMs: UPLOAD_TIMEOUT_MS,
        });
        const [sent, received] = await Promise.all([send.done, sink.done]);
        const ms = performance.now() - started;
        const size = fileSize(dest);
        if (sent.code !== 0 || received.code !== 0 || size !== bytes) {
          return { fail: `socat: ${describeEnd(sent)} / ${describeEnd(received)}; ${size ?? 'no'} bytes written` };
        }
        return { ms, peakRssKiB: sent.peakRssKiB };
      },
    },
    {
      id: 'curl',
      label: 'bare `curl -T` (password via `-K -`)',
      run: async (source, bytes) => {
        const result = await runChild({
          cmd: 'curl',
          args: ['-sS', '--fail', '--max-time', String(UPLOAD_TIMEOUT_MS / 1000), '-K', '-', '-T', source, `ftp://${server.host}:${server.port}/curl.bin`],
          input: `user = "${server.user}:${server.password}"\n`,
          timeoutMs: UPLOAD_TIMEOUT_MS,
        });
        const size = fileSize(path.join(root, 'curl.bin'));
        if (result.code !== 0 || size !== bytes) return { fail: `curl ${describeEnd(result)}; ${size ?? 'no'} bytes on the server` };
        return { ms: result.ms, peakRssKiB: result.peakRssKiB };
      },
    },
    {
      id: 'lftp',
      label: '`lftp` put (ftp:ssl-allow no)',
      run: async (source, bytes) => {
        const script = lftpScript(path.join(work, 'cfg'), 'put', server, [`put ${source} -o /lftp.bin`]);
        const result = await runChild({ cmd: 'lftp', args: ['-f', script], timeoutMs: UPLOAD_TIMEOUT_MS });
        const size = fileSize(path.join(root, 'lftp.bin'));
        if (result.code !== 0 || size !== bytes) return { fail: `lftp ${describeEnd(result)}; ${size ?? 'no'} bytes on the server` };
        return { ms: result.ms, peakRssKiB: result.peakRssKiB };
      },
    },
    { id: 'internal', label: '`vmftp -u internal`', run: vmftpRunner(config, 'internal', root, relative) },
    { id: 'vmftp-curl', label: '`vmftp -u curl`', run: vmftpRunner(config, 'curl', root, relative) },
    { id: 'vmftp-ncftpput', label: '`vmftp -u ncftpput`', run: vmftpRunner(config, 'ncftpput', root, relative) },
  ];
}

/** Runs every method `reps` times, interleaved (the order rotates per round), cleaning up after each run. */
async function measureUploads(
  context: UploadContext,
  runners: readonly { id: string; label: string; run: Runner }[],
  source: string,
  bytes: number,
  what: string,
): Promise<MethodResult[]> {
  const results = runners.map((runner): MethodResult => ({ id: runner.id, label: runner.label, samples: [] }));
  for (let round = 0; round < context.reps; round++) {
    const order = runners.map((_, index) => (index + round) % runners.length);
    for (const index of order) {
      const runner = runners[index]!;
      const result = results[index]!;
      if (result.skip !== undefined || result.fail !== undefined) continue;
      const outcome = await runner.run(source, bytes);
      await clearUploads(context.server.root, UPLOADED_NAMES);
      if ('skip' in outcome) {
        result.skip = outcome.skip;
        log(`${what} ${runner.id}: SKIP (${outcome.skip})`);
      } else if ('fail' in outcome) {
        result.fail = outcome.fail;
        log(`${what} ${runner.id}: FAILED (${outcome.fail})`);
      } else {
        result.samples.push(outcome);
        log(`${what} ${runner.id} round ${round + 1}: ${seconds(outcome.ms)} = ${fixed(mbPerSecond(bytes, outcome.ms))} MB/s, peak RSS ${fixed(((outcome.peakRssKiB ?? Number.NaN) * 1024) / MB)} MB`);
      }
    }
  }
  return results;
}

function rssRow(bytes: number, label: string, result: MethodResult): NonNullable<Results['rss']>[number] {
  return {
    bytes,
    label,
    peaksKiB: result.samples.flatMap((sample) => (sample.peakRssKiB === undefined ? [] : [sample.peakRssKiB])),
    ...(result.fail === undefined ? {} : { fail: result.fail }),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Inventory

interface InventoryResult {
  readonly vmftpMs: number[];
  readonly lftpMs: number[];
  readonly startMs: number[];
  fail?: string;
}

async function measureInventory(work: string, server: Server, reps: number): Promise<InventoryResult> {
  const root = path.join(server.root, 'inv');
  let files = 0;
  for (let vm = 1; vm <= INVENTORY.vms; vm++) {
    const name = `VM${String(vm).padStart(3, '0')}`;
    for (let stamp = 0; stamp < INVENTORY.stamps; stamp++) {
      const dir = path.join(root, name, stampOf(stamp));
      mkdirSync(dir, { recursive: true });
      for (let file = 0; file < INVENTORY.files; file++) {
        writeFileSync(path.join(dir, `${name}-${file}.vmdk`), Buffer.alloc(100 + ((vm * 31 + stamp * 7 + file) % 4000), 120));
        files++;
      }
    }
  }
  chownToFtpUser(root);
  const empty = path.join(work, 'data', 'empty');
  mkdirSync(empty, { recursive: true });
  const config = await vmftpConfig(work, 'inventory', empty, { nas: { server, remoteDir: '/inv' } });
  const script = lftpScript(path.join(work, 'cfg'), 'find', server, ['find /inv']);
  const result: InventoryResult = { vmftpMs: [], lftpMs: [], startMs: [] };
  log(`inventory: ${INVENTORY.vms} VMs x ${INVENTORY.stamps} backups x ${INVENTORY.files} files = ${files} files`);

  for (let round = 0; round < reps; round++) {
    const display = await runVmftp(config, ['-d', '--json'], SHORT_TIMEOUT_MS);
    const shown = parseJson<{ targets?: { vms?: { backups?: { files: number }[] }[] }[] }>(display.stdout)?.targets?.[0]?.vms ?? [];
    const backups = shown.flatMap((vm) => vm.backups ?? []);
    const listed = backups.reduce((sum, backup) => sum + backup.files, 0);
    if (display.code !== 0 || shown.length !== INVENTORY.vms || backups.length !== INVENTORY.vms * INVENTORY.stamps || listed !== files) {
      result.fail = `vmftp -d ${describeEnd(display)}; saw ${shown.length} VMs, ${backups.length} backups, ${listed} files`;
      return result;
    }
    result.vmftpMs.push(display.ms);

    const find = await runChild({ cmd: 'lftp', args: ['-f', script], timeoutMs: SHORT_TIMEOUT_MS });
    const found = find.stdout.split('\n').filter((line) => line !== '' && !line.endsWith('/')).length;
    if (find.code !== 0 || found !== files) {
      result.fail = `lftp find ${describeEnd(find)}; ${found} files`;
      return result;
    }
    result.lftpMs.push(find.ms);

    // The fixed cost of any vmftp run: node, module loading, --help.
    const help = await runChild({ cmd: process.execPath, args: [CLI, '--help'], timeoutMs: SHORT_TIMEOUT_MS });
    if (help.code === 0) result.startMs.push(help.ms);
    log(`inventory round ${round + 1}: vmftp -d ${seconds(display.ms)}, lftp find ${seconds(find.ms)}, vmftp --help ${seconds(help.ms)}`);
  }
  rm(root);
  return result;
}

// ---------------------------------------------------------------------------------------------
// 4. Plan

/** `yyyy-MM-dd-HHmmss` of day `index` after 2015-01-01, 01:30:00 (one backup a night). */
function stampOf(index: number): string {
  const date = new Date(Date.UTC(2015, 0, 1, 1, 30, 0) + index * 86_400_000);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}-${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}`;
}

interface PlanResult {
  /** `local + remote` as text. */
  readonly backups: string;
  readonly actions: number;
  readonly ms: number[];
  readonly gfsMs: number[];
}

function measurePlan(reps: number): PlanResult {
  const files = [
    { path: 'disk1-flat.vmdk', size: 40 * GiB },
    { path: 'disk1.vmdk', size: 512 },
    { path: 'vm.vmx', size: 3100 },
  ];
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  const local: LocalBackup[] = [];
  const remote: RemoteBackup[] = [];
  for (let vm = 0; vm < PLAN.vms; vm++) {
    const name = `VM${String(vm).padStart(4, '0')}`;
    for (let stamp = 0; stamp < PLAN.stamps; stamp++) {
      const at = stampOf(stamp);
      local.push({ vm: name, stamp: at, dir: `/backups/${name}/${at}`, files, bytes });
      // The server holds every backup but the 3 newest: one of those half sent, one older one incomplete.
      if (stamp < PLAN.stamps - 3) {
        const incomplete = stamp === PLAN.stamps - 10;
        remote.push({ vm: name, stamp: at, partial: false, files: incomplete ? files.slice(1) : files, bytes });
      } else if (stamp === PLAN.stamps - 3) {
        remote.push({ vm: name, stamp: at, partial: true, files: [{ path: 'disk1-flat.vmdk', size: 20 * GiB }], bytes: 20 * GiB });
      }
    }
  }
  const inventories: TargetInventory[] = [{ target: 'nas', remoteDir: '/vm', backups: remote, strays: [] }];
  const settings = (keep: PlanSettings['keep']): PlanSettings => ({ keep, targetKeep: {}, vms: { '*': { targets: ['nas'] } }, deleteFirst: false });
  const time = (keep: PlanSettings['keep']) => {
    const started = performance.now();
    const plan = planRun({ local, inventories, settings: settings(keep) });
    const ms = performance.now() - started;
    const actions = plan.targets.reduce((sum, target) => sum + target.vms.reduce((n, vm) => n + vm.actions.length, 0), 0);
    return { ms, actions };
  };
  const ms: number[] = [];
  const gfsMs: number[] = [];
  let actions = 0;
  for (let round = 0; round < reps; round++) {
    const run = time(3);
    actions = run.actions;
    ms.push(run.ms);
    gfsMs.push(time({ last: 3, daily: 7, weekly: 4, monthly: 12, yearly: 3 }).ms);
    log(`plan round ${round + 1}: keep 3 ${fixed(run.ms)} ms (${run.actions} actions), GFS ${fixed(gfsMs[round]!)} ms`);
  }
  if (actions !== PLAN.vms * PLAN.stamps) throw new Error(`plan: expected ${PLAN.vms * PLAN.stamps} actions, got ${actions}`);
  return { backups: `${local.length} + ${remote.length}`, actions, ms, gfsMs };
}

// ---------------------------------------------------------------------------------------------
// 5. Nightly run to two targets

interface NightlyResult {
  readonly bothMs: number[];
  readonly oneThenOtherMs: number[];
  readonly aMs: number[];
  readonly bMs: number[];
  /** Reference: bare curl, one process per target, uploading the same files. */
  readonly curlBothMs: number[];
  readonly curlOneThenOtherMs: number[];
  /** Both at once / one after the other again, with every server's uploads throttled to LINK.kibPerSecond. */
  readonly linkBothMs: number[];
  readonly linkOneThenOtherMs: number[];
  readonly bytes: number;
  fail?: string;
}

async function measureNightly(work: string, reps: number): Promise<NightlyResult> {
  const source = path.join(work, 'data', 'nightly');
  const files: string[] = [];
  log(`nightly: writing ${NIGHTLY.vms} VMs x ${NIGHTLY.files} files x ${NIGHTLY.bytes / MB} MB of random data`);
  for (let vm = 1; vm <= NIGHTLY.vms; vm++) {
    const name = `VM${String(vm).padStart(2, '0')}`;
    mkdirSync(path.join(source, name, STAMP), { recursive: true });
    for (let file = 1; file <= NIGHTLY.files; file++) {
      const relative = `${name}/${STAMP}/${name}-disk${file}-flat.vmdk`;
      await writeRandomFile(path.join(source, ...relative.split('/')), NIGHTLY.bytes);
      files.push(relative);
    }
  }
  const total = files.length * NIGHTLY.bytes;
  await syncDisks();
  const a = await startServer(path.join(work, 'nightly-a'));
  const b = await startServer(path.join(work, 'nightly-b'));
  const both = await vmftpConfig(work, 'nightly-both', source, { a: { server: a, remoteDir: '/up' }, b: { server: b, remoteDir: '/up' } });
  const onlyA = await vmftpConfig(work, 'nightly-a', source, { a: { server: a, remoteDir: '/up' } });
  const onlyB = await vmftpConfig(work, 'nightly-b', source, { b: { server: b, remoteDir: '/up' } });
  const result: NightlyResult = { bothMs: [], oneThenOtherMs: [], aMs: [], bMs: [], curlBothMs: [], curlOneThenOtherMs: [], linkBothMs: [], linkOneThenOtherMs: [], bytes: total };

  const check = (runs: readonly ChildResult[], servers: readonly Server[], what: string): boolean => {
    const held = servers.map((server) => treeStats(path.join(server.root, 'up')));
    const ok = runs.every((run) => run.code === 0) && held.every((stats) => stats.files === files.length && stats.bytes === total);
    if (!ok) {
      const ends = runs.map(describeEnd).join(' / ');
      result.fail = `${what}: ${ends}; servers hold ${held.map((stats) => `${stats.files} files/${stats.bytes} bytes`).join(', ')}`;
    }
    return ok;
  };
  const clear = () => Promise.all([a.root, b.root].map((root) => clearUploads(root, ['up'])));
  // One curl per target sends every file over one connection, as a shell script around curl would.
  const curl = (server: Server) =>
    runChild({
      cmd: 'curl',
      args: ['-sS', '--fail', '--ftp-create-dirs', '-K', '-', ...files.flatMap((file) => ['-T', path.join(source, ...file.split('/')), `ftp://${server.host}:${server.port}/up/${file}`])],
      input: `user = "${server.user}:${server.password}"\n`,
      timeoutMs: UPLOAD_TIMEOUT_MS,
    });
  const timed = async (task: () => Promise<ChildResult[]>): Promise<{ ms: number; runs: ChildResult[] }> => {
    const started = performance.now();
    const runs = await task();
    return { ms: performance.now() - started, runs };
  };

  // Each step leaves both servers empty again; the order of the steps rotates from round to round.
  const steps: (() => Promise<boolean>)[] = [
    async () => {
      const run = await runVmftp(both, ['--json'], UPLOAD_TIMEOUT_MS);
      if (!check([run], [a, b], 'vmftp, both targets in one run')) return false;
      result.bothMs.push(run.ms);
      return true;
    },
    async () => {
      // Back to back, as a nightly script would run them: no sync in between.
      const first = await runVmftp(onlyA, ['--json'], UPLOAD_TIMEOUT_MS);
      const second = await runVmftp(onlyB, ['--json'], UPLOAD_TIMEOUT_MS);
      if (!check([first, second], [a, b], 'vmftp, one target per run')) return false;
      result.aMs.push(first.ms);
      result.bMs.push(second.ms);
      result.oneThenOtherMs.push(first.ms + second.ms);
      return true;
    },
    async () => {
      const run = await timed(() => Promise.all([curl(a), curl(b)]));
      if (!check(run.runs, [a, b], 'curl, both targets at once')) return false;
      result.curlBothMs.push(run.ms);
      return true;
    },
    async () => {
      const run = await timed(async () => [await curl(a), await curl(b)]);
      if (!check(run.runs, [a, b], 'curl, one target after the other')) return false;
      result.curlOneThenOtherMs.push(run.ms);
      return true;
    },
  ];
  for (let round = 0; round < reps; round++) {
    for (let index = 0; index < steps.length; index++) {
      const ok = await steps[(index + round) % steps.length]!();
      await clear();
      if (!ok) return result;
    }
    log(
      `nightly round ${round + 1}: vmftp both at once ${seconds(result.bothMs[round]!)}, one after the other ` +
        `${seconds(result.aMs[round]!)} + ${seconds(result.bMs[round]!)}; curl ${seconds(result.curlBothMs[round]!)} vs ${seconds(result.curlOneThenOtherMs[round]!)}`,
    );
  }
  await Promise.all([a.stop(), b.stop()]);
  await measureOverLinks(work, source, files, reps, result);
  rm(source);
  return result;
}

/**
 * The nightly run again with each server's uploads throttled, as over a real network: there the
 * link, not this machine's two cores, is the bottleneck, which shows whether the two targets
 * really overlap. Only the first LINK.vms VMs, hard-linked into a tree of their own.
 */
async function measureOverLinks(work: string, source: string, files: readonly string[], reps: number, result: NightlyResult): Promise<void> {
  const subset = path.join(work, 'data', 'nightly-link');
  const chosen = files.filter((file) => Number(/^VM(\d+)\//.exec(file)?.[1]) <= LINK.vms);
  for (const file of chosen) {
    mkdirSync(path.join(subset, path.dirname(file)), { recursive: true });
    linkSync(path.join(source, ...file.split('/')), path.join(subset, ...file.split('/')));
  }
  const bytes = chosen.length * NIGHTLY.bytes;
  const throttle = ['-T', String(LINK.kibPerSecond)];
  const a = await startServer(path.join(work, 'link-a'), throttle);
  const b = await startServer(path.join(work, 'link-b'), throttle);
  const both = await vmftpConfig(work, 'link-both', subset, { a: { server: a, remoteDir: '/up' }, b: { server: b, remoteDir: '/up' } });
  const onlyA = await vmftpConfig(work, 'link-a', subset, { a: { server: a, remoteDir: '/up' } });
  const onlyB = await vmftpConfig(work, 'link-b', subset, { b: { server: b, remoteDir: '/up' } });
  const complete = (runs: readonly ChildResult[], what: string): boolean => {
    const held = [a, b].map((server) => treeStats(path.join(server.root, 'up')));
    if (runs.every((run) => run.code === 0) && held.every((stats) => stats.files === chosen.length && stats.bytes === bytes)) return true;
    result.fail = `${what} over throttled links: ${runs.map(describeEnd).join(' / ')}`;
    return false;
  };
  const clear = () => Promise.all([a.root, b.root].map((root) => clearUploads(root, ['up'])));
  for (let round = 0; round < reps; round++) {
    const together = await runVmftp(both, ['--json'], UPLOAD_TIMEOUT_MS);
    if (!complete([together], 'vmftp, both targets in one run')) return;
    await clear();
    const first = await runVmftp(onlyA, ['--json'], UPLOAD_TIMEOUT_MS);
    const second = await runVmftp(onlyB, ['--json'], UPLOAD_TIMEOUT_MS);
    if (!complete([first, second], 'vmftp, one target per run')) return;
    await clear();
    result.linkBothMs.push(together.ms);
    result.linkOneThenOtherMs.push(first.ms + second.ms);
    log(`nightly over ${LINK.kibPerSecond / 1024} MiB/s links round ${round + 1}: both at once ${seconds(together.ms)}, one after the other ${seconds(first.ms + second.ms)}`);
  }
  await Promise.all([a.stop(), b.stop()]);
  rm(subset);
}

// ---------------------------------------------------------------------------------------------
// 6, 7. Shaped links

/** Runs bench/shaped.ts in a private network namespace of its own and returns what it measured. */
async function measureShaped(work: string, sections: readonly ShapedSection[], reps: number, quick: boolean): Promise<ShapedResult> {
  const out = path.join(work, 'shaped.json');
  const run = await runChild({
    cmd: 'unshare',
    args: [
      '-n',
      '--',
      process.execPath,
      '--import',
      'tsx',
      path.join(PROJECT, 'bench', 'shaped.ts'),
      '--out',
      out,
      '--only',
      sections.join(','),
      '--reps',
      String(reps),
      ...(quick ? ['--quick'] : []),
    ],
    env: { ...process.env, [PARENT_NETNS_ENV]: readlinkSync('/proc/self/ns/net') },
    cwd: PROJECT,
    timeoutMs: SHAPED_TIMEOUT_MS,
    passStderr: true,
  });
  const result = existsSync(out) ? parseJson<ShapedResult>(readFileSync(out, 'utf8')) : undefined;
  if (run.code !== 0 || result === undefined) {
    const failure = `the shaped sections (${sections.join(', ')}) did not finish: ${describeEnd(run)}`;
    return { markdown: `## 6-9. Shaped links\n\nFAILED: ${failure}\n`, verdicts: [{ target: `shaped sections: ${sections.join(', ')}`, measured: failure, result: 'FAIL' }], figures: [] };
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report

function verdict(target: string, measured: string, pass: boolean | undefined): Verdict {
  return { target, measured, result: pass === undefined ? 'SKIP' : pass ? 'PASS' : 'FAIL' };
}

function machineTable(server: string, started: Results['started']): string {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  let packages = '';
  try {
    packages = runSync('dpkg-query', ['-W', '-f', '${Package} ${Version}, ', 'pure-ftpd', 'curl', 'lftp', 'ncftp', 'socat']).replace(/, $/, '');
  } catch {
    packages = 'unknown (dpkg-query failed)';
  }
  return table(
    ['machine', ''],
    [
      ['date', started.at.toISOString().replace(/\.\d+Z$/, 'Z')],
      ['the whole bench took', `${fixed((Date.now() - started.at.getTime()) / 60_000, 1)} min`],
      ['load average (1 / 5 / 15 min)', `${started.load} at the start, ${loadText()} at the end`],
      ['vmftp commit', commitOf()],
      ['CPU', cpu],
      ['cores', String(os.cpus().length)],
      ['kernel', os.release()],
      ['memory', `${fixed(os.totalmem() / GiB, 1)} GiB`],
      ['node', process.version],
      ['environment of the clients', started.droppedEnv.length === 0 ? "the bench's" : `the bench's without ${started.droppedEnv.join(', ')} (DROPPED_ENV in bench/run.ts)`],
      ['server', server],
      ['packages', packages],
    ],
  );
}

/** Returns the checked-out commit (short hash, `+changes` when the tree differs from it): what this run measured. */
function commitOf(): string {
  try {
    const commit = runSync('git', ['-C', PROJECT, 'rev-parse', '--short', 'HEAD']).trim();
    const changed = runSync('git', ['-C', PROJECT, 'status', '--porcelain', '--untracked-files=no']).trim() !== '';
    return changed ? `${commit}+changes` : commit;
  } catch {
    return 'unknown';
  }
}

function mbOf(kib: number | undefined): number {
  return kib === undefined ? Number.NaN : (kib * 1024) / MB;
}

function msOf(samples: readonly Sample[]): number {
  return median(samples.map((sample) => sample.ms));
}

function runsText(samples: readonly Sample[]): string {
  return samples.map((sample) => fixed(sample.ms / 1000, 2)).join(', ');
}

interface Results {
  /** When the bench began, and the machine's load then. */
  readonly started: { readonly at: Date; readonly load: string; readonly droppedEnv: readonly string[] };
  uploads?: MethodResult[];
  rss?: { bytes: number; label: string; peaksKiB: number[]; fail?: string }[];
  inventory?: InventoryResult;
  plan?: PlanResult;
  nightly?: NightlyResult;
  shaped?: ShapedResult;
}

function render(results: Results, options: Options, verdicts: Verdict[]): string {
  const out: string[] = ['# vmftp benchmark', ''];
  out.push(
    'Written by `npm run bench` (bench/run.ts). Everything on 127.0.0.1 against pure-ftpd from Debian',
    '(virtual user, passive ports, temporary root) started and stopped by the bench; medians of',
    `${options.reps} interleaved runs (sections 6-9 say where they take fewer); MB = 10^6 bytes. CLI times are wall times of the whole process`,
    '(node start, config, login, inventory, transfer, verify, rename). The machine is shared and noisy:',
    'compare figures within one run only.',
    '',
    machineTable('pure-ftpd on 127.0.0.1, root in the temp folder (same disk as the source files)', results.started),
    '',
  );

  if (results.uploads !== undefined) {
    const byId = new Map(results.uploads.map((result) => [result.id, result]));
    const speed = (id: string) => {
      const result = byId.get(id);
      return result === undefined || result.samples.length === 0 ? Number.NaN : mbPerSecond(UPLOAD_BYTES, msOf(result.samples));
    };
    const curl = speed('curl');
    const ceiling = speed('ceiling');
    const rows = results.uploads.map((result) => {
      if (result.skip !== undefined) return [result.label, 'SKIP', '', '', '', '', result.skip];
      if (result.fail !== undefined && result.samples.length === 0) return [result.label, 'FAILED', '', '', '', '', result.fail];
      const mbs = speed(result.id);
      const actions = result.samples.flatMap((sample) => (sample.actionMs === undefined ? [] : [sample.actionMs]));
      const note = [
        actions.length > 0 ? `upload action alone: ${fixed(mbPerSecond(UPLOAD_BYTES, median(actions)))} MB/s` : '',
        result.fail ?? '',
      ].filter((text) => text !== '').join('; ');
      return [
        result.label,
        fixed(mbs),
        ratio(mbs / curl),
        ratio(mbs / ceiling),
        fixed(Math.max(...result.samples.map((sample) => mbOf(sample.peakRssKiB)))),
        runsText(result.samples),
        note,
      ];
    });
    out.push(
      `## 1. Upload of one ${UPLOAD_BYTES / GiB} GiB random file`,
      '',
      table(['client', 'MB/s', 'vs bare curl', 'vs ceiling', 'peak RSS MB', 'runs (s)', 'notes'], rows),
      '',
      'Peak RSS is that of the process started (for `vmftp -u curl`/`ncftpput`: the node process, not its child).',
      'The ceiling\'s RSS is the sending socat\'s.',
      '',
    );
  }

  if (results.rss !== undefined) {
    out.push(
      '## 2. Peak RSS of the vmftp process (`vmftp -u internal`)',
      '',
      table(
        ['file', 'peak RSS MB (median)', 'highest run', 'runs (MB)'],
        results.rss.map((row) => [
          row.label,
          row.peaksKiB.length === 0 ? `FAILED: ${row.fail ?? ''}` : fixed(median(row.peaksKiB.map(mbOf)), 1),
          row.peaksKiB.length === 0 ? '' : fixed(Math.max(...row.peaksKiB.map(mbOf)), 1),
          row.peaksKiB.map((kib) => fixed(mbOf(kib), 1)).join(', '),
        ]),
      ),
      '',
      'VmHWM of /proc/<pid>/status, polled every 20 ms while the CLI runs.',
      '',
    );
  }

  if (results.inventory !== undefined) {
    const inventory = results.inventory;
    const vmftp = median(inventory.vmftpMs);
    const lftp = median(inventory.lftpMs);
    out.push(
      `## 3. Inventory of ${INVENTORY.vms} VMs x ${INVENTORY.stamps} backups x ${INVENTORY.files} files`,
      '',
      table(
        ['client', 'time', 'vs lftp', 'runs (s)'],
        [
          ['`vmftp -d` (whole CLI)', seconds(vmftp), ratio(vmftp / lftp), inventory.vmftpMs.map((ms) => fixed(ms / 1000, 2)).join(', ')],
          ["`lftp -e 'find'`", seconds(lftp), '1.00x', inventory.lftpMs.map((ms) => fixed(ms / 1000, 2)).join(', ')],
          ['(`vmftp --help`: node start and module loading)', seconds(median(inventory.startMs)), '', inventory.startMs.map((ms) => fixed(ms / 1000, 2)).join(', ')],
        ],
      ),
      '',
      ...(inventory.fail === undefined ? [] : [`FAILED: ${inventory.fail}`, '']),
    );
  }

  if (results.plan !== undefined) {
    const plan = results.plan;
    out.push(
      `## 4. Plan (pure, in-process): ${PLAN.vms} VMs x ${PLAN.stamps} backups, local and remote`,
      '',
      table(
        ['policy', 'local + remote backups in', 'actions out', 'median', 'runs (ms)'],
        [
          ['keep 3', String(plan.backups), String(plan.actions), `${fixed(median(plan.ms))} ms`, plan.ms.map((ms) => fixed(ms)).join(', ')],
          ['GFS last 3, daily 7, weekly 4, monthly 12, yearly 3', String(plan.backups), '', `${fixed(median(plan.gfsMs))} ms`, plan.gfsMs.map((ms) => fixed(ms)).join(', ')],
        ],
      ),
      '',
      '`planRun` from src/core/plan.ts, timed with performance.now(); the first run includes JIT warm-up.',
      '',
    );
  }

  if (results.nightly !== undefined) {
    const nightly = results.nightly;
    const both = median(nightly.bothMs);
    const sequential = median(nightly.oneThenOtherMs);
    const curlBoth = median(nightly.curlBothMs);
    const curlSequential = median(nightly.curlOneThenOtherMs);
    const runs = (values: readonly number[]) => values.map((ms) => fixed(ms / 1000, 2)).join(', ');
    const speed = (ms: number) => fixed(mbPerSecond(2 * nightly.bytes, ms));
    out.push(
      `## 5. Nightly run: ${NIGHTLY.vms} VMs x ${NIGHTLY.files} files of ${NIGHTLY.bytes / MB} MB to two pure-ftpd instances`,
      '',
      table(
        ['run', 'time', 'MB/s (both copies)', 'vs one after the other', 'runs (s)'],
        [
          ['one `vmftp` run, both targets at once', seconds(both), speed(both), ratio(both / sequential), runs(nightly.bothMs)],
          ['two `vmftp` runs, one target each, back to back', seconds(sequential), speed(sequential), '1.00x', runs(nightly.oneThenOtherMs)],
          ['  of which the run to a', seconds(median(nightly.aMs)), '', '', runs(nightly.aMs)],
          ['  of which the run to b', seconds(median(nightly.bMs)), '', '', runs(nightly.bMs)],
          ['reference: two `curl` at once, one per target', seconds(curlBoth), speed(curlBoth), ratio(curlBoth / curlSequential), runs(nightly.curlBothMs)],
          ['reference: two `curl`, one after the other', seconds(curlSequential), speed(curlSequential), '1.00x', runs(nightly.curlOneThenOtherMs)],
          [`over ${LINK.kibPerSecond / 1024} MiB/s links (${LINK.vms} VMs): one \`vmftp\` run, both targets`, seconds(median(nightly.linkBothMs)), '', ratio(median(nightly.linkBothMs) / median(nightly.linkOneThenOtherMs)), runs(nightly.linkBothMs)],
          [`over ${LINK.kibPerSecond / 1024} MiB/s links (${LINK.vms} VMs): two \`vmftp\` runs, back to back`, seconds(median(nightly.linkOneThenOtherMs)), '', '1.00x', runs(nightly.linkOneThenOtherMs)],
        ],
      ),
      '',
      'On loopback the client, both servers and the disk share this machine\'s cores. The curl rows: one',
      '`curl` per target sending the same files over one connection each. The last two rows repeat the',
      `run (first ${LINK.vms} VMs) with each server's uploads throttled (pure-ftpd \`-T ${LINK.kibPerSecond}\`), as over a network link.`,
      '',
      ...(nightly.fail === undefined ? [] : [`FAILED: ${nightly.fail}`, '']),
    );
  }

  if (results.shaped !== undefined) out.push(results.shaped.markdown, beforeAndAfter(results.shaped.figures, commitOf()));

  out.push('## Targets', '', table(['target', 'measured', 'result'], verdicts.map((v) => [v.target, v.measured, v.result])), '');
  return out.join('\n');
}

function judge(results: Results): Verdict[] {
  const verdicts: Verdict[] = [];
  if (results.uploads !== undefined) {
    const get = (id: string) => results.uploads!.find((result) => result.id === id);
    const mbs = (id: string) => {
      const result = get(id);
      return result === undefined || result.samples.length < 1 || result.fail !== undefined ? Number.NaN : mbPerSecond(UPLOAD_BYTES, msOf(result.samples));
    };
    const internal = mbs('internal');
    const curl = mbs('curl');
    const ceiling = mbs('ceiling');
    const known = (value: number) => (Number.isFinite(value) ? true : undefined);
    const vsCurl = internal / curl;
    const vsCeiling = internal / ceiling;
    // The upload action alone (no node start, config, login, inventory): shown, not judged.
    const actions = (get('internal')?.samples ?? []).flatMap((sample) => (sample.actionMs === undefined ? [] : [sample.actionMs]));
    const transfer = actions.length === 0 ? Number.NaN : mbPerSecond(UPLOAD_BYTES, median(actions));
    const phase = Number.isFinite(transfer) ? `; transfer phase alone ${fixed(transfer)} MB/s = ${ratio(transfer / curl)} curl` : '';
    verdicts.push(
      verdict('`vmftp -u internal` >= 0.95x bare curl (whole CLI)', `${ratio(vsCurl)} (${fixed(internal)} vs ${fixed(curl)} MB/s${phase})`, known(vsCurl) && vsCurl >= 0.95),
      verdict('`vmftp -u internal` >= 0.6x the ceiling (whole CLI)', `${ratio(vsCeiling)} (${fixed(internal)} vs ${fixed(ceiling)} MB/s)`, known(vsCeiling) && vsCeiling >= 0.6),
    );
  }
  if (results.rss !== undefined) {
    const rows = results.rss.filter((row) => row.peaksKiB.length > 0);
    const failed = results.rss.some((row) => row.fail !== undefined);
    // "Peak" is judged on the highest run; "the same peak at every size" on the medians.
    const highest = Math.max(...rows.flatMap((row) => row.peaksKiB.map(mbOf)));
    const medians = rows.map((row) => median(row.peaksKiB.map(mbOf)));
    const spread = Math.max(...medians) - Math.min(...medians);
    verdicts.push(
      verdict(
        `peak RSS <= ${RSS_LIMIT_MB} MB whatever the file size (every run; medians within ${RSS_SAME_MB} MB of each other)`,
        rows.length === 0
          ? 'not measured'
          : `highest ${fixed(highest)} MB; medians ${rows.map((row, index) => `${fixed(medians[index]!)} MB (${row.label})`).join(', ')}`,
        rows.length === 0 ? undefined : !failed && highest <= RSS_LIMIT_MB && spread <= RSS_SAME_MB,
      ),
    );
  }
  if (results.inventory !== undefined) {
    const vmftp = median(results.inventory.vmftpMs);
    const lftp = median(results.inventory.lftpMs);
    verdicts.push(
      verdict(
        "inventory (`vmftp -d`) <= 0.5x `lftp -e 'find'`",
        `${ratio(vmftp / lftp)} (${seconds(vmftp)} vs ${seconds(lftp)})`,
        results.inventory.fail !== undefined ? false : vmftp / lftp <= 0.5,
      ),
    );
  }
  if (results.plan !== undefined) {
    const ms = median(results.plan.ms);
    verdicts.push(verdict(`plan of ${(PLAN.vms * PLAN.stamps).toLocaleString('en')} backups (local, + their remote copies) <= 1 s`, `${fixed(ms)} ms`, ms <= 1000));
  }
  if (results.nightly !== undefined) {
    const nightly = results.nightly;
    const both = median(nightly.bothMs);
    const sequential = median(nightly.oneThenOtherMs);
    const curlRatio = median(nightly.curlBothMs) / median(nightly.curlOneThenOtherMs);
    const linkRatio = median(nightly.linkBothMs) / median(nightly.linkOneThenOtherMs);
    verdicts.push(
      verdict(
        'two targets at once <= 0.65x one after the other',
        `${ratio(both / sequential)} (${seconds(both)} vs ${seconds(sequential)}); two curl: ${ratio(curlRatio)}; vmftp over ${LINK.kibPerSecond / 1024} MiB/s links: ${ratio(linkRatio)}`,
        nightly.fail !== undefined ? false : both / sequential <= 0.65,
      ),
    );
  }
  if (results.shaped !== undefined) verdicts.push(...results.shaped.verdicts);
  return verdicts;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = parseOptions();
  const droppedEnv = DROPPED_ENV.filter((name) => process.env[name] !== undefined);
  for (const name of droppedEnv) delete process.env[name];
  if (droppedEnv.length > 0) log(`the clients run without ${droppedEnv.join(', ')} (DROPPED_ENV in bench/run.ts)`);
  if (process.platform !== 'linux') throw new Error('the bench runs on Linux only');
  const stillMissing = await ensurePrograms(PROGRAMS, log);
  if (stillMissing.length > 0) throw new Error(`missing programs: ${stillMissing.join(', ')}`);
  const reason = pureFtpdUnavailableReason();
  if (reason !== undefined) throw new Error(`pure-ftpd: ${reason}`);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);

  const work = mkdtempSync(path.join(os.tmpdir(), 'vmftp-bench-'));
  onCleanup(() => rm(work));
  const need =
    (options.sections.has('upload') ? 2 * UPLOAD_BYTES : 0) +
    (options.sections.has('rss') ? 2 * SMALL_BYTES + (options.big ? 2 * BIG_BYTES : 0) : 0) +
    (options.sections.has('nightly') ? 3 * NIGHTLY.vms * NIGHTLY.files * NIGHTLY.bytes : 0) +
    // The shaped sections' largest set (600.8 MB), locally and on the server.
    (SHAPED_SECTIONS.some((section) => options.sections.has(section)) ? 2 * 601 * MB : 0) +
    200 * MiB;
  const disk = statfsSync(work);
  const free = disk.bavail * disk.bsize;
  log(`work folder ${work}: ${fixed(free / GiB, 1)} GiB free, this run needs up to ${fixed(need / GiB, 1)} GiB`);
  if (free < need * 1.1) throw new Error(`not enough free disk in ${work}: ${fixed(free / GiB, 1)} GiB free, ${fixed((need * 1.1) / GiB, 1)} GiB needed`);

  const results: Results = { started: { at: new Date(), load: loadText(), droppedEnv } };
  if (options.sections.has('plan')) results.plan = measurePlan(options.reps);

  let server: Server | undefined;
  const needServer = options.sections.has('upload') || options.sections.has('rss') || options.sections.has('inventory');
  if (needServer) server = await startServer(path.join(work, 'ftp'));
  const context = server === undefined ? undefined : { work, server, reps: options.reps };

  if (options.sections.has('upload') && context !== undefined) {
    const tree = await makeUploadTree(work, 'upload', UPLOAD_BYTES);
    const config = await vmftpConfig(work, 'upload', tree.root, { nas: { server: context.server, remoteDir: '/up' } });
    const runners = uploadRunners(context, config, tree.relative).filter((runner) => options.methods.has(runner.id));
    results.uploads = await measureUploads(context, runners, tree.file, UPLOAD_BYTES, `${UPLOAD_BYTES / GiB} GiB`);
    rm(tree.root);
  }

  const rssRows: NonNullable<Results['rss']> = [];
  if (options.sections.has('rss') && context !== undefined) {
    const sizes = [SMALL_BYTES, ...(options.big ? [BIG_BYTES] : [])];
    for (const bytes of sizes) {
      const label = bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`;
      const name = `rss-${label.replace(' ', '')}`;
      const tree = await makeUploadTree(work, name, bytes);
      const config = await vmftpConfig(work, name, tree.root, { nas: { server: context.server, remoteDir: '/up' } });
      const runner = { id: 'internal', label: '`vmftp -u internal`', run: vmftpRunner(config, 'internal', context.server.root, tree.relative) };
      const [result] = await measureUploads(context, [runner], tree.file, bytes, label);
      rssRows.push(rssRow(bytes, label, result!));
      rm(tree.root);
    }
  }
  const internal = results.uploads?.find((result) => result.id === 'internal');
  if (internal !== undefined) rssRows.push(rssRow(UPLOAD_BYTES, `${UPLOAD_BYTES / GiB} GiB`, internal));
  if (rssRows.length > 0) results.rss = rssRows.sort((a, b) => a.bytes - b.bytes);

  if (options.sections.has('inventory') && server !== undefined) results.inventory = await measureInventory(work, server, options.reps);
  await server?.stop();
  if (options.sections.has('nightly')) results.nightly = await measureNightly(work, options.reps);
  const shaped = SHAPED_SECTIONS.filter((section) => options.sections.has(section));
  if (shaped.length > 0) results.shaped = await measureShaped(work, shaped, options.reps, options.quick);

  const verdicts = judge(results);
  const markdown = render(results, options, verdicts);
  process.stdout.write(`\n${markdown}\n`);
  for (const v of verdicts) process.stdout.write(`${v.result.padEnd(4)}  ${v.target}: ${v.measured}\n`);
  if (options.writeResults) {
    writeFileSync(RESULTS, markdown);
    log(`wrote ${path.relative(PROJECT, RESULTS)}`);
  } else log('--only/--methods/--quick: bench/RESULTS.md left unchanged');
  return verdicts.some((v) => v.result === 'FAIL') ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping servers and removing temp files`);
    void runCleanups().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  log(`still running after ${OVERALL_LIMIT_MS / 60_000} min: giving up`);
  void runCleanups().finally(() => process.exit(2));
}, OVERALL_LIMIT_MS);
watchdog.unref();

main().then(
  async (code) => {
    await runCleanups();
    process.exit(code);
  },
  async (error: unknown) => {
    log(error instanceof UsageError ? error.message : `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await runCleanups();
    process.exit(2);
  },
);
