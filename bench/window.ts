/**
 * The night's window in the bench (issue 14, point 5), over a shaped link of bench/shaped.ts:
 *
 *   bwlimit   how close `--bwlimit` keeps the uploads to the limit over a minute, and how soon a
 *             timetable's change at a wall-clock minute takes effect (the issue: within a second);
 *   deadline  how long after `--max-duration`'s deadline the run ends, and how many bytes the
 *             next run sends again of what the first one left on the server.
 *
 * Rates are what the server received: the size of the file it writes, sampled over time; the
 * bytes sent again come from pure-ftpd's transfer log (its `-O stats:` altlog), not from vmftp.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { limitAt, parseBwLimit } from '../src/core/bwlimit.js';
import { MB, describeEnd, fileSize, fixed, seconds, table, treeStats, type ChildResult, type Verdict } from './lib.js';

/** What the window's measurements need from bench/shaped.ts. */
export interface WindowContext {
  /** The server's root folder: uploads go into `<root>/up`. */
  readonly serverRoot: string;
  /** pure-ftpd's transfer log (`-O stats:<file>`): one line per upload, with the bytes it received. */
  readonly transferLog: string;
  /** Makes the loopback a link of `rate` (tc syntax). */
  shapeLink(rate: string): void;
  /** Writes a nightly set under a new source folder: `vmdkBytes` per VM's vmdk; returns the folder, its files and their bytes. */
  writeSet(name: string, vms: number, vmdkBytes: number, withSmallFiles: boolean): Promise<{ source: string; files: string[]; bytes: number }>;
  /** Returns a vmftp run over `source` into `/up`: whole CLI, extra arguments given per run. */
  vmftp(source: string, name: string): Promise<(args: readonly string[]) => Promise<ChildResult>>;
  log(line: string): void;
  loadText(): string;
}

export interface WindowResult {
  readonly markdown: string;
  readonly verdicts: Verdict[];
}

/** How often the server's file size is read. */
const SAMPLE_MS = 50;
/** The targets. */
const RATE_TOLERANCE = 0.03;
const SWITCH_WITHIN_MS = 1000;
/** The span a rate is fitted over while it settles after a switch. */
const RATE_WINDOW_MS = 2000;
const ENDS_WITHIN_MS = 2000;

/**
 * --bwlimit over a 1 Gbit/s link (rclone's units: M = MiB/s): a steady limit for `steadySeconds`,
 * then a timetable switching from `before` to `after` at a minute; the run starts `leadSeconds`
 * before that minute and its file lasts `afterSeconds` past it.
 */
const BWLIMIT = { link: '1gbit', steady: '4M', steadySeconds: 60, before: '2M', after: '6M', leadSeconds: 12, afterSeconds: 15 } as const;
/** The deadline over a 100 Mbit/s link: a nightly set of ~10 s at line rate, stopped after `maxDuration`. */
const DEADLINE = { link: '100mbit', vms: 4, vmdkBytes: 30 * MB, maxDuration: '5s' } as const;

interface SizeSample {
  /** Wall clock (Date.now()). */
  readonly at: number;
  readonly bytes: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Returns the size of the file at the first of `paths` that exists, every SAMPLE_MS until `running` settles. */
async function sampleWhile(paths: readonly string[], running: Promise<unknown>): Promise<SizeSample[]> {
  let done = false;
  void running.finally(() => (done = true));
  const samples: SizeSample[] = [];
  while (!done) {
    const bytes = paths.map(fileSize).find((size) => size !== undefined);
    samples.push({ at: Date.now(), bytes: bytes ?? 0 });
    await sleep(SAMPLE_MS);
  }
  return samples;
}

/** Returns the limit of `spec` at `at` in bytes per second, as vmftp reads it (src/core/bwlimit.ts). */
function limitOf(spec: string, at: Date): number {
  const parsed = parseBwLimit(spec);
  const limit = 'timetable' in parsed ? limitAt(parsed.timetable, at) : undefined;
  if (limit === undefined) throw new Error(`bwlimit ${spec}: no limit at ${at.toISOString()}`);
  return limit;
}

/** Returns the least-squares line through `samples`: bytes = intercept + slope * (at - origin), slope in bytes per ms. */
function fitLine(samples: readonly SizeSample[], origin: number): { intercept: number; slope: number } {
  const n = samples.length;
  if (n < 2) return { intercept: Number.NaN, slope: Number.NaN };
  const xs = samples.map((sample) => sample.at - origin);
  const meanX = xs.reduce((sum, x) => sum + x, 0) / n;
  const meanY = samples.reduce((sum, sample) => sum + sample.bytes, 0) / n;
  let sxy = 0;
  let sxx = 0;
  samples.forEach((sample, index) => {
    const dx = xs[index]! - meanX;
    sxy += dx * (sample.bytes - meanY);
    sxx += dx * dx;
  });
  const slope = sxy / sxx;
  return { intercept: meanY - slope * meanX, slope };
}

const perSecond = (bytesPerMs: number) => bytesPerMs * 1000;
const mbps = (bytesPerSecond: number) => `${fixed(bytesPerSecond / MB, 2)} MB/s`;
const within = (measured: number, wanted: number) => Math.abs(measured / wanted - 1) <= RATE_TOLERANCE;
/** A rate as a share of its limit: three decimals, as the tolerance is a few hundredths. */
const ofLimit = (measured: number, limit: number) => `${fixed(measured / limit, 3)}x`;

/** Returns the last lines of a section: why it failed, if it did, and the machine's load when it began. */
function closingLines(fail: string | undefined, load: string): string[] {
  return [...(fail === undefined ? [] : ['', `FAILED: ${fail}`]), '', `Load average (1 / 5 / 15 min) when the section began: ${load}.`, ''];
}

/** Returns where the server holds `relative` (VM/stamp/file) under `/up`: in the `.partial` folder while it arrives, then under the final name. */
function remoteFile(root: string, relative: string): string[] {
  const [vm, stamp, file] = relative.split('/') as [string, string, string];
  return [path.join(root, 'up', vm, `${stamp}.partial`, file), path.join(root, 'up', vm, stamp, file)];
}

function clearUp(root: string): void {
  rmSync(path.join(root, 'up'), { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// bwlimit

interface Steady {
  readonly limit: number;
  readonly rate: number;
  readonly bytes: number;
  readonly ms: number;
  readonly fail?: string;
}

/** One upload of `steadySeconds` at the steady limit: the bytes the server received over the time from its first to its last. */
async function measureSteady(context: WindowContext): Promise<Steady> {
  const limit = limitOf(BWLIMIT.steady, new Date());
  const size = limit * BWLIMIT.steadySeconds;
  const set = await context.writeSet('bwlimit-steady', 1, size, false);
  const relative = set.files[0]!;
  const vmftp = await context.vmftp(set.source, 'bwlimit-steady');
  context.shapeLink(BWLIMIT.link);
  context.log(`bwlimit: ${BWLIMIT.steady} for ${BWLIMIT.steadySeconds} s (${fixed(size / MB, 1)} MB), load ${context.loadText()}`);
  const running = vmftp(['--bwlimit', BWLIMIT.steady]);
  const samples = await sampleWhile(remoteFile(context.serverRoot, relative), running);
  const run = await running;
  rmSync(set.source, { recursive: true, force: true });
  const first = samples.find((sample) => sample.bytes > 0);
  // The first time the largest size was seen: the run may end within a sample of its last byte.
  const top = Math.max(...samples.map((sample) => sample.bytes));
  const last = samples.find((sample) => sample.bytes === top);
  if (run.code !== 0 || first === undefined || last === undefined || top < size * 0.99) {
    return { limit, rate: Number.NaN, bytes: size, ms: Number.NaN, fail: `${describeEnd(run)}; the server's file reached ${top} of ${size} bytes` };
  }
  const ms = last.at - first.at;
  return { limit, rate: ((last.bytes - first.bytes) / ms) * 1000, bytes: size, ms };
}

interface Switch {
  readonly spec: string;
  readonly before: number;
  readonly after: number;
  /** Rates fitted before and after the switch, bytes per second. */
  readonly rateBefore: number;
  readonly rateAfter: number;
  /** Where the lines of the two rates meet, after the switch (ms). */
  readonly kneeMs: number;
  /** From the switch until the rate from there on stays within the tolerance of the new limit (ms). */
  readonly settledMs: number;
  readonly fail?: string;
}

/** Returns `ms` from the switch in words: the lines of two rates can meet a little before it (the limiter runs a tenth of a second ahead). */
const fromSwitch = (ms: number) => (ms < 0 ? `${seconds(-ms)} before the switch` : `${seconds(ms)} after the switch`);

const hhmm = (at: Date) => `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;

/**
 * Returns the first sample time from the switch on from which the rate is within the tolerance of
 * `rate` bytes per second, and stays so: the rate at a moment is the slope fitted to the sizes of
 * the RATE_WINDOW_MS from there (the limiter lets bytes go in pieces of a tenth of a second, too
 * coarse for the difference of two sizes a second apart). NaN if it never is.
 */
function settledFrom(samples: readonly SizeSample[], switchAt: number, rate: number): number {
  const end = samples.at(-1)?.at ?? Number.NaN;
  const rateFrom = (from: number) => perSecond(fitLine(samples.filter((sample) => sample.at >= from && sample.at <= from + RATE_WINDOW_MS), from).slope);
  const starts = samples.filter((sample) => sample.at >= switchAt && sample.at + RATE_WINDOW_MS <= end);
  let settled = Number.NaN;
  for (const start of starts) {
    if (!within(rateFrom(start.at), rate)) settled = Number.NaN;
    else if (Number.isNaN(settled)) settled = start.at;
  }
  return settled;
}

/** One upload through a timetable whose next entry is the next wall-clock minute, started leadSeconds before it. */
async function measureSwitch(context: WindowContext): Promise<Switch> {
  const before = limitOf(BWLIMIT.before, new Date());
  const after = limitOf(BWLIMIT.after, new Date());
  const size = before * BWLIMIT.leadSeconds + after * BWLIMIT.afterSeconds;
  const set = await context.writeSet('bwlimit-switch', 1, size, false);
  const relative = set.files[0]!;
  const vmftp = await context.vmftp(set.source, 'bwlimit-switch');
  context.shapeLink(BWLIMIT.link);
  // The next minute that leaves the run its lead (and a second to spare for the bench itself).
  let switchAt = Math.ceil(Date.now() / 60_000) * 60_000;
  if (switchAt - Date.now() < (BWLIMIT.leadSeconds + 1) * 1000) switchAt += 60_000;
  const spec = `${hhmm(new Date(switchAt - 60_000))},${BWLIMIT.before} ${hhmm(new Date(switchAt))},${BWLIMIT.after}`;
  await sleep(switchAt - BWLIMIT.leadSeconds * 1000 - Date.now());
  context.log(`bwlimit: timetable "${spec}" (${fixed(size / MB, 1)} MB), load ${context.loadText()}`);
  const running = vmftp(['--bwlimit', spec]);
  const samples = await sampleWhile(remoteFile(context.serverRoot, relative), running);
  const run = await running;
  rmSync(set.source, { recursive: true, force: true });
  const unfinished = samples.filter((sample) => sample.bytes > 0 && sample.bytes < size);
  const start = unfinished[0]?.at ?? Number.NaN;
  // A second after the first byte (the start's burst) up to the switch, and from 3 s after it to the end.
  const lineBefore = fitLine(unfinished.filter((sample) => sample.at >= start + 1000 && sample.at < switchAt), switchAt);
  const lineAfter = fitLine(unfinished.filter((sample) => sample.at >= switchAt + 3000), switchAt);
  const kneeMs = (lineBefore.intercept - lineAfter.intercept) / (lineAfter.slope - lineBefore.slope);
  const result = {
    spec,
    before,
    after,
    rateBefore: perSecond(lineBefore.slope),
    rateAfter: perSecond(lineAfter.slope),
    kneeMs,
    settledMs: settledFrom(unfinished, switchAt, after) - switchAt,
  };
  if (run.code !== 0 || !(start < switchAt - 2000) || !Number.isFinite(kneeMs)) {
    return { ...result, fail: `${describeEnd(run)}; first byte ${seconds(start - switchAt)} from the switch, ${samples.at(-1)?.bytes ?? 0} of ${size} bytes on the server` };
  }
  return result;
}

export async function measureBwlimit(context: WindowContext): Promise<WindowResult> {
  const load = context.loadText();
  clearUp(context.serverRoot);
  const steady = await measureSteady(context);
  clearUp(context.serverRoot);
  const change = await measureSwitch(context);
  clearUp(context.serverRoot);
  const steadyOk = steady.fail === undefined && within(steady.rate, steady.limit);
  const changeOk = change.fail === undefined && change.settledMs <= SWITCH_WITHIN_MS && within(change.rateAfter, change.after) && within(change.rateBefore, change.before);
  const rows = [
    [
      `\`--bwlimit ${BWLIMIT.steady}\`, ${fixed(steady.bytes / MB, 1)} MB`,
      mbps(steady.limit),
      steady.fail ?? `${mbps(steady.rate)} over ${seconds(steady.ms, 1)}`,
      ofLimit(steady.rate, steady.limit),
    ],
    [`timetable \`${change.spec}\`: before the switch`, mbps(change.before), mbps(change.rateBefore), ofLimit(change.rateBefore, change.before)],
    [`the same: after the switch`, mbps(change.after), mbps(change.rateAfter), ofLimit(change.rateAfter, change.after)],
  ];
  const markdown = [
    '## 8. `--bwlimit`: accuracy and a timetable change',
    '',
    `Over the ${BWLIMIT.link.replace('gbit', ' Gbit/s')} link of section 6, \`vmftp\` uploads one file through the limit while the bench reads the size`,
    `of the file the server writes every ${SAMPLE_MS} ms: the rate is the bytes the server received over the time from`,
    'the first to the last. rclone\'s units: M = MiB/s = 1.048576 MB/s.',
    '',
    table(['upload', 'limit', 'the server received', 'vs the limit'], rows),
    '',
    `The timetable's next entry is the next wall-clock minute; the run starts ${BWLIMIT.leadSeconds} s before it and its file lasts`,
    `~${BWLIMIT.afterSeconds} s after. The rates before and after are lines fitted to the sizes (from 1 s after the first byte`,
    `to the switch, and from 3 s after it on) meet ${fromSwitch(change.kneeMs)}. The rate (a line fitted to the next`,
    `${RATE_WINDOW_MS / 1000} s of sizes: the limiter lets bytes go in pieces of a tenth of a second) is within ${RATE_TOLERANCE * 100} % of the new`,
    `limit, and stays so, from **${seconds(change.settledMs)} after the switch**.`,
    ...closingLines(change.fail, load),
  ].join('\n');
  return {
    markdown,
    verdicts: [
      {
        target: `\`--bwlimit ${BWLIMIT.steady}\` over ${BWLIMIT.steadySeconds} s within ±${RATE_TOLERANCE * 100} % of the limit`,
        measured: steady.fail ?? `${ofLimit(steady.rate, steady.limit)} (${mbps(steady.rate)} for ${mbps(steady.limit)})`,
        result: steadyOk ? 'PASS' : 'FAIL',
      },
      {
        target: `a timetable change: the rate within ±${RATE_TOLERANCE * 100} % of the new limit at most ${SWITCH_WITHIN_MS / 1000} s after the switch (issue 14, point 1)`,
        measured:
          change.fail ??
          `${seconds(change.settledMs)} (the lines of the two rates meet ${fromSwitch(change.kneeMs)}); ${ofLimit(change.rateBefore, change.before)} of the limit before, ${ofLimit(change.rateAfter, change.after)} after`,
        result: changeOk ? 'PASS' : 'FAIL',
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// deadline

interface DeadlineJson {
  report?: { exitCode?: number; windowClosed?: { at: string }; targets?: { actions?: { bytes: number }[] }[] };
}

/** Returns the report of a run's `--json`, undefined when there is none (the run failed before). */
function reportOf(stdout: string): DeadlineJson['report'] {
  try {
    return (JSON.parse(stdout) as DeadlineJson).report;
  } catch {
    return undefined;
  }
}

/** Returns the bytes pure-ftpd's `stats` log says its uploads received, in the lines after the first `skip`. */
function receivedBytes(transferLog: string, skip: number): { lines: number; bytes: number } {
  const lines = readFileSync(transferLog, 'utf8').split('\n').filter((line) => line !== '');
  // <time> <session> <user> <ip> U <bytes> <seconds> <file>
  const bytes = lines.slice(skip).reduce((sum, line) => {
    const fields = line.split(' ');
    return fields[4] === 'U' ? sum + Number(fields[5]) : sum;
  }, 0);
  return { lines: lines.length, bytes };
}

/** Returns the bytes under `<root>/up` once they stopped growing (the last bytes of a dropped connection may still arrive). */
async function settledBytes(root: string): Promise<number> {
  let last = -1;
  let stableSince = Date.now();
  const until = Date.now() + 10_000;
  for (;;) {
    const bytes = treeStats(path.join(root, 'up')).bytes;
    if (bytes !== last) {
      last = bytes;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1000 || Date.now() > until) return bytes;
    await sleep(100);
  }
}

export async function measureDeadline(context: WindowContext): Promise<WindowResult> {
  clearUp(context.serverRoot);
  const set = await context.writeSet('deadline', DEADLINE.vms, DEADLINE.vmdkBytes, true);
  const vmftp = await context.vmftp(set.source, 'deadline');
  context.shapeLink(DEADLINE.link);
  const load = context.loadText();
  context.log(`deadline: --max-duration ${DEADLINE.maxDuration} over ${fixed(set.bytes / MB, 1)} MB at ${DEADLINE.link}, load ${load}`);
  const first = await vmftp(['--max-duration', DEADLINE.maxDuration, '--json']);
  const endedAt = Date.now();
  const report = reportOf(first.stdout);
  const deadline = Date.parse(report?.windowClosed?.at ?? '');
  const endedAfterMs = endedAt - deadline;
  const reportedSent = (report?.targets ?? []).flatMap((target) => target.actions ?? []).reduce((sum, action) => sum + action.bytes, 0);
  const held = await settledBytes(context.serverRoot);
  const logged = receivedBytes(context.transferLog, 0);
  const second = await vmftp(['--json']);
  await sleep(500);
  const received = receivedBytes(context.transferLog, logged.lines).bytes;
  const complete = treeStats(path.join(context.serverRoot, 'up'));
  const resent = received - (set.bytes - held);
  clearUp(context.serverRoot);
  rmSync(set.source, { recursive: true, force: true });
  const fail =
    first.code !== 5 || !Number.isFinite(deadline)
      ? `the first run: ${describeEnd(first)} (exit 5 expected, with report.windowClosed)`
      : second.code !== 0 || complete.files !== set.files.length || complete.bytes !== set.bytes
        ? `the next run: ${describeEnd(second)}; the server holds ${complete.files} files, ${complete.bytes} of ${set.bytes} bytes`
        : undefined;
  const rows = [
    ['the first run ends after its deadline', seconds(endedAfterMs), `within ${ENDS_WITHIN_MS / 1000} s`],
    ['the server holds after the first run', `${fixed(held / MB, 2)} MB of ${fixed(set.bytes / MB, 1)} MB`, ''],
    ['the first run reports it sent', `${fixed(reportedSent / MB, 2)} MB`, 'what the server holds'],
    ['the next run sends (pure-ftpd\'s transfer log)', `${fixed(received / MB, 2)} MB`, `${fixed((set.bytes - held) / MB, 2)} MB: the rest`],
    ['of which sent again', `${resent} bytes`, '0 bytes'],
  ];
  const markdown = [
    '## 9. The deadline, and the next run',
    '',
    `Over the ${DEADLINE.link.replace('mbit', ' Mbit/s')} link: ${DEADLINE.vms} VMs x (one ${fixed(DEADLINE.vmdkBytes / MB)} MB vmdk + small files), ${fixed(set.bytes / MB, 1)} MB, ~${fixed((set.bytes * 8) / 100e6, 0)} s at line rate;`,
    `\`vmftp --max-duration ${DEADLINE.maxDuration}\` stops it (exit 5), then a run without a deadline sends the rest. The deadline is`,
    '`report.windowClosed.at` of the first run\'s `--json`; its end is when the process had exited. What the',
    'server holds is read once its files stopped growing; what the next run sent, from pure-ftpd\'s transfer',
    'log (`-O stats:`, the bytes each upload received).',
    '',
    table(['measurement', 'measured', 'target'], rows),
    ...closingLines(fail, load),
  ].join('\n');
  return {
    markdown,
    verdicts: [
      {
        target: `the run ends within ${ENDS_WITHIN_MS / 1000} s of its deadline (\`--max-duration ${DEADLINE.maxDuration}\`)`,
        measured: fail ?? `${seconds(endedAfterMs)} after it`,
        result: fail === undefined && endedAfterMs <= ENDS_WITHIN_MS ? 'PASS' : 'FAIL',
      },
      {
        target: 'the next run re-sends 0 bytes',
        measured: fail ?? `${resent} bytes (sent ${received} bytes; the server lacked ${set.bytes - held})`,
        result: fail === undefined && resent === 0 ? 'PASS' : 'FAIL',
      },
    ],
  };
}
