import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeDeferred,
  nextClockTime,
  parseClockTime,
  parseRunDuration,
  runDeadline,
  type ClockTime,
} from '../../src/core/deadline.js';
import type { LocalBackup, TargetInventory } from '../../src/core/model.js';

// A zone with daylight saving: clocks go forward 2026-03-29 02:00 -> 03:00 and back 2026-10-25 03:00 -> 02:00.
// Node reads TZ again when it is set; each test file runs in its own process.
process.env.TZ = 'Europe/Berlin';

/** Returns the local wall-clock time of `date` as `yyyy-MM-dd HH:mm` and its UTC offset in minutes. */
function local(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())} UTC${date.getTimezoneOffset() === -120 ? '+2' : '+1'}`;
}

const at = (text: string): ClockTime => parseClockTime(text)!;

describe('parseRunDuration: --max-duration, rclone units (m is minutes)', () => {
  const table: [string, number | undefined][] = [
    ['5s', 5000],
    ['90m', 90 * 60_000],
    ['6h', 6 * 3_600_000],
    ['1h30m', 90 * 60_000],
    ['2d', 2 * 86_400_000],
    ['1d2h3m4s', 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4000],
    ['', undefined],
    ['0s', undefined],
    ['0h0m', undefined],
    ['90', undefined],
    ['1.5h', undefined],
    ['30m1h', undefined],
    ['-5m', undefined],
    ['5 m', undefined],
    ['1y', undefined],
  ];
  for (const [text, ms] of table) it(`${JSON.stringify(text)} -> ${ms}`, () => assert.equal(parseRunDuration(text), ms));
});

describe('parseClockTime: HH:MM', () => {
  const table: [string, ClockTime | undefined][] = [
    ['07:00', { hours: 7, minutes: 0 }],
    ['00:00', { hours: 0, minutes: 0 }],
    ['23:59', { hours: 23, minutes: 59 }],
    ['24:00', undefined],
    ['7:00', undefined],
    ['07:60', undefined],
    ['0700', undefined],
    ['07:00:00', undefined],
  ];
  for (const [text, time] of table) it(`${JSON.stringify(text)}`, () => assert.deepEqual(parseClockTime(text), time));
});

describe('nextClockTime: the next such local time', () => {
  const table: [now: Date, time: string, expected: string][] = [
    // A nightly run started before midnight stops tomorrow morning.
    [new Date(2026, 10, 28, 23, 0), '07:00', '2026-11-29 07:00 UTC+1'],
    // Started after midnight: this morning.
    [new Date(2026, 10, 29, 1, 0), '07:00', '2026-11-29 07:00 UTC+1'],
    // Started at the very minute: the next one, a day later.
    [new Date(2026, 10, 29, 7, 0), '07:00', '2026-11-30 07:00 UTC+1'],
    [new Date(2026, 10, 29, 7, 0, 30), '07:00', '2026-11-30 07:00 UTC+1'],
    [new Date(2026, 11, 31, 23, 30), '00:15', '2027-01-01 00:15 UTC+1'],
    // Spring forward in between: 07:00 by the clock, 7 hours of wall time after 23:00, not 8.
    [new Date(2026, 2, 28, 23, 0), '07:00', '2026-03-29 07:00 UTC+2'],
    // Fall back in between: 07:00 by the clock, 9 hours after 23:00.
    [new Date(2026, 9, 24, 23, 0), '07:00', '2026-10-25 07:00 UTC+1'],
    // 02:30 does not exist that night: the clock jumps from 02:00 to 03:00, so it is 03:30.
    [new Date(2026, 2, 28, 23, 0), '02:30', '2026-03-29 03:30 UTC+2'],
    // 02:30 happens twice that night: the first one (still summer time).
    [new Date(2026, 9, 24, 23, 0), '02:30', '2026-10-25 02:30 UTC+2'],
  ];
  for (const [now, time, expected] of table) {
    it(`${local(now)} --stop-at ${time} -> ${expected}`, () => {
      const next = nextClockTime(now, at(time));
      assert.equal(local(next), expected);
      assert.ok(next > now);
    });
  }

  it('across a change the wall time follows the clock: 7 h in spring, 9 h in autumn from 23:00 to 07:00', () => {
    const hours = (now: Date) => (nextClockTime(now, at('07:00')).getTime() - now.getTime()) / 3_600_000;
    assert.equal(hours(new Date(2026, 2, 28, 23, 0)), 7);
    assert.equal(hours(new Date(2026, 9, 24, 23, 0)), 9);
    assert.equal(hours(new Date(2026, 10, 28, 23, 0)), 8);
  });
});

describe('runDeadline: the earlier deadline wins', () => {
  const start = new Date(2026, 10, 28, 23, 0);

  it('no setting: no deadline', () => assert.equal(runDeadline(start, {}), undefined));

  it('--max-duration counts from the start of the run', () => {
    assert.deepEqual(runDeadline(start, { maxDuration: { text: '90m', ms: 90 * 60_000 } }), {
      at: new Date(2026, 10, 29, 0, 30),
      by: '--max-duration 90m',
    });
  });

  it('flag and config together: whichever comes first, and the report names it', () => {
    const table: [settings: Parameters<typeof runDeadline>[1], by: string, local: string][] = [
      [{ stopAt: at('07:00'), windowEnd: at('06:30') }, 'window.end 06:30', '2026-11-29 06:30 UTC+1'],
      [{ stopAt: at('06:00'), windowEnd: at('06:30') }, '--stop-at 06:00', '2026-11-29 06:00 UTC+1'],
      [{ maxDuration: { text: '6h', ms: 6 * 3_600_000 }, windowEnd: at('06:30') }, '--max-duration 6h', '2026-11-29 05:00 UTC+1'],
      [{ maxDuration: { text: '9h', ms: 9 * 3_600_000 }, windowEnd: at('06:30') }, 'window.end 06:30', '2026-11-29 06:30 UTC+1'],
      // A window that ended before the run started is tomorrow's: the run gets until then.
      [{ windowEnd: at('22:00') }, 'window.end 22:00', '2026-11-29 22:00 UTC+1'],
    ];
    for (const [settings, by, expected] of table) {
      const deadline = runDeadline(start, settings)!;
      assert.equal(deadline.by, by);
      assert.equal(local(deadline.at), expected);
    }
  });
});

describe('describeDeferred: how much of a deferred backup the server already holds', () => {
  const backup: LocalBackup = {
    vm: 'Bart',
    stamp: '2026-11-28-220000',
    dir: '/src/Bart/2026-11-28-220000',
    files: [
      { path: 'disk1.vmdk', size: 400_000 },
      { path: 'vm.ovf', size: 17 },
    ],
    bytes: 400_017,
  };
  const deferred = [{ target: 'nas', vm: 'Bart', stamp: '2026-11-28-220000' }];
  const inventory = (files: { path: string; size: number }[]): TargetInventory => ({
    target: 'nas',
    remoteDir: '/backups',
    strays: [],
    backups: [
      { vm: 'Bart', stamp: '2026-11-28-220000', partial: true, files, bytes: files.reduce((sum, file) => sum + file.size, 0) },
      // The complete copy of another stamp is not this backup's.
      { vm: 'Bart', stamp: '2026-11-27-220000', partial: false, files: backup.files, bytes: backup.bytes },
    ],
  });

  it('the bytes in its .partial, of the whole backup', () => {
    const after = [inventory([{ path: 'disk1.vmdk', size: 100_000 }, { path: 'vm.ovf', size: 17 }])];
    assert.deepEqual(describeDeferred(deferred, after, [backup]), [{ ...deferred[0]!, bytes: 400_017, onServer: 100_017 }]);
  });

  it('a file larger on the server than locally counts nothing (it is sent again); no .partial counts 0', () => {
    assert.equal(describeDeferred(deferred, [inventory([{ path: 'disk1.vmdk', size: 500_000 }])], [backup])[0]!.onServer, 0);
    assert.equal(describeDeferred(deferred, [{ target: 'nas', remoteDir: '/backups', strays: [], backups: [] }], [backup])[0]!.onServer, 0);
  });

  it('a target that could not be listed after the run: unknown', () => {
    assert.deepEqual(describeDeferred(deferred, [], [backup]), [{ ...deferred[0]!, bytes: 400_017 }]);
  });
});
