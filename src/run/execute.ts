import path from 'node:path';
import type { UploadJob } from '../backends/backend.js';
import type {
  DeleteAction,
  LocalBackup,
  Plan,
  FileTransfer,
  TargetInventory,
  TargetPlan,
  UploadAction,
  VmPlan,
} from '../core/model.js';
import { confirmDeletes } from '../core/plan.js';
import { PARTIAL_SUFFIX, isStamp, isValidVmName } from '../core/stamp.js';
import { assertLocalUnchanged, digestLocalRange } from '../backends/local-file.js';
import { DeadlineError, FtpError, LocalFileRewrittenError } from '../errors.js';
import { ServerFeatures } from '../ftp/features.js';
import { createLocalDigest, type LocalDigest, type RemoteHashMethod } from '../ftp/hash.js';
import type { SessionPool } from '../ftp/pool.js';
import type { FtpSession } from '../ftp/session.js';
import { listBackupFiles, takeInventoryOver } from '../facts/inventory.js';
import type { Logger } from '../delivery/log.js';
import { describeError } from '../report/failure.js';
import { formatDuration } from '../report/format.js';
import type { ActionOutcome, TargetOutcome } from './outcome.js';
import { describeRetry, withRetries, type OnRetry, type RetryPolicy } from './retry.js';
import { startOrder, type Turn } from './start-order.js';

/** Returns the upload of one file of `action` to `remotePath`, with the local size and modification time the scan saw. */
function uploadJobOf(action: UploadAction, remotePath: string, file: FileTransfer): Omit<UploadJob, 'offset'> {
  return {
    localPath: path.join(action.localDir, ...file.path.split('/')),
    remotePath,
    size: file.size,
    ...(file.modifiedMs === undefined ? {} : { modifiedMs: file.modifiedMs }),
  };
}

/**
 * How long the count of a failed file's bytes waits for the server's size of it (#heldAfterFailure),
 * at most timeoutSeconds: a server that answers gives SIZE in a round trip, and a new login in a few.
 * One that does not answer must not hold the night's report back by timeoutSeconds (more with a
 * reconnect) for a figure in it.
 */
const HELD_ANSWER_MS = 5_000;

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

/** An upload's first failure, and the reason of the stop that caused it, if one did. */
interface UploadFailure {
  readonly error: unknown;
  readonly stop: unknown;
}

/** A connected target: its connections (listing, rename, delete, and the slots of transfers), how file bytes move, how failures are retried. */
export interface TargetRuntime {
  readonly pool: SessionPool;
  /**
   * Sends one file within the pool's cap, through the configured backend; rejects with FtpError
   * (its kind decides a retry) or LocalFileError (never retried). `onStart` is called once the
   * transfer holds its connection, before its first byte.
   */
  upload(job: UploadJob, onBytes?: (bytes: number) => void, onStart?: () => void): Promise<void>;
  readonly retry: RetryPolicy;
}

/** What stops a run: both abort on a signal; `transfers` also at the deadline. */
export interface RunStops {
  /** Aborted by SIGINT/SIGTERM/SIGHUP: no retry waits, and no delete phase after the uploads. */
  readonly interrupt?: AbortSignal;
  /**
   * Aborted by a signal or the run's deadline: no upload starts and no retry waits from then on
   * (the runtime's upload ends the running ones). At the deadline the uploads are deferred and the
   * delete phase still runs for what did complete.
   */
  readonly transfers?: AbortSignal;
}

/**
 * Returns one outcome per planned target after running exactly the plan:
 * uploads into `<stamp>.partial`, verify, rename, then (unless deleteFirst)
 * a fresh inventory and only the planned deletes it still confirms.
 * Targets run in parallel; within a target, backups and their files go up
 * side by side, as many at once as the target's connection pool allows,
 * starting in the order the plan gives (TargetPlan.order).
 * Transient failures are retried with backoff (uploads resume from the
 * server's size); permanent ones fail their backup at once.
 */
export function executePlan(
  plan: Plan,
  runtimes: ReadonlyMap<string, TargetRuntime>,
  local: readonly LocalBackup[],
  log: Logger,
  observer?: TransferObserver,
  stops: RunStops = {},
): Promise<TargetOutcome[]> {
  observer?.start(plan);
  return Promise.all(
    plan.targets.map(async (targetPlan) => {
      const runtime = runtimes.get(targetPlan.target);
      if (runtime === undefined) throw new Error(`no connection for planned target ${targetPlan.target}`);
      return new TargetExecution(targetPlan, runtime, local, log, observer, stops.interrupt, stops.transfers).run(plan.deleteFirst);
    }),
  );
}

class TargetExecution {
  readonly #outcomes: ActionOutcome[] = [];
  /** How the server gives digests and whether it appends, learned once for the target. */
  readonly #server: ServerFeatures;

  constructor(
    readonly plan: TargetPlan,
    readonly runtime: TargetRuntime,
    readonly local: readonly LocalBackup[],
    readonly log: Logger,
    readonly observer?: TransferObserver,
    /** Aborted by a signal: see RunStops. */
    readonly signal?: AbortSignal,
    /** Aborted by a signal or the deadline: see RunStops. */
    readonly transfers?: AbortSignal,
  ) {
    this.#server = new ServerFeatures(runtime.pool, log);
  }

  async run(deleteFirst: boolean): Promise<TargetOutcome> {
    const started = Date.now();
    if (deleteFirst) {
      for (const vmPlan of this.plan.vms) {
        for (const action of deletesOf(vmPlan)) await this.#delete(vmPlan.vm, action);
      }
    }
    // Every backup is under way at once, waiting for its turn; the pool lets as many transfers run as the target allows.
    const turns = this.#turnsInPlanOrder();
    const entries: (ActionOutcome | Promise<ActionOutcome>)[] = [];
    for (const vmPlan of this.plan.vms) {
      for (const action of vmPlan.actions) {
        if (action.type === 'upload' || action.type === 'resume') entries.push(this.#upload(vmPlan.vm, action, turnsOf(turns, vmPlan.vm, action)));
        else if (action.type === 'keep' || action.type === 'skip') {
          entries.push({ vm: vmPlan.vm, stamp: action.stamp, action: action.type, status: 'done', bytes: 0, durationMs: 0, detail: action.reason });
        }
      }
    }
    // Outcomes in plan order, whatever order the transfers ended in.
    this.#outcomes.push(...(await Promise.all(entries)));
    // A stopped run deletes nothing: the fresh inventory it would trust is of a half-done run.
    if (!deleteFirst && this.signal?.aborted !== true) await this.#deleteConfirmed();
    return { target: this.plan.target, actions: this.#outcomes, durationMs: Date.now() - started };
  }

  /** Returns the turns of every file of every upload, taken in the order the plan says transfers start, by `<vm>/<stamp>`. */
  #turnsInPlanOrder(): Map<string, Turn[]> {
    const line = startOrder();
    const turns = new Map<string, Turn[]>();
    for (const { vm, stamp } of this.plan.order) {
      const action = this.plan.vms.find((vmPlan) => vmPlan.vm === vm)?.actions.find((candidate) => candidate.stamp === stamp && candidate.type !== 'delete');
      turns.set(`${vm}/${stamp}`, (action?.type === 'upload' || action?.type === 'resume' ? action.files : []).map(() => line.take()));
    }
    return turns;
  }

  /**
   * Returns the outcome of one backup: every file sent and verified, then the `.partial` renamed to
   * its final name. Nothing happens before its first file's turn (`turns`, one per file).
   */
  async #upload(vm: string, action: UploadAction, turns: readonly Turn[]): Promise<ActionOutcome> {
    // A backup whose turn has not come creates nothing on the server yet.
    await turns[0]?.ready;
    const started = Date.now();
    const kind = transferKind(action);
    const partialDir = backupPath(this.plan.remoteDir, vm, action.stamp, true);
    const finalDir = backupPath(this.plan.remoteDir, vm, action.stamp, false);
    /** Per file, the bytes this run added to the server's copy (a send of a file again counts on from the first one). */
    const sentByFile = new Map<string, number>();
    const sent = () => [...sentByFile.values()].reduce((sum, bytes) => sum + bytes, 0);
    // One controller per backup, stopped with the transfers (a signal, the deadline): once one file failed for
    // good the backup cannot be renamed into place, so its other files start no further attempt and wait for no retry.
    const backup = controllerWithin(this.transfers);
    /**
     * The upload's first failure, noted when it happens with the stop that ends the failing step, if
     * that stop had come by then: the transfers' (a signal, the deadline) for the files' transfers,
     * the signal's for the steps the deadline does not end (the folders, the listing, the rename).
     * Not judged when the upload is: a failure's aftermath (the server's size of a file, a bad copy
     * removed, the rename's retries) may outlast the deadline, which does not make it the cause.
     */
    let failure: UploadFailure | undefined;
    const failed = (error: unknown, stop: AbortSignal | undefined): UploadFailure => (failure ??= { error, stop: stop?.aborted === true ? stop.reason : undefined });
    const transferFailed = (error: unknown) => failed(error, this.transfers);
    /** Sends `files`, each checked by SIZE when `verifyEach`; rejects with the first failure once every one has ended. */
    const sendAll = async (files: readonly FileTransfer[], fileTurns: readonly (Turn | undefined)[], verifyEach: boolean): Promise<void> => {
      // Every file ends (sent, failed or not started) before the backup is judged: no transfer outlives its backup.
      let firstFailure: { readonly error: unknown } | undefined;
      await Promise.allSettled(
        files.map(async (file, index) => {
          const count = (bytes: number) => sentByFile.set(file.path, bytes);
          try {
            await this.#sendFile(vm, action, partialDir, file, fileTurns[index], backup.signal, transferFailed, sentByFile.get(file.path) ?? 0, count, verifyEach);
          } catch (error) {
            firstFailure ??= { error };
            backup.abort(error);
          }
        }),
      );
      if (firstFailure !== undefined) throw firstFailure.error;
    };
    try {
      this.transfers?.throwIfAborted();
      for (const dir of foldersOf(partialDir, action)) await this.#op(`create folder ${dir}`, (session) => session.ensureDir(dir));
      const byListing = this.runtime.pool.target.verify === 'size';
      await sendAll(action.files, turns, !byListing);
      if (byListing) {
        // One listing of the folder checks every file the way a SIZE each would (a round trip per file saved). A file it
        // does not show at its local size (missing, short, or named otherwise by the listing) is asked for by SIZE, and when
        // that disagrees too it is sent again from the size the server holds: the same as a failed check by SIZE.
        const unproven = await this.#notListedWhole(partialDir, action.files);
        await sendAll(unproven.map((file) => ({ ...file, offset: file.size })), [], true);
      }
      // The backup job may have written to a file after it went up: its copy on the server is then not that file.
      for (const file of action.files) {
        const job = uploadJobOf(action, path.posix.join(partialDir, file.path), file);
        await assertLocalUnchanged(job).catch((error: unknown) => this.#failFile(error, job));
      }
      if (action.replacesIncomplete) await this.#op(`delete ${finalDir}`, (session) => session.removeDir(finalDir));
      const replaced = await this.#op(`rename ${partialDir} to ${finalDir}`, (session) => session.renameReplacing(partialDir, finalDir));
      // Not in the plan: a folder of that name came after the inventory. The report names the delete and why.
      const unplanned = replaced ? `; ${finalDir}, which appeared during the run, blocked the rename and was deleted` : '';
      if (replaced) this.log.warn(`${this.plan.target}: ${finalDir} appeared during the run and blocked the rename: deleted, then renamed ${partialDir}`);
      this.log.info(`${this.plan.target}: ${vm}/${action.stamp} uploaded and verified`);
      return { vm, stamp: action.stamp, action: kind, status: 'done', bytes: sent(), ...elapsedSince(started), detail: `${action.reason}${unplanned}` };
    } catch (error) {
      // The transfers' stop itself (no backup starts after it) is a failure it caused.
      const { error: cause, stop } = failed(error, error === this.transfers?.reason ? this.transfers : this.signal);
      const message = stop === undefined ? describeError(cause) : interrupted(stop, `it stays as ${action.stamp}${PARTIAL_SUFFIX} and the next run resumes it`);
      // The deadline defers a backup to the next run; a signal or an error of its own fails it.
      const status = stop instanceof DeadlineError ? 'deferred' : 'failed';
      if (status === 'deferred') this.log.warn(`${this.plan.target}: ${vm}/${action.stamp} deferred: ${message}`);
      else this.log.error(`${this.plan.target}: ${vm}/${action.stamp} not uploaded: ${message}`);
      return { vm, stamp: action.stamp, action: kind, status, bytes: sent(), ...elapsedSince(started), detail: message };
    } finally {
      backup.release();
      // A backup that failed before some of its files started passes their turns on.
      for (const turn of turns) turn.started();
    }
  }

  /**
   * Resolves once the server holds all of `file` at its local size. A transient failure is
   * retried from the size the server then reports (APPE), or from byte 0 when the server holds
   * more than the file; a permanent one or a changed local file rejects at once, and so does an
   * aborted `backup` (with its reason: another file's failure, or the run's stop). `failed` hears of
   * a failure at once, before its aftermath (see #upload). Either way `count` gets the bytes this
   * run added to the server's copy: the rest of the file, or after a failure or a stop, what the
   * server holds of it then (see #heldAfterFailure). The first
   * transfer waits for `turn`, and passes it on once it holds its connection (or will not start).
   * `counted`: what an earlier send of the file in this run counted, which this count includes.
   * Without `verifyEach` its size is left to the caller, who checks the whole folder by one listing.
   */
  async #sendFile(
    vm: string,
    action: UploadAction,
    partialDir: string,
    file: FileTransfer,
    turn: Turn | undefined,
    backup: AbortSignal,
    failed: (error: unknown) => void,
    counted: number,
    count: (bytes: number) => void,
    verifyEach: boolean,
  ): Promise<void> {
    const remotePath = path.posix.join(partialDir, file.path);
    const name = `${vm}/${action.stamp}/${file.path}`;
    const job = uploadJobOf(action, remotePath, file);
    let offset = file.offset;
    /** The lowest byte this run sent a part of the file from: a server that cannot append gets it whole again. */
    let from = Math.min(offset, file.size - counted);
    /**
     * Whether the current attempt (or, before the first one, an earlier send of the file in this run)
     * handed bytes to the backend: then the server may hold other than `offset`.
     */
    let sending = counted > 0;
    let done = false;
    const send = (digest: LocalDigest | undefined): Promise<boolean> => {
      from = Math.min(from, offset);
      sending = true;
      return this.#transfer(name, { ...job, offset, ...(digest === undefined ? {} : { digest }) }, turn?.started);
    };
    try {
      await turn?.ready;
      await withRetries(
        this.runtime.retry,
        async (attempt) => {
          backup.throwIfAborted();
          if (attempt > 0) {
            offset = await this.#resumeOffset(remotePath, file.size);
            sending = false;
          }
          const hashMethod = await this.#remoteHashMethod();
          const newDigest = () => (hashMethod === undefined ? undefined : createLocalDigest(hashMethod.algorithm));
          let digest = newDigest();
          // An empty file has nothing to resume from and no byte that would create it: it is always sent.
          if (offset < file.size || file.size === 0) {
            if (!this.#server.appends) offset = 0;
            let unconfirmed: boolean;
            try {
              unconfirmed = await send(digest);
            } catch (error) {
              if (offset === 0 || !this.#server.appendRefused(error, name)) throw error;
              offset = 0;
              digest = newDigest();
              unconfirmed = await send(digest);
            }
            if (unconfirmed) {
              // The failed send may have stopped feeding its digest anywhere: read the whole file for a fresh one.
              digest = newDigest();
              if (digest !== undefined) await digestLocalRange({ ...job, offset }, digest, 0, file.size);
            }
          } else {
            // The server has the whole file: no transfer starts, the next one may.
            turn?.started();
            // Nothing was sent, so nothing was digested on the way: read the file for it.
            if (digest !== undefined) await digestLocalRange({ ...job, offset }, digest, 0, file.size);
          }
          if (verifyEach) await this.#verify(remotePath, file.size);
          if (hashMethod !== undefined && digest !== undefined) await this.#verifyHash(remotePath, file.size, hashMethod, digest);
        },
        this.#onRetry(`upload of ${name}`),
        backup,
      );
      done = true;
    } catch (error) {
      failed(error);
      await this.#failFile(error, job);
    } finally {
      turn?.started();
      count(done ? file.size - from : Math.max(0, (await this.#heldAfterFailure(name, remotePath, file.size, offset, sending)) - from));
    }
  }

  /**
   * Returns the bytes of a file the server holds after its last attempt failed or was stopped:
   * its size there when that attempt was `sending`, else `offset` (where the attempt began, which
   * the server confirmed). What a backend wrote into its connection is not on the server yet: the
   * kernel, a proxy or the network may hold it when the connection drops (and curl or ncftpput do
   * not tell it), so the report and the speed record of `-S` count what the server holds. When it
   * cannot be asked (a signal closed the connections, it went away), or does not answer within
   * HELD_ANSWER_MS, only `offset` is sure: the question is then left to end by itself.
   */
  async #heldAfterFailure(name: string, remotePath: string, size: number, offset: number, sending: boolean): Promise<number> {
    if (!sending) return offset;
    const waitMs = Math.min(HELD_ANSWER_MS, this.runtime.pool.target.timeoutSeconds * 1000);
    const giveUp = AbortSignal.timeout(waitMs);
    // The race also ends a wait for a connection to ask on (a login the server does not answer).
    const held = await Promise.race([
      this.#resumeOffset(remotePath, size, giveUp).catch(() => (giveUp.aborted ? undefined : offset)),
      new Promise<undefined>((resolve) => giveUp.addEventListener('abort', () => resolve(undefined), { once: true })),
    ]);
    if (held !== undefined) return held;
    this.log.warn(
      `${this.plan.target}: ${name}: how much of it the server holds is unknown (no answer within ${formatDuration(waitMs)}): counted as the ${offset} bytes it had confirmed`,
    );
    return offset;
  }

  /**
   * Sends `job`; returns true when the server never confirmed it yet holds all of it (see
   * #arrivedUnconfirmed). The backend's running count of bytes only feeds the progress display.
   */
  async #transfer(name: string, job: UploadJob, onStart?: () => void): Promise<boolean> {
    this.log.debug(`${this.plan.target}: ${name} from byte ${job.offset}`);
    const watch = this.observer?.file(this.plan.target, name, job.size - job.offset);
    return this.#arrivedUnconfirmed(this.runtime.upload(job, watch?.onBytes, onStart).finally(() => watch?.end()), job, name);
  }

  /**
   * Returns false once `upload` resolved (the server confirmed the file), true when it failed
   * without the server's word on it (no reply code: a timeout, a lost connection) and yet the
   * server holds the whole file. A router that forgot the idle control connection of a long upload
   * loses the final reply, not the data: before anything is sent again, the server's size (asked on
   * a new connection) tells whether the file arrived. Rejects with the upload's own error when it
   * did not, so the retry resumes from the size the server holds.
   */
  async #arrivedUnconfirmed(upload: Promise<void>, job: UploadJob, name: string): Promise<boolean> {
    try {
      await upload;
      return false;
    } catch (error) {
      if (!(error instanceof FtpError) || error.kind !== 'transient' || error.replyCode !== undefined) throw error;
      // The router may have forgotten the pool's idle connections as well: ask on a new one.
      const held = await this.runtime.pool
        .use((session) => {
          session.dropConnection();
          return session.size(job.remotePath);
        })
        .catch(() => undefined);
      if (held !== job.size) throw error;
      // The server's size is the planned one; the local file must still be too, as after a confirmed send.
      await assertLocalUnchanged(job);
      this.log.warn(
        `${this.plan.target}: ${name}: the server did not confirm the upload (${error.message}), but it holds all ${job.size} bytes: not sent again, verified as usual`,
      );
      return true;
    }
  }

  /**
   * Returns where to go on with a file after a failure: the server's size of it, 0 when it has none
   * or more than `size`. `giveUp` aborted closes the connection the size is asked on (see SessionPool.use).
   */
  async #resumeOffset(remotePath: string, size: number, giveUp?: AbortSignal): Promise<number> {
    let remote: number;
    try {
      remote = await this.runtime.pool.use((session) => session.size(remotePath), giveUp);
    } catch (error) {
      // The server has no such file (550 and the like): start from the first byte.
      if (error instanceof FtpError && (error.kind === 'permanent' || error.kind === 'not-found')) return 0;
      throw error;
    }
    return remote <= size ? remote : 0;
  }

  /** Returns the files of `partialDir` that its listing does not show at their local size (the listing retried after a transient failure). */
  async #notListedWhole(partialDir: string, files: readonly FileTransfer[]): Promise<FileTransfer[]> {
    const listed = await this.#op(`list ${partialDir}`, (session) => listBackupFiles(session, partialDir));
    const sizes = new Map(listed.map((file) => [file.path, file.size]));
    return files.filter((file) => sizes.get(file.path) !== file.size);
  }

  /** A file must be on the server at its local size before its folder gets its final name (unless `verify: 'none'`). */
  async #verify(remotePath: string, size: number): Promise<void> {
    if (this.runtime.pool.target.verify === 'none') return;
    const remoteSize = await this.runtime.pool.use((session) => session.size(remotePath));
    if (remoteSize !== size) {
      throw new FtpError(
        `verify failed: ${remotePath} is ${remoteSize} bytes on the server, ${size} locally`,
        'transient',
        undefined,
        'it is sent again from the size the server holds (this run, while retries last, else the next run)',
      );
    }
  }

  /** Returns how the server gives digests when `verify: 'hash'`, else undefined. */
  #remoteHashMethod(): Promise<RemoteHashMethod | undefined> {
    return this.runtime.pool.target.verify === 'hash' ? this.#server.hashMethod() : Promise.resolve(undefined);
  }

  /**
   * A file whose digest on the server differs from the bytes read locally is removed from the
   * server, so the retry (this run or the next) sends it again from the first byte: a resume
   * would only append to the bad bytes.
   */
  async #verifyHash(remotePath: string, size: number, method: RemoteHashMethod, digest: LocalDigest): Promise<void> {
    const local = digest.hex();
    const remote = await this.runtime.pool.use((session) => session.remoteHash(remotePath, method, size));
    if (remote === undefined) {
      this.log.warn(`${this.plan.target}: the server gave no ${method.algorithm} digest of ${remotePath} (${method.command}): checked by size only`);
      return;
    }
    if (remote === local) return;
    await this.#removeBadCopy(remotePath, 'its digest differed');
    throw new FtpError(
      `verify failed: ${remotePath} has ${method.algorithm} ${remote} on the server, ${local} locally`,
      'transient',
      undefined,
      'the server\'s copy was removed; it is sent again from the first byte (this run, while retries last, else the next run)',
    );
  }

  /**
   * Rethrows `error`; when the local file was written to since the scan (a new size, or a new
   * modification time at the same size: the error says so, or the local file tells once a transfer
   * failed for another reason: a cut, a timeout, the deadline), the server's copy of it is removed
   * first: its bytes are not proven the file's, and a resume (this run or the next) would only go on
   * from them to a whole-sized, broken file. A run stopped by a signal has closed its connections
   * and does not look.
   */
  async #failFile(error: unknown, job: Omit<UploadJob, 'offset'>): Promise<never> {
    if (this.signal?.aborted === true) throw error;
    const rewritten =
      error instanceof LocalFileRewrittenError || (await assertLocalUnchanged(job).then(() => false, (check: unknown) => check instanceof LocalFileRewrittenError));
    if (rewritten) {
      this.log.warn(`${this.plan.target}: ${job.localPath} was written to after the run saw it: its copy ${job.remotePath} is removed, the next run sends it whole`);
      await this.#removeBadCopy(job.remotePath, 'its local file was written to after the run saw it');
    }
    throw error;
  }

  /** Removes a file of a `.partial` whose bytes on the server are wrong, so it is sent again from its first byte; a failure is a warning. */
  async #removeBadCopy(remotePath: string, why: string): Promise<void> {
    await this.runtime.pool
      .use((session) => session.removeFile(remotePath))
      .catch((error: unknown) => {
        this.log.warn(`${this.plan.target}: could not remove ${remotePath} after ${why}: ${describeError(error)}`);
      });
  }

  /** Returns what `task` returns on a session of the target's pool, retried after a transient failure. */
  #op<T>(what: string, task: (session: FtpSession) => Promise<T>): Promise<T> {
    return withRetries(this.runtime.retry, () => this.runtime.pool.use(task), this.#onRetry(what), this.signal);
  }

  #onRetry(what: string): OnRetry {
    return (...retry) => this.log.warn(`${this.plan.target}: ${describeRetry(what, ...retry)}`);
  }

  async #deleteConfirmed(): Promise<void> {
    const planned = this.plan.vms.filter((vmPlan) => deletesOf(vmPlan).length > 0);
    if (planned.length === 0) return;
    let fresh: TargetInventory;
    try {
      fresh = await withRetries(this.runtime.retry, () => takeInventoryOver(this.runtime.pool), this.#onRetry('list the target again'), this.signal);
    } catch (error) {
      const message = `not deleted: the fresh inventory failed (${describeError(error)})`;
      for (const vmPlan of planned) {
        for (const action of deletesOf(vmPlan)) this.#record({ vm: vmPlan.vm, stamp: action.stamp, action: 'held', status: 'failed', bytes: 0, durationMs: 0, detail: message });
      }
      return;
    }
    for (const vmPlan of planned) {
      // Its folder no longer lists: what it holds now is unknown, so none of its deletes is confirmed.
      const refused = fresh.unreadable?.find((folder) => folder.vm === vmPlan.vm);
      if (refused !== undefined) {
        const message = `not deleted: folder ${refused.dir} could not be listed again (${refused.reason}); check its permissions on ${this.plan.target}`;
        for (const action of deletesOf(vmPlan)) this.#record({ vm: vmPlan.vm, stamp: action.stamp, action: 'held', status: 'failed', bytes: 0, durationMs: 0, detail: message });
        continue;
      }
      const confirmed = confirmDeletes(
        vmPlan,
        fresh.backups.filter((backup) => backup.vm === vmPlan.vm),
        this.local.filter((backup) => backup.vm === vmPlan.vm),
      );
      for (const held of confirmed.held) this.#record({ vm: vmPlan.vm, stamp: held.stamp, action: 'held', status: 'done', bytes: 0, durationMs: 0, detail: held.reason });
      for (const action of confirmed.deletes) await this.#delete(vmPlan.vm, action);
    }
  }

  async #delete(vm: string, action: DeleteAction): Promise<void> {
    const started = Date.now();
    const dir = backupPath(this.plan.remoteDir, vm, action.stamp, action.partial);
    try {
      if (action.partial) await this.#op(`delete ${dir}`, (session) => session.removeDir(dir));
      else await this.#retire(dir, backupPath(this.plan.remoteDir, vm, action.stamp, true));
      this.#record({ vm, stamp: action.stamp, action: 'delete', status: 'done', bytes: 0, ...elapsedSince(started), detail: action.reason });
      this.log.info(`${this.plan.target}: deleted ${dir} (${action.reason})`);
    } catch (error) {
      const message = this.signal?.aborted === true ? interrupted(this.signal.reason, 'the next run deletes it') : describeError(error);
      this.#record({ vm, stamp: action.stamp, action: 'delete', status: 'failed', bytes: 0, ...elapsedSince(started), detail: message });
      this.log.error(`${this.plan.target}: ${dir} not deleted: ${message}`);
    }
  }

  /**
   * Deletes a backup by first taking its final name away (`<stamp>` -> `<stamp>.partial`): a delete
   * that stops halfway then leaves a stale `.partial`, removed by the next run (invariant 3, docs/design.md), never
   * an incomplete folder under a final name (invariant 1). A stale `.partial` of the same stamp is
   * the plan's own delete, ordered before this one; nothing else is deleted to make room.
   */
  async #retire(finalDir: string, partialDir: string): Promise<void> {
    await this.#op(`rename ${finalDir} to ${partialDir}`, (session) => session.rename(finalDir, partialDir));
    await this.#op(`delete ${partialDir}`, (session) => session.removeDir(partialDir));
  }

  #record(outcome: ActionOutcome): void {
    this.#outcomes.push(outcome);
  }
}

/** Returns when an action that began at `started` (Date.now()) began, and how long it has taken: what took no time (keep, skip, held) has neither. */
function elapsedSince(started: number): Pick<ActionOutcome, 'durationMs' | 'startedAt'> {
  return { durationMs: Date.now() - started, startedAt: new Date(started).toISOString() };
}

/**
 * Returns how the report names an upload: a backup sent again from its first byte is 're-send'
 * (a `.partial` with nothing usable in it, or an incomplete copy under the final name), not a
 * resume; a resume sends on from the bytes the server holds.
 */
export function transferKind(action: Pick<UploadAction, 'type' | 'files' | 'replacesIncomplete'>): 'upload' | 'resume' | 'resend' {
  const fromScratch = action.files.every((file) => file.offset === 0);
  if (action.type === 'resume') return fromScratch ? 'resend' : 'resume';
  return action.replacesIncomplete ? 'resend' : 'upload';
}

/** Returns the turns of one upload's files; the plan's order names every upload. */
function turnsOf(turns: ReadonlyMap<string, readonly Turn[]>, vm: string, action: UploadAction): readonly Turn[] {
  const found = turns.get(`${vm}/${action.stamp}`);
  if (found === undefined) throw new Error(`the plan's upload order does not name ${vm}/${action.stamp}`);
  return found;
}

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

/**
 * Returns a controller that `parent` aborts too (with its reason), and `release` to stop listening
 * to `parent` once the controller's work is over (AbortSignal.any needs Node 20.3; vmftp runs on 20.0).
 */
export function controllerWithin(parent: AbortSignal | undefined): { readonly signal: AbortSignal; abort(reason: unknown): void; release(): void } {
  const controller = new AbortController();
  const follow = (): void => controller.abort(parent?.reason);
  if (parent?.aborted === true) follow();
  else parent?.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    release: () => parent?.removeEventListener('abort', follow),
  };
}

/**
 * Returns why an action of a stopped run did not complete, in vmftp's words: what stopped it (the
 * signal's or the deadline's reason) and what happens next, not the closed connection or killed program it met on the way.
 */
function interrupted(stop: unknown, next: string): string {
  const reason = stop instanceof Error ? stop.message : 'interrupted';
  return `${reason} before it completed: ${next}`;
}
