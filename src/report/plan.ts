/** The plan as `-S` prints it. */
import type { Plan, PlanAction } from '../core/model.js';
import { describePolicy } from '../core/retention.js';
import { formatBytes, table } from './format.js';

function actionLabel(action: PlanAction): string {
  if (action.type === 'delete') return action.partial ? 'delete .partial' : 'delete';
  return action.type;
}

/** Returns the plan as the `--simulate` text: per target and VM, every action with its reason; then the order the target's uploads start in. */
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
    if (targetPlan.order.length > 0) {
      lines.push(`  uploads start in this order${plan.deleteFirst ? '' : ', deletes after them'}:`);
      lines.push(table(targetPlan.order.map((upload, index) => [`    ${index + 1}.`, upload.vm, upload.stamp, formatBytes(upload.bytes)])));
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
