/**
 * Plain plans, and the facts a plan is made from, for unit tests: the one place their fixed fields
 * (deleteFirst off, no problems, keep 3, remoteDir `/<target>`, `<source>` /backups) are written, so
 * a test spells out only what it is about.
 */
import type {
  BackupFile,
  LocalBackup,
  Plan,
  PlanAction,
  RemoteBackup,
  ScheduledUpload,
  TargetInventory,
  TargetPlan,
  UploadAction,
  VmPlan,
} from '../../src/core/model.js';

/** A backup's files as `{ path: size }`. */
export type Files = Readonly<Record<string, number>>;

/** What a backup holds when the test does not say. */
export const DEFAULT_FILES: Files = { 'disk.vmdk': 1000, 'sample.txt': 20 };

function fileList(files: Files): BackupFile[] {
  return Object.entries(files).map(([path, size]) => ({ path, size }));
}

function bytesOf(files: readonly BackupFile[]): number {
  return files.reduce((sum, file) => sum + file.size, 0);
}

/** Returns the local backup `/backups/<vm>/<stamp>` holding `files`. */
export function localBackup(vm: string, stamp: string, files: Files = DEFAULT_FILES): LocalBackup {
  const list = fileList(files);
  return { vm, stamp, dir: `/backups/${vm}/${stamp}`, files: list, bytes: bytesOf(list) };
}

/** Returns the complete remote backup `<vm>/<stamp>` holding `files`. */
export function remoteBackup(vm: string, stamp: string, files: Files = DEFAULT_FILES): RemoteBackup {
  const list = fileList(files);
  return { vm, stamp, partial: false, files: list, bytes: bytesOf(list) };
}

/** Returns the unfinished remote backup `<vm>/<stamp>.partial` holding `files`. */
export function partialBackup(vm: string, stamp: string, files: Files): RemoteBackup {
  return { ...remoteBackup(vm, stamp, files), partial: true };
}

/** Returns what `target` holds under `/<target>`: `backups` and no strays. */
export function inventoryOf(target: string, backups: readonly RemoteBackup[]): TargetInventory {
  return { target, remoteDir: `/${target}`, backups, strays: [] };
}

/** Returns a new-backup upload of `<vm>/<stamp>` that sends `bytes` (its files not listed). */
export function uploadAction(vm: string, stamp: string, bytes: number): UploadAction {
  return { type: 'upload', stamp, localDir: `/backups/${vm}/${stamp}`, files: [], bytes, replacesIncomplete: false, reason: 'new backup' };
}

/** Returns `vm`'s part of a plan under keep 3. */
export function vmPlan(vm: string, actions: readonly PlanAction[] = []): VmPlan {
  return { vm, policy: 3, actions };
}

/**
 * Returns `target`'s part of a plan on `/<target>`; its upload order is `order`, or else the uploads and
 * resumes of `vms` as they stand.
 */
export function targetPlan(target: string, parts: { vms?: readonly VmPlan[]; order?: readonly ScheduledUpload[] } = {}): TargetPlan {
  const vms = parts.vms ?? [];
  const order =
    parts.order ??
    vms.flatMap((one) =>
      one.actions.flatMap((action) => (action.type === 'upload' || action.type === 'resume' ? [{ vm: one.vm, stamp: action.stamp, bytes: action.bytes }] : [])),
    );
  return { target, remoteDir: `/${target}`, vms, order };
}

/** Returns a plan of `targets` (deleteFirst off, no problems), with what `--simulate` adds when given. */
export function planOf(targets: readonly TargetPlan[], simulated: Pick<Plan, 'forecast' | 'purge'> = {}): Plan {
  return { deleteFirst: false, problems: [], targets, ...simulated };
}
