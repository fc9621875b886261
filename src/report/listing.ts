/** The `-d` listing as text. */
import { NO_COLORS, type Colors } from './color.js';
import type { DisplayedBackup, DisplayedTarget } from './display.js';
import { formatBytes, table, type CellStyle } from './format.js';
import { notReached } from './totals.js';

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
    const unreadable = target.unreadable ?? [];
    if (target.vms.length === 0 && unreadable.length === 0) lines.push('  no backups');
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
    for (const { vm, dir, reason } of unreadable) {
      lines.push(c.red(`  could not list ${dir} (${reason}): what is there of ${vm} is unknown; check the permissions of ${dir} on ${target.target}`));
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
