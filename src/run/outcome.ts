import type { AwaitingDeferred, TooOld } from '../core/age.js';
import type { DeferredBackup } from '../core/deadline.js';
import type { PlanProblem } from '../core/model.js';
import type { ExitCode } from '../errors.js';
import type { AbandonedRun } from './lock.js';

/** What happened to one planned action. */
export interface ActionOutcome {
  readonly vm: string;
  readonly stamp: string;
  /**
   * `resend`: a backup sent again from its first byte (an empty `.partial`, an incomplete copy
   * under the final name). `held`: a planned delete not done because the fresh inventory did not
   * show its replacement.
   */
  readonly action: 'upload' | 'resume' | 'resend' | 'delete' | 'keep' | 'skip' | 'held';
  /** `deferred`: an upload the deadline stopped or kept from starting; its `.partial` resumes next run. */
  readonly status: 'done' | 'failed' | 'deferred';
  /** Bytes sent by this run (uploads, also when failed or stopped: what had gone out), 0 for the rest. */
  readonly bytes: number;
  readonly durationMs: number;
  /** When it began (ISO), for actions that took time: the report's wall times come from these. */
  readonly startedAt?: string;
  /** The plan's reason, or what went wrong and what to do. */
  readonly detail: string;
}

/** Returns true for an action that sends a backup (upload, resume, resend). */
export function isTransfer(action: ActionOutcome): boolean {
  return action.action === 'upload' || action.action === 'resume' || action.action === 'resend';
}

export interface TargetOutcome {
  readonly target: string;
  /** Set when the target could not be reached, logged into or listed: nothing was done there. */
  readonly error?: string;
  /** Set with `error` when the server refused the login (wrong user or password): it was reached. */
  readonly loginRefused?: true;
  readonly actions: readonly ActionOutcome[];
  readonly durationMs: number;
}

/** The deadline came before every upload was done (exit 5). */
export interface WindowClosed {
  /** When (ISO). */
  readonly at: string;
  /** The setting that set it: `--max-duration 90m`, `--stop-at 07:00`, `window.end 07:00`. */
  readonly by: string;
  /** Every backup it deferred, with how much of it the server holds as `.partial`. */
  readonly deferred: readonly DeferredBackup[];
}

/** What links did to one purged backup: where its data was deleted, and the data they led to that stays. */
export interface PurgedThroughLinks {
  readonly dir: string;
  readonly deletedAt?: string;
  readonly dataKept: readonly string[];
}

export type AfterSuccess =
  | {
      readonly kind: 'purge';
      readonly purged: readonly string[];
      /**
       * The purged backups links concerned: `deletedAt`, the real path their data was deleted at when
       * a VM folder that is a link put it there; `dataKept`, the real paths of the data the links
       * removed (the stamp folder itself or entries in it) led to, which was not deleted.
       */
      readonly links: readonly PurgedThroughLinks[];
      /** The local backups a bare `-x` left, each with why. */
      readonly left: readonly { readonly dir: string; readonly reason: string }[];
      /** The local backups it was to purge but could not delete (whole or in part), each with the system's error. */
      readonly failed: readonly { readonly dir: string; readonly reason: string }[];
    }
  | { readonly kind: 'command'; readonly command: string; readonly exitCode: number }
  | { readonly kind: 'not-run'; readonly reason: string };

/**
 * Returns what `-x` failed to do, in a few words (`1 local purge failed`, `-x command failed`), or
 * undefined when it did what it was to do or did not run: such a run fails (exit 1), and its
 * headline says why.
 */
export function afterSuccessFailure(afterSuccess: AfterSuccess | undefined): string | undefined {
  if (afterSuccess?.kind === 'command') return afterSuccess.exitCode === 0 ? undefined : '-x command failed';
  if (afterSuccess?.kind !== 'purge' || afterSuccess.failed.length === 0) return undefined;
  return `${afterSuccess.failed.length} local purge${afterSuccess.failed.length === 1 ? '' : 's'} failed`;
}

/** The one summary of a run: console, --json, log and e-mail all show this. */
export interface RunReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly uploadMethod: string;
  readonly targets: readonly TargetOutcome[];
  readonly problems: readonly PlanProblem[];
  readonly warnings: readonly string[];
  /** The run before this one died without a report (kill -9, "End task", a power cut): found in the lock it left. */
  readonly previousRun?: AbandonedRun;
  /** VMs whose newest complete backup on a target is older than their `maxAge` after the run: each fails it. */
  readonly tooOld?: readonly TooOld[];
  /** VMs that would be older than their `maxAge` but for a backup the deadline deferred, young enough to meet it: not failures, they resume next run. */
  readonly awaitingDeferred?: readonly AwaitingDeferred[];
  /** Set when the deadline deferred uploads to the next run. */
  readonly windowClosed?: WindowClosed;
  readonly afterSuccess?: AfterSuccess;
  readonly exitCode: ExitCode;
}
