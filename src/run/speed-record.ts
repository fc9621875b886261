/**
 * The speed of the link to each target, as the last run that measured it there found it, kept in
 * a small JSON file next to the lock for `--simulate`'s forecast, with how long a bwlimit held the
 * uploads back (then the speed is only a lower bound of the link's: core/link-speed.ts). Only a
 * run that holds the lock writes it; a missing or unreadable file only means there is no estimate.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { keepsEarlier } from '../core/link-speed.js';
import type { MeasuredSpeed } from '../core/model.js';
import { tally } from '../report/totals.js';
import type { TargetOutcome } from './outcome.js';

const recordSchema = z.object({
  version: z.literal(1),
  targets: z.record(
    z.string(),
    // heldSeconds is absent in the records of a vmftp before it: unknown whether a limit held the uploads.
    z.object({ bytes: z.number().nonnegative(), seconds: z.number().nonnegative(), measuredAt: z.string(), heldSeconds: z.number().nonnegative().optional() }),
  ),
});

/** What the record says: the last measured speed per target name, or why it could not be read. */
export type SpeedRecord =
  | { readonly speeds: Readonly<Record<string, MeasuredSpeed>> }
  | { readonly unreadable: string };

/** What a run's uploads measured that is worth keeping: the speed per target, and why the others are not kept. */
export interface Measurement {
  readonly speeds: Record<string, MeasuredSpeed>;
  /** Per target that sent bytes but whose speed is not kept: why (its earlier record stays). */
  readonly notKept: Record<string, string>;
}

/** How the run went, besides its outcomes: what tells a speed of the link from one of its limits. */
export interface MeasuredRun {
  readonly startedAt: Date;
  /** A signal stopped the run: its uploads were cut at an arbitrary moment. */
  readonly interrupted: boolean;
  /** Returns how long (ms) the bwlimit held a target's uploads back (backends/bandwidth.ts), 0 without a limit. */
  readonly heldMs: (target: string) => number;
}

/**
 * Returns the speed of each target's uploads in this run, to keep for `-S`: the bytes they sent
 * (failed ones included) over their wall time, as the report's speed column, and how long the
 * bwlimit held them back (the limit's share of that speed). Not kept, and said why: a run stopped
 * by a signal, and a target whose uploads the deadline stopped (bytes in flight at the stop are
 * lost, the time they took is not). A target that sent nothing measured nothing.
 */
export function measuredSpeeds(outcomes: readonly TargetOutcome[], run: MeasuredRun): Measurement {
  const measurement: Measurement = { speeds: {}, notKept: {} };
  for (const outcome of outcomes) {
    const { bytes, transferMs } = tally(outcome.actions);
    if (bytes === 0 || transferMs === 0) continue;
    if (run.interrupted) measurement.notKept[outcome.target] = 'a signal stopped the run';
    else if (outcome.actions.some((action) => action.status === 'deferred')) measurement.notKept[outcome.target] = 'the deadline stopped its uploads';
    else {
      const heldMs = Math.min(run.heldMs(outcome.target), transferMs);
      measurement.speeds[outcome.target] = { bytes, seconds: transferMs / 1000, measuredAt: run.startedAt.toISOString(), heldSeconds: heldMs / 1000 };
    }
  }
  return measurement;
}

/** Returns the record's path next to the lock: `vmftp.lock` -> `vmftp.speeds.json`. */
export function speedRecordFile(lockFile: string): string {
  const { dir, name, ext } = path.parse(lockFile);
  return path.join(dir, `${ext === '.lock' ? name : `${name}${ext}`}.speeds.json`);
}

/** Returns the speeds in `file`; none when it does not exist, `unreadable` (and why) when it is not a record. */
export async function readSpeedRecord(file: string): Promise<SpeedRecord> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { speeds: {} };
    return { unreadable: `${file} could not be read (${(error as Error).message})` };
  }
  try {
    const parsed = recordSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { speeds: parsed.data.targets };
  } catch {
    // Not JSON: said below, like a record of the wrong shape.
  }
  return { unreadable: `${file} is not a speed record (written by hand, or cut short?); the next run that uploads writes it anew` };
}

/**
 * Writes the speeds this run measured into `file`, keeping the other targets' earlier ones, and an
 * earlier one a lower bound of this run does not replace (core/link-speed.ts keepsEarlier).
 * Returns, per target whose earlier speed stays, why. Written aside and renamed into place, so a
 * reader never finds half a record; an unreadable old record is replaced.
 */
export async function writeSpeedRecord(file: string, measured: Readonly<Record<string, MeasuredSpeed>>): Promise<Record<string, string>> {
  const before = await readSpeedRecord(file);
  const earlier = 'speeds' in before ? before.speeds : {};
  const targets = { ...earlier };
  const notKept: Record<string, string> = {};
  for (const [target, speed] of Object.entries(measured)) {
    const why = keepsEarlier(Object.hasOwn(earlier, target) ? earlier[target] : undefined, speed);
    if (why === undefined) targets[target] = speed;
    else notKept[target] = why;
  }
  const draft = `${file}.${process.pid}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(draft, `${JSON.stringify({ version: 1, targets }, null, 2)}\n`);
    await fs.rename(draft, file);
  } finally {
    await fs.rm(draft, { force: true });
  }
  return notKept;
}
