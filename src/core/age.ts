/**
 * `maxAge`: after a run, is the newest complete backup of every VM on every target recent enough?
 * A VM whose newest copy is older than its limit means the backup job stopped producing it, or
 * its uploads keep failing; either way the run fails so that someone looks. A VM whose newer backup
 * the deadline deferred this run is judged on that backup: young enough, it meets the limit once
 * the next run completes it (the run is deferred, not failed); too old, the window is what keeps
 * it off the target, and the run fails saying so. That excuse is bounded by maxAge: a window that
 * never lets an upload end defers a new backup every night, so the check also asks how long the
 * target has gone without this VM's newer backups: when any pending one (still local, or a
 * `.partial` there, newer than the newest complete copy) is older than the limit, the VM is too old,
 * for the same reason. Known gap: a backup job that keeps only its newest backup locally, with no
 * older `.partial` left on the target, leaves no evidence of a chronic deferral to this stateless
 * check (a state file of when each VM was last complete would close it). A VM whose newer backup
 * failed to upload this run fails too, and says that upload is why, not the backup job. Pure: the
 * clock is a parameter.
 */
import type { BackupToTarget, LocalBackup, MaxAge, Plan, TargetInventory, VmRoute } from './model.js';
import { isCompleteOn, routeFor } from './plan.js';
import { durationBefore, parseWithinDuration, type WithinDuration } from './retention.js';
import { compareStamps, isStamp, parseStamp } from './stamp.js';

/** The uploads this run tried and did not complete, each a backup (`vm`, `stamp`) to a `target`. */
export interface UnfinishedUploads {
  /** Stopped by the deadline: they resume next run. */
  readonly deferred: readonly BackupToTarget[];
  /** Ended in failure (upload, resume or resend): the run's report says why. */
  readonly failed: readonly BackupToTarget[];
}

/** The part of the configuration the age check needs. */
export interface AgeSettings {
  /** Config `maxAge` (default `'8d'`). */
  readonly maxAge: MaxAge;
  /** Per-target `maxAge`, used when the VM has none of its own. */
  readonly targetMaxAge: Readonly<Record<string, MaxAge | undefined>>;
  /** VM name (or `'*'`) -> route, whose `maxAge` wins over the target's. */
  readonly vms: Readonly<Record<string, VmRoute>>;
}

/** One VM on one target whose newest complete backup is older than its `maxAge` (or that has none). */
export interface TooOld {
  readonly target: string;
  readonly vm: string;
  /** Stamp of the newest complete backup there; absent when there is none. */
  readonly newest?: string;
  /** How old that backup was at the check. */
  readonly ageMs?: number;
  /** Stamp of a newer backup the deadline deferred this run while a pending one is older than the limit: the window kept them off the target. */
  readonly deferred?: string;
  /** With `deferred`: stamp of the oldest pending backup (local or `.partial` there, newer than `newest`), older than the limit. */
  readonly waiting?: string;
  /** Stamp of a newer backup whose upload failed this run (none deferred): that failure kept it off the target. */
  readonly failed?: string;
  readonly maxAge: string;
  /** What happened and what to do, naming VM, target and age. */
  readonly message: string;
}

/**
 * One VM on one target whose newest complete backup is missing or older than its `maxAge`, while
 * a newer backup was deferred by the deadline this run and every pending backup (`deferred`
 * included) is within the limit: not a failure, it is deferred with that backup and meets the
 * limit once the next run completes it.
 */
export interface AwaitingDeferred {
  readonly target: string;
  readonly vm: string;
  /** Stamp of the newest complete backup there; absent when there is none. */
  readonly newest?: string;
  /** Stamp of the deferred backup that meets the limit once uploaded. */
  readonly deferred: string;
  readonly maxAge: string;
  /** What happened, naming VM, target and the deferred stamp, and that it resumes next run. */
  readonly message: string;
}

/** The maxAge verdict of a run: what fails it, and what waits for a deferred backup. */
export interface MaxAgeCheck {
  readonly tooOld: TooOld[];
  readonly awaitingDeferred: AwaitingDeferred[];
}

/** A target that could not be listed after the run, and why. */
export interface Unlisted {
  readonly target: string;
  readonly error: string;
}

/** Returns the limit of a VM on a target: the VM's own, else the target's, else the config's. */
export function maxAgeFor(settings: AgeSettings, vm: string, target: string): MaxAge {
  const targetLimit = Object.hasOwn(settings.targetMaxAge, target) ? settings.targetMaxAge[target] : undefined;
  return routeFor(settings, vm)?.maxAge ?? targetLimit ?? settings.maxAge;
}

/** Returns the limit of a VM on a target that is checked, with its duration; undefined when it never is too old (false). */
function checkedLimit(settings: AgeSettings, vm: string, target: string): { readonly limit: string; readonly duration: WithinDuration } | undefined {
  const limit = maxAgeFor(settings, vm, target);
  const duration = limit === false ? undefined : parseWithinDuration(limit);
  return limit === false || duration === undefined ? undefined : { limit, duration };
}

/**
 * Returns true when checkMaxAge has something to judge: some VM the plan covers on some target has
 * a maxAge. Without one it finds nothing whatever the targets hold, so no listing is needed for it.
 */
export function checksAge(plan: Plan, settings: AgeSettings): boolean {
  return plan.targets.some(({ target, vms }) => vms.some(({ vm }) => checkedLimit(settings, vm, target) !== undefined));
}

/** Returns an age as `3d 4h` or `17h` (whole hours, rounded down). */
export function formatAge(ms: number): string {
  const hours = Math.floor(Math.max(0, ms) / 3_600_000);
  const days = Math.floor(hours / 24);
  return days > 0 ? `${days}d ${hours % 24}h` : `${hours}h`;
}

/** Returns the newest of `stamps` that is a backup stamp, undefined when there is none. */
function newestStamp(stamps: readonly string[]): string | undefined {
  return stamps.filter(isStamp).sort((a, b) => compareStamps(b, a))[0];
}

/** What the age check knows of one VM on one listed target. */
interface VmOnTarget {
  readonly vm: string;
  readonly target: string;
  readonly limit: string;
  readonly duration: WithinDuration;
  /** Stamp of its newest complete backup there. */
  readonly newest?: string;
  /** Stamp of its newest backup for that target the deadline deferred this run. */
  readonly deferred?: string;
  /** Stamps of its backups not complete there: local ones, and its `.partial` folders there. */
  readonly pending: readonly string[];
  /** Stamp of its newest backup whose upload to that target failed this run. */
  readonly failed?: string;
}

/** Returns the verdict on one VM on one target: undefined when its newest complete backup there is within the limit. */
function judge(on: VmOnTarget, now: Date): { readonly tooOld: TooOld } | { readonly awaiting: AwaitingDeferred } | undefined {
  const { vm, target, limit, newest } = on;
  const cutoff = durationBefore(now, on.duration);
  const ageOf = (stamp: string) => now.getTime() - parseStamp(stamp)!.getTime();
  const withinLimit = (stamp: string) => parseStamp(stamp)!.getTime() >= cutoff;
  if (newest !== undefined && withinLimit(newest)) return undefined;
  // A deferred or failed upload of a backup no newer than the newest complete one would not have made the VM any younger there.
  const newerThanComplete = (stamp: string | undefined) => (stamp !== undefined && (newest === undefined || compareStamps(stamp, newest) > 0) ? stamp : undefined);
  const deferred = newerThanComplete(on.deferred);
  const complete = newest === undefined ? `no complete backup on ${target}` : `the newest complete backup on ${target}, ${newest}, is ${formatAge(ageOf(newest))} old`;
  const found = { target, vm, ...(newest === undefined ? {} : { newest, ageMs: ageOf(newest) }), maxAge: limit };
  if (deferred !== undefined) {
    // The oldest backup newer than the complete one and still not there says how long the window has kept this VM off the target.
    const waiting = [deferred, ...on.pending.filter((stamp) => isStamp(stamp) && newerThanComplete(stamp) !== undefined)].sort(compareStamps)[0] ?? deferred;
    if (withinLimit(waiting)) {
      return {
        awaiting: {
          target,
          vm,
          ...(newest === undefined ? {} : { newest }),
          deferred,
          maxAge: limit,
          message: `${vm}: ${complete}, but its backup ${deferred} (${formatAge(ageOf(deferred))} old, within maxAge ${limit}) was deferred by the window: not a failure, it resumes next run`,
        },
      };
    }
    return {
      tooOld: {
        ...found,
        deferred,
        waiting,
        message:
          `${vm}: ${complete}, and its backup ${waiting}, not complete there, is ${formatAge(ageOf(waiting))} old, older than maxAge ${limit}: ` +
          `the window keeps closing before its uploads end (this run it deferred ${deferred}, which resumes next run); give the uploads more time ` +
          `(a later window.end or --stop-at, a longer --max-duration), a higher bwlimit if one is set, or a higher vms.${vm}.priority`,
      },
    };
  }
  // The two other verdicts differ only in why: the same head, naming the newest complete backup or its absence.
  const stale = (joiner: string, why: string) =>
    newest === undefined
      ? `${vm} has no complete backup on ${target} (maxAge ${limit}): ${why}`
      : `${vm} on ${target}: the newest complete backup, ${newest}, is ${formatAge(ageOf(newest))} old, older than maxAge ${limit}${joiner}${why}`;
  const failed = newerThanComplete(on.failed);
  if (failed !== undefined) return { tooOld: { ...found, failed, message: stale(', and ', `its upload of ${failed} failed this run (see the error above)`) } };
  const next = `is the backup job still backing up ${vm}, and do its uploads to ${target} succeed? (a VM no longer backed up: set vms.${vm}.maxAge to false, or remove its folder on ${target})`;
  return { tooOld: { ...found, message: stale(': ', next) } };
}

/**
 * Returns the maxAge verdict of a run. Too old: every VM the plan covers on a target (its route
 * includes it) whose newest complete backup there, judged on `inventoriesAfter` (listed after the
 * run), was made before `now` minus its `maxAge`, or that has no complete backup there at all, or
 * could not be checked because listing the target (or the VM's folder there) after the run failed. When the newest of its
 * backups the deadline deferred for that target this run (`unfinished.deferred`) is newer than that complete
 * one, the VM's pending backups for that target decide (`local`, its `.partial` folders there, and
 * the deferred one, each newer than that complete one): all within the limit, the VM awaits the
 * deferred backup (no failure); the oldest older than it, it is too old because the window keeps
 * those backups off the target. Else, when the upload of a newer backup to that
 * target failed this run (`unfinished.failed`), it is too old and the message names that upload. A target missing from `inventoriesAfter`
 * (unreachable from the start, reported as such) is not judged; a `maxAge` of false, or a stamp in
 * the future, is never too old.
 */
export function checkMaxAge(
  plan: Plan,
  inventoriesAfter: readonly (TargetInventory | Unlisted)[],
  local: readonly LocalBackup[],
  unfinished: UnfinishedUploads,
  settings: AgeSettings,
  now: Date,
): MaxAgeCheck {
  const localByKey = new Map(local.map((backup) => [`${backup.vm}/${backup.stamp}`, backup]));
  const check: MaxAgeCheck = { tooOld: [], awaitingDeferred: [] };
  for (const targetPlan of plan.targets) {
    const { target } = targetPlan;
    const inventory = inventoriesAfter.find((candidate) => candidate.target === target);
    if (inventory === undefined) continue;
    for (const { vm } of targetPlan.vms) {
      const checked = checkedLimit(settings, vm, target);
      if (checked === undefined) continue;
      const { limit, duration } = checked;
      if ('error' in inventory) {
        check.tooOld.push({ target, vm, maxAge: limit, message: `${vm} on ${target}: not checked against maxAge ${limit}: listing ${target} after the run failed (${inventory.error})` });
        continue;
      }
      const refused = inventory.unreadable?.find((folder) => folder.vm === vm);
      if (refused !== undefined) {
        check.tooOld.push({
          target,
          vm,
          maxAge: limit,
          message: `${vm} on ${target}: not checked against maxAge ${limit}: folder ${refused.dir} could not be listed after the run (${refused.reason}); check the permissions of ${refused.dir} on ${target}`,
        });
        continue;
      }
      const newest = newestStamp(
        inventory.backups.filter((remote) => remote.vm === vm && isCompleteOn(remote, localByKey.get(`${vm}/${remote.stamp}`))).map((remote) => remote.stamp),
      );
      const newestOf = (uploads: readonly BackupToTarget[]) => newestStamp(uploads.filter((upload) => upload.target === target && upload.vm === vm).map((upload) => upload.stamp));
      const newestDeferred = newestOf(unfinished.deferred);
      const newestFailed = newestOf(unfinished.failed);
      const pending = [...local.filter((backup) => backup.vm === vm), ...inventory.backups.filter((remote) => remote.vm === vm && remote.partial)].map((backup) => backup.stamp);
      const verdict = judge(
        {
          vm,
          target,
          limit,
          duration,
          pending,
          ...(newest === undefined ? {} : { newest }),
          ...(newestDeferred === undefined ? {} : { deferred: newestDeferred }),
          ...(newestFailed === undefined ? {} : { failed: newestFailed }),
        },
        now,
      );
      if (verdict === undefined) continue;
      if ('tooOld' in verdict) check.tooOld.push(verdict.tooOld);
      else check.awaitingDeferred.push(verdict.awaiting);
    }
  }
  return check;
}
