/**
 * Which backups a retention policy keeps, and why: restic's `forget` rules applied to stamps.
 * Pure: "now" is the newest stamp, never the clock, so a dry run and the real run agree.
 */
import { format } from 'date-fns/format';
import type { GfsPolicy, KeepPolicy, RetentionResult } from './model.js';
import { compareStamps, parseStamp } from './stamp.js';

/** A `within` duration as restic reads it: `1y2m3d4h` (m is months). */
export interface WithinDuration {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;
}

type CountRule = Exclude<keyof GfsPolicy, 'within'>;

interface BucketRule {
  readonly rule: CountRule;
  /** The calendar bucket of a backup; `nr` is its position, newest first. */
  readonly bucket: (date: Date, nr: number) => string;
}

// restic's order, which is also the order reasons are listed in.
const BUCKET_RULES: readonly BucketRule[] = [
  // Every backup is its own bucket, so `last` simply keeps the N newest.
  { rule: 'last', bucket: (_date, nr) => String(nr) },
  { rule: 'hourly', bucket: (date) => format(date, 'yyyyMMddHH') },
  { rule: 'daily', bucket: (date) => format(date, 'yyyyMMdd') },
  // ISO week-numbering year with the ISO week, as Go's ISOWeek(): 2021-01-03 is in week 2020-53.
  { rule: 'weekly', bucket: (date) => format(date, "RRRR'W'II") },
  { rule: 'monthly', bucket: (date) => format(date, 'yyyyMM') },
  { rule: 'yearly', bucket: (date) => format(date, 'yyyy') },
];

/**
 * Returns the parts of a restic duration such as `30d` or `1y2m3d4h` (y years, m months,
 * d days, h hours, each unit at most once, any order), or undefined when `s` is not one.
 */
export function parseWithinDuration(s: string): WithinDuration | undefined {
  const text = s.trim();
  if (text === '') return undefined;
  const part = /(\d+)([ymdh])/y;
  const parts = new Map<string, number>();
  while (part.lastIndex < text.length) {
    const match = part.exec(text);
    const digits = match?.[1];
    const unit = match?.[2];
    if (digits === undefined || unit === undefined) return undefined;
    const value = Number(digits);
    // A repeated unit is almost surely a typo; restic would silently take the last one.
    if (parts.has(unit) || !Number.isSafeInteger(value)) return undefined;
    parts.set(unit, value);
  }
  return { years: parts.get('y') ?? 0, months: parts.get('m') ?? 0, days: parts.get('d') ?? 0, hours: parts.get('h') ?? 0 };
}

/** Returns the duration in restic's canonical spelling, e.g. `1y2m3d4h`, zero parts left out. */
function formatWithinDuration(d: WithinDuration): string {
  const text = `${d.years ? `${d.years}y` : ''}${d.months ? `${d.months}m` : ''}${d.days ? `${d.days}d` : ''}${d.hours ? `${d.hours}h` : ''}`;
  return text === '' ? '0h' : text;
}

function isZeroDuration(d: WithinDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/** Returns the counts of a policy's count rules, reading a number N as restic's keep-last N. */
function asGfs(policy: KeepPolicy): GfsPolicy {
  return typeof policy === 'number' ? { last: policy } : policy;
}

/** Returns why a policy cannot be applied, or undefined when it can. */
function policyError(policy: KeepPolicy): string | undefined {
  const gfs = asGfs(policy);
  for (const { rule } of BUCKET_RULES) {
    const count = gfs[rule];
    // restic reads -1 as "unlimited"; refusing it keeps a copied restic value from meaning "none".
    if (count !== undefined && !(Number.isSafeInteger(count) && count >= 0)) {
      return `${rule} must be a whole number of 0 or more, got ${String(count)}`;
    }
  }
  if (gfs.within !== undefined && parseWithinDuration(gfs.within) === undefined) {
    return `within must be a duration like "30d" or "1y2m3d4h", got ${JSON.stringify(gfs.within)}`;
  }
  return undefined;
}

/**
 * Returns a short description of a policy for reasons and reports:
 * `"3 newest"`, `"last 2, daily 7, weekly 4, within 30d"`, or `"nothing"`.
 */
export function describePolicy(policy: KeepPolicy): string {
  if (typeof policy === 'number') return policy >= 1 ? `${policy} newest` : 'nothing';
  const parts: string[] = [];
  for (const { rule } of BUCKET_RULES) {
    const count = policy[rule];
    if (count !== undefined && count >= 1) parts.push(`${rule} ${count}`);
  }
  if (policy.within !== undefined) {
    const within = parseWithinDuration(policy.within);
    if (within === undefined) parts.push(`within ${policy.within}`);
    else if (!isZeroDuration(within)) parts.push(`within ${formatWithinDuration(within)}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}

/**
 * Returns true when no rule of the policy can keep a backup (all counts 0, no usable `within`).
 * Config validation rejects such a policy; {@link applyRetention} would still keep the newest.
 */
export function policyKeepsNothing(policy: KeepPolicy): boolean {
  const gfs = asGfs(policy);
  if (BUCKET_RULES.some(({ rule }) => (gfs[rule] ?? 0) >= 1)) return false;
  const within = gfs.within === undefined ? undefined : parseWithinDuration(gfs.within);
  return within === undefined || isZeroDuration(within);
}

/** Returns the reason given to every stamp the policy removes. */
function removeReason(policy: KeepPolicy): string {
  if (policyKeepsNothing(policy)) return 'the policy keeps nothing: only the newest backup is kept';
  if (typeof policy === 'number') return policy === 1 ? 'older than the newest' : `older than the ${policy} newest`;
  return `not kept by any rule (${describePolicy(policy)})`;
}

/** Returns the time `d` before `newest` (ms since the epoch), in calendar units as restic computes `within`. */
export function durationBefore(newest: Date, d: WithinDuration): number {
  // Go's AddDate rolls over like the Date setters (Mar 31 - 1m = Mar 3 or 2), where date-fns'
  // subMonths would clamp to Feb 28; setFullYear also avoids Date's 0-99 -> 19xx year mapping.
  const shifted = new Date(newest.getTime());
  shifted.setFullYear(newest.getFullYear() - d.years, newest.getMonth() - d.months, newest.getDate() - d.days);
  const cutoff = shifted.getTime() - d.hours * 3_600_000;
  // A duration longer than Date can represent reaches before every backup.
  return Number.isNaN(cutoff) ? Number.NEGATIVE_INFINITY : cutoff;
}

/**
 * Returns which stamps a policy keeps and removes (both newest first) and, for every input stamp,
 * why: kept ones list each rule that keeps them with its position (`"last 2/3"`, `"daily 3/7"`,
 * `"within 30d"`, `"oldest yearly 3/10"`), removed ones carry one reason.
 *
 * A number N keeps the N newest. A GFS policy follows restic's `forget` (ApplyPolicy): walking
 * newest first, a count rule with count left keeps a backup whose calendar bucket differs from
 * the last one that rule kept, and also keeps the oldest backup while it has count left, to keep
 * the longest history; `within` keeps every backup after newest minus the duration. A non-empty
 * input always keeps at least its newest backup. Duplicate stamps count once.
 * Throws a RangeError for an input that is not a stamp or a policy config validation rejects.
 */
export function applyRetention(stamps: readonly string[], policy: KeepPolicy): RetentionResult {
  const problem = policyError(policy);
  if (problem !== undefined) throw new RangeError(`invalid retention policy: ${problem}`);

  const dated = [...new Set(stamps)].map((stamp) => {
    const date = parseStamp(stamp);
    if (date === undefined) throw new RangeError(`not a backup stamp: ${JSON.stringify(stamp)}`);
    return { stamp, date };
  });
  dated.sort((a, b) => compareStamps(b.stamp, a.stamp));

  const result: RetentionResult = { keep: [], remove: [], reasons: {} };
  const newest = dated[0];
  if (newest === undefined) return result;

  const gfs = asGfs(policy);
  const within = gfs.within === undefined ? undefined : parseWithinDuration(gfs.within);
  const withinRule =
    within !== undefined && !isZeroDuration(within)
      ? { cutoff: durationBefore(newest.date, within), reason: `within ${formatWithinDuration(within)}` }
      : undefined;
  const counters = BUCKET_RULES.map((rule) => {
    const total = gfs[rule.rule] ?? 0;
    return { ...rule, total, left: total, lastBucket: undefined as string | undefined };
  });

  const removed = removeReason(policy);
  dated.forEach(({ stamp, date }, nr) => {
    const isOldest = nr === dated.length - 1;
    const why: string[] = [];
    if (withinRule !== undefined && date.getTime() > withinRule.cutoff) why.push(withinRule.reason);
    for (const counter of counters) {
      if (counter.left <= 0) continue;
      const bucket = counter.bucket(date, nr);
      if (bucket === counter.lastBucket && !isOldest) continue;
      // restic marks the oldest backup "oldest" only when its bucket was already represented.
      const label = bucket === counter.lastBucket ? `oldest ${counter.rule}` : counter.rule;
      counter.lastBucket = bucket;
      counter.left -= 1;
      why.push(`${label} ${counter.total - counter.left}/${counter.total}`);
    }
    if (why.length > 0) {
      result.keep.push(stamp);
      result.reasons[stamp] = why;
    } else {
      result.remove.push(stamp);
      result.reasons[stamp] = [removed];
    }
  });

  if (result.keep.length === 0) {
    // Only a policy that keeps nothing gets here; a VM must never lose its last backup to it.
    result.remove.shift();
    result.keep.push(newest.stamp);
    result.reasons[newest.stamp] = ['newest backup: every VM keeps at least one'];
  }
  return result;
}
