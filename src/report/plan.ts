/** The plan as `-S` prints it. */
import { format } from 'date-fns/format';
import { linkSpeedOf } from '../core/link-speed.js';
import type { Forecast, Plan, PlanAction, TargetForecast } from '../core/model.js';
import { describePolicy } from '../core/retention.js';
import { formatBytes, formatDuration, formatSpeed, table } from './format.js';

function actionLabel(action: PlanAction): string {
  if (action.type === 'delete') return action.partial ? 'delete .partial' : 'delete';
  return action.type;
}

/** Returns a moment as the local time an administrator reads: `23:14`, or `Sun 07:00` when it is not today. */
function clock(iso: string, from: string): string {
  const time = new Date(iso);
  return format(time, format(time, 'yyyy-MM-dd') === format(new Date(from), 'yyyy-MM-dd') ? 'HH:mm' : 'EEE yyyy-MM-dd HH:mm');
}

/** Returns the lines that say how long a target's uploads take, and what the deadline would defer. */
function forecastLines(target: TargetForecast, forecast: Forecast): string[] {
  const { estimate } = target;
  if (estimate === undefined) return [`  forecast: ${formatBytes(target.bytes)}, ${target.noEstimate ?? 'time unknown'}`, ...deadlineLines(target, forecast)];
  const { measured } = target;
  // Where the figure comes from: the link's speed, or one the link reaches at least (a bwlimit held that run back).
  const whose = measured !== undefined && linkSpeedOf(measured)?.atLeast === undefined ? "the link's speed measured" : 'measured';
  const lastRun = measured === undefined ? '' : `${formatSpeed(measured.bytes, measured.seconds * 1000)}, ${whose} by the run of ${clock(measured.measuredAt, forecast.from)}`;
  // The run's bwlimit is one for all targets: say with which it is shared, or the time looks like this target's alone.
  const bwlimit = estimate.sharedWith === undefined ? 'the bwlimit' : `the bwlimit shared with ${estimate.sharedWith.join(', ')}`;
  const rate =
    estimate.basis.length === 2
      ? `at ${bwlimit} where it holds, else at ${lastRun}`
      : estimate.basis[0] === 'bwlimit'
        ? `at ${bwlimit}, ${formatSpeed(estimate.startRate, 1000)} at the start`
        : `at ${lastRun}`;
  const time =
    estimate.atMost === undefined
      ? `in about ${formatDuration(estimate.durationMs)}, done around ${clock(estimate.endsAt, forecast.from)}`
      : `in at most ${formatDuration(estimate.durationMs)}, done by ${clock(estimate.endsAt, forecast.from)}`;
  const why = estimate.atMost === undefined ? '' : `; ${estimate.atMost}`;
  return [`  forecast: ${formatBytes(target.bytes)} ${time} (${rate}${why})`, ...deadlineLines(target, forecast)];
}

/** Returns the lines that say what the deadline would defer on a target, or that it cannot be judged; none without a deadline. */
function deadlineLines(target: TargetForecast, forecast: Forecast): string[] {
  const { deadline } = forecast;
  if (deadline === undefined) return [];
  const named = `  deadline ${clock(deadline.at, forecast.from)} (${deadline.by})`;
  if (target.deferred === undefined) return [`${named}: ${target.deferredUnknown ?? 'which backups it would defer cannot be judged'}`];
  if (target.deferred.length === 0) return [`${named}: every upload ends before it`];
  const backups = target.deferred.length === 1 ? '1 backup' : `${target.deferred.length} backups`;
  // An upper bound of the time defers at most these: a faster link may still complete some.
  const count = target.estimate?.atMost === undefined ? backups : `at most ${backups}`;
  const sent = (bytes: number) => (bytes === 0 ? 'not started' : `${formatBytes(bytes)} of it sent by then`);
  return [
    `${named} would defer ${count}, resumed by the next run:`,
    table(target.deferred.map((upload) => [`    ${upload.vm}`, upload.stamp, formatBytes(upload.bytes), sent(upload.sentByDeadline)])),
  ];
}

/**
 * Returns the plan as the `--simulate` text: per target and VM, every action with its reason; then the order the target's
 * uploads start in and how long they take; per target the bandwidth limits in force now (`bandwidth`, target -> text), when it has any.
 */
export function formatPlan(plan: Plan, warnings: readonly string[], bandwidth: Readonly<Record<string, string>> = {}): string {
  const lines: string[] = [`Plan${plan.deleteFirst ? ' (--delete-first: deletes run before uploads)' : ''} — nothing has been changed`];
  for (const targetPlan of plan.targets) {
    lines.push('', `target ${targetPlan.target} (${targetPlan.remoteDir})`);
    const limit = bandwidth[targetPlan.target];
    if (limit !== undefined) lines.push(`  bandwidth limit: ${limit}`);
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
    if (targetPlan.order.length > 0) {
      lines.push(`  uploads start in this order${plan.deleteFirst ? '' : ', deletes after them'}:`);
      lines.push(table(targetPlan.order.map((upload, index) => [`    ${index + 1}.`, upload.vm, upload.stamp, formatBytes(upload.bytes)])));
      const forecast = plan.forecast?.targets.find((candidate) => candidate.target === targetPlan.target);
      if (plan.forecast !== undefined && forecast !== undefined) lines.push(...forecastLines(forecast, plan.forecast));
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
