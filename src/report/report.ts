/** The end-of-run report as text: the summary table, what failed and why, `-x`, a previous run that died. */
import { format } from 'date-fns/format';
import { NO_COLORS, type Colors } from './color.js';
import type { AbandonedRun } from '../run/lock.js';
import type { RunReport } from '../run/outcome.js';
import { formatBytes, formatDuration, formatSpeed, table, type CellStyle } from './format.js';
import { notReached, runTotals, tally, type Tally } from './totals.js';

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
    formatSpeed(sum.bytes, sum.transferMs),
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
  for (const dir of previous.removedPrivateDirs ?? []) parts.push(`removed the password file it left in ${dir}`);
  return parts.join('; ');
}

/** Returns what a run that changes nothing (`-S`) says about a dead run's lock it leaves for the next backup run. */
export function describeUnreportedRun(previous: AbandonedRun): string {
  return `${endedWithoutReport(previous)}: its lock stays for the next backup run, which reports it, resumes its uploads and ends what it left running`;
}

function endedWithoutReport(previous: AbandonedRun): string {
  const started = format(new Date(previous.startedAt), 'yyyy-MM-dd HH:mm:ss');
  const how = previous.forcedOut ?? 'killed, ended by the task scheduler, a crash or a power cut';
  return `the previous run (pid ${previous.pid}, started at ${started}) ended without a report (${how})`;
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
