/**
 * `maxAge`: after a run, is the newest complete backup of every VM on every target recent enough?
 * A VM whose newest copy is older than its limit means the backup job stopped producing it, or
 * its uploads keep failing; either way the run fails so that someone looks. Pure: the clock is a
 * parameter.
 */
import type { LocalBackup, MaxAge, Plan, TargetInventory, VmRoute } from './model.js';
import { isCompleteOn, routeFor } from './plan.js';
import { durationBefore, parseWithinDuration, type WithinDuration } from './retention.js';
import { compareStamps, isStamp, parseStamp } from './stamp.js';

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
  readonly maxAge: string;
  /** What happened and what to do, naming VM, target and age. */
  readonly message: string;
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
 * Returns true when findTooOld has something to judge: some VM the plan covers on some target has
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

/**
 * Returns every VM the plan covers on a target (its route includes it) whose newest complete
 * backup there, judged on `inventoriesAfter` (listed after the run), was made before `now` minus
 * its `maxAge`, or that has no complete backup there at all, or could not be checked because
 * listing the target after the run failed. A target missing from `inventoriesAfter` (unreachable
 * from the start, reported as such) is not judged; a `maxAge` of false, or a stamp in the
 * future, is never too old.
 */
export function findTooOld(
  plan: Plan,
  inventoriesAfter: readonly (TargetInventory | Unlisted)[],
  local: readonly LocalBackup[],
  settings: AgeSettings,
  now: Date,
): TooOld[] {
  const localByKey = new Map(local.map((backup) => [`${backup.vm}/${backup.stamp}`, backup]));
  const tooOld: TooOld[] = [];
  for (const targetPlan of plan.targets) {
    const { target } = targetPlan;
    const inventory = inventoriesAfter.find((candidate) => candidate.target === target);
    if (inventory === undefined) continue;
    for (const { vm } of targetPlan.vms) {
      const checked = checkedLimit(settings, vm, target);
      if (checked === undefined) continue;
      const { limit, duration } = checked;
      if ('error' in inventory) {
        tooOld.push({ target, vm, maxAge: limit, message: `${vm} on ${target}: not checked against maxAge ${limit}: listing ${target} after the run failed (${inventory.error})` });
        continue;
      }
      const newest = inventory.backups
        .filter((remote) => remote.vm === vm && isStamp(remote.stamp) && isCompleteOn(remote, localByKey.get(`${vm}/${remote.stamp}`)))
        .map((remote) => remote.stamp)
        .sort((a, b) => compareStamps(b, a))[0];
      const next = `is the backup job still backing up ${vm}, and do its uploads to ${target} succeed? (a VM no longer backed up: set vms.${vm}.maxAge to false, or remove its folder on ${target})`;
      if (newest === undefined) {
        tooOld.push({ target, vm, maxAge: limit, message: `${vm} has no complete backup on ${target} (maxAge ${limit}): ${next}` });
        continue;
      }
      const made = parseStamp(newest)!.getTime();
      if (made >= durationBefore(now, duration)) continue;
      const ageMs = now.getTime() - made;
      tooOld.push({
        target,
        vm,
        newest,
        ageMs,
        maxAge: limit,
        message: `${vm} on ${target}: the newest complete backup, ${newest}, is ${formatAge(ageMs)} old, older than maxAge ${limit}: ${next}`,
      });
    }
  }
  return tooOld;
}
