/**
 * The speed each target's uploads reached in the last run that sent bytes there, kept in a small
 * JSON file next to the lock, for `--simulate`'s forecast. Only a run that holds the lock writes
 * it; a missing or unreadable file only means there is no estimate.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { MeasuredSpeed } from '../core/model.js';
import { tally } from '../report/totals.js';
import type { TargetOutcome } from './outcome.js';

const recordSchema = z.object({
  version: z.literal(1),
  targets: z.record(
    z.string(),
    z.object({ bytes: z.number().nonnegative(), seconds: z.number().nonnegative(), measuredAt: z.string() }),
  ),
});

/** What the record says: the last measured speed per target name, or why it could not be read. */
export type SpeedRecord =
  | { readonly speeds: Readonly<Record<string, MeasuredSpeed>> }
  | { readonly unreadable: string };

/**
 * Returns the speed of each target's uploads in this run: the bytes they sent (failed and stopped
 * ones included) over their wall time, as the report's speed column; a target that sent nothing
 * measured nothing.
 */
export function measuredSpeeds(outcomes: readonly TargetOutcome[], startedAt: Date): Record<string, MeasuredSpeed> {
  const speeds: Record<string, MeasuredSpeed> = {};
  for (const outcome of outcomes) {
    const { bytes, transferMs } = tally(outcome.actions);
    if (bytes > 0 && transferMs > 0) speeds[outcome.target] = { bytes, seconds: transferMs / 1000, measuredAt: startedAt.toISOString() };
  }
  return speeds;
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
 * Writes the speeds this run measured into `file`, keeping the other targets' earlier ones. Written
 * aside and renamed into place, so a reader never finds half a record; an unreadable old record
 * is replaced.
 */
export async function writeSpeedRecord(file: string, measured: Readonly<Record<string, MeasuredSpeed>>): Promise<void> {
  const before = await readSpeedRecord(file);
  const targets = { ...('speeds' in before ? before.speeds : {}), ...measured };
  const draft = `${file}.${process.pid}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(draft, `${JSON.stringify({ version: 1, targets }, null, 2)}\n`);
    await fs.rename(draft, file);
  } finally {
    await fs.rm(draft, { force: true });
  }
}
