/**
 * The deadline of a run (`--max-duration`, `--stop-at`, config `window.end`): from then on no new
 * transfer starts and the running ones stop, their `.partial` folders resumed by the next run.
 * Pure: the run's start is a parameter; clock times are the local time of the machine vmftp runs
 * on, as the backup job's stamps are.
 */
import { addDays } from 'date-fns/addDays';
import { set } from 'date-fns/set';
import type { BackupToTarget, LocalBackup, TargetInventory } from './model.js';

/** A time of day on the local clock, `HH:MM`. */
export interface ClockTime {
  readonly hours: number;
  readonly minutes: number;
}

/** What may end a run early, as the flags and the config give it. */
export interface DeadlineSettings {
  /** `--max-duration`: as typed (`90m`), and in milliseconds. */
  readonly maxDuration?: { readonly text: string; readonly ms: number };
  /** `--stop-at HH:MM`. */
  readonly stopAt?: ClockTime;
  /** Config `window.end`. */
  readonly windowEnd?: ClockTime;
}

/** When a run must stop its transfers, and which setting said so. */
export interface Deadline {
  readonly at: Date;
  /** `--max-duration 90m`, `--stop-at 07:00` or `window.end 07:00`. */
  readonly by: string;
}

const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Returns the time of day `HH:MM` names (00:00 to 23:59), undefined when `text` is not one. */
export function parseClockTime(text: string): ClockTime | undefined {
  const match = CLOCK_TIME.exec(text);
  return match === null ? undefined : { hours: Number(match[1]), minutes: Number(match[2]) };
}

/** Returns a time of day as `HH:MM`. */
export function formatClockTime(time: ClockTime): string {
  return `${String(time.hours).padStart(2, '0')}:${String(time.minutes).padStart(2, '0')}`;
}

/** rclone's units for a run's length: days, hours, minutes (not months, unlike `maxAge`), seconds. */
const RUN_DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const UNIT_MS = [86_400_000, 3_600_000, 60_000, 1000] as const;

/**
 * Returns the milliseconds of a run length such as `90m`, `6h`, `5s` or `1h30m` (units d, h, m
 * for minutes, s, largest first), undefined when `text` is not one or is zero.
 */
export function parseRunDuration(text: string): number | undefined {
  const match = RUN_DURATION.exec(text);
  if (match === null || text === '') return undefined;
  const ms = UNIT_MS.reduce((sum, unit, index) => sum + Number(match[index + 1] ?? 0) * unit, 0);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Returns the first moment after `now` at which the local clock shows `time`: today's when it is
 * still ahead, else tomorrow's. Calendar days, not 24-hour steps, so a daylight-saving change in
 * between moves nothing; on the night the clock skips `time` (02:30 in spring) it is the same
 * moment one hour later by the clock (03:30), and on the night it shows `time` twice, the first.
 */
export function nextClockTime(now: Date, time: ClockTime): Date {
  const at = (day: Date) => set(day, { hours: time.hours, minutes: time.minutes, seconds: 0, milliseconds: 0 });
  const today = at(now);
  return today.getTime() > now.getTime() ? today : at(addDays(now, 1));
}

/**
 * Returns the deadline of a run that started at `startedAt`: the earliest of what the settings
 * ask for (a flag and the config together: the earlier one wins), undefined when none does.
 */
export function runDeadline(startedAt: Date, settings: DeadlineSettings): Deadline | undefined {
  const candidates: Deadline[] = [];
  if (settings.maxDuration !== undefined) {
    candidates.push({ at: new Date(startedAt.getTime() + settings.maxDuration.ms), by: `--max-duration ${settings.maxDuration.text}` });
  }
  if (settings.stopAt !== undefined) candidates.push({ at: nextClockTime(startedAt, settings.stopAt), by: `--stop-at ${formatClockTime(settings.stopAt)}` });
  if (settings.windowEnd !== undefined) {
    candidates.push({ at: nextClockTime(startedAt, settings.windowEnd), by: `window.end ${formatClockTime(settings.windowEnd)}` });
  }
  return candidates.reduce<Deadline | undefined>((earliest, candidate) => (earliest === undefined || candidate.at < earliest.at ? candidate : earliest), undefined);
}

/** A deferred backup and how much of it the server holds as `<stamp>.partial` after the run. */
export interface DeferredBackup extends BackupToTarget {
  /** Bytes of the whole backup. */
  readonly bytes: number;
  /** Bytes of it in `<stamp>.partial` on the target after the run (the next run sends only the rest); undefined when the target could not be listed. */
  readonly onServer?: number;
}

/**
 * Returns each deferred upload with its size and the bytes its `.partial` holds in `after` (the
 * targets listed after the run; a target missing there could not be listed). A file counts at
 * most at its local size: more on the server is sent again from the first byte.
 */
export function describeDeferred(
  deferred: readonly BackupToTarget[],
  after: readonly TargetInventory[],
  local: readonly LocalBackup[],
): DeferredBackup[] {
  return deferred.map((upload) => {
    const backup = local.find((candidate) => candidate.vm === upload.vm && candidate.stamp === upload.stamp);
    const bytes = backup?.bytes ?? 0;
    const inventory = after.find((candidate) => candidate.target === upload.target);
    if (inventory === undefined) return { ...upload, bytes };
    const partial = inventory.backups.find((remote) => remote.partial && remote.vm === upload.vm && remote.stamp === upload.stamp);
    const sizes = new Map(backup?.files.map((file) => [file.path, file.size]));
    const onServer = (partial?.files ?? []).reduce((sum, file) => {
      const size = sizes.get(file.path);
      return size === undefined || file.size > size ? sum : sum + file.size;
    }, 0);
    return { ...upload, bytes, onServer };
  });
}
