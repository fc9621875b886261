import type { Plan, PlanAction } from './core/model.js';
import { describePolicy } from './core/retention.js';
import type { DisplayedTarget } from './display.js';
import type { ActionOutcome, RunReport } from './outcome.js';

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

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Returns MB/s (10^6 bytes per second) of a transfer, or '-' when nothing moved. */
function throughput(bytes: number, ms: number): string {
  return bytes === 0 || ms === 0 ? '-' : `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

/** Returns rows of cells as aligned text columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  '))
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
  for (const problem of plan.problems) lines.push('', `problem: ${problem.vm}: ${problem.message}`);
  for (const warning of warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

interface Tally {
  uploaded: number;
  deleted: number;
  kept: number;
  skipped: number;
  held: number;
  failed: number;
  bytes: number;
  transferMs: number;
}

function tally(actions: readonly ActionOutcome[]): Tally {
  const sum: Tally = { uploaded: 0, deleted: 0, kept: 0, skipped: 0, held: 0, failed: 0, bytes: 0, transferMs: 0 };
  for (const action of actions) {
    sum.bytes += action.bytes;
    if (action.action === 'upload' || action.action === 'resume') sum.transferMs += action.durationMs;
    if (action.status === 'failed') sum.failed++;
    else if (action.action === 'upload' || action.action === 'resume') sum.uploaded++;
    else if (action.action === 'delete') sum.deleted++;
    else if (action.action === 'keep') sum.kept++;
    else if (action.action === 'skip') sum.skipped++;
    else sum.held++;
  }
  return sum;
}

/** Returns the end-of-run summary: one row per target and VM, then failures, problems and `-x`. */
export function formatReport(report: RunReport): string {
  const rows: string[][] = [['target', 'VM', 'uploaded', 'deleted', 'kept', 'skipped', 'failed', 'bytes', 'speed']];
  const failures: string[] = [];
  for (const target of report.targets) {
    if (target.error !== undefined) {
      rows.push([target.target, '-', '-', '-', '-', '-', 'unreachable', '-', '-']);
      failures.push(`${target.target}: ${target.error}`);
      continue;
    }
    const vms = [...new Set(target.actions.map((action) => action.vm))];
    for (const vm of vms) {
      const actions = target.actions.filter((action) => action.vm === vm);
      const sum = tally(actions);
      rows.push([
        target.target,
        vm,
        String(sum.uploaded),
        String(sum.deleted),
        String(sum.kept),
        String(sum.skipped),
        String(sum.failed),
        formatBytes(sum.bytes),
        throughput(sum.bytes, sum.transferMs),
      ]);
      for (const action of actions) {
        if (action.status === 'failed') failures.push(`${target.target}: ${vm}/${action.stamp} ${action.action} failed: ${action.detail}`);
        else if (action.action === 'held') failures.push(`${target.target}: ${vm}/${action.stamp} ${action.detail}`);
      }
    }
  }
  const lines = [table(rows)];
  if (failures.length > 0) lines.push('', ...failures);
  for (const problem of report.problems) lines.push(`problem: ${problem.vm}: ${problem.message}`);
  if (report.afterSuccess !== undefined) lines.push('', formatAfterSuccess(report.afterSuccess));
  const outcome = report.exitCode === 0 ? 'success' : `FAILED (exit code ${report.exitCode})`;
  lines.push('', `vmftp ${outcome} in ${formatDuration(report.durationMs)} (upload method ${report.uploadMethod})`);
  return lines.join('\n');
}

function formatAfterSuccess(afterSuccess: NonNullable<RunReport['afterSuccess']>): string {
  switch (afterSuccess.kind) {
    case 'purge':
      return afterSuccess.purged.length === 0
        ? '-x: no local backup to purge'
        : ['-x: purged local backups:', ...afterSuccess.purged.map((dir) => `  ${dir}`)].join('\n');
    case 'command':
      return `-x: command "${afterSuccess.command}" exited with ${afterSuccess.exitCode}`;
    case 'not-run':
      return `-x: not run: ${afterSuccess.reason}`;
  }
}

/** Returns the `-d` listing: per target and VM, every backup with files, size and state. */
export function formatDisplay(targets: readonly DisplayedTarget[]): string {
  const lines: string[] = [];
  for (const target of targets) {
    lines.push(`target ${target.target} (${target.remoteDir})`);
    if (target.error !== undefined) {
      lines.push(`  unreachable: ${target.error}`, '');
      continue;
    }
    if (target.vms.length === 0) lines.push('  no backups');
    const rows: string[][] = [];
    for (const vm of target.vms) {
      for (const backup of vm.backups) {
        rows.push([`  ${vm.vm}`, backup.stamp, `${backup.files} files`, formatBytes(backup.bytes), backup.state]);
      }
    }
    if (rows.length > 0) lines.push(table([['  VM', 'stamp', 'files', 'size', 'state'], ...rows]));
    for (const stray of target.strays) lines.push(`  not a backup: ${stray}`);
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
