/** What a run came to, in counts: per target and VM, for the whole run, and as the short phrase a subject line says. */
import type { DeferredBackup } from '../core/deadline.js';
import { afterSuccessFailure, isTransfer, type ActionOutcome, type RunReport } from '../run/outcome.js';
import { formatBytes } from './format.js';

/** What one target and VM (or a whole run) came to. */
export interface Tally {
  uploaded: number;
  resumed: number;
  /** Backups sent again from their first byte (see transferKind). */
  resent: number;
  deleted: number;
  kept: number;
  skipped: number;
  held: number;
  failed: number;
  /** Uploads the deadline stopped or kept from starting: they resume next run. */
  deferred: number;
  /** Bytes the uploads sent, failed and stopped ones included. */
  bytes: number;
  /** Wall time of the uploads, from the first one's start to the last one's end: the speed is bytes over this. */
  transferMs: number;
  /** Wall time of every action that took time, first start to last end (parallel transfers count once). */
  durationMs: number;
}

function emptyTally(): Tally {
  return { uploaded: 0, resumed: 0, resent: 0, deleted: 0, kept: 0, skipped: 0, held: 0, failed: 0, deferred: 0, bytes: 0, transferMs: 0, durationMs: 0 };
}

/**
 * Returns the wall time the actions took together: from the earliest start to the latest end.
 * Transfers that ran side by side count once, not once each. Actions without a start (keep,
 * skip, outcomes of older versions) add nothing.
 */
export function wallTime(actions: readonly ActionOutcome[]): number {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const action of actions) {
    if (action.startedAt === undefined) continue;
    const start = Date.parse(action.startedAt);
    first = Math.min(first, start);
    last = Math.max(last, start + action.durationMs);
  }
  return last > first ? last - first : 0;
}

/** Returns the counts of a list of outcomes, with their bytes and wall times. */
export function tally(actions: readonly ActionOutcome[]): Tally {
  const sum = emptyTally();
  const transfers = actions.filter(isTransfer);
  sum.bytes = transfers.reduce((bytes, action) => bytes + action.bytes, 0);
  sum.transferMs = wallTime(transfers);
  sum.durationMs = wallTime(actions);
  for (const action of actions) {
    if (action.status === 'failed') sum.failed++;
    else if (action.status === 'deferred') sum.deferred++;
    else if (action.action === 'upload') sum.uploaded++;
    else if (action.action === 'resume') sum.resumed++;
    else if (action.action === 'resend') sum.resent++;
    else if (action.action === 'delete') sum.deleted++;
    else if (action.action === 'keep') sum.kept++;
    else if (action.action === 'skip') sum.skipped++;
    else sum.held++;
  }
  return sum;
}

/** Returns what kept vmftp off a target, as the table and the e-mail subject say it. */
export function notReached(target: { readonly loginRefused?: true }): 'login refused' | 'unreachable' {
  return target.loginRefused === true ? 'login refused' : 'unreachable';
}

type MaybeReached = { readonly target: string; readonly error?: string; readonly loginRefused?: true };

/** Returns the names of the targets vmftp could not work on for this reason. */
function missedTargets(targets: readonly MaybeReached[], why: ReturnType<typeof notReached>): string[] {
  return targets.filter((target) => target.error !== undefined && notReached(target) === why).map((target) => target.target);
}

/** Returns `nas unreachable, offsite login refused` for the targets vmftp could not work on. */
export function describeNotReached(targets: readonly MaybeReached[]): string {
  return (['unreachable', 'login refused'] as const)
    .filter((why) => missedTargets(targets, why).length > 0)
    .map((why) => `${missedTargets(targets, why).join(', ')} ${why}`)
    .join(', ');
}

/** The whole run in a few numbers: what the e-mail subject and the notification say. */
export interface RunTotals extends Tally {
  /** Targets that could not be reached (or listed). */
  readonly unreachable: readonly string[];
  /** Targets that refused the login. */
  readonly loginRefused: readonly string[];
  /** What the plan could not handle: a VM with no route, a local folder that could not be read. */
  readonly problems: number;
  /** VM-and-target pairs whose newest complete backup is older than their `maxAge`. */
  readonly tooOld: number;
  /** What `-x` failed to do (run/outcome.ts afterSuccessFailure); absent when it did not fail. */
  readonly afterSuccessFailed?: string;
  /** Of the deferred backups, how much the servers hold: `97.7 KiB of 390.6 KiB`; absent without a deferral. */
  readonly deferredOnServer?: string;
}

/** Returns the totals of a run over every target and VM; its time is the whole run's (report.durationMs). */
export function runTotals(report: RunReport): RunTotals {
  const sum = tally(report.targets.flatMap((target) => target.actions));
  const afterSuccessFailed = afterSuccessFailure(report.afterSuccess);
  return {
    ...sum,
    durationMs: report.durationMs,
    unreachable: missedTargets(report.targets, 'unreachable'),
    loginRefused: missedTargets(report.targets, 'login refused'),
    problems: report.problems.length,
    tooOld: report.tooOld?.length ?? 0,
    ...(afterSuccessFailed === undefined ? {} : { afterSuccessFailed }),
    ...(report.windowClosed === undefined ? {} : { deferredOnServer: describeOnServer(report.windowClosed.deferred) }),
  };
}

/** Returns how much of the deferred backups the servers hold: `97.7 KiB of 390.6 KiB` (`?` for a target not listed). */
function describeOnServer(deferred: readonly DeferredBackup[]): string {
  const total = formatBytes(deferred.reduce((sum, backup) => sum + backup.bytes, 0));
  if (deferred.some((backup) => backup.onServer === undefined)) return `? of ${total}`;
  return `${formatBytes(deferred.reduce((sum, backup) => sum + (backup.onServer ?? 0), 0))} of ${total}`;
}

/** Returns the totals as a short phrase: `3 uploaded, 1 resumed, 2 deleted, 1 failed, nas unreachable`. */
export function describeTotals(totals: RunTotals): string {
  const parts: string[] = [];
  if (totals.uploaded > 0) parts.push(`${totals.uploaded} uploaded`);
  if (totals.resumed > 0) parts.push(`${totals.resumed} resumed`);
  if (totals.resent > 0) parts.push(`${totals.resent} re-sent`);
  if (totals.deleted > 0) parts.push(`${totals.deleted} deleted`);
  if (totals.failed > 0) parts.push(`${totals.failed} failed`);
  if (totals.deferred > 0) parts.push(`${totals.deferred} deferred${totals.deferredOnServer === undefined ? '' : ` (${totals.deferredOnServer} on the server)`}`);
  if (totals.unreachable.length > 0) parts.push(`${totals.unreachable.join(', ')} unreachable`);
  if (totals.loginRefused.length > 0) parts.push(`${totals.loginRefused.join(', ')} login refused`);
  if (totals.problems > 0) parts.push(`${totals.problems} problem${totals.problems === 1 ? '' : 's'}`);
  if (totals.tooOld > 0) parts.push(`${totals.tooOld} older than maxAge`);
  if (totals.afterSuccessFailed !== undefined) parts.push(totals.afterSuccessFailed);
  if (parts.length === 0) parts.push(totals.kept > 0 ? `nothing to do, ${totals.kept} kept` : 'nothing to do');
  return parts.join(', ');
}
