/** How quantities and tables read in everything vmftp prints: sizes, durations, speeds, moments, aligned columns. */
import { format } from 'date-fns/format';

/** Returns a moment as the local clock shows it: `2026-11-29 07:00:00`. */
export function formatClock(date: Date): string {
  return format(date, 'yyyy-MM-dd HH:mm:ss');
}

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

/** Returns the speed of a transfer in MB/s (10^6 bytes per second), or '-' when nothing moved or no time passed. */
export function formatSpeed(bytes: number, ms: number): string {
  return bytes === 0 || ms <= 0 ? '-' : `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
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
