/**
 * The end-of-run summary and the -d listing: per target and VM, the counts,
 * bytes, time and MB/s; colour only when asked for, and never counted in a
 * column's width.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { colorsFor } from '../../src/report/color.js';
import type { DisplayedTarget } from '../../src/report/display.js';
import type { ActionOutcome, RunReport } from '../../src/run/outcome.js';
import { transferKind } from '../../src/run/execute.js';
import { formatDisplay } from '../../src/report/listing.js';
import { describePreviousRun, formatReport } from '../../src/report/report.js';
import { describeNotReached, describeTotals, runTotals, tally, wallTime } from '../../src/report/totals.js';
import { summarizeReport } from '../../src/report/summary.js';

function action(
  vm: string,
  stamp: string,
  kind: ActionOutcome['action'],
  status: ActionOutcome['status'] = 'done',
  bytes = 0,
  durationMs = 0,
  detail = 'reason',
  /** Seconds after 02:00:00 the action began; none for actions that take no time. */
  startSecond?: number,
): ActionOutcome {
  const startedAt = startSecond === undefined ? {} : { startedAt: new Date(Date.UTC(2026, 10, 23, 2, 0, 0) + startSecond * 1000).toISOString() };
  return { vm, stamp, action: kind, status, bytes, durationMs, detail, ...startedAt };
}

const REPORT: RunReport = {
  startedAt: '2026-11-23T02:00:00.000Z',
  durationMs: 125_000,
  uploadMethod: 'internal',
  problems: [],
  warnings: [],
  exitCode: 1,
  targets: [
    {
      target: 'nas',
      durationMs: 120_000,
      actions: [
        // Side by side from second 5: the upload until 15, the resume until 7; the delete after both.
        action('Bart', '2026-11-23-020000', 'upload', 'done', 50_000_000, 10_000, 'reason', 5),
        action('Bart', '2026-11-22-020000', 'resume', 'done', 10_000_000, 2_000, 'reason', 5),
        action('Bart', '2026-11-21-020000', 'keep'),
        action('Bart', '2026-11-18-020000', 'delete', 'done', 0, 500, 'reason', 20),
        action('Raoul', '2026-11-23-021500', 'upload', 'failed', 1_000, 300, 'upload /vm/Raoul/2026-11-23-021500.partial/d.vmdk on nas: server replied 552 Disk full', 5),
        action('Raoul', '2010-01-01-000000', 'skip'),
      ],
    },
    { target: 'offsite', error: 'cannot connect to offsite (ftp.example.net:21): ECONNREFUSED', actions: [], durationMs: 0 },
  ],
};

describe('formatReport', () => {
  test('one row per target and VM with uploaded, resumed, re-sent, deleted, kept, skipped, failed, bytes, wall time and MB/s, and a total', () => {
    const text = formatReport(REPORT);
    const rows = text.split('\n');
    // Bart: 15.5 s from the first start (5) to the delete's end (20.5), not 12.5 s of summed actions;
    // 60 MB over the 10 s the uploads took side by side: 6.0 MB/s. The total: the whole run, 2m05s.
    assert.deepEqual(rows.slice(0, 5), [
      'target   VM     uploaded  resumed  re-sent  deleted  kept  skipped  failed       bytes     time    speed',
      'nas      Bart   1         1        0        1        1     0        0            57.2 MiB  15.5 s  6.0 MB/s',
      'nas      Raoul  0         0        0        0        0     1        1            1000 B    300 ms  0.0 MB/s',
      'offsite  -      -         -        -        -        -     -        unreachable  -         -       -',
      'total           1         1        0        1        1     1        1            57.2 MiB  2m05s   6.0 MB/s',
    ]);
    assert.match(text, /^nas: Raoul\/2026-11-23-021500 upload failed: .*552 Disk full$/m);
    assert.match(text, /^offsite: cannot connect to offsite .*ECONNREFUSED$/m);
    assert.match(text, /vmftp FAILED \(exit code 1\) in 2m05s \(upload method internal\)$/);
    assert.doesNotMatch(text, /\x1b\[/, 'no colour unless asked');
  });

  test('-v debug lists every action with its detail', () => {
    const text = formatReport(REPORT, { detail: true });
    assert.match(text, /^every action:$/m);
    assert.match(text, /^ {2}nas Bart\/2026-11-22-020000 resume done 9\.5 MiB in 2\.0 s: reason$/m);
  });

  test('colours (a terminal without NO_COLOR) keep the columns aligned', () => {
    const colors = colorsFor({ isTTY: true }, { TERM: 'xterm' });
    const painted = formatReport(REPORT, { colors });
    assert.match(painted, /\x1b\[31m/, 'failures in red');
    assert.equal(painted.replace(/\x1b\[\d+m/g, ''), formatReport(REPORT));
  });

  test('NO_COLOR, TERM=dumb and a pipe turn colour off; FORCE_COLOR turns it on', () => {
    assert.equal(colorsFor({ isTTY: true }, { NO_COLOR: '1', TERM: 'xterm' }).isColorSupported, false);
    assert.equal(colorsFor({ isTTY: true }, { TERM: 'dumb' }).isColorSupported, false);
    assert.equal(colorsFor({ isTTY: false }, {}).isColorSupported, false);
    assert.equal(colorsFor({ isTTY: false }, { FORCE_COLOR: '1' }).isColorSupported, true);
    assert.equal(colorsFor({ isTTY: true }, { TERM: 'xterm' }).isColorSupported, true);
  });
});

describe('honest figures', () => {
  test('wall time: transfers side by side count once; keep and skip add nothing', () => {
    const sideBySide = [
      action('Bart', 'a', 'upload', 'done', 1, 4_000, 'r', 0),
      action('Bart', 'b', 'upload', 'done', 1, 4_000, 'r', 1),
      action('Bart', 'c', 'upload', 'done', 1, 1_000, 'r', 2),
      action('Bart', 'd', 'keep'),
    ];
    assert.equal(wallTime(sideBySide), 5_000);
    assert.equal(tally(sideBySide).durationMs, 5_000);
    assert.equal(wallTime([action('Bart', 'd', 'keep')]), 0);
  });

  test('the totals\' time is the run\'s: report.durationMs and totals.durationMs agree', () => {
    assert.equal(runTotals(REPORT).durationMs, REPORT.durationMs);
  });

  test('a failed or stopped upload counts the bytes it sent; the speed is over the uploads\' wall time', () => {
    const stopped = tally([action('Bart', 'a', 'upload', 'failed', 5_000_000, 1_000, 'interrupted by SIGTERM before it completed', 0)]);
    assert.equal(stopped.bytes, 5_000_000);
    assert.equal(stopped.transferMs, 1_000);
  });

  test('a backup sent again from its first byte is re-sent, not resumed', () => {
    const file = (offset: number) => ({ path: 'disk1.vmdk', size: 100, offset });
    assert.equal(transferKind({ type: 'resume', files: [file(0), file(40)], replacesIncomplete: false }), 'resume');
    assert.equal(transferKind({ type: 'resume', files: [file(0), file(0)], replacesIncomplete: false }), 'resend');
    assert.equal(transferKind({ type: 'upload', files: [file(0)], replacesIncomplete: true }), 'resend');
    assert.equal(transferKind({ type: 'upload', files: [file(0)], replacesIncomplete: false }), 'upload');
    const report: RunReport = { ...REPORT, targets: [{ target: 'nas', durationMs: 1, actions: [action('Bart', 'a', 'resend', 'done', 100, 10, 'r', 0)] }] };
    assert.equal(describeTotals(runTotals(report)), '1 re-sent');
    assert.match(formatReport(report), /^nas +Bart +0 +0 +1 +0/m);
  });

  test('-x: a purged backup names the real path a linked VM folder put it at, and the data its links led to, which stays; what it left says why', () => {
    const afterSuccess = {
      kind: 'purge' as const,
      purged: ['/src/Bart/2026-11-21-020000', '/src/Lisa/2026-11-21-020000', '/src/Marge/2026-11-21-020000', '/src/Raoul/2026-11-21-020000'],
      links: [
        { dir: '/src/Bart/2026-11-21-020000', deletedAt: '/mnt/b/Bart/2026-11-21-020000', dataKept: [] },
        { dir: '/src/Lisa/2026-11-21-020000', dataKept: ['/mnt/b/Lisa-2026-11-21'] },
        { dir: '/src/Marge/2026-11-21-020000', deletedAt: '/mnt/b/Marge/2026-11-21-020000', dataKept: ['/', '/vm/live'] },
      ],
      left: [{ dir: '/src/Homer/2026-11-21-020000', reason: 'vm.ovf is new since the scan' }],
      failed: [],
    };
    const text = formatReport({ ...REPORT, afterSuccess });
    const expected = [
      '-x: purged local backups:',
      '  /src/Bart/2026-11-21-020000 (deleted at /mnt/b/Bart/2026-11-21-020000)',
      '  /src/Lisa/2026-11-21-020000 (a link removed, its data at /mnt/b/Lisa-2026-11-21 was not deleted (-x deletes no data a link inside a backup leads to))',
      '  /src/Marge/2026-11-21-020000 (deleted at /mnt/b/Marge/2026-11-21-020000; 2 links removed, their data at /, /vm/live was not deleted (-x deletes no data a link inside a backup leads to))',
      '  /src/Raoul/2026-11-21-020000',
      '-x: left local backups:',
      '  /src/Homer/2026-11-21-020000: vm.ovf is new since the scan',
      '',
    ].join('\n');
    assert.ok(text.includes(expected), text);
  });
});

describe('describeTotals (the e-mail subject)', () => {
  test('says what happened in a few words', () => {
    assert.equal(describeTotals(runTotals(REPORT)), '1 uploaded, 1 resumed, 1 deleted, 1 failed, offsite unreachable');
    const quiet: RunReport = { ...REPORT, exitCode: 0, targets: [{ target: 'nas', durationMs: 1, actions: [action('Bart', '2026-11-21-020000', 'keep')] }] };
    assert.equal(describeTotals(runTotals(quiet)), 'nothing to do, 1 kept');
  });

  test('says what -x failed to do: a purge it could not finish, a command that failed', () => {
    const purge: RunReport = { ...REPORT, afterSuccess: { kind: 'purge', purged: [], links: [], left: [], failed: [{ dir: '/src/Bart/2026-11-21-020000', reason: 'EBUSY' }] } };
    assert.match(describeTotals(runTotals(purge)), /, 1 local purge failed$/);
    const command: RunReport = { ...REPORT, afterSuccess: { kind: 'command', command: 'post.cmd', exitCode: 3 } };
    assert.match(describeTotals(runTotals(command)), /, -x command failed$/);
    assert.doesNotMatch(describeTotals(runTotals({ ...REPORT, afterSuccess: { kind: 'command', command: 'post.cmd', exitCode: 0 } })), /-x/);
  });
});

describe('formatDisplay (-d)', () => {
  const targets: DisplayedTarget[] = [
    {
      target: 'nas',
      remoteDir: '/vm',
      strays: ['notes.txt'],
      vms: [
        {
          vm: 'Bart',
          backups: [
            { stamp: '2026-11-22-020000', files: 3, bytes: 3_000_000, state: 'complete' },
            { stamp: '2026-11-23-020000', files: 1, bytes: 1_000, state: 'partial' },
          ],
        },
      ],
    },
    { target: 'offsite', remoteDir: '/', error: 'cannot connect', vms: [], strays: [] },
  ];

  test('a VM folder the server would not list is said, naming it, its words and what to check; not "no backups"', () => {
    const refused: DisplayedTarget = {
      target: 'nas',
      remoteDir: '/vm',
      vms: [],
      strays: [],
      unreadable: [{ vm: 'Homer', dir: '/vm/Homer', reason: 'the server replied 550 Permission denied.' }],
    };
    assert.equal(
      formatDisplay([refused]),
      [
        'target nas (/vm)',
        '  could not list /vm/Homer (the server replied 550 Permission denied.): what is there of Homer is unknown; check the permissions of /vm/Homer on nas',
      ].join('\n'),
    );
  });

  test('a table per target with files, size and state, a total line, and the unreachable ones', () => {
    assert.equal(
      formatDisplay(targets),
      [
        'target nas (/vm)',
        '  VM    stamp              files    size     state',
        '  Bart  2026-11-22-020000  3 files  2.9 MiB  complete',
        '  Bart  2026-11-23-020000  1 file   1000 B   partial',
        '  1 VM, 2 backups, 2.9 MiB',
        '  not a backup: notes.txt',
        '',
        'target offsite (/)',
        '  unreachable: cannot connect',
      ].join('\n'),
    );
  });

  test('states in colour on a terminal, same text without the codes', () => {
    const painted = formatDisplay(targets, colorsFor({ isTTY: true }, { TERM: 'xterm' }));
    assert.match(painted, /\x1b\[32mcomplete/);
    assert.match(painted, /\x1b\[33mpartial/);
    assert.equal(painted.replace(/\x1b\[\d+m/g, ''), formatDisplay(targets));
  });
});

describe('a target that refused the login is "login refused", one that could not be reached "unreachable"', () => {
  const report: RunReport = {
    ...REPORT,
    targets: [
      ...REPORT.targets,
      { target: 'nas2', error: 'login on nas2 (10.0.0.2:21): server replied 530 Login incorrect', loginRefused: true, actions: [], durationMs: 0 },
    ],
  };

  test('in the table, the totals (the e-mail subject) and the -d listing', () => {
    assert.match(formatReport(report), /^nas2 +- +- +- +- +- +- +- +login refused +- +- +-$/m);
    assert.match(formatReport(report), /^offsite +- +- +- +- +- +- +- +unreachable +- +- +-$/m);
    assert.equal(describeTotals(runTotals(report)), '1 uploaded, 1 resumed, 1 deleted, 1 failed, offsite unreachable, nas2 login refused');
    const listed = [
      { target: 'nas', remoteDir: '/vm', error: 'login on nas: server replied 530', loginRefused: true as const, vms: [], strays: [] },
      { target: 'offsite', remoteDir: '/', error: 'cannot connect to offsite: ECONNREFUSED', vms: [], strays: [] },
    ];
    assert.match(formatDisplay(listed), /^  login refused: login on nas: server replied 530$/m);
    assert.match(formatDisplay(listed), /^  unreachable: cannot connect/m);
    assert.equal(describeNotReached(listed), 'offsite unreachable, nas login refused');
  });
});

describe('describePreviousRun: a run that died without a report, as the next run tells it', () => {
  const previous = {
    pid: 3120,
    host: 'backup-host',
    startedAt: '2026-11-28T02:00:01.000Z',
    programs: [
      { pid: 4242, program: 'curl', state: 'ended' as const },
      { pid: 4243, program: 'curl', state: 'gone' as const },
      { pid: 4244, program: 'curl', state: 'unknown' as const },
    ],
  };

  test('names the run, says the .partial resumes, and which of its programs were ended or may still run', () => {
    const text = describePreviousRun(previous);
    assert.match(text, /^the previous run \(pid 3120, started at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\) ended without a report/);
    assert.match(text, /unfinished uploads stay as \.partial and this run resumes them/);
    assert.match(text, /ended its curl \(pid 4242\)/);
    assert.doesNotMatch(text, /4243/, 'a program that ended by itself is not news');
    assert.match(text, /its curl \(pid 4244\) may still run: this system cannot tell/);
  });

  test('is in the summary under the table, and in the headline the e-mail subject takes', () => {
    const report = { ...REPORT, previousRun: previous };
    assert.match(formatReport(report), /\n\nthe previous run \(pid 3120, /);
    assert.match(summarizeReport(report).headline, /; previous run ended without a report$/);
    assert.doesNotMatch(summarizeReport(REPORT).headline, /previous run/);
  });
});
