import type { UploadJob } from '../backends/backend.js';
import { Bandwidth, type TransferLimit } from '../backends/bandwidth.js';
import { limitOver } from '../core/bwlimit.js';
import { createCurlBackend } from '../backends/curl.js';
import { createInternalBackend } from '../backends/internal.js';
import { createNcftpputBackend } from '../backends/ncftpput.js';
import type { ProgramControl } from '../backends/programs.js';
import type { ResolvedConfig, TargetConfig, UploadMethod } from '../config/types.js';
import type { BackupToTarget, Forecast, LocalBackup, Plan, PlanSettings, TargetInventory } from '../core/model.js';
import { checkMaxAge, checksAge, type AgeSettings, type TooOld, type Unlisted } from '../core/age.js';
import { describeDeferred, runDeadline, type Deadline } from '../core/deadline.js';
import { forecastPlan } from '../core/forecast.js';
import { planRun } from '../core/plan.js';
import { decidePurge, inventoriesAfterPlan } from '../core/purge.js';
import { purgeLocalBackup } from './purge-local.js';
import { DeadlineError, ExitCode, FtpError, InterruptedError, VmftpError } from '../errors.js';
import { controllerWithin, executePlan, type TargetRuntime, type TransferObserver } from './execute.js';
import { SessionPool } from '../ftp/pool.js';
import type { DataConnection } from '../ftp/passive.js';
import { FtpSession } from '../ftp/session.js';
import { takeInventory, takeInventoryOver, type Listing } from '../facts/inventory.js';
import { acquireLock } from './lock.js';
import type { Logger } from '../delivery/log.js';
import { describeError } from '../report/failure.js';
import { afterSuccessFailure, isTransfer, type AfterSuccess, type PurgedThroughLinks, type RunReport, type TargetOutcome, type WindowClosed } from './outcome.js';
import { describePreviousRun, describeThroughLinks, describeUnreportedRun } from '../report/report.js';
import { formatClock } from '../report/format.js';
import { describeRetry, retryPolicyOf, withRetries, type OnRetry } from './retry.js';
import { noBackupError, scanSource } from '../facts/scan.js';
import { measuredSpeeds, readSpeedRecord, speedRecordFile, writeSpeedRecord, type MeasuredRun } from './speed-record.js';

export interface RunOptions {
  readonly simulate: boolean;
  /** `-x`: true purges the local backups core/purge.ts allows; a string is a command to run. */
  readonly afterSuccess?: true | string;
  /** Watches the uploads' bytes (progress display). */
  readonly observer?: TransferObserver;
  /**
   * Aborted on SIGINT/SIGTERM/SIGHUP: every connection closes and every curl/ncftpput is ended at
   * once (transfers fail, their `.partial` stays for the next run), nothing is deleted or purged,
   * and the report ends with exit 130. Its reason (an InterruptedError) names the signal.
   */
  readonly signal?: AbortSignal;
  /** Called once this run holds the lock, before anything else: a backup run starts its own log file there. */
  readonly onLocked?: () => Promise<void>;
}

export type RunResult =
  | {
      readonly kind: 'plan';
      readonly plan: Plan;
      readonly warnings: readonly string[];
      /** Target -> the bandwidth limits in force for its uploads now; targets without any are absent. */
      readonly bandwidth: Readonly<Record<string, string>>;
      readonly exitCode: ExitCode;
    }
  | { readonly kind: 'report'; readonly report: RunReport };

interface Connected {
  readonly sessions: Map<string, FtpSession>;
  readonly inventories: TargetInventory[];
  readonly failures: TargetOutcome[];
}

/**
 * Returns the plan (`--simulate`) or the report of a real run: lock, scan,
 * connect and inventory every target, plan, execute, then `-x` only after a
 * run in which every planned upload on every target verified.
 */
export async function runBackup(config: ResolvedConfig, options: RunOptions, log: Logger): Promise<RunResult> {
  const lock = await acquireLock(config.lockFile, (message) => log.warn(message), {
    configPath: config.configPath,
    changesNothing: options.simulate,
  });
  /** Stops the transfers: it follows the signal, and the deadline aborts it. */
  const transfersStop = controllerWithin(options.signal);
  let closeWindow: (() => void) | undefined;
  try {
    await options.onLocked?.();
    const startedAt = new Date();
    const deadline = config.deadline === undefined ? undefined : runDeadline(startedAt, config.deadline);
    if (deadline !== undefined) log.info(`deadline ${formatClock(deadline.at)} (${deadline.by}): then no new transfer starts and the running ones stop`);
    // The deadline stops the transfers the way a signal does, and only them: the deletes of the
    // backups that did complete still run, and the report still goes out.
    const transfers = transfersStop.signal;
    closeWindow = deadline === undefined ? undefined : scheduleDeadline(deadline, transfersStop, log);
    const previousRun = lock.previous;
    const notices = [
      ...(previousRun === undefined ? [] : [describePreviousRun(previousRun)]),
      ...(lock.unreported === undefined ? [] : [describeUnreportedRun(lock.unreported)]),
    ];
    for (const notice of notices) log.warn(notice);
    const scan = await scanSource(config.source);
    for (const warning of scan.warnings) log.warn(warning);
    // A VM folder that could not be read is not an empty source: the plan names it and fails the run.
    if (scan.backups.length === 0 && scan.unreadable.length === 0) throw noBackupError(config.source, scan);
    // MLSD/LIST only: --simulate shows the plan the run makes, and these connections go on to rename and delete.
    const connected = await connectTargets(config, targetsInUse(config), log, 'proven', options.signal);
    // The inventory's connection becomes the first of each target's pool: at most maxConnections in all.
    const pools = new Map([...connected.sessions].map(([name, session]) => [name, new SessionPool(session.target, session, log)]));
    const stop = () => {
      for (const pool of pools.values()) pool.abort();
    };
    const interrupted = () => options.signal?.aborted === true;
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      if (interrupted()) throw new InterruptedError('interrupted before the uploads started: nothing was changed');
      const plan = planRun({ local: scan.backups, unreadable: scan.unreadable, inventories: connected.inventories, settings: planSettings(config) });
      const strays = strayWarnings(connected.inventories);
      for (const warning of strays) log.warn(warning);
      const warnings = [...notices, ...scan.warnings, ...strays];
      const bandwidth = bandwidthOf(config);
      const limits = limitsInForce(bandwidth, plan);
      if (options.simulate) {
        // The run's verdict on what the plan already tells (an unreachable target, a VM left out): a config checked with -S fails as its run would.
        const exitCode = exitCodeOfRun(connected.failures, plan, [], undefined);
        const purge = decidePurge(scan.backups, inventoriesAfterPlan(plan.targets, connected.inventories, scan.backups), planSettings(config));
        const forecast = await forecastOf(plan, config, startedAt, deadline, log);
        return { kind: 'plan', plan: { ...plan, purge, forecast }, warnings, bandwidth: limits, exitCode };
      }
      // In the log (and its file) as well as the report: the night's log says which VM was left out, and why.
      for (const problem of plan.problems) log.error(`problem: ${problem.vm}: ${problem.message}`);
      for (const [target, limit] of Object.entries(limits)) log.info(`${target}: bandwidth limit ${limit}`);
      const control: ProgramControl = { signal: transfers, children: lock };
      const transferLimits = new Map([...pools.keys()].map((name) => [name, bandwidth.forTarget(name)]));
      const runtimes = new Map<string, TargetRuntime>(
        [...pools].map(([name, pool]) => [name, targetRuntime(config.uploadMethod, pool, control, connected.sessions.get(name)?.dataConnection, transferLimits.get(name))]),
      );
      const executed = await executePlan(plan, runtimes, scan.backups, log, options.observer, { interrupt: options.signal, transfers });
      closeWindow?.();
      const outcomes = [...connected.failures, ...executed];
      // What the targets hold now, listed once: judged for maxAge, for what a deferred backup has there and, with a bare -x, for
      // the purge. A run that needs none of them (every maxAge false, no deadline, no bare -x) lists nothing more.
      const age = ageSettings(config);
      const listingNeeded = checksAge(plan, age) || deadline !== undefined || options.afterSuccess === true;
      // The speed record is a local file, the listing the targets' folders: side by side, the run's end waits for the longer only.
      const [, after] = await Promise.all([
        keepMeasuredSpeeds(outcomes, config, { startedAt, interrupted: interrupted(), heldMs: (target) => transferLimits.get(target)?.heldMs() ?? 0 }, log),
        interrupted() || !listingNeeded ? [] : listAfterRun(pools, options.signal),
      ]);
      // What the deadline deferred first: a VM whose newer backup it kept off a target is judged on that backup.
      const windowClosed = deadline === undefined ? undefined : deferredBy(deadline, outcomes, after, scan.backups);
      // Then what failed: a VM too old for maxAge because its newer backup's upload failed is told so, not asked about its backup job.
      const unfinished = { deferred: windowClosed?.deferred ?? [], failed: transfersEnded(outcomes, 'failed') };
      const { tooOld, awaitingDeferred } = checkMaxAge(plan, after, scan.backups, unfinished, age, new Date());
      for (const stale of tooOld) log.error(stale.message);
      for (const awaiting of awaitingDeferred) log.warn(awaiting.message);
      let exitCode = interrupted() ? ExitCode.Interrupted : exitCodeOfRun(outcomes, plan, tooOld, windowClosed);
      let afterSuccess: AfterSuccess | undefined;
      if (options.afterSuccess !== undefined) {
        afterSuccess =
          exitCode === ExitCode.Ok
            ? await runAfterSuccess(options.afterSuccess, config, scan.backups, after, log)
            : {
                kind: 'not-run',
                reason:
                  exitCode === ExitCode.Deferred
                    ? 'the window closed before every upload was done: nothing purged, no command run'
                    : 'the run had failures: nothing purged, no command run',
              };
        if (afterSuccessFailure(afterSuccess) !== undefined) exitCode = ExitCode.PartialFailure;
      }
      const report: RunReport = {
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        uploadMethod: config.uploadMethod,
        targets: outcomes,
        problems: plan.problems,
        warnings,
        ...(previousRun === undefined ? {} : { previousRun }),
        tooOld,
        ...(awaitingDeferred.length === 0 ? {} : { awaitingDeferred }),
        ...(windowClosed === undefined ? {} : { windowClosed }),
        ...(afterSuccess === undefined ? {} : { afterSuccess }),
        exitCode,
      };
      return { kind: 'report', report };
    } finally {
      options.signal?.removeEventListener('abort', stop);
      for (const pool of pools.values()) pool.close();
    }
  } finally {
    closeWindow?.();
    transfersStop.release();
    await lock.release();
  }
}

/**
 * Returns how one target's files move: over a pooled session (internal client), or through
 * curl/ncftpput while holding one of the pool's connection slots, so transfers and listings
 * together stay within maxConnections.
 */
function targetRuntime(
  method: UploadMethod,
  pool: SessionPool,
  control: ProgramControl,
  /** How the inventory's data connections went: ncftpput refuses a target whose PASV it would follow elsewhere. */
  dataConnection: DataConnection | undefined,
  /** The target's `bwlimit` and the run's, when either ever limits. */
  limit: TransferLimit | undefined,
): TargetRuntime {
  const retry = retryPolicyOf(pool.target);
  if (method === 'internal') {
    return {
      pool,
      retry,
      upload: (job: UploadJob, onBytes?: (bytes: number) => void, onStart?: () => void) =>
        pool.use((session) => {
          onStart?.();
          return createInternalBackend(session, control.signal, limit).upload(job, onBytes);
        }),
    };
  }
  const backend =
    method === 'curl' ? createCurlBackend(pool.target, { ...control, limit }) : createNcftpputBackend(pool.target, { ...control, dataConnection, limit });
  return {
    pool,
    retry,
    upload: (job, onBytes, onStart) =>
      pool.useSlot(() => {
        onStart?.();
        // A transfer that waited for its slot past the deadline (or a signal) starts no program.
        control.signal?.throwIfAborted();
        return backend.upload(job, onBytes);
      }),
  };
}

/** The longest wait a timer can hold (about 24.8 days); no run lasts that long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Aborts `transfers` with a DeadlineError at the deadline (at once when it has passed), and
 * says so in the log; returns the function that cancels it once the uploads are over.
 */
function scheduleDeadline(deadline: Deadline, transfers: { abort(reason: unknown): void }, log: Logger): () => void {
  const close = () => {
    log.warn(`the window closed (${deadline.by}): no new transfer starts and the running ones stop; they stay as .partial and resume next run`);
    transfers.abort(new DeadlineError(`the window closed (${deadline.by})`));
  };
  const waitMs = deadline.at.getTime() - Date.now();
  if (waitMs > MAX_TIMER_MS) return () => undefined;
  const timer = setTimeout(close, Math.max(0, waitMs));
  return () => clearTimeout(timer);
}

/** Returns what the deadline deferred and how much of it the targets hold, undefined when it deferred nothing. */
function deferredBy(
  deadline: Deadline,
  outcomes: readonly TargetOutcome[],
  after: readonly (TargetInventory | Unlisted)[],
  local: readonly LocalBackup[],
): WindowClosed | undefined {
  const deferred = transfersEnded(outcomes, 'deferred');
  if (deferred.length === 0) return undefined;
  const listed = after.filter((inventory): inventory is TargetInventory => !('error' in inventory));
  return { at: deadline.at.toISOString(), by: deadline.by, deferred: describeDeferred(deferred, listed, local) };
}

/** Returns the backups this run's uploads (upload, resume, resend) to each target ended `status` for. */
function transfersEnded(outcomes: readonly TargetOutcome[], status: 'failed' | 'deferred'): BackupToTarget[] {
  return outcomes.flatMap((outcome) =>
    outcome.actions.filter((action) => isTransfer(action) && action.status === status).map((action) => ({ target: outcome.target, vm: action.vm, stamp: action.stamp })),
  );
}

/** Returns the run's bandwidth limits: config `bwlimit` (or `--bwlimit`) for all uploads together, and each target's own. */
function bandwidthOf(config: ResolvedConfig): Bandwidth {
  return new Bandwidth(config.bwlimit, Object.fromEntries(Object.values(config.targets).map((target) => [target.name, target.bwlimit])));
}

/** Returns, per target of the plan with a `bwlimit` (its own or the run's), the limits in force now. */
function limitsInForce(bandwidth: Bandwidth, plan: Plan): Record<string, string> {
  const limits: Record<string, string> = {};
  for (const { target } of plan.targets) {
    const limit = bandwidth.describe(target);
    if (limit !== undefined) limits[target] = limit;
  }
  return limits;
}

/** Returns the names of the targets that some VM route maps to, in config order. */
function targetsInUse(config: ResolvedConfig): string[] {
  const used = new Set(Object.values(config.vms).flatMap((route) => route.targets));
  return Object.keys(config.targets).filter((target) => used.has(target));
}

/**
 * One connection per target, opened and inventoried in parallel; a target that fails is reported, not fatal.
 * `listing` 'fast' (STAT, see FtpSession.list) only for connections that will never change anything.
 */
export async function connectTargets(
  config: ResolvedConfig,
  names: readonly string[],
  log: Logger,
  listing: Listing,
  signal?: AbortSignal,
): Promise<Connected> {
  const sessions = new Map<string, FtpSession>();
  const inventories: TargetInventory[] = [];
  const failures: TargetOutcome[] = [];
  const results = await Promise.all(names.map((name) => connectTarget(config.targets[name]!, listing, log, signal)));
  results.forEach((result, index) => {
    if ('error' in result) failures.push({ target: names[index]!, ...result, actions: [], durationMs: 0 });
    else {
      sessions.set(names[index]!, result.session);
      inventories.push(result.inventory);
    }
  });
  return { sessions, inventories, failures };
}

async function connectTarget(
  target: TargetConfig,
  listing: Listing,
  log: Logger,
  /** Ends the waits between retries (SIGINT/SIGTERM). */
  signal?: AbortSignal,
): Promise<{ session: FtpSession; inventory: TargetInventory } | { error: string; loginRefused?: true }> {
  let session: FtpSession | undefined;
  try {
    // A NAS that is rebooting or busy (421) gets the retries a lost connection gets mid-run; a refused
    // login is reported at once (exit 4, nothing changed, the next night tries again).
    const policy = retryPolicyOf(target);
    const onRetry =
      (what: string): OnRetry =>
      (...retry) =>
        log.warn(`${target.name}: ${describeRetry(what, ...retry)}`);
    session = await withRetries(policy, () => FtpSession.open(target), onRetry('login'), signal);
    const opened = session;
    const inventory = await withRetries(policy, () => takeInventory(opened, listing), onRetry('listing'), signal);
    log.debug(`${target.name}: ${inventory.backups.length} backups under ${target.remoteDir}`);
    logPassiveRewrite(target, session.dataConnection, log);
    return { session, inventory };
  } catch (error) {
    session?.close();
    const message = describeError(error);
    log.error(`${target.name}: ${message}; nothing was changed there`);
    return { error: message, ...(error instanceof FtpError && error.kind === 'auth' ? { loginRefused: true as const } : {}) };
  }
}

/** Says once per target that the server's PASV reply names another address, and where data connections go instead. */
function logPassiveRewrite(target: TargetConfig, how: DataConnection | undefined, log: Logger): void {
  if (how?.command !== 'PASV' || how.announced === how.used) return;
  log.info(
    `${target.name}: the server's PASV reply names ${how.announced} (behind NAT?): data connections go to ${how.used}, ` +
      'the host the control connection went to, as curl and FileZilla do',
  );
}

/** Returns the forecast `-S` shows: at the bwlimits in force and each target's last measured speed (the record next to the lock). */
async function forecastOf(plan: Plan, config: ResolvedConfig, startedAt: Date, deadline: Deadline | undefined, log: Logger): Promise<Forecast> {
  const record = await readSpeedRecord(speedRecordFile(config.lockFile));
  if ('unreadable' in record) log.warn(`no upload time estimate from the last run: ${record.unreadable}`);
  const runLimitAt = limitOver(config.bwlimit);
  return forecastPlan(plan, {
    start: startedAt,
    ...(deadline === undefined ? {} : { deadline }),
    ...(runLimitAt === undefined ? {} : { runLimitAt }),
    limitFor: (target) => limitOver(config.targets[target]?.bwlimit),
    connectionsOf: (target) => config.targets[target]?.maxConnections ?? 1,
    measured: 'speeds' in record ? record.speeds : {},
    ...('unreadable' in record ? { measuredUnreadable: `the record of measured speeds ${record.unreadable}` } : {}),
  });
}

/** Writes the speed of the link to each target this run measured into the record next to the lock, for the next `-S`; says which it did not keep. */
async function keepMeasuredSpeeds(outcomes: readonly TargetOutcome[], config: ResolvedConfig, run: MeasuredRun, log: Logger): Promise<void> {
  const { speeds, notKept } = measuredSpeeds(outcomes, run);
  for (const [target, why] of Object.entries(notKept)) log.info(`${target}: this run's upload speed is not kept for -S: ${why}`);
  if (Object.keys(speeds).length === 0) return;
  const file = speedRecordFile(config.lockFile);
  try {
    const earlierKept = await writeSpeedRecord(file, speeds);
    for (const [target, why] of Object.entries(earlierKept)) log.info(`${target}: this run's upload speed is not kept for -S: ${why}`);
  } catch (error) {
    log.warn(`could not keep this run's upload speeds in ${file} (${(error as Error).message}): -S gives no estimate from them`);
  }
}

/** Returns the planner's view of the config. */
export function planSettings(config: ResolvedConfig): PlanSettings {
  const targetKeep = Object.fromEntries(Object.values(config.targets).map((target) => [target.name, target.keep]));
  return {
    keep: config.keep,
    ...(config.keepOverride === undefined ? {} : { keepOverride: config.keepOverride }),
    targetKeep,
    vms: config.vms,
    deleteFirst: config.deleteFirst,
  };
}

function strayWarnings(inventories: readonly TargetInventory[]): string[] {
  return inventories.flatMap((inventory) =>
    inventory.strays.map((stray) => `${inventory.target}: ${inventory.remoteDir}/${stray} is not a <VM>/<STAMP> backup, left alone`),
  );
}

/**
 * Exit code of a finished run: unreachable targets first, then any failed action, unplanned VM or
 * VM older than its maxAge, then backups the deadline deferred (all of that needs someone to look; a
 * deferral alone resumes by itself). Also `-S`'s, given only what the plan knows: the targets that
 * could not be reached, no action run, nothing judged too old, no deadline passed.
 */
function exitCodeOfRun(outcomes: readonly TargetOutcome[], plan: Plan, tooOld: readonly TooOld[], windowClosed: WindowClosed | undefined): ExitCode {
  if (outcomes.some((outcome) => outcome.error !== undefined)) return ExitCode.Unreachable;
  const failed = outcomes.some((outcome) => outcome.actions.some((action) => action.status === 'failed'));
  if (failed || plan.problems.length > 0 || tooOld.length > 0) return ExitCode.PartialFailure;
  return windowClosed === undefined ? ExitCode.Ok : ExitCode.Deferred;
}

/** Returns the age check's view of the config. */
function ageSettings(config: ResolvedConfig): AgeSettings {
  const targetMaxAge = Object.fromEntries(Object.values(config.targets).map((target) => [target.name, target.maxAge]));
  return { maxAge: config.maxAge, targetMaxAge, vms: config.vms };
}

/** Returns a fresh inventory of every connected target, or why it could not be listed (after its retries). */
function listAfterRun(pools: ReadonlyMap<string, SessionPool>, signal?: AbortSignal): Promise<(TargetInventory | Unlisted)[]> {
  return Promise.all(
    [...pools].map(async ([target, pool]) => {
      try {
        return await withRetries(retryPolicyOf(pool.target), () => takeInventoryOver(pool), undefined, signal);
      } catch (error) {
        return { target, error: error instanceof VmftpError ? error.message : String(error) };
      }
    }),
  );
}

/**
 * Returns what `-x` did. Without a command it deletes the local backup folders that
 * core/purge.ts's rule allows, judged on the inventories listed after the run.
 */
async function runAfterSuccess(
  afterSuccess: true | string,
  config: ResolvedConfig,
  local: readonly LocalBackup[],
  after: readonly (TargetInventory | Unlisted)[],
  log: Logger,
): Promise<AfterSuccess> {
  if (typeof afterSuccess === 'string') {
    log.info(`running -x command: ${afterSuccess}`);
    // The user's own command line, as the original's -x: it runs through the system shell they wrote it for.
    // Loaded here: execa costs ~16 MB and startup time on every run, and few runs use -x with a command.
    const { execa } = await import('execa');
    // stdout carries only vmftp's result (--json must stay one document): the command's output,
    // both streams, goes line by line into the log, hence to stderr, the log file and the e-mail.
    const command = execa(afterSuccess, { shell: true, stdin: 'ignore', all: true, buffer: false, reject: false });
    for await (const line of command.iterable({ from: 'all' })) log.info(`-x: ${line}`);
    const result = await command;
    return { kind: 'command', command: afterSuccess, exitCode: result.exitCode ?? 1 };
  }
  const unlisted = after.find((inventory): inventory is Unlisted => 'error' in inventory);
  if (unlisted !== undefined) {
    return { kind: 'not-run', reason: `the check before purging failed (${unlisted.target}: ${unlisted.error}): nothing purged` };
  }
  const inventories = after.filter((inventory): inventory is TargetInventory => !('error' in inventory));
  const decisions = decidePurge(local, inventories, planSettings(config));
  const backups = new Map(local.map((backup) => [backup.dir, backup]));
  const purged: string[] = [];
  const links: PurgedThroughLinks[] = [];
  const left: { dir: string; reason: string }[] = [];
  const failed: { dir: string; reason: string }[] = [];
  for (const decision of decisions) {
    if (!decision.purge) {
      left.push({ dir: decision.dir, reason: decision.reason });
      log.info(`left local ${decision.dir}: ${decision.reason}`);
      continue;
    }
    try {
      const outcome = await purgeLocalBackup(backups.get(decision.dir)!);
      if (outcome.kind === 'changed') {
        left.push({ dir: decision.dir, reason: outcome.reason });
        log.warn(`-x: left local ${decision.dir}: ${outcome.reason}`);
        continue;
      }
      purged.push(decision.dir);
      const linked = { dir: decision.dir, ...(outcome.deletedAt === undefined ? {} : { deletedAt: outcome.deletedAt }), dataKept: outcome.dataKept };
      const through = describeThroughLinks(linked);
      if (through === undefined) {
        log.info(`purged local ${decision.dir} (${decision.reason})`);
        continue;
      }
      links.push(linked);
      // A warning when data stays: the administrator counting on -x to free the disk must see it did not.
      if (linked.dataKept.length > 0) log.warn(`-x: purged local ${decision.dir} (${decision.reason}; ${through})`);
      else log.info(`purged local ${decision.dir} (${decision.reason}; ${through})`);
    } catch (error) {
      // A file held open (on Windows the backup tool or an antivirus scan) or no permission: the
      // backup is safe on its targets, only this disk is not freed; the other purges go on.
      const reason = (error as Error).message;
      failed.push({ dir: decision.dir, reason });
      log.error(`-x: could not purge local ${decision.dir} (${reason}); it is complete on its targets: the next successful run with -x purges what is left of it`);
    }
  }
  return { kind: 'purge', purged, links, left, failed };
}
