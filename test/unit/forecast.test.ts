import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forecastPlan, forecastTarget, type ForecastInput, type LimitAt } from '../../src/core/forecast.js';
import { planOf, targetPlan } from '../support/plan.js';

const MB = 1_000_000;
const START = new Date('2026-11-28T22:59:00Z');
const at = (seconds: number): Date => new Date(START.getTime() + seconds * 1000);

function uploads(...megabytes: number[]): ForecastInput['uploads'] {
  return megabytes.map((mb, index) => ({ vm: `VM${index + 1}`, stamp: '2026-11-28-220000', bytes: mb * MB }));
}

/** A limit of `before` bytes/s until `change`, `after` from then on (undefined: no limit). */
function timetable(change: Date, before: number | undefined, after: number | undefined): LimitAt {
  return (time) => (time < change ? before : after);
}

const measured = (bytes: number, seconds: number) => ({ bytes, seconds, measuredAt: '2026-11-27T03:00:00Z' });

describe('forecastTarget: how long the uploads take', () => {
  it('at the speed the last run measured when there is no bwlimit', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(60, 40), start: START, measured: measured(50 * MB, 50) });
    assert.equal(forecast.bytes, 100 * MB);
    assert.deepEqual(forecast.estimate, { durationMs: 100_000, endsAt: at(100).toISOString(), basis: ['measured'], startRate: MB });
    assert.equal(forecast.deferred, undefined);
  });

  it('at the bwlimit in force, not the measured speed, while a limit holds', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(100), start: START, limitAt: () => 2 * MB, measured: measured(MB, 1) });
    assert.equal(forecast.estimate?.durationMs, 50_000);
    assert.deepEqual(forecast.estimate?.basis, ['bwlimit']);
  });

  it('follows a timetable: a change at 23:00 applies from 23:00 on', () => {
    // 60 MB in the minute at 1 MB/s, then 540 MB at 10 MB/s.
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(600), start: START, limitAt: timetable(at(60), MB, 10 * MB) });
    assert.equal(forecast.estimate?.durationMs, 114_000);
    assert.equal(forecast.estimate?.startRate, MB);
  });

  it('uses the measured speed where the timetable says off', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(600), start: START, limitAt: timetable(at(60), MB, undefined), measured: measured(20 * MB, 1) });
    assert.equal(forecast.estimate?.durationMs, 60_000 + 27_000);
    assert.deepEqual(forecast.estimate?.basis, ['bwlimit', 'measured']);
  });

  it('says there is no estimate yet when no limit holds and no run measured the target', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(10), start: START });
    assert.equal(forecast.estimate, undefined);
    assert.match(forecast.noEstimate ?? '', /^no estimate yet: no bwlimit, and no run has measured the speed to nas yet$/);
  });

  it('has no estimate when the timetable turns the limit off before the end and nothing was measured', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(600), start: START, limitAt: timetable(at(60), MB, undefined) });
    assert.equal(forecast.estimate, undefined);
    assert.match(forecast.noEstimate ?? '', /^no estimate yet: no bwlimit in force from \w{3} \d\d:\d\d, and no run has measured the speed to nas yet$/);
  });

  it('a measurement of nothing is no measurement', () => {
    assert.equal(forecastTarget({ target: 'nas', uploads: uploads(1), start: START, measured: measured(0, 0) }).estimate, undefined);
  });

  it('nothing to upload takes no time', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: [], start: START, measured: measured(MB, 1), deadline: at(1) });
    assert.equal(forecast.estimate?.durationMs, 0);
    assert.deepEqual(forecast.deferred, []);
  });

  it('a limit that never lets enough through gives no estimate rather than a wait without end', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(1), start: START, limitAt: () => 0 });
    assert.match(forecast.noEstimate ?? '', /more than a year/);
  });
});

describe('forecastTarget: what a deadline would defer', () => {
  it('lists the backups that would not end by the deadline, with what of each would be on the server', () => {
    // 1 MB/s: VM1 ends at 60 s, VM2 at 120 s, VM3 at 180 s; the deadline at 90 s.
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(60, 60, 60), start: START, measured: measured(MB, 1), deadline: at(90) });
    assert.deepEqual(forecast.deferred, [
      { vm: 'VM2', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 30 * MB },
      { vm: 'VM3', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 0 },
    ]);
  });

  it('defers nothing when everything ends before the deadline', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(60, 60), start: START, measured: measured(MB, 1), deadline: at(3600) });
    assert.deepEqual(forecast.deferred, []);
  });

  it('a deadline already past defers everything, nothing sent', () => {
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(1, 2), start: START, measured: measured(MB, 1), deadline: at(-10) });
    assert.deepEqual(forecast.deferred?.map((upload) => upload.sentByDeadline), [0, 0]);
  });

  it('the deadline is judged at the rates of the timetable', () => {
    // 60 MB in the first minute, then 10 MB/s: VM1 (100 MB) ends at 64 s, before a deadline at 70 s.
    const forecast = forecastTarget({ target: 'nas', uploads: uploads(100, 100), start: START, limitAt: timetable(at(60), MB, 10 * MB), deadline: at(70) });
    assert.deepEqual(forecast.deferred?.map((upload) => [upload.vm, upload.sentByDeadline]), [['VM2', 60 * MB]]);
  });

  it('no estimate, no list: without rates the deadline cannot be judged', () => {
    assert.equal(forecastTarget({ target: 'nas', uploads: uploads(1), start: START, deadline: at(1) }).deferred, undefined);
  });
});

describe('forecastPlan: every target of a plan', () => {
  const plan = planOf([
    targetPlan('nas', { order: uploads(60, 60) }),
    targetPlan('offsite', { order: uploads(30) }),
    targetPlan('new', { order: uploads(1) }),
  ]);

  it('each target at its own measured speed or limit; the deadline applies to all and is named', () => {
    const forecast = forecastPlan(plan, {
      start: START,
      measured: { nas: measured(MB, 1) },
      limitFor: (target) => (target === 'offsite' ? () => MB / 2 : undefined),
      deadline: { at: at(90), by: '--stop-at 00:00' },
    });
    assert.equal(forecast.from, START.toISOString());
    assert.deepEqual(forecast.deadline, { at: at(90).toISOString(), by: '--stop-at 00:00' });
    const [nas, offsite, fresh] = forecast.targets;
    assert.equal(nas?.estimate?.durationMs, 120_000);
    assert.deepEqual(nas?.measured, measured(MB, 1));
    assert.deepEqual(nas?.deferred?.map((upload) => upload.vm), ['VM2']);
    assert.equal(offsite?.estimate?.durationMs, 60_000);
    assert.equal(offsite?.measured, undefined, 'a limit, not the measured speed');
    assert.deepEqual(offsite?.deferred, []);
    assert.match(fresh?.noEstimate ?? '', /^no estimate yet: no bwlimit, and no run has measured the speed to new yet$/);
  });

  it('an unreadable record of measured speeds is said as the reason', () => {
    const forecast = forecastPlan(plan, { start: START, measured: {}, measuredUnreadable: 'the record of measured speeds /x/vmftp.speeds.json is not a speed record' });
    assert.equal(forecast.targets[0]?.noEstimate, 'no estimate yet: no bwlimit, and the record of measured speeds /x/vmftp.speeds.json is not a speed record');
    assert.equal(forecast.deadline, undefined);
  });
});
