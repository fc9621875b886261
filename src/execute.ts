import path from 'node:path';
import type { Backend } from './backends/backend.js';
import type {
  DeleteAction,
  LocalBackup,
  Plan,
  RemoteBackup,
  TargetPlan,
  UploadAction,
  VmPlan,
} from './core/model.js';
import { confirmDeletes } from './core/plan.js';
import { PARTIAL_SUFFIX, isStamp, isValidVmName } from './core/stamp.js';
import { FtpError, VmftpError } from './errors.js';
import type { FtpSession } from './ftp/session.js';
import { takeInventory } from './inventory.js';
import type { Logger } from './log.js';
import type { ActionOutcome, TargetOutcome } from './outcome.js';

/**
 * Watches the bytes of uploads as they go (the progress display). It only
 * looks: nothing it does changes what runs or how the run ends.
 */
export interface TransferObserver {
  /** Called once before anything moves, with the plan that will run. */
  start(plan: Plan): void;
  /** Called before one file is sent: `onBytes` gets the bytes of this transfer so far, `end` its end. */
  file(target: string, name: string, bytes: number): { readonly onBytes: (bytes: number) => void; end(): void };
}

/** A connected target: the session for listing, rename and delete, the backend for file bytes. */
export interface TargetRuntime {
  readonly session: FtpSession;
  readonly backend: Backend;
}

/**
 * Returns one outcome per planned target after running exactly the plan:
 * uploads into `<stamp>.partial`, verify, rename, then (unless deleteFirst)
 * a fresh inventory and only the planned deletes it still confirms.
 * Targets run in parallel, each over its own connection.
 */
export function executePlan(
  plan: Plan,
  runtimes: ReadonlyMap<string, TargetRuntime>,
  local: readonly LocalBackup[],
  log: Logger,
  observer?: TransferObserver,
): Promise<TargetOutcome[]> {
  observer?.start(plan);
  return Promise.all(
    plan.targets.map(async (targetPlan) => {
      const runtime = runtimes.get(targetPlan.target);
      if (runtime === undefined) throw new Error(`no connection for planned target ${targetPlan.target}`);
      return new TargetExecution(targetPlan, runtime, local, log, observer).run(plan.deleteFirst);
    }),
  );
}

class TargetExecution {
  readonly #outcomes: ActionOutcome[] = [];
  /** `.partial` folders removed along with their backup: the plan's own delete of one has nothing left to do. */
  readonly #removed = new Set<string>();

  constructor(
    readonly plan: TargetPlan,
    readonly runtime: TargetRuntime,
    readonly local: readonly LocalBackup[],
    readonly log: Logger,
    readonly observer?: TransferObserver,
  ) {}

  async run(deleteFirst: boolean): Promise<TargetOutcome> {
    const started = Date.now();
    if (deleteFirst) {
      for (const vmPlan of this.plan.vms) {
        for (const action of deletesOf(vmPlan)) await this.#delete(vmPlan.vm, action);
      }
    }
    for (const vmPlan of this.plan.vms) {
      for (const action of vmPlan.actions) {
        if (action.type === 'upload' || action.type === 'resume') await this.#upload(vmPlan.vm, action);
        else if (action.type === 'keep' || action.type === 'skip') this.#record(vmPlan.vm, action.stamp, action.type, 'done', 0, 0, action.reason);
      }
    }
    if (!deleteFirst) await this.#deleteConfirmed();
    return { target: this.plan.target, actions: this.#outcomes, durationMs: Date.now() - started };
  }

  async #upload(vm: string, action: UploadAction): Promise<void> {
    const { session, backend } = this.runtime;
    const started = Date.now();
    const partialDir = backupPath(this.plan.remoteDir, vm, action.stamp, true);
    const finalDir = backupPath(this.plan.remoteDir, vm, action.stamp, false);
    let sent = 0;
    try {
      for (const dir of foldersOf(partialDir, action)) await session.ensureDir(dir);
      for (const file of action.files) {
        if (file.offset >= file.size) continue;
        this.log.debug(`${this.plan.target}: ${vm}/${action.stamp}/${file.path} from byte ${file.offset}`);
        const watch = this.observer?.file(this.plan.target, `${vm}/${action.stamp}/${file.path}`, file.size - file.offset);
        await backend
          .upload(
            {
              localPath: path.join(action.localDir, ...file.path.split('/')),
              remotePath: path.posix.join(partialDir, file.path),
              offset: file.offset,
              size: file.size,
            },
            watch?.onBytes,
          )
          .finally(() => watch?.end());
        sent += file.size - file.offset;
      }
      await this.#verify(partialDir, action);
      if (action.replacesIncomplete) await session.removeDir(finalDir);
      await this.#rename(partialDir, finalDir);
      this.#record(vm, action.stamp, action.type, 'done', sent, Date.now() - started, action.reason);
      this.log.info(`${this.plan.target}: ${vm}/${action.stamp} uploaded and verified`);
    } catch (error) {
      const message = describe(error);
      this.#record(vm, action.stamp, action.type, 'failed', sent, Date.now() - started, message);
      this.log.error(`${this.plan.target}: ${vm}/${action.stamp} not uploaded: ${message}`);
    }
  }

  /** Every file must be on the server at its local size before the folder gets its final name. */
  async #verify(partialDir: string, action: UploadAction): Promise<void> {
    for (const file of action.files) {
      const remotePath = path.posix.join(partialDir, file.path);
      const remoteSize = await this.runtime.session.size(remotePath);
      if (remoteSize !== file.size) {
        throw new FtpError(
          `verify failed: ${remotePath} is ${remoteSize} bytes on the server, ${file.size} locally`,
          'transient',
          undefined,
          'the next run resumes it',
        );
      }
    }
  }

  /**
   * Some servers refuse to rename onto an existing name (553, 550; pure-ftpd 451 "Directory not
   * empty"): whatever the code, when the target exists, remove it, then rename.
   */
  async #rename(from: string, to: string): Promise<void> {
    const { session } = this.runtime;
    try {
      await session.rename(from, to);
    } catch (error) {
      if (!(error instanceof FtpError) || error.replyCode === undefined) throw error;
      const siblings = (await session.list(path.posix.dirname(to))) ?? [];
      if (!siblings.some((entry) => entry.name === path.posix.basename(to))) throw error;
      this.log.warn(`${this.plan.target}: ${to} exists and blocks the rename: removing it`);
      await session.removeDir(to);
      await session.rename(from, to);
    }
  }

  async #deleteConfirmed(): Promise<void> {
    const planned = this.plan.vms.filter((vmPlan) => deletesOf(vmPlan).length > 0);
    if (planned.length === 0) return;
    let fresh: readonly RemoteBackup[];
    try {
      fresh = (await takeInventory(this.runtime.session)).backups;
    } catch (error) {
      const message = `not deleted: the fresh inventory failed (${describe(error)})`;
      for (const vmPlan of planned) {
        for (const action of deletesOf(vmPlan)) this.#record(vmPlan.vm, action.stamp, 'held', 'failed', 0, 0, message);
      }
      return;
    }
    for (const vmPlan of planned) {
      const confirmed = confirmDeletes(
        vmPlan,
        fresh.filter((backup) => backup.vm === vmPlan.vm),
        this.local.filter((backup) => backup.vm === vmPlan.vm),
      );
      for (const held of confirmed.held) this.#record(vmPlan.vm, held.stamp, 'held', 'done', 0, 0, held.reason);
      for (const action of confirmed.deletes) await this.#delete(vmPlan.vm, action);
    }
  }

  async #delete(vm: string, action: DeleteAction): Promise<void> {
    const started = Date.now();
    const dir = backupPath(this.plan.remoteDir, vm, action.stamp, action.partial);
    if (this.#removed.has(dir)) {
      this.#record(vm, action.stamp, 'delete', 'done', 0, 0, `${action.reason}: removed with ${action.stamp}`);
      return;
    }
    try {
      if (action.partial) await this.runtime.session.removeDir(dir);
      else await this.#retire(dir, backupPath(this.plan.remoteDir, vm, action.stamp, true));
      this.#record(vm, action.stamp, 'delete', 'done', 0, Date.now() - started, action.reason);
      this.log.info(`${this.plan.target}: deleted ${dir} (${action.reason})`);
    } catch (error) {
      const message = describe(error);
      this.#record(vm, action.stamp, 'delete', 'failed', 0, Date.now() - started, message);
      this.log.error(`${this.plan.target}: ${dir} not deleted: ${message}`);
    }
  }

  /**
   * Deletes a backup by first taking its final name away (`<stamp>` -> `<stamp>.partial`): a delete
   * that stops halfway then leaves a stale `.partial`, removed by the next run (invariant 3), never
   * an incomplete folder under a final name (invariant 1).
   */
  async #retire(finalDir: string, partialDir: string): Promise<void> {
    await this.#rename(finalDir, partialDir);
    await this.runtime.session.removeDir(partialDir);
    this.#removed.add(partialDir);
  }

  #record(...[vm, stamp, action, status, bytes, durationMs, detail]: RecordArgs): void {
    this.#outcomes.push({ vm, stamp, action, status, bytes, durationMs, detail });
  }
}

type RecordArgs = [
  vm: string,
  stamp: string,
  action: ActionOutcome['action'],
  status: ActionOutcome['status'],
  bytes: number,
  durationMs: number,
  detail: string,
];

function deletesOf(vmPlan: VmPlan): DeleteAction[] {
  return vmPlan.actions.filter((action): action is DeleteAction => action.type === 'delete');
}

/**
 * Returns `<remoteDir>/<vm>/<stamp>[.partial]`, the only kind of path vmftp
 * creates, renames or deletes. Checked here again, right before use, so no
 * name from a server or a bug can make a delete escape remoteDir.
 */
export function backupPath(remoteDir: string, vm: string, stamp: string, partial: boolean): string {
  if (!isValidVmName(vm) || !isStamp(stamp)) {
    throw new FtpError(`refusing to touch ${remoteDir}/${vm}/${stamp}: not a valid VM name and stamp`, 'permanent');
  }
  return path.posix.join(remoteDir, vm, partial ? `${stamp}${PARTIAL_SUFFIX}` : stamp);
}

/** Returns the backup folder and each of its sub-folders that the files need, parents first. */
function foldersOf(root: string, action: UploadAction): string[] {
  const folders = new Set<string>([root]);
  for (const file of action.files) {
    const parts = file.path.split('/').slice(0, -1);
    for (let depth = 1; depth <= parts.length; depth++) folders.add(path.posix.join(root, ...parts.slice(0, depth)));
  }
  return [...folders];
}

function describe(error: unknown): string {
  if (error instanceof VmftpError) return error.hint === undefined ? error.message : `${error.message} (${error.hint})`;
  return error instanceof Error ? error.message : String(error);
}
