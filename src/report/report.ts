/** The end-of-run report as text: the summary table, what failed and why, what the deadline deferred (and the maxAge verdicts waiting for it), `-x`, a previous run that died. */
import { PARTIAL_SUFFIX } from '../core/stamp.js';
import { ExitCode } from '../errors.js';
import { NO_COLORS, type Colors } from './color.js';
import type { AbandonedRun } from '../run/lock.js';
import type { PurgedThroughLinks, RunReport, WindowClosed } from '../run/outcome.js';
import { formatBytes, formatClock, formatDuration, formatSpeed, table, type CellStyle } from './format.js';
import { notReached, runTotals, tally, type Tally } from './totals.js';

/** How the report is drawn: colours for a terminal, and every action under `-v debug`. */
export interface ReportStyle {
  readonly colors?: Colors;
  /** List every action with its detail below the table. */
  readonly detail?: boolean;
}

const REPORT_HEADER = ['target', 'VM', 'uploaded', 'resumed', 're-sent', 'deleted', 'kept', 'skipped', 'failed', 'bytes', 'time', 'speed'];
const FAILED_COLUMN = REPORT_HEADER.indexOf('failed');

/** Returns the table's rows with the `deferred` column after `failed`, or as they are on a night the window did not close. */
function withDeferredColumn(rows: string[][], deferred: readonly string[] | undefined): string[][] {
  if (deferred === undefined) return rows;
  return rows.map((row, index) => [...row.slice(0, FAILED_COLUMN + 1), deferred[index] ?? '-', ...row.slice(FAILED_COLUMN + 1)]);
}

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
 * MB/s over the uploads' wall time; `deferred` after `failed` when the window closed), a total
 * row (the whole run's time), then failures, problems, what was deferred (with the VMs whose maxAge
 * waits for a deferred backup) and `-x`, and the one-line verdict.
 */
export function formatReport(report: RunReport, style: ReportStyle = {}): string {
  const c = style.colors ?? NO_COLORS;
  const tableRows: string[][] = [REPORT_HEADER];
  /** The `deferred` cell of each row, shown when the window closed. */
  const deferredCells = ['deferred'];
  const push = (row: string[], deferred: string) => {
    tableRows.push(row);
    deferredCells.push(deferred);
  };
  const failures: string[] = [];
  const details: string[] = [];
  for (const target of report.targets) {
    if (target.error !== undefined) {
      push([target.target, '-', '-', '-', '-', '-', '-', '-', notReached(target), '-', '-', '-'], '-');
      failures.push(`${target.target}: ${target.error}`);
      continue;
    }
    if (target.actions.length === 0) push([target.target, '-', '0', '0', '0', '0', '0', '0', '0', '0 B', '0 ms', '-'], '0');
    const vms = [...new Set(target.actions.map((action) => action.vm))];
    for (const vm of vms) {
      const actions = target.actions.filter((action) => action.vm === vm);
      const sum = tally(actions);
      push(tallyRow(target.target, vm, sum), String(sum.deferred));
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
  if (tableRows.length > 2) {
    const totals = runTotals(report);
    push(tallyRow('total', '', totals), String(totals.deferred));
  }
  const rows = withDeferredColumn(tableRows, report.windowClosed === undefined ? undefined : deferredCells);
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
  if (report.windowClosed !== undefined) lines.push('', ...formatWindowClosed(report.windowClosed).map((line) => c.yellow(line)));
  for (const awaiting of report.awaitingDeferred ?? []) lines.push(c.yellow(`maxAge: ${awaiting.message}`));
  if (style.detail === true && details.length > 0) lines.push('', 'every action:', ...details);
  if (report.afterSuccess !== undefined) lines.push('', formatAfterSuccess(report.afterSuccess));
  if (report.previousRun !== undefined) lines.push('', c.red(describePreviousRun(report.previousRun)));
  const outcome =
    report.exitCode === ExitCode.Ok
      ? c.green(c.bold('success'))
      : report.exitCode === ExitCode.Deferred
        ? c.yellow(c.bold(`INCOMPLETE (exit code ${report.exitCode})`))
        : c.red(c.bold(`FAILED (exit code ${report.exitCode})`));
  lines.push('', `vmftp ${outcome} in ${formatDuration(report.durationMs)} (upload method ${report.uploadMethod})`);
  return lines.join('\n');
}

/** Returns the lines that say the deadline came: when, by which setting, and each deferred backup with what the server holds of it. */
export function formatWindowClosed(windowClosed: WindowClosed): string[] {
  const count = windowClosed.deferred.length;
  return [
    `the window closed at ${formatClock(new Date(windowClosed.at))} (${windowClosed.by}): ${count} backup${count === 1 ? '' : 's'} resume${count === 1 ? 's' : ''} next run`,
    ...windowClosed.deferred.map(
      (backup) =>
        `deferred: ${backup.target} ${backup.vm}/${backup.stamp}: ` +
        (backup.onServer === undefined
          ? `${formatBytes(backup.bytes)}, what is on the server is unknown (the target could not be listed)`
          : `${formatBytes(backup.onServer)} of ${formatBytes(backup.bytes)} already on the server (in ${backup.stamp}${PARTIAL_SUFFIX}); the next run sends the rest`),
    ),
  ];
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
  const started = formatClock(new Date(previous.startedAt));
  const how = previous.forcedOut ?? 'killed, ended by the task scheduler, a crash or a power cut';
  return `the previous run (pid ${previous.pid}, started at ${started}) ended without a report (${how})`;
}

/**
 * Returns what links did to a purged backup (`deleted at /mnt/b/Bart/...` for a linked VM folder; for
 * links removed as such, that the data they led to was not deleted, and why), or undefined when no
 * link concerned it.
 */
export function describeThroughLinks({ deletedAt, dataKept }: Omit<PurgedThroughLinks, 'dir'>): string | undefined {
  const parts: string[] = [];
  if (deletedAt !== undefined) parts.push(`deleted at ${deletedAt}`);
  if (dataKept.length > 0) {
    const removed = dataKept.length === 1 ? 'a link removed, its data' : `${dataKept.length} links removed, their data`;
    parts.push(`${removed} at ${dataKept.join(', ')} was not deleted (-x deletes no data a link inside a backup leads to)`);
  }
  return parts.length === 0 ? undefined : parts.join('; ');
}

function formatAfterSuccess(afterSuccess: NonNullable<RunReport['afterSuccess']>): string {
  switch (afterSuccess.kind) {
    case 'purge': {
      const linked = new Map(afterSuccess.links.map((links) => [links.dir, links]));
      const purged = afterSuccess.purged.map((dir) => {
        const through = describeThroughLinks(linked.get(dir) ?? { dataKept: [] });
        return through === undefined ? `  ${dir}` : `  ${dir} (${through})`;
      });
      const lines = purged.length === 0 ? ['-x: no local backup to purge'] : ['-x: purged local backups:', ...purged];
      if (afterSuccess.left.length > 0) lines.push('-x: left local backups:', ...afterSuccess.left.map(({ dir, reason }) => `  ${dir}: ${reason}`));
      if (afterSuccess.failed.length > 0) lines.push('-x: could not purge (complete on their targets; the next successful run with -x purges what is left):', ...afterSuccess.failed.map(({ dir, reason }) => `  ${dir}: ${reason}`));
      return lines.join('\n');
    }
    case 'command':
      return `-x: command "${afterSuccess.command}" exited with ${afterSuccess.exitCode}`;
    case 'not-run':
      return `-x: not run: ${afterSuccess.reason}`;
  }
}
