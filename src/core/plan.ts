/**
 * The planner: local backups + what each target holds + settings -> what to upload, resume,
 * keep, skip and delete, and why. Pure, so `--simulate` prints exactly what a real run does.
 */
import type {
  BackupFile,
  ConfirmedDeletes,
  DeleteAction,
  FileTransfer,
  HeldDelete,
  KeepAction,
  KeepPolicy,
  LocalBackup,
  Plan,
  PlanAction,
  PlanProblem,
  PlanSettings,
  RemoteBackup,
  SkipAction,
  TargetInventory,
  TargetPlan,
  UnreadableFolder,
  UploadAction,
  VmPlan,
  VmRoute,
} from './model.js';
import { orderUploads, type VmUploads } from './order.js';
import { applyRetention } from './retention.js';
import { compareStamps, isStamp, vmNameProblem } from './stamp.js';

/** The facts and settings one plan is made from. */
export interface PlanInput {
  readonly local: readonly LocalBackup[];
  /** Local folders the scan could not read: each is a problem of the plan. */
  readonly unreadable?: readonly UnreadableFolder[];
  /** One per target to plan; a target without an inventory here is not planned. */
  readonly inventories: readonly TargetInventory[];
  readonly settings: PlanSettings;
}

/** Returns the route of a VM: its own entry, else the `'*'` entry, else undefined. */
export function routeFor(settings: Pick<PlanSettings, 'vms'>, vm: string): VmRoute | undefined {
  // hasOwn: a VM called `constructor` must not pick up Object.prototype's member as its route.
  if (Object.hasOwn(settings.vms, vm)) return settings.vms[vm];
  return Object.hasOwn(settings.vms, '*') ? settings.vms['*'] : undefined;
}

/** Returns the policy for a VM on a target: `-n`, else the VM's, else the target's, else the global one. */
export function policyFor(settings: PlanSettings, route: VmRoute, target: string): KeepPolicy {
  const targetKeep = Object.hasOwn(settings.targetKeep, target) ? settings.targetKeep[target] : undefined;
  return settings.keepOverride ?? route.keep ?? targetKeep ?? settings.keep;
}

/** Returns the VM names in a stable order that does not depend on the machine's locale. */
function sortedNames(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function groupByVm<T extends { readonly vm: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.vm);
    if (group === undefined) groups.set(item.vm, [item]);
    else group.push(item);
  }
  return groups;
}

/**
 * Returns what is wrong with a final-named remote copy compared to the local backup of the same
 * stamp ("is missing a.txt", "has b.vmdk at 10 bytes, not 20"); empty when it is complete.
 * Without a local backup there is nothing to compare against, and a final name means complete
 * (invariant 1, docs/design.md). Extra remote files are fine.
 */
function remoteCopyProblems(local: LocalBackup | undefined, remote: RemoteBackup): string[] {
  if (local === undefined) return [];
  const remoteSizes = sizesByPath(remote.files);
  const problems: string[] = [];
  for (const file of local.files) {
    const size = remoteSizes.get(file.path);
    if (size === undefined) problems.push(`is missing ${file.path}`);
    else if (size !== file.size) problems.push(`has ${file.path} at ${size} bytes, not ${file.size}`);
  }
  return problems;
}

function sizesByPath(files: readonly BackupFile[]): Map<string, number> {
  return new Map(files.map((file) => [file.path, file.size]));
}

/** Returns the first problems of a remote copy as one phrase, counting the rest. */
function summarizeProblems(problems: readonly string[]): string {
  const shown = problems.slice(0, 2).join(', ');
  return problems.length > 2 ? `${shown} and ${problems.length - 2} more` : shown;
}

/** One target's view of one VM: backups by stamp, and which final-named ones are complete. */
interface VmFacts {
  readonly local: Map<string, LocalBackup>;
  readonly finals: Map<string, RemoteBackup>;
  readonly partials: Map<string, RemoteBackup>;
  readonly complete: Set<string>;
  /** Final-named remote copies that differ from their local backup, with what is wrong. */
  readonly incomplete: Map<string, string[]>;
}

function vmFacts(local: readonly LocalBackup[], remote: readonly RemoteBackup[]): VmFacts {
  const facts: VmFacts = {
    local: new Map(local.map((backup) => [backup.stamp, backup])),
    finals: new Map(),
    partials: new Map(),
    complete: new Set(),
    incomplete: new Map(),
  };
  for (const backup of remote) (backup.partial ? facts.partials : facts.finals).set(backup.stamp, backup);
  for (const [stamp, backup] of facts.finals) {
    const problems = remoteCopyProblems(facts.local.get(stamp), backup);
    if (problems.length === 0) facts.complete.add(stamp);
    else facts.incomplete.set(stamp, problems);
  }
  return facts;
}

/** Returns the upload (or resume) of a kept local backup that is not complete on the target. */
function uploadAction(
  local: LocalBackup,
  partial: RemoteBackup | undefined,
  incompleteProblems: readonly string[] | undefined,
  keptBecause: readonly string[],
): UploadAction {
  const sent = partial === undefined ? new Map<string, number>() : sizesByPath(partial.files);
  const files: FileTransfer[] = local.files.map((file) => {
    const remoteSize = sent.get(file.path) ?? 0;
    // A remote file larger than the local one is not a prefix of it: send it again from the start.
    const offset = remoteSize > 0 && remoteSize <= file.size ? remoteSize : 0;
    return { path: file.path, size: file.size, ...(file.modifiedMs === undefined ? {} : { modifiedMs: file.modifiedMs }), offset };
  });
  const bytes = files.reduce((sum, file) => sum + file.size - file.offset, 0);

  let what: string;
  if (partial !== undefined) {
    const done = local.files.filter((file) => sent.get(file.path) === file.size).length;
    what = `resume: ${done} of ${local.files.length} files already sent`;
    if (incompleteProblems !== undefined) what += `; replaces the incomplete remote copy`;
  } else if (incompleteProblems !== undefined) {
    what = `re-send: remote copy ${summarizeProblems(incompleteProblems)}`;
  } else {
    what = 'new backup';
  }
  return {
    type: partial === undefined ? 'upload' : 'resume',
    stamp: local.stamp,
    localDir: local.dir,
    files,
    bytes,
    replacesIncomplete: incompleteProblems !== undefined,
    reason: `${what} (kept: ${keptBecause.join(', ')})`,
  };
}

function isUpload(action: PlanAction): action is UploadAction {
  return action.type === 'upload' || action.type === 'resume';
}

/**
 * Returns newest first; for one stamp the `.partial` before the backup: deleting the backup renames
 * it to `<stamp>.partial` first (invariant 1), so the stale one must be gone by then.
 */
function byStampNewestFirst(a: DeleteAction, b: DeleteAction): number {
  return compareStamps(b.stamp, a.stamp) || Number(b.partial) - Number(a.partial);
}

/** Returns the plan of one VM on one target (docs/design.md "Retention"). */
function planVm(vm: string, policy: KeepPolicy, local: readonly LocalBackup[], remote: readonly RemoteBackup[]): VmPlan {
  const facts = vmFacts(local, remote);
  const retention = applyRetention([...facts.complete, ...facts.local.keys()], policy);

  const uploads: UploadAction[] = [];
  const keeps: KeepAction[] = [];
  const skips: SkipAction[] = [];
  const deletes: DeleteAction[] = [];

  for (const stamp of retention.keep) {
    const why = retention.reasons[stamp] ?? [];
    const localBackup = facts.local.get(stamp);
    if (facts.complete.has(stamp)) keeps.push({ type: 'keep', stamp, reason: why.join(', ') });
    else if (localBackup !== undefined) {
      uploads.push(uploadAction(localBackup, facts.partials.get(stamp), facts.incomplete.get(stamp), why));
    }
  }

  for (const stamp of retention.remove) {
    const why = (retention.reasons[stamp] ?? []).join(', ');
    const problems = facts.incomplete.get(stamp);
    if (facts.complete.has(stamp)) deletes.push({ type: 'delete', stamp, partial: false, reason: why });
    else if (problems !== undefined) {
      deletes.push({ type: 'delete', stamp, partial: false, reason: `incomplete and not kept (${why})` });
    } else skips.push({ type: 'skip', stamp, reason: `${why}: would be deleted at once` });
  }

  // A `.partial` is only worth keeping as the start of an upload this run makes (invariant 3, docs/design.md).
  const uploading = new Set(uploads.map((upload) => upload.stamp));
  for (const stamp of facts.partials.keys()) {
    if (!uploading.has(stamp)) {
      deletes.push({ type: 'delete', stamp, partial: true, reason: 'stale unfinished upload, not wanted' });
    }
  }
  deletes.sort(byStampNewestFirst);

  return { vm, policy, actions: [...uploads, ...keeps, ...skips, ...deletes] };
}

/** Returns the problem of a VM whose folder on `target` could not be listed: what happened, what it means, what to do. */
function unlistedMessage(target: string, { vm, dir, reason }: UnreadableFolder): string {
  return `${target}: folder ${dir} could not be listed (${reason}): nothing of ${vm} is uploaded to or deleted on ${target}, and none of its local backups is purged; check the permissions of ${dir} on ${target}`;
}

/**
 * Returns the plan of a run: for every target with an inventory (in `inventories` order) and every
 * VM routed to it (by name), what to upload, resume, keep, skip and delete, each with its reason,
 * and the order the target's uploads start in (core/order.ts); plus the problems it refused to
 * decide (a local VM with no route, an invalid VM name, a local folder that could not be read, a
 * VM folder on a target that could not be listed: that VM is not planned on that target).
 * A VM found only on a target keeps its newest backups there when its route includes that target;
 * a remote VM with no route at all is left untouched. Deletes only ever name a valid stamp of a
 * valid VM (invariant 4, docs/design.md).
 */
export function planRun(input: PlanInput): Plan {
  const { settings } = input;
  // Its backups are unknown, not absent: retention over fewer candidates keeps more, never less.
  const problems: PlanProblem[] = (input.unreadable ?? []).map(({ vm, dir, reason }) => ({
    vm,
    message: `local folder ${dir} could not be read (${reason}): none of it is sent or purged; check its permissions, or whether the backup job still writes it`,
  }));

  const local = input.local.filter((backup) => {
    if (isStamp(backup.stamp)) return true;
    problems.push({ vm: backup.vm, message: `local folder ${JSON.stringify(backup.stamp)} is not a backup stamp: ignored` });
    return false;
  });
  const localByVm = groupByVm(local);
  const plannable = new Set<string>();
  for (const vm of sortedNames(localByVm.keys())) {
    const bad = vmNameProblem(vm);
    if (bad !== undefined) problems.push({ vm, message: `${bad}: its local backups are left alone` });
    else if (routeFor(settings, vm) === undefined) {
      problems.push({ vm, message: `no target for VM ${vm}: add it to \`vms\` or add a '*' route` });
    } else plannable.add(vm);
  }

  const targets: TargetPlan[] = input.inventories.map((inventory) => {
    const { target } = inventory;
    // The inventory reports names that are not stamps as strays; this only makes sure none is acted on.
    const remote = inventory.backups.filter((backup) => isStamp(backup.stamp));
    const remoteByVm = groupByVm(remote);
    const unlisted = new Map((inventory.unreadable ?? []).map((folder) => [folder.vm, folder]));
    const vms: VmPlan[] = [];
    const uploads: VmUploads[] = [];
    for (const vm of sortedNames([...plannable, ...remoteByVm.keys(), ...unlisted.keys()])) {
      const bad = vmNameProblem(vm);
      if (bad !== undefined) {
        problems.push({ vm, message: `${bad}: its backups on ${target} are left untouched` });
        continue;
      }
      // No route, or a route to other targets: this target's copies of the VM are not ours to rotate.
      const route = routeFor(settings, vm);
      if (route === undefined || !route.targets.includes(target)) continue;
      // What the target holds of it is unknown, not absent: an upload could replace a backup it holds, a delete hit one it needs.
      const refused = unlisted.get(vm);
      if (refused !== undefined) {
        problems.push({ vm, target, message: unlistedMessage(target, refused) });
        continue;
      }
      const vmPlan = planVm(vm, policyFor(settings, route, target), localByVm.get(vm) ?? [], remoteByVm.get(vm) ?? []);
      vms.push(vmPlan);
      uploads.push({ vm, priority: route.priority ?? 0, uploads: vmPlan.actions.filter(isUpload) });
    }
    return { target, remoteDir: inventory.remoteDir, vms, order: orderUploads(uploads) };
  });

  return { deleteFirst: settings.deleteFirst, targets, problems };
}

/**
 * Returns the planned deletes of one VM on one target that still hold after the uploads, judged on
 * a fresh inventory (invariant 2, docs/design.md), and the ones held back with why. `.partial` deletes and deletes
 * of copies that are still incomplete always go ahead; a complete backup is deleted only when the
 * policy, applied to the complete backups really on the server now, removes it too, so a failed
 * upload never costs an old backup. Never returns a delete that is not in `vmPlan`.
 * `fresh` is this target's inventory of the VM; `local` is the VM's local backups.
 */
export function confirmDeletes(
  vmPlan: VmPlan,
  fresh: readonly RemoteBackup[],
  local: readonly LocalBackup[],
): ConfirmedDeletes {
  const facts = vmFacts(
    local.filter((backup) => backup.vm === vmPlan.vm),
    fresh.filter((backup) => backup.vm === vmPlan.vm && isStamp(backup.stamp)),
  );
  const retention = applyRetention([...facts.complete], vmPlan.policy);
  const removable = new Set(retention.remove);

  const deletes: DeleteAction[] = [];
  const held: HeldDelete[] = [];
  for (const action of vmPlan.actions) {
    if (action.type !== 'delete') continue;
    const { stamp } = action;
    if (action.partial || removable.has(stamp) || facts.incomplete.has(stamp)) deletes.push(action);
    else if (!facts.finals.has(stamp)) held.push({ stamp, reason: 'held: no longer on the server' });
    else {
      const why = (retention.reasons[stamp] ?? []).join(', ');
      held.push({ stamp, reason: `held: kept until the newer upload is on the server (now ${why})` });
    }
  }
  return { deletes, held };
}

/**
 * Returns true when `remote` is a complete backup: under its final name and, when there is a
 * local backup of the same stamp, holding every local file at the same size (extra files are fine).
 */
export function isCompleteOn(remote: RemoteBackup, local: LocalBackup | undefined): boolean {
  return !remote.partial && remoteCopyProblems(local, remote).length === 0;
}
