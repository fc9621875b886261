/**
 * What a bare `-x` does with each local backup after a fully successful run, and why: the one
 * rule that `--simulate` shows (on the inventories the plan will leave) and the run applies (on
 * the inventories listed after it).
 *
 * A local backup is purged when every target of its VM's route holds it complete; or when every
 * one of them either holds it complete or does not keep it (its retention, given what the target
 * holds, removes it: older than what it keeps) and the VM's newest local backup is complete on
 * every one of them. So the backlog that
 * retention skipped leaves the disk with the backups it was skipped for, a target that still
 * wants a backup it lacks keeps it local, and a target holding "newer" backups than tonight's
 * (a wrong clock, another machine writing there) never gets tonight's backup purged.
 */
import type { BackupFile, LocalBackup, LocalPurge, PlanSettings, RemoteBackup, TargetInventory, TargetPlan } from './model.js';
import { isCompleteOn, policyFor, routeFor } from './plan.js';
import { applyRetention } from './retention.js';
import { compareStamps, isStamp, vmNameProblem } from './stamp.js';

/** Where one target stands on one local backup. */
type Standing = { readonly kind: 'complete' } | { readonly kind: 'not-kept'; readonly why: string } | { readonly kind: 'missing' } | { readonly kind: 'unlisted' };

/** Returns where a target stands on a backup, given the stamps of the VM's complete backups there (undefined: not listed). */
function standingOn(complete: ReadonlySet<string> | undefined, stamp: string, policy: PlanSettings['keep']): Standing {
  if (complete === undefined) return { kind: 'unlisted' };
  if (complete.has(stamp)) return { kind: 'complete' };
  const retention = applyRetention([...complete, stamp], policy);
  if (retention.remove.includes(stamp)) return { kind: 'not-kept', why: (retention.reasons[stamp] ?? []).join(', ') };
  return { kind: 'missing' };
}

/** Returns the targets of one standing kind, as `nas, offsite`. */
function named(standings: readonly [string, Standing][], kind: Standing['kind']): string {
  return standings
    .filter(([, standing]) => standing.kind === kind)
    .map(([target]) => target)
    .join(', ');
}

/** Returns why a backup every target holds or does not keep may go: `complete on nas; not kept on offsite (older than the 3 newest)`. */
function purgeReason(standings: readonly [string, Standing][]): string {
  const parts: string[] = [];
  const complete = named(standings, 'complete');
  if (complete !== '') parts.push(`complete on ${complete}`);
  for (const [target, standing] of standings) if (standing.kind === 'not-kept') parts.push(`not kept on ${target} (${standing.why})`);
  return parts.join('; ');
}

/**
 * Returns, for every local backup in `local` order, whether a bare `-x` purges it after a fully
 * successful run and why (see the header), judged on `inventories` (what each target holds; a
 * target of the route missing here, or whose folder of the VM could not be listed, keeps every
 * backup of the VM local). A VM without a route, an invalid VM name or stamp is never purged.
 */
export function decidePurge(local: readonly LocalBackup[], inventories: readonly TargetInventory[], settings: PlanSettings): LocalPurge[] {
  const localByVm = new Map<string, Map<string, LocalBackup>>();
  for (const backup of local) {
    if (!localByVm.has(backup.vm)) localByVm.set(backup.vm, new Map());
    localByVm.get(backup.vm)!.set(backup.stamp, backup);
  }
  // target -> VM -> stamps of the complete backups there; a final name whose files differ from the local copy is not complete.
  const completeOn = new Map<string, Map<string, Set<string>>>();
  // target -> the VMs whose folder there could not be listed: what it holds of them is unknown.
  const unlistedOn = new Map(inventories.map((inventory) => [inventory.target, new Set((inventory.unreadable ?? []).map((folder) => folder.vm))]));
  for (const inventory of inventories) {
    const byVm = new Map<string, Set<string>>();
    for (const remote of inventory.backups) {
      if (!isStamp(remote.stamp) || !isCompleteOn(remote, localByVm.get(remote.vm)?.get(remote.stamp))) continue;
      if (!byVm.has(remote.vm)) byVm.set(remote.vm, new Set());
      byVm.get(remote.vm)!.add(remote.stamp);
    }
    completeOn.set(inventory.target, byVm);
  }
  const standings = (vm: string, stamp: string, targets: readonly string[]): [string, Standing][] => {
    const route = routeFor(settings, vm)!;
    return targets.map((target) => {
      const onTarget = unlistedOn.get(target)?.has(vm) === true ? undefined : completeOn.get(target);
      return [target, standingOn(onTarget === undefined ? undefined : (onTarget.get(vm) ?? new Set()), stamp, policyFor(settings, route, target))];
    });
  };
  const newestByVm = new Map(
    [...localByVm].map(([vm, stamps]) => [vm, [...stamps.keys()].filter(isStamp).sort((a, b) => compareStamps(b, a))[0] ?? '']),
  );

  return local.map((backup) => {
    const decide = (purge: boolean, reason: string): LocalPurge => ({ vm: backup.vm, stamp: backup.stamp, dir: backup.dir, purge, reason });
    if (vmNameProblem(backup.vm) !== undefined || !isStamp(backup.stamp)) return decide(false, 'not a <VM>/<STAMP> backup');
    const targets = routeFor(settings, backup.vm)?.targets ?? [];
    if (targets.length === 0) return decide(false, `no target for VM ${backup.vm}`);

    const here = standings(backup.vm, backup.stamp, targets);
    const unlisted = named(here, 'unlisted');
    if (unlisted !== '') return decide(false, `${unlisted} could not be listed`);
    const missing = named(here, 'missing');
    if (missing !== '') return decide(false, `not complete on ${missing} yet`);

    const notKept = named(here, 'not-kept');
    if (notKept === '') return decide(true, purgeReason(here));
    // From here on some target does not keep it: purged only behind a newer backup that is on every target.
    const newest = newestByVm.get(backup.vm)!;
    if (backup.stamp === newest) {
      return decide(false, `the newest local backup of ${backup.vm}, yet ${notKept} would not keep it (it holds newer ones): check the stamps and the clock there`);
    }
    const newestSafe = standings(backup.vm, newest, targets).every(([, standing]) => standing.kind === 'complete');
    if (!newestSafe) return decide(false, `kept until ${backup.vm}/${newest}, the newest local backup, is complete on every target`);
    return decide(true, purgeReason(here));
  });
}

/**
 * Returns why a local backup's files, listed again right before `-x` deletes them, are not the
 * ones the scan saw (a file new, gone, of another size or modified since), or undefined when they
 * are: the targets were judged to hold what the scan saw, so a backup changed since is not
 * purged. Names the first difference, in the order of the files.
 */
export function changeSinceScan(scanned: readonly BackupFile[], now: readonly BackupFile[]): string | undefined {
  const nowByPath = new Map(now.map((file) => [file.path, file]));
  for (const file of scanned) {
    const current = nowByPath.get(file.path);
    if (current === undefined) return `${file.path} is gone since the scan`;
    if (current.size !== file.size) return `${file.path} changed since the scan (${file.size} -> ${current.size} bytes)`;
    if (current.modifiedMs !== file.modifiedMs) return `${file.path} was modified since the scan (same size)`;
  }
  const scannedPaths = new Set(scanned.map((file) => file.path));
  const added = now.find((file) => !scannedPaths.has(file.path));
  return added === undefined ? undefined : `${added.path} is new since the scan`;
}

/**
 * Returns what each planned target will hold once the plan ran in full: the backups it keeps and
 * the ones it uploads (with the local files), the rest gone. `--simulate` judges `-x` on this.
 */
export function inventoriesAfterPlan(
  targets: readonly TargetPlan[],
  inventories: readonly TargetInventory[],
  local: readonly LocalBackup[],
): TargetInventory[] {
  return targets.map((targetPlan) => {
    const before = inventories.find((inventory) => inventory.target === targetPlan.target);
    const backups: RemoteBackup[] = [];
    for (const vmPlan of targetPlan.vms) {
      for (const action of vmPlan.actions) {
        if (action.type === 'keep') {
          const kept = before?.backups.find((remote) => remote.vm === vmPlan.vm && remote.stamp === action.stamp && !remote.partial);
          if (kept !== undefined) backups.push(kept);
        } else if (action.type === 'upload' || action.type === 'resume') {
          const source = local.find((backup) => backup.vm === vmPlan.vm && backup.stamp === action.stamp);
          if (source !== undefined) backups.push({ vm: vmPlan.vm, stamp: action.stamp, partial: false, files: source.files, bytes: source.bytes });
        }
      }
    }
    // A VM the target would not list is not planned there: what it holds of it stays unknown.
    const unreadable = before?.unreadable;
    return { target: targetPlan.target, remoteDir: targetPlan.remoteDir, backups, strays: [], ...(unreadable === undefined ? {} : { unreadable }) };
  });
}
