/**
 * Issue 14's shaped links before and after: figures recorded by earlier runs, and the table of
 * bench/RESULTS.md that sets this run's beside them. Seconds from different runs do not compare
 * (a shared machine under a different load): each run's vmftp is compared to the lftp -P2 of the
 * same run, and the ratios are compared across runs.
 */
import { fixed, ratio, seconds, table } from './lib.js';
import type { Measurement, PeerFigures } from './shaped.js';

/** One earlier run's medians of the shaped links, and where they are written down. */
interface RecordedRun {
  readonly label: string;
  readonly source: string;
  readonly figures: readonly PeerFigures[];
}

/**
 * The figures measured before this run, oldest first. Kept here, not read from RESULTS.md, which
 * every full run rewrites.
 */
export const RECORDED_BEFORE: readonly RecordedRun[] = [
  {
    label: 'before issue 14',
    source: 'issue 14, point 5: "Measured before this issue, 1 Gbit/s, 600 MB, medians of 3"',
    figures: [{ measurement: 'nightly-1gbit', bytes: 600e6, idealMs: 4800, lftpMs: 5070, curlMs: 5240, vmftpMs: 5310 }],
  },
  {
    label: '2026-11-28, main at 93798ee',
    source:
      'bench/RESULTS.md of 48423ae, column BEFORE: `--only links,small --reps 3` (small files 1 round), load average ~18-22; ' +
      'the nightly set at 100 Mbit/s then had 30 MB vmdks',
    figures: [
      { measurement: 'nightly-100mbit', bytes: 120.8e6, idealMs: 9660, lftpMs: 10_420, curlMs: 14_330, vmftpMs: 15_160 },
      { measurement: 'nightly-1gbit', bytes: 600.8e6, idealMs: 4810, lftpMs: 5410, curlMs: 9780, vmftpMs: 10_020 },
      { measurement: 'small', bytes: 20e6, lftpMs: 103_400, vmftpMs: 81_590 },
    ],
  },
  {
    label: '2026-11-28, main at 8f1844d (dist/cli.js bundled)',
    source: 'bench/RESULTS.md of 48423ae, column AFTER: `--only links,small --reps 1`, load average ~18-22',
    figures: [
      { measurement: 'nightly-100mbit', bytes: 120.8e6, idealMs: 9660, lftpMs: 10_360, curlMs: 13_430, vmftpMs: 13_010 },
      { measurement: 'nightly-1gbit', bytes: 600.8e6, idealMs: 4810, lftpMs: 5520, curlMs: 10_020, vmftpMs: 8420 },
      { measurement: 'small', bytes: 20e6, lftpMs: 97_860, vmftpMs: 81_380 },
    ],
  },
  {
    label: '2026-12-07, main at 0c75f52',
    source: 'bench/RESULTS.md of 0c75f52: a full `npm run bench`, load average ~0.9 at the start, 0.3 at the end',
    figures: [
      { measurement: 'nightly-100mbit', bytes: 600.8e6, idealMs: 48_060, lftpMs: 50_390, curlMs: 50_840, vmftpMs: 50_580 },
      { measurement: 'nightly-1gbit', bytes: 600.8e6, idealMs: 4810, lftpMs: 5070, curlMs: 5650, vmftpMs: 5280 },
      { measurement: 'small', bytes: 20e6, lftpMs: 77_480, vmftpMs: 46_250 },
    ],
  },
];

const MEASUREMENTS: readonly { readonly id: Measurement; readonly label: string; readonly target: string }[] = [
  { id: 'nightly-100mbit', label: 'nightly set, 100 Mbit/s', target: '<= 1.00x' },
  { id: 'nightly-1gbit', label: 'nightly set, 1 Gbit/s', target: '<= 1.00x' },
  { id: 'small', label: '1000 x 20 KB over 20 ms', target: '<= 0.80x' },
];

/** Returns the cell of one run's figures: vmftp's ratio to lftp -P2, the seconds, and the set's size when it differs from this run's. */
function cell(figures: PeerFigures | undefined, now: PeerFigures | undefined): string {
  if (figures === undefined) return '';
  const size = now !== undefined && Math.abs(figures.bytes - now.bytes) > 1e6 ? ` (${fixed(figures.bytes / 1e6, 1)} MB)` : '';
  return `**${ratio(figures.vmftpMs / figures.lftpMs)}**: ${seconds(figures.vmftpMs)} vs ${seconds(figures.lftpMs)}${size}`;
}

/** Returns the markdown section setting this run's figures beside RECORDED_BEFORE's. */
export function beforeAndAfter(now: readonly PeerFigures[], when: string): string {
  const rows = MEASUREMENTS.map((measurement) => {
    const current = now.find((figures) => figures.measurement === measurement.id);
    return [
      measurement.label,
      ...RECORDED_BEFORE.map((run) => cell(run.figures.find((figures) => figures.measurement === measurement.id), current)),
      current === undefined ? 'not measured' : cell(current, current),
      measurement.target,
    ];
  });
  return [
    '## Issue 14, point 5: before and after',
    '',
    'vmftp\'s time as a ratio of `lftp -e \'mirror -R -P2\'`\'s in the same run (then both medians, vmftp vs lftp).',
    'Seconds of different runs do not compare: the machine is shared, and its load differed. The',
    'earlier columns are recorded figures (bench/before.ts, RECORDED_BEFORE):',
    '',
    ...RECORDED_BEFORE.map((run) => `- ${run.label}: ${run.source}.`),
    '',
    table(['measurement', ...RECORDED_BEFORE.map((run) => run.label), `this run (${when})`, 'target'], rows),
    '',
  ].join('\n');
}
