import os from 'node:os';
import type { Plan } from '../core/model.js';
import { describeExitCode, ExitCode } from '../errors.js';
import type { RunReport } from '../run/outcome.js';
import { formatPlan } from './plan.js';
import { formatReport } from './report.js';
import { describeTotals, runTotals } from './totals.js';

/** How a run ended, in words: what the log's last lines, the notification and the e-mail say. */
export interface RunSummary {
  readonly exitCode: ExitCode;
  /** A short phrase for a subject line: `3 uploaded, 1 deleted`, or the error. */
  readonly headline: string;
  /** The summary table (or the plan, or the error), without colour. */
  readonly text: string;
}

/** Returns the summary of a real run. */
export function summarizeReport(report: RunReport): RunSummary {
  const totals = describeTotals(runTotals(report));
  // A crash is news even on a good night: the subject says so, not only the body.
  const headline = report.previousRun === undefined ? totals : `${totals}; previous run ended without a report`;
  return { exitCode: report.exitCode, headline, text: formatReport(report) };
}

/** Returns the summary of a `--simulate` run: what would be done. */
export function summarizePlan(plan: Plan, warnings: readonly string[], exitCode: ExitCode): RunSummary {
  const count = (type: string) =>
    plan.targets.reduce((sum, target) => sum + target.vms.reduce((vmSum, vm) => vmSum + vm.actions.filter((action) => action.type === type).length, 0), 0);
  const parts = [`${count('upload')} to upload`, `${count('resume')} to resume`, `${count('delete')} to delete`].filter((part) => !part.startsWith('0 '));
  const headline = `simulation, nothing changed: ${parts.length === 0 ? 'nothing to do' : parts.join(', ')}`;
  return { exitCode, headline, text: formatPlan(plan, warnings) };
}

/** Returns the summary of a run stopped by an error after the config was loaded (lock held, source missing...). */
export function summarizeError(message: string, exitCode: ExitCode): RunSummary {
  const first = message.split('\n')[0] ?? message;
  return { exitCode, headline: first.length > 120 ? `${first.slice(0, 117)}...` : first, text: message };
}

/**
 * Returns the verdict line: `vmftp on HOST: success`, `... INCOMPLETE (exit code 5: deferred: ...)`
 * (the deadline deferred uploads) or `... FAILED (exit code 4: a target ...)`.
 */
export function verdict(summary: RunSummary): string {
  const explained = `(exit code ${summary.exitCode}: ${describeExitCode(summary.exitCode)})`;
  const state = summary.exitCode === ExitCode.Ok ? 'success' : summary.exitCode === ExitCode.Deferred ? `INCOMPLETE ${explained}` : `FAILED ${explained}`;
  return `vmftp on ${os.hostname()}: ${state}`;
}
