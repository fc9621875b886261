/**
 * The bench's sections over links of a known speed and round trip (issue 14, point 5), run by
 * bench/run.ts in a private network namespace (`unshare -n`) of their own:
 *
 *   links   the nightly set (NIGHTLY VMs, each one vmdk and five small files) over a loopback shaped
 *           to 100 Mbit/s and 1 Gbit/s (tc tbf): vmftp, `lftp mirror -R -P2`, a curl loop, the ideal
 *   small   SMALL.files files of SMALL.bytes over a SMALL.roundTripMs round trip (the fault proxy's
 *           roundTripMs: netem is not available here): vmftp and `lftp mirror -R -P2`
 *   bwlimit, deadline   the night's window (bench/window.ts)
 *
 *   unshare -n node --import tsx bench/shaped.ts --out <file.json> [--only links,small,bwlimit,deadline] [--reps N] [--quick]
 *
 * It refuses to run outside a namespace of its own (the parent names its own in
 * VMFTP_BENCH_PARENT_NETNS): tc on the machine's real loopback would slow everyone down. The
 * result file holds the markdown of the sections and their verdicts, for bench/RESULTS.md.
 */
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_AGE } from '../src/config/schema.js';
import { CLI, writeConfig } from '../test/support/cli.js';
import { startFaultProxy } from '../test/support/fault-proxy.js';
import { pseudoRandomBytes, stampHoursAgo } from '../test/support/fixtures.js';
import type { FtpServerHandle } from '../test/support/ftp-srv.js';
import { startPureFtpd } from '../test/support/pure-ftpd.js';
import {
  MB,
  describeEnd,
  fixed,
  lftpScript,
  loadText,
  median,
  onCleanup,
  ratio,
  runChild,
  runCleanups,
  runSync,
  seconds,
  table,
  treeStats,
  writeRandomFile,
  type ChildResult,
  type Verdict,
} from './lib.js';
import { measureBwlimit, measureDeadline, type WindowContext } from './window.js';

export const SHAPED_SECTIONS = ['links', 'small', 'bwlimit', 'deadline'] as const;
export type ShapedSection = (typeof SHAPED_SECTIONS)[number];
export const PARENT_NETNS_ENV = 'VMFTP_BENCH_PARENT_NETNS';

/** What bench/run.ts reads back from --out. */
export interface ShapedResult {
  readonly markdown: string;
  readonly verdicts: Verdict[];
  /** The medians of vmftp and its peers, for the table of this run against earlier ones (bench/before.ts). */
  readonly figures: PeerFigures[];
}

/** The measurements that earlier runs have figures of too. */
export type Measurement = 'nightly-100mbit' | 'nightly-1gbit' | 'small';

/** One measurement's medians (ms) in one run: vmftp, lftp -P2 and, for the nightly set, the curl loop and the ideal. */
export interface PeerFigures {
  readonly measurement: Measurement;
  readonly bytes: number;
  readonly vmftpMs: number;
  readonly lftpMs: number;
  readonly curlMs?: number;
  readonly idealMs?: number;
}

/** Last night's backup: recent, so vmftp's default maxAge holds and is checked, as in an administrator's config. */
const STAMP = stampHoursAgo(6);
/** The small files of every VM's backup, as a VMware backup job leaves them (bytes). */
const VM_SMALL_FILES = { 'vm.vmx': 3_100, 'vm.vmxf': 260, 'vm.nvram': 8_684, 'vm.vmsd': 0, 'vmware.log': 180_000 } as const;
/**
 * The nightly set per link, as issue 14 has it: NIGHTLY.vms VMs of one 150 MB vmdk each (600 MB in
 * all). At 100 Mbit/s a run takes ~50 s, so there at most `maxReps` rounds (a link-bound time
 * varies little), which keeps a full `npm run bench` under ~25 min; `--quick` sends 30 MB vmdks
 * there instead (~10 s a run).
 */
const NIGHTLY = {
  vms: 4,
  links: [
    { rate: '100mbit', bitsPerSecond: 100e6, vmdkBytes: 150 * MB, quickVmdkBytes: 30 * MB, maxReps: 2 },
    { rate: '1gbit', bitsPerSecond: 1e9, vmdkBytes: 150 * MB, quickVmdkBytes: 150 * MB, maxReps: Number.POSITIVE_INFINITY },
  ],
} as const;
/** One round only: ~3 min (lftp ~100 s), and a latency-bound time varies little from run to run. */
const SMALL = { vms: 10, filesPerVm: 100, bytes: 20_000, roundTripMs: 20, reps: 1 } as const;
/** vmftp's target for small files over a round trip: at most this share of lftp -P2's time. */
const SMALL_TARGET = 0.8;
const RUN_TIMEOUT_MS = 5 * 60_000;

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

type Server = FtpServerHandle<'pure-ftpd'>;

interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

// ---------------------------------------------------------------------------------------------
// The private network

function assertPrivateNetwork(): void {
  const parent = process.env[PARENT_NETNS_ENV];
  const own = readlinkSync('/proc/self/ns/net');
  if (parent === undefined || parent === own) {
    throw new Error(`refusing to shape the loopback of the namespace ${own}: run under \`unshare -n\` with ${PARENT_NETNS_ENV} set to the parent's (bench/run.ts does)`);
  }
}

/** Makes the namespace's loopback a link of `rate` (tc syntax), or an unshaped one (undefined). */
function shapeLink(rate: string | undefined): void {
  assertPrivateNetwork();
  // Loopback's 64 KiB packets exceed the bucket and stall the link: a real link's MTU.
  runSync('ip', ['link', 'set', 'lo', 'up', 'mtu', '1500']);
  spawnQuiet('tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
  if (rate !== undefined) runSync('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '500ms']);
}

/** Runs a command whose failure is expected at times (deleting a qdisc that is not there). */
function spawnQuiet(cmd: string, args: readonly string[]): void {
  try {
    runSync(cmd, args);
  } catch {
    // nothing to delete
  }
}


// ---------------------------------------------------------------------------------------------
// The clients

/** One way to send the tree under `source` into `/up` of the server: returns the run's wall time. */
type Client = (source: string, files: readonly string[]) => Promise<ChildResult>;

interface Clients {
  readonly vmftp: Client;
  readonly lftp: Client;
  readonly curl: Client;
}

/** Returns a vmftp run (whole CLI) of `source` into `/up` on `upstream`, with the run's own arguments. */
async function vmftpRunner(work: string, name: string, upstream: Upstream, source: string): Promise<(args: readonly string[]) => Promise<ChildResult>> {
  const dir = path.join(work, 'cfg', name);
  mkdirSync(dir, { recursive: true });
  const { configPath, env } = await writeConfig(dir, {
    source,
    targets: { nas: { host: upstream.host, port: upstream.port, user: upstream.user, password: upstream.password, remoteDir: '/up' } },
    // The default maxAge, not writeConfig's `false` for tests: the run then lists the target after
    // its uploads to check the backups' age, as every night with a config vmftp init writes.
    extra: { maxAge: DEFAULT_MAX_AGE },
  });
  return (args) =>
    runChild({
      cmd: process.execPath,
      args: [CLI, '-c', configPath, '--no-progress', ...args],
      env: { ...process.env, NO_COLOR: '1', ...env },
      timeoutMs: RUN_TIMEOUT_MS,
    });
}

async function makeClients(work: string, name: string, upstream: Upstream, source: string): Promise<Clients> {
  const vmftp = await vmftpRunner(work, name, upstream, source);
  const script = lftpScript(path.join(work, 'cfg', name), 'mirror', upstream, [`mirror -R -P2 ${source} /up`]);
  return {
    vmftp: () => vmftp([]),
    lftp: () => runChild({ cmd: 'lftp', args: ['-f', script], timeoutMs: RUN_TIMEOUT_MS }),
    // One curl per file, one after the other, as a shell script around curl would.
    curl: async (root, files) => {
      const started = performance.now();
      let last: ChildResult | undefined;
      for (const file of files) {
        last = await runChild({
          cmd: 'curl',
          args: ['-sS', '--fail', '--ftp-create-dirs', '-K', '-', '-T', path.join(root, ...file.split('/')), `ftp://${upstream.host}:${upstream.port}/up/${file}`],
          input: `user = "${upstream.user}:${upstream.password}"\n`,
          timeoutMs: RUN_TIMEOUT_MS,
        });
        if (last.code !== 0) break;
      }
      return { ...(last ?? failedToStart('no files')), ms: performance.now() - started };
    },
  };
}

function failedToStart(why: string): ChildResult {
  return { code: null, signal: null, timedOut: false, ms: 0, stdout: '', stderr: why, peakRssKiB: undefined };
}

interface Measured {
  readonly id: string;
  readonly label: string;
  readonly ms: number[];
  fail?: string;
}

/**
 * Runs every client `reps` times, interleaved (the order rotates per round); after each run the
 * server must hold the whole tree under /up, which is then removed.
 */
async function measure(
  what: string,
  server: Server,
  source: string,
  files: readonly string[],
  bytes: number,
  reps: number,
  clients: readonly { id: string; label: string; run: Client }[],
): Promise<Measured[]> {
  const results = clients.map((client): Measured => ({ id: client.id, label: client.label, ms: [] }));
  const up = path.join(server.root, 'up');
  for (let round = 0; round < reps; round++) {
    for (let step = 0; step < clients.length; step++) {
      const index = (step + round) % clients.length;
      const client = clients[index]!;
      const result = results[index]!;
      if (result.fail !== undefined) continue;
      rmSync(up, { recursive: true, force: true });
      const run = await client.run(source, files);
      const held = treeStats(up);
      rmSync(up, { recursive: true, force: true });
      if (run.code !== 0 || held.files !== files.length || held.bytes !== bytes) {
        result.fail = `${describeEnd(run)}; the server held ${held.files} files, ${held.bytes} bytes of ${files.length}, ${bytes}`;
        log(`${what} ${client.id}: FAILED (${result.fail})`);
        continue;
      }
      result.ms.push(run.ms);
      log(`${what} ${client.id} round ${round + 1}: ${seconds(run.ms)} (load ${loadText()})`);
    }
  }
  return results;
}

function runsText(ms: readonly number[]): string {
  return ms.map((value) => fixed(value / 1000, 2)).join(', ');
}

/** Writes `vms` VMs of one vmdk of `vmdkBytes` (and, `withSmallFiles`, a VMware job's small files) under `<work>/data/<name>`. */
async function writeNightlySet(work: string, name: string, vms: number, vmdkBytes: number, withSmallFiles: boolean): Promise<{ source: string; files: string[]; bytes: number }> {
  const source = path.join(work, 'data', name);
  const spec: Record<string, number> = {};
  for (let vm = 1; vm <= vms; vm++) {
    const vmName = `VM${String(vm).padStart(2, '0')}`;
    spec[`${vmName}/${STAMP}/${vmName}-flat.vmdk`] = vmdkBytes;
    if (withSmallFiles) for (const [file, bytes] of Object.entries(VM_SMALL_FILES)) spec[`${vmName}/${STAMP}/${file}`] = bytes;
  }
  const bytes = Object.values(spec).reduce((sum, size) => sum + size, 0);
  log(`writing ${name}: ${vms} VMs, ${fixed(bytes / MB, 1)} MB`);
  return { source, files: await writeTree(source, spec, writeRandomFile), bytes };
}

/** Returns the relative paths of a tree written under `root`: `files` maps a path to its size. */
async function writeTree(root: string, files: Readonly<Record<string, number>>, random: (file: string, bytes: number) => Promise<void>): Promise<string[]> {
  for (const [file, bytes] of Object.entries(files)) {
    const local = path.join(root, ...file.split('/'));
    mkdirSync(path.dirname(local), { recursive: true });
    await random(local, bytes);
  }
  return Object.keys(files);
}

// ---------------------------------------------------------------------------------------------
// links: the nightly set over 100 Mbit/s and 1 Gbit/s

/**
 * vmftp's fixed cost on this link: a run that finds every backup already on the server (node, module
 * loading, config, lock, scan, login, inventory, the listing after the run), next to node's own start.
 */
async function measureFixedCost(server: Server, source: string, files: readonly string[], reps: number, vmftp: Client): Promise<{ noopMs: number[]; nodeMs: number[] }> {
  const up = path.join(server.root, 'up');
  const noopMs: number[] = [];
  const nodeMs: number[] = [];
  const first = await vmftp(source, files);
  for (let round = 0; first.code === 0 && round < reps; round++) {
    const noop = await vmftp(source, files);
    if (noop.code === 0) noopMs.push(noop.ms);
    const node = await runChild({ cmd: process.execPath, args: ['-e', '0'], timeoutMs: RUN_TIMEOUT_MS });
    if (node.code === 0) nodeMs.push(node.ms);
  }
  rmSync(up, { recursive: true, force: true });
  return { noopMs, nodeMs };
}

async function measureLinks(work: string, server: Server, reps: number, quick: boolean): Promise<ShapedResult> {
  const sections: string[] = [];
  const verdicts: Verdict[] = [];
  const figures: PeerFigures[] = [];
  for (const link of NIGHTLY.links) {
    const vmdkBytes = quick ? link.quickVmdkBytes : link.vmdkBytes;
    const linkReps = Math.min(reps, link.maxReps);
    const { source, files, bytes } = await writeNightlySet(work, `nightly-${link.rate}`, NIGHTLY.vms, vmdkBytes, true);
    const clients = await makeClients(work, `links-${link.rate}`, server, source);
    shapeLink(link.rate);
    const load = loadText();
    const results = await measure(`links ${link.rate}`, server, source, files, bytes, linkReps, [
      { id: 'vmftp', label: '`vmftp` (whole CLI)', run: clients.vmftp },
      { id: 'lftp', label: "`lftp -e 'mirror -R -P2'`", run: clients.lftp },
      { id: 'curl', label: 'curl loop (one `curl -T` per file)', run: clients.curl },
    ]);
    const fixedCost = await measureFixedCost(server, source, files, linkReps, clients.vmftp);
    shapeLink(undefined);
    rmSync(source, { recursive: true, force: true });
    const idealMs = ((bytes * 8) / link.bitsPerSecond) * 1000;
    const lftp = median(results.find((result) => result.id === 'lftp')!.ms);
    const vmftp = median(results.find((result) => result.id === 'vmftp')!.ms);
    const curl = median(results.find((result) => result.id === 'curl')!.ms);
    figures.push({ measurement: link.rate === '100mbit' ? 'nightly-100mbit' : 'nightly-1gbit', bytes, vmftpMs: vmftp, lftpMs: lftp, curlMs: curl, idealMs });
    const rows = [
      ['ideal (bytes / rate)', seconds(idealMs), ratio(idealMs / lftp), '1.00x', ''],
      ...results.map((result) =>
        result.fail !== undefined && result.ms.length === 0
          ? [result.label, 'FAILED', '', '', result.fail]
          : [result.label, seconds(median(result.ms)), ratio(median(result.ms) / lftp), ratio(median(result.ms) / idealMs), runsText(result.ms)],
      ),
      ['(`vmftp` with nothing to send: every backup already there)', seconds(median(fixedCost.noopMs)), '', '', runsText(fixedCost.noopMs)],
      ['(`node -e 0`: node\'s own start)', seconds(median(fixedCost.nodeMs)), '', '', runsText(fixedCost.nodeMs)],
    ];
    sections.push(
      `### ${link.rate.replace('mbit', ' Mbit/s').replace('gbit', ' Gbit/s')}: ${NIGHTLY.vms} VMs x (one ${fixed(vmdkBytes / MB)} MB vmdk + ${Object.keys(VM_SMALL_FILES).length} small files) = ${fixed(bytes / MB, 1)} MB`,
      '',
      `Medians of ${linkReps} ${linkReps === 1 ? 'run' : 'interleaved runs'} per client${linkReps < reps ? ` (at most ${link.maxReps} here: a run takes ~${fixed((bytes * 8) / link.bitsPerSecond)} s)` : ''}.`,
      '',
      table(['client', 'time (median)', 'vs lftp -P2', 'vs ideal', 'runs (s)'], rows),
      '',
      `Load average (1 / 5 / 15 min) when the section began: ${load}.`,
      '',
    );
    const failed = results.some((result) => result.fail !== undefined);
    verdicts.push({
      target: `vmftp no slower than \`lftp mirror -R -P2\`, ${link.rate} link`,
      measured: `${ratio(vmftp / lftp)} (${seconds(vmftp)} vs ${seconds(lftp)}; ideal ${seconds(idealMs)})`,
      result: failed || !Number.isFinite(vmftp / lftp) ? 'FAIL' : vmftp <= lftp ? 'PASS' : 'FAIL',
    });
  }
  return {
    markdown: [
      '## 6. The nightly set over shaped links',
      '',
      'In a private network namespace (`unshare -n`): loopback with a 1500-byte MTU and a `tc tbf` of the',
      'link\'s rate (burst 256 kb, latency 500 ms), pure-ftpd on it. Wall times of whole runs (process',
      'start to exit) into an empty `/up`; after each, the server must hold every file at its size.',
      'The ideal counts file bytes only (no TCP/IP headers, ~3.5 % of a 1500-byte packet).',
      '',
      ...sections,
    ].join('\n'),
    verdicts,
    figures,
  };
}

// ---------------------------------------------------------------------------------------------
// small: many small files over a round trip

async function measureSmall(work: string, server: Server, reps: number): Promise<ShapedResult> {
  const source = path.join(work, 'data', 'small');
  const spec: Record<string, number> = {};
  for (let vm = 1; vm <= SMALL.vms; vm++) {
    const name = `VM${String(vm).padStart(2, '0')}`;
    for (let file = 1; file <= SMALL.filesPerVm; file++) spec[`${name}/${STAMP}/${name}-${String(file).padStart(3, '0')}.bin`] = SMALL.bytes;
  }
  const bytes = Object.values(spec).reduce((sum, size) => sum + size, 0);
  const files = await writeTree(source, spec, async (file, size) => writeFileSync(file, pseudoRandomBytes(size, file)));
  shapeLink(undefined);
  const proxy = await startFaultProxy(server, { roundTripMs: SMALL.roundTripMs });
  onCleanup(() => proxy.stop());
  const clients = await makeClients(work, 'small', { host: proxy.host, port: proxy.port, user: server.user, password: server.password }, source);
  const load = loadText();
  const results = await measure('small files', server, source, files, bytes, Math.min(reps, SMALL.reps), [
    { id: 'vmftp', label: '`vmftp` (whole CLI)', run: clients.vmftp },
    { id: 'lftp', label: "`lftp -e 'mirror -R -P2'`", run: clients.lftp },
  ]);
  await proxy.stop();
  rmSync(source, { recursive: true, force: true });
  const lftp = median(results.find((result) => result.id === 'lftp')!.ms);
  const vmftp = median(results.find((result) => result.id === 'vmftp')!.ms);
  const rows = results.map((result) =>
    result.fail !== undefined && result.ms.length === 0
      ? [result.label, 'FAILED', '', '', result.fail]
      : [result.label, seconds(median(result.ms)), ratio(median(result.ms) / lftp), fixed(((median(result.ms) / files.length) * 2) / SMALL.roundTripMs, 1), runsText(result.ms)],
  );
  const failed = results.some((result) => result.fail !== undefined);
  return {
    markdown: [
      `## 7. ${files.length} files of ${SMALL.bytes / 1000} KB over a ${SMALL.roundTripMs} ms round trip`,
      '',
      `${SMALL.vms} VMs x ${SMALL.filesPerVm} files, through test/support/fault-proxy.ts with \`roundTripMs: ${SMALL.roundTripMs}\` in front of`,
      'pure-ftpd (netem is not available: the proxy holds every byte, reply and close half the round trip',
      'each way; TCP handshakes are not delayed). Both clients use two connections.',
      '',
      table(['client', 'time (median)', 'vs lftp -P2', 'round trips per file per connection', 'runs (s)'], rows),
      '',
      `Load average (1 / 5 / 15 min) when the section began: ${load}.`,
      '',
    ].join('\n'),
    figures: [{ measurement: 'small', bytes, vmftpMs: vmftp, lftpMs: lftp }],
    verdicts: [
      {
        target: `${files.length} small files over ${SMALL.roundTripMs} ms: vmftp <= ${SMALL_TARGET}x \`lftp mirror -R -P2\``,
        measured: `${ratio(vmftp / lftp)} (${seconds(vmftp)} vs ${seconds(lftp)})`,
        result: failed || !Number.isFinite(vmftp / lftp) ? 'FAIL' : vmftp <= SMALL_TARGET * lftp ? 'PASS' : 'FAIL',
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, only: { type: 'string' }, reps: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false } } });
  if (values.out === undefined) throw new Error('--out <file> is missing');
  const reps = Number(values.reps);
  const sections = new Set((values.only?.split(',') ?? SHAPED_SECTIONS) as ShapedSection[]);
  assertPrivateNetwork();
  shapeLink(undefined);
  const work = mkdtempSync(path.join(os.tmpdir(), 'vmftp-bench-shaped-'));
  onCleanup(() => rmSync(work, { recursive: true, force: true }));
  // The transfer log says what each upload received: the bytes a run sent again (bench/window.ts).
  const transferLog = path.join(work, 'transfers.log');
  const server = await startPureFtpd({ root: path.join(work, 'ftp'), extraArgs: ['-O', `stats:${transferLog}`] });
  onCleanup(() => server.stop());
  const results: ShapedResult[] = [];
  if (sections.has('links')) results.push(await measureLinks(work, server, reps, values.quick === true));
  if (sections.has('small')) results.push(await measureSmall(work, server, reps));
  const windowContext: WindowContext = {
    serverRoot: server.root,
    transferLog,
    shapeLink,
    writeSet: (name, vms, vmdkBytes, withSmallFiles) => writeNightlySet(work, name, vms, vmdkBytes, withSmallFiles),
    vmftp: (source, name) => vmftpRunner(work, name, server, source),
    log,
    loadText,
  };
  if (sections.has('bwlimit')) results.push({ ...(await measureBwlimit(windowContext)), figures: [] });
  if (sections.has('deadline')) results.push({ ...(await measureDeadline(windowContext)), figures: [] });
  const combined: ShapedResult = {
    markdown: results.map((result) => result.markdown).join('\n'),
    verdicts: results.flatMap((result) => result.verdicts),
    figures: results.flatMap((result) => result.figures),
  };
  writeFileSync(values.out, JSON.stringify(combined));
}

/** Started as a program (in the namespace), not imported by bench/run.ts for its names. */
function isEntryPoint(): boolean {
  return process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
}

if (isEntryPoint()) {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => void runCleanups().finally(() => process.exit(130)));
  }
  main().then(
    async () => {
      await runCleanups();
      process.exit(0);
    },
    async (error: unknown) => {
      log(`shaped sections failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      await runCleanups();
      process.exit(2);
    },
  );
}
