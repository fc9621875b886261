import { format } from 'date-fns/format';
import type { Plan, PlanAction } from '../core/model.js';
import { describePolicy } from '../core/retention.js';
import type { DisplayedBackup, DisplayedTarget } from './display.js';
import { NO_COLORS, type Colors } from './color.js';
import type { AbandonedRun } from '../run/lock.js';
import type { ActionOutcome, RunReport } from '../run/outcome.js';

/** Returns `bytes` as a short human size: 0 B, 12.3 KiB, 4.0 GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Returns a duration as `850 ms`, `12.3 s`, `4m05s` or `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** Returns MB/s (10^6 bytes per second) of a transfer, or '-' when nothing moved. */
export function throughput(bytes: number, ms: number): string {
  return bytes === 0 || ms === 0 ? '-' : `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

/** Paints one already padded cell; `row` 0 is the header. */
export type CellStyle = (text: string, row: number, column: number) => string;

/**
 * Returns rows of cells as aligned text columns. `style` colours a cell after
 * it was padded, so escape codes never count towards a column's width.
 */
export function table(rows: readonly (readonly string[])[], style?: CellStyle): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row, rowIndex) =>
      row
        .map((cell, index) => {
          const padded = index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0);
          return style === undefined ? padded : style(padded, rowIndex, index);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function actionLabel(action: PlanAction): string {
  if (action.type === 'delete') return action.partial ? 'delete .partial' : 'delete';
  return action.type;
}

/** Returns the plan as the `--simulate` text: per target and VM, every action with its reason. */
export function formatPlan(plan: Plan, warnings: readonly string[]): string {
  const lines: string[] = [`Plan${plan.deleteFirst ? ' (--delete-first: deletes run before uploads)' : ''} — nothing has been changed`];
  for (const targetPlan of plan.targets) {
    lines.push('', `target ${targetPlan.target} (${targetPlan.remoteDir})`);
    if (targetPlan.vms.length === 0) lines.push('  nothing to do');
    for (const vmPlan of targetPlan.vms) {
      lines.push(`  ${vmPlan.vm} — keep ${describePolicy(vmPlan.policy)}`);
      const rows = vmPlan.actions.map((action) => [
        `    ${actionLabel(action)}`,
        action.stamp,
        action.type === 'upload' || action.type === 'resume' ? formatBytes(action.bytes) : '',
        action.reason,
      ]);
      if (rows.length > 0) lines.push(table(rows));
    }
  }
  if (plan.purge !== undefined && plan.purge.length > 0) {
    lines.push('', '-x without a command, once this plan ran in full with no failure (-x "<command>" runs the command instead):');
    lines.push(table(plan.purge.map((local) => [`  ${local.purge ? 'purge' : 'leave'}`, `${local.vm}/${local.stamp}`, local.reason])));
  }
  for (const problem of plan.problems) lines.push('', `problem: ${problem.vm}: ${problem.message}`);
  for (const warning of warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

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
  /** Bytes the uploads sent, failed and stopped ones included. */
  bytes: number;
  /** Wall time of the uploads, from the first one's start to the last one's end: the speed is bytes over this. */
  transferMs: number;
  /** Wall time of every action that took time, first start to last end (parallel transfers count once). */
  durationMs: number;
}

function emptyTally(): Tally {
  return { uploaded: 0, resumed: 0, resent: 0, deleted: 0, kept: 0, skipped: 0, held: 0, failed: 0, bytes: 0, transferMs: 0, durationMs: 0 };
}

function isTransfer(action: ActionOutcome): boolean {
  return action.action === 'upload' || action.action === 'resume' || action.action === 'resend';
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
  /** VMs the plan could not handle (no route). */
  readonly problems: number;
  /** VM-and-target pairs whose newest complete backup is older than their `maxAge`. */
  readonly tooOld: number;
}

/** Returns the totals of a run over every target and VM; its time is the whole run's (report.durationMs). */
export function runTotals(report: RunReport): RunTotals {
  const sum = tally(report.targets.flatMap((target) => target.actions));
  return {
    ...sum,
    durationMs: report.durationMs,
    unreachable: missedTargets(report.targets, 'unreachable'),
    loginRefused: missedTargets(report.targets, 'login refused'),
    problems: report.problems.length,
    tooOld: report.tooOld?.length ?? 0,
  };
}

/** Returns the totals as a short phrase: `3 uploaded, 1 resumed, 2 deleted, 1 failed, nas unreachable`. */
export function describeTotals(totals: RunTotals): string {
  const parts: string[] = [];
  if (totals.uploaded > 0) parts.push(`${totals.uploaded} uploaded`);
  if (totals.resumed > 0) parts.push(`${totals.resumed} resumed`);
  if (totals.resent > 0) parts.push(`${totals.resent} re-sent`);
  if (totals.deleted > 0) parts.push(`${totals.deleted} deleted`);
  if (totals.failed > 0) parts.push(`${totals.failed} failed`);
  if (totals.unreachable.length > 0) parts.push(`${totals.unreachable.join(', ')} unreachable`);
  if (totals.loginRefused.length > 0) parts.push(`${totals.loginRefused.join(', ')} login refused`);
  if (totals.problems > 0) parts.push(`${totals.problems} VM${totals.problems === 1 ? '' : 's'} without a target`);
  if (totals.tooOld > 0) parts.push(`${totals.tooOld} older than maxAge`);
  if (parts.length === 0) parts.push(totals.kept > 0 ? `nothing to do, ${totals.kept} kept` : 'nothing to do');
  return parts.join(', ');
}

/** How the report is drawn: colours for a terminal, and every action under `-v debug`. */
export interface ReportStyle {
  readonly colors?: Colors;
  /** List every action with its detail below the table. */
  readonly detail?: boolean;
}

const REPORT_HEADER = ['target', 'VM', 'uploaded', 'resumed', 're-sent', 'deleted', 'kept', 'skipped', 'failed', 'bytes', 'time', 'speed'];
const FAILED_COLUMN = REPORT_HEADER.indexOf('failed');

function tallyRow(target: string, vm: string, sum: Tally): string[] {
  return [
    target,
    vm,
    String(sum.uploaded),
    String(sum.resumed),
    String(sum.resent),
    String(sum.deleted),
    String(sum.kept),
    String(sum.skipped),
    String(sum.failed),
    formatBytes(sum.bytes),
    formatDuration(sum.durationMs),
    throughput(sum.bytes, sum.transferMs),
  ];
}

/**
 * Returns the end-of-run summary: one row per target and VM (uploaded,
 * resumed, re-sent, deleted, kept, skipped, failed, bytes sent, wall time,
 * MB/s over the uploads' wall time), a total row (the whole run's time),
 * then failures, problems and `-x`, and the one-line verdict.
 */
export function formatReport(report: RunReport, style: ReportStyle = {}): string {
  const c = style.colors ?? NO_COLORS;
  const rows: string[][] = [REPORT_HEADER];
  const failures: string[] = [];
  const details: string[] = [];
  for (const target of report.targets) {
    if (target.error !== undefined) {
      rows.push([target.target, '-', '-', '-', '-', '-', '-', '-', notReached(target), '-', '-', '-']);
      failures.push(`${target.target}: ${target.error}`);
      continue;
    }
    if (target.actions.length === 0) rows.push([target.target, '-', '0', '0', '0', '0', '0', '0', '0', '0 B', '0 ms', '-']);
    const vms = [...new Set(target.actions.map((action) => action.vm))];
    for (const vm of vms) {
      const actions = target.actions.filter((action) => action.vm === vm);
      rows.push(tallyRow(target.target, vm, tally(actions)));
      for (const action of actions) {
        if (action.status === 'failed') failures.push(`${target.target}: ${vm}/${action.stamp} ${action.action} failed: ${action.detail}`);
        else if (action.action === 'held') failures.push(`${target.target}: ${vm}/${action.stamp} ${action.detail}`);
        details.push(
          `  ${target.target} ${vm}/${action.stamp} ${action.action} ${action.status}` +
            `${action.bytes > 0 ? ` ${formatBytes(action.bytes)}` : ''}${action.durationMs > 0 ? ` in ${formatDuration(action.durationMs)}` : ''}: ${action.detail}`,
        );
      }
    }
  }
  if (rows.length > 2) {
    const totals = runTotals(report);
    rows.push(tallyRow('total', '', totals));
  }
  const paint: CellStyle = (text, row, column) => {
    if (row === 0) return c.bold(text);
    const cell = rows[row]?.[column]?.trim();
    if (column === FAILED_COLUMN && cell !== '0') return c.red(c.bold(text));
    if (row === rows.length - 1 && rows.length > 2 && rows[row]?.[0] === 'total') return c.bold(text);
    return text;
  };
  const lines = [table(rows, paint)];
  if (failures.length > 0) lines.push('', ...failures.map((line) => c.red(line)));
  for (const problem of report.problems) lines.push(c.red(`problem: ${problem.vm}: ${problem.message}`));
  for (const stale of report.tooOld ?? []) lines.push(c.red(`too old: ${stale.message}`));
  if (style.detail === true && details.length > 0) lines.push('', 'every action:', ...details);
  if (report.afterSuccess !== undefined) lines.push('', formatAfterSuccess(report.afterSuccess));
  if (report.previousRun !== undefined) lines.push('', c.red(describePreviousRun(report.previousRun)));
  const outcome = report.exitCode === 0 ? c.green(c.bold('success')) : c.red(c.bold(`FAILED (exit code ${report.exitCode})`));
  lines.push('', `vmftp ${outcome} in ${formatDuration(report.durationMs)} (upload method ${report.uploadMethod})`);
  return lines.join('\n');
}

/**
 * Returns what an administrator must learn about a run that died without a report: when it ran,
 * that its unfinished uploads resume now, and which of its programs were ended or may still run.
 */
export function describePreviousRun(previous: AbandonedRun): string {
  const parts = [`${endedWithoutReport(previous)}: its unfinished uploads stay as .partial and this run resumes them`];
  for (const program of previous.programs) {
    if (program.state === 'ended') parts.push(`ended its ${program.program} (pid ${program.pid}), still uploading`);
    if (program.state === 'unknown') {
      parts.push(`its ${program.program} (pid ${program.pid}) may still run: this system cannot tell whether that pid is still it; end it if it is`);
    }
  }
  return parts.join('; ');
}

/** Returns what a run that changes nothing (`-S`) says about a dead run's lock it leaves for the next backup run. */
export function describeUnreportedRun(previous: AbandonedRun): string {
  return `${endedWithoutReport(previous)}: its lock stays for the next backup run, which reports it, resumes its uploads and ends what it left running`;
}

function endedWithoutReport(previous: AbandonedRun): string {
  const started = format(new Date(previous.startedAt), 'yyyy-MM-dd HH:mm:ss');
  return `the previous run (pid ${previous.pid}, started at ${started}) ended without a report (killed, ended by the task scheduler, a crash or a power cut)`;
}

function formatAfterSuccess(afterSuccess: NonNullable<RunReport['afterSuccess']>): string {
  switch (afterSuccess.kind) {
    case 'purge': {
      const lines = afterSuccess.purged.length === 0 ? ['-x: no local backup to purge'] : ['-x: purged local backups:', ...afterSuccess.purged.map((dir) => `  ${dir}`)];
      if (afterSuccess.left.length > 0) lines.push('-x: left local backups:', ...afterSuccess.left.map(({ dir, reason }) => `  ${dir}: ${reason}`));
      return lines.join('\n');
    }
    case 'command':
      return `-x: command "${afterSuccess.command}" exited with ${afterSuccess.exitCode}`;
    case 'not-run':
      return `-x: not run: ${afterSuccess.reason}`;
  }
}

/** Returns the `-d` listing: per target and VM, every backup with files, size and state. */
export function formatDisplay(targets: readonly DisplayedTarget[], colors: Colors = NO_COLORS): string {
  const c = colors;
  const stateColor = { complete: c.green, partial: c.yellow, incomplete: c.red } as const;
  const lines: string[] = [];
  for (const target of targets) {
    lines.push(c.bold(`target ${target.target} (${target.remoteDir})`));
    if (target.error !== undefined) {
      lines.push(c.red(`  ${notReached(target)}: ${target.error}`), '');
      continue;
    }
    if (target.vms.length === 0) lines.push('  no backups');
    const rows: string[][] = [];
    for (const vm of target.vms) {
      for (const backup of vm.backups) {
        rows.push([`  ${vm.vm}`, backup.stamp, `${backup.files} ${backup.files === 1 ? 'file' : 'files'}`, formatBytes(backup.bytes), backup.state]);
      }
    }
    const paint: CellStyle = (text, row, column) => {
      if (row === 0) return c.bold(text);
      const state = rows[row - 1]?.[4] as DisplayedBackup['state'] | undefined;
      return column === 4 && state !== undefined ? stateColor[state](text) : text;
    };
    if (rows.length > 0) lines.push(table([['  VM', 'stamp', 'files', 'size', 'state'], ...rows], paint));
    if (rows.length > 0) {
      const bytes = target.vms.reduce((sum, vm) => sum + vm.backups.reduce((vmSum, backup) => vmSum + backup.bytes, 0), 0);
      lines.push(`  ${target.vms.length} VM${target.vms.length === 1 ? '' : 's'}, ${rows.length} backup${rows.length === 1 ? '' : 's'}, ${formatBytes(bytes)}`);
    }
    for (const stray of target.strays) lines.push(`  not a backup: ${stray}`);
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
