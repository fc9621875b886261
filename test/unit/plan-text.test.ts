/** The `-S` text of the upload order and the forecast (src/report/plan.ts), from plain plans. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Forecast, Plan, TargetForecast } from '../../src/core/model.js';
import { formatPlan } from '../../src/report/plan.js';
import { planOf, targetPlan } from '../support/plan.js';

const MIB = 1024 * 1024;
/** Local times, so that the text's clock reads the same in every time zone. */
const FROM = new Date(2026, 10, 28, 23, 0, 0);
const local = (hours: number, minutes: number, day = 28) => new Date(2026, 10, day, hours, minutes, 0).toISOString();

function planWith(target: TargetForecast, deadline?: Forecast['deadline']): Plan {
  const order = [
    { vm: 'Homer', stamp: '2026-11-28-020000', bytes: 10 * MIB },
    { vm: 'Bart', stamp: '2026-11-28-020000', bytes: 30 * MIB },
  ];
  return planOf([targetPlan('nas', { order })], {
    forecast: { from: FROM.toISOString(), ...(deadline === undefined ? {} : { deadline }), targets: [target] },
  });
}

describe('formatPlan: order and forecast', () => {
  it('lists the order, then the time at the measured speed', () => {
    const text = formatPlan(
      planWith({
        target: 'nas',
        bytes: 40 * MIB,
        estimate: { durationMs: 125_000, endsAt: local(23, 2), basis: ['measured'], startRate: 2e6 },
        measured: { bytes: 20e6, seconds: 10, measuredAt: local(3, 0, 27), heldSeconds: 0 },
      }),
      [],
    );
    assert.match(text, /uploads start in this order, deletes after them:\n +1\. +Homer +2026-11-28-020000 +10\.0 MiB\n +2\. +Bart +2026-11-28-020000 +30\.0 MiB\n/);
    assert.match(text, /^ {2}forecast: 40\.0 MiB in about 2m05s, done around 23:02 \(at 2\.0 MB\/s, the link's speed measured by the run of Fri 2026-11-27 03:00\)$/m);
  });

  it('says where a measured speed that is only a lower bound comes from, and that the time and the deferrals are at most these', () => {
    const text = formatPlan(
      planWith(
        {
          target: 'nas',
          bytes: 40 * MIB,
          estimate: { durationMs: 125_000, endsAt: local(23, 2), basis: ['measured'], startRate: 2e6, atMost: 'the link may be faster: why' },
          measured: { bytes: 20e6, seconds: 10, measuredAt: local(3, 0, 27), heldSeconds: 9 },
          deferred: [{ vm: 'Bart', stamp: '2026-11-28-020000', bytes: 30 * MIB, sentByDeadline: 5 * MIB }],
        },
        { at: local(23, 1), by: '--stop-at 23:01' },
      ),
      [],
    );
    assert.match(text, /^ {2}forecast: 40\.0 MiB in at most 2m05s, done by 23:02 \(at 2\.0 MB\/s, measured by the run of Fri 2026-11-27 03:00; the link may be faster: why\)$/m);
    assert.match(text, /^ {2}deadline 23:01 \(--stop-at 23:01\) would defer at most 1 backup, resumed by the next run:$/m);
  });

  it('names the deadline and what it would defer, with what of each is sent by then', () => {
    const text = formatPlan(
      planWith(
        {
          target: 'nas',
          bytes: 40 * MIB,
          estimate: { durationMs: 3_600_000, endsAt: local(0, 0, 29), basis: ['bwlimit'], startRate: 1e6 },
          deferred: [{ vm: 'Bart', stamp: '2026-11-28-020000', bytes: 30 * MIB, sentByDeadline: 5 * MIB }],
        },
        { at: local(23, 30), by: '--stop-at 23:30' },
      ),
      [],
    );
    assert.match(text, /forecast: 40\.0 MiB in about 1h00m, done around Sun 2026-11-29 00:00 \(at the bwlimit, 1\.0 MB\/s at the start\)/);
    assert.match(text, /^ {2}deadline 23:30 \(--stop-at 23:30\) would defer 1 backup, resumed by the next run:\n {4}Bart +2026-11-28-020000 +30\.0 MiB +5\.0 MiB of it sent by then$/m);
  });

  it('says when everything ends before the deadline, and when there is no estimate', () => {
    const ends = formatPlan(
      planWith(
        { target: 'nas', bytes: 40 * MIB, estimate: { durationMs: 60_000, endsAt: local(23, 1), basis: ['bwlimit', 'measured'], startRate: 1e6 }, deferred: [], measured: { bytes: 1e6, seconds: 1, measuredAt: local(22, 0), heldSeconds: 0 } },
        { at: local(23, 30), by: 'window.end 23:30' },
      ),
      [],
    );
    assert.match(ends, /\(at the bwlimit where it holds, else at 1\.0 MB\/s, the link's speed measured by the run of 22:00\)/);
    assert.match(ends, /^ {2}deadline 23:30 \(window\.end 23:30\): every upload ends before it$/m);
    const shared = formatPlan(
      planWith({ target: 'nas', bytes: 40 * MIB, estimate: { durationMs: 60_000, endsAt: local(23, 1), basis: ['bwlimit'], startRate: 5e5, sharedWith: ['offsite', 'cloud'] } }),
      [],
    );
    assert.match(shared, /\(at the bwlimit shared with offsite, cloud, 0\.5 MB\/s at the start\)/);
    const none = formatPlan(planWith({ target: 'nas', bytes: 40 * MIB, noEstimate: 'time unknown: x' }), []);
    assert.match(none, /^ {2}forecast: 40\.0 MiB, time unknown: x$/m);
  });

  it('with a deadline and no time, says the deferrals cannot be judged rather than nothing', () => {
    const deadline = { at: local(23, 30), by: '--stop-at 23:30' };
    const unknown = formatPlan(planWith({ target: 'nas', bytes: 40 * MIB, noEstimate: 'time unknown: x', deferredUnknown: 'which backups cannot be judged: y' }, deadline), []);
    assert.match(unknown, /^ {2}forecast: 40\.0 MiB, time unknown: x\n {2}deadline 23:30 \(--stop-at 23:30\): which backups cannot be judged: y$/m);
    const judged = formatPlan(
      planWith({ target: 'nas', bytes: 40 * MIB, noEstimate: 'time unknown: x', deferred: [{ vm: 'Bart', stamp: '2026-11-28-020000', bytes: 30 * MIB, sentByDeadline: 0 }] }, deadline),
      [],
    );
    assert.match(judged, /^ {2}deadline 23:30 \(--stop-at 23:30\) would defer 1 backup, resumed by the next run:\n {4}Bart +2026-11-28-020000 +30\.0 MiB +not started$/m);
  });
});
