import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forecastPlan, forecastTargets, type ForecastInput, type LimitAt, type TargetLoad } from '../../src/core/forecast.js';
import type { TargetForecast } from '../../src/core/model.js';
import { planOf, targetPlan, vmPlan } from '../support/plan.js';

const MB = 1_000_000;
const START = new Date('2026-11-28T22:59:00Z');
const at = (seconds: number): Date => new Date(START.getTime() + seconds * 1000);

/** Uploads VM1, VM2... of one file each, of these megabytes. */
function uploads(...megabytes: number[]): TargetLoad['uploads'] {
  return megabytes.map((mb, index) => ({ vm: `VM${index + 1}`, stamp: '2026-11-28-220000', bytes: mb * MB, files: [mb * MB] }));
}

/** A limit of `before` bytes/s until `change`, `after` from then on (undefined: no limit). */
function timetable(change: Date, before: number | undefined, after: number | undefined): LimitAt {
  return (time) => (time < change ? before : after);
}

/** The link's speed as a run measured it: no bwlimit held it back (unless `heldSeconds` says otherwise). */
const measured = (bytes: number, seconds: number, heldSeconds = 0) => ({ bytes, seconds, measuredAt: '2026-11-27T03:00:00Z', heldSeconds });

/** `target` sending `megabytes` over 2 connections, with what else it says. */
function load(target: string, megabytes: readonly number[], rest: Partial<Omit<TargetLoad, 'target' | 'uploads'>> = {}): TargetLoad {
  return { target, uploads: uploads(...megabytes), connections: 2, ...rest };
}

/** Returns the forecast of `nas` alone, sending `megabytes`, with its own limit `limitAt` (the run has none). */
function alone(megabytes: readonly number[], rest: Partial<Omit<TargetLoad, 'target' | 'uploads'>> & Pick<ForecastInput, 'deadline'> = {}): TargetForecast {
  const { deadline, ...target } = rest;
  const [forecast] = forecastTargets({ start: START, targets: [load('nas', megabytes, target)], ...(deadline === undefined ? {} : { deadline }) });
  assert.ok(forecast);
  return forecast;
}

/** Returns the forecasts of `targets` sending together under the run's limit `runLimitAt`, by target name. */
function together(runLimitAt: LimitAt, targets: readonly TargetLoad[], deadline?: Date): Record<string, TargetForecast> {
  const forecasts = forecastTargets({ start: START, targets, runLimitAt, ...(deadline === undefined ? {} : { deadline }) });
  return Object.fromEntries(forecasts.map((forecast) => [forecast.target, forecast]));
}

describe('forecastTargets, one target: how long the uploads take', () => {
  it('at the speed the last run measured when there is no bwlimit', () => {
    const forecast = alone([60, 40], { measured: measured(50 * MB, 50) });
    assert.equal(forecast.bytes, 100 * MB);
    assert.deepEqual(forecast.estimate, { durationMs: 100_000, endsAt: at(100).toISOString(), basis: ['measured'], startRate: MB });
    assert.equal(forecast.deferred, undefined);
  });

  it('at the bwlimit in force when the link measured faster', () => {
    const forecast = alone([100], { limitAt: () => 2 * MB, measured: measured(4 * MB, 1) });
    assert.equal(forecast.estimate?.durationMs, 50_000);
    assert.deepEqual(forecast.estimate?.basis, ['bwlimit']);
    assert.equal(forecast.measured, undefined, 'the measured speed did not count');
  });

  it('at the measured speed when the link measured slower than the bwlimit: a limit does not make a link faster', () => {
    const forecast = alone([100], { limitAt: () => 2 * MB, measured: measured(MB, 1) });
    assert.equal(forecast.estimate?.durationMs, 100_000);
    assert.deepEqual(forecast.estimate?.basis, ['measured']);
  });

  it('a speed measured while the bwlimit held the uploads back is only a lower bound: the time is at most the estimate', () => {
    const forecast = alone([100], { measured: measured(10 * MB, 10, 9) });
    assert.equal(forecast.estimate?.durationMs, 100_000);
    assert.equal(forecast.estimate?.atMost, 'the link may be faster: the bwlimit held its uploads back 90% of their time');
  });

  it('so is a speed from a record of an older vmftp, which does not say whether a bwlimit held it', () => {
    const forecast = alone([100], { measured: { bytes: MB, seconds: 1, measuredAt: '2026-11-27T03:00:00Z' } });
    assert.equal(forecast.estimate?.durationMs, 100_000);
    assert.match(forecast.estimate?.atMost ?? '', /^the link may be faster: the record, written by an older vmftp, does not say whether a bwlimit held the uploads back$/);
  });

  it('a lower bound at or above the bwlimit in force makes the limit the rate, exactly', () => {
    const forecast = alone([100], { limitAt: () => MB, measured: measured(2 * MB, 1, 1) });
    assert.deepEqual(forecast.estimate?.basis, ['bwlimit']);
    assert.equal(forecast.estimate?.atMost, undefined);
  });

  it('follows a timetable: a change at 23:00 applies from 23:00 on', () => {
    // 60 MB in the minute at 1 MB/s, then 540 MB at 10 MB/s.
    const forecast = alone([600], { limitAt: timetable(at(60), MB, 10 * MB) });
    assert.equal(forecast.estimate?.durationMs, 114_000);
    assert.equal(forecast.estimate?.startRate, MB);
  });

  it('uses the measured speed where the timetable says off', () => {
    const forecast = alone([600], { limitAt: timetable(at(60), MB, undefined), measured: measured(20 * MB, 1) });
    assert.equal(forecast.estimate?.durationMs, 60_000 + 27_000);
    assert.deepEqual(forecast.estimate?.basis, ['bwlimit', 'measured']);
  });

  it('says the time is unknown when no limit holds and no run measured the target, and that the first run measures it', () => {
    const forecast = alone([10]);
    assert.equal(forecast.estimate, undefined);
    assert.equal(forecast.noEstimate, 'time unknown: no bwlimit, and no run has measured the speed to nas yet (the first run that uploads there measures it)');
  });

  it('the time is unknown when the timetable turns the limit off before the end and nothing was measured', () => {
    const forecast = alone([600], { limitAt: timetable(at(60), MB, undefined) });
    assert.equal(forecast.estimate, undefined);
    assert.match(forecast.noEstimate ?? '', /^time unknown: no bwlimit in force from \w{3} \d\d:\d\d, and no run has measured the speed to nas yet /);
  });

  it('a measurement of nothing is no measurement', () => {
    assert.equal(alone([1], { measured: measured(0, 0) }).estimate, undefined);
  });

  it('nothing to upload takes no time', () => {
    const forecast = alone([], { measured: measured(MB, 1), deadline: at(1) });
    assert.equal(forecast.estimate?.durationMs, 0);
    assert.deepEqual(forecast.deferred, []);
  });

  it('a limit that never lets enough through gives no estimate rather than a wait without end', () => {
    assert.match(alone([1], { limitAt: () => 0 }).noEstimate ?? '', /more than a year/);
  });
});

describe('forecastTargets, several targets: the run\'s bwlimit is shared', () => {
  const runLimit = () => MB;

  it('two targets under one run-wide limit take twice as long as one alone', () => {
    const one = together(runLimit, [load('nas', [60])]);
    const two = together(runLimit, [load('nas', [60]), load('offsite', [60])]);
    assert.equal(one.nas?.estimate?.durationMs, 60_000);
    assert.equal(two.nas?.estimate?.durationMs, 120_000);
    assert.equal(two.offsite?.estimate?.durationMs, 120_000);
    assert.equal(two.nas?.estimate?.startRate, MB / 2);
    assert.deepEqual(two.nas?.estimate?.sharedWith, ['offsite']);
    assert.equal(one.nas?.estimate?.sharedWith, undefined);
  });

  it('the first to finish frees its share', () => {
    // Half each until nas's 30 MB are up at 60 s; then offsite's last 60 MB at the whole 1 MB/s.
    const forecasts = together(runLimit, [load('nas', [30]), load('offsite', [90])], at(90));
    assert.equal(forecasts.nas?.estimate?.durationMs, 60_000);
    assert.equal(forecasts.offsite?.estimate?.durationMs, 120_000);
    assert.deepEqual(forecasts.nas?.deferred, []);
    assert.deepEqual(forecasts.offsite?.deferred?.map((upload) => upload.sentByDeadline), [60 * MB]);
  });

  it("a target's own lower limit leaves the rest to the other", () => {
    const forecasts = together(runLimit, [load('nas', [12], { limitAt: () => MB / 5 }), load('offsite', [48])]);
    assert.equal(forecasts.nas?.estimate?.startRate, MB / 5);
    assert.equal(forecasts.offsite?.estimate?.startRate, (MB * 4) / 5);
    assert.equal(forecasts.nas?.estimate?.durationMs, 60_000);
    assert.equal(forecasts.offsite?.estimate?.durationMs, 60_000);
    assert.equal(forecasts.nas?.estimate?.sharedWith, undefined, 'its own limit held it, not the run\'s');
  });

  it('so does a link that measured slower than its part', () => {
    const forecasts = together(runLimit, [load('nas', [6], { measured: measured(MB / 10, 1) }), load('offsite', [54])]);
    assert.deepEqual(forecasts.nas?.estimate?.basis, ['measured']);
    assert.equal(forecasts.offsite?.estimate?.durationMs, 60_000);
  });

  it('the limit is shared per transfer, as the limiter serves them: two files under way take two parts', () => {
    // 3 MB/s, 1 MB/s per file: nas's 20 MB are up at 20 s; then one file each at 1.5 MB/s, 20 MB left each.
    const forecasts = together(() => 3 * MB, [load('nas', [20, 40]), load('offsite', [40])]);
    assert.equal(forecasts.nas?.estimate?.startRate, 2 * MB);
    assert.equal(forecasts.offsite?.estimate?.durationMs, Math.round(20_000 + 20_000 / 1.5));
    assert.equal(forecasts.nas?.estimate?.durationMs, Math.round(20_000 + 20_000 / 1.5));
  });

  it('one connection, one part, whatever the files', () => {
    const forecasts = together(() => 2 * MB, [load('nas', [40, 40], { connections: 1 }), load('offsite', [40])]);
    assert.equal(forecasts.nas?.estimate?.startRate, MB);
  });

  it('a target whose measured speed is only a lower bound is taken to use its whole part for the others, and its lower bound for itself', () => {
    // nas: 0.2 MB/s measured while a bwlimit held it back; its link may be as fast as its half of the run's 1 MB/s.
    const forecasts = together(runLimit, [load('nas', [60], { measured: measured(2 * MB, 10, 9) }), load('offsite', [30], { measured: measured(10 * MB, 1) })]);
    // offsite at its half, not the 0.8 MB/s nas would leave it at 0.2 MB/s: 60 s, not 37.5 s.
    assert.equal(forecasts.offsite?.estimate?.durationMs, 60_000);
    assert.equal(forecasts.offsite?.estimate?.atMost, "the time assumes nas takes its whole part of the bwlimit (a measured speed only a lower bound of the link's)");
    // nas at its lower bound all along.
    assert.equal(forecasts.nas?.estimate?.durationMs, 300_000);
    assert.equal(forecasts.nas?.estimate?.atMost, 'the link may be faster: the bwlimit held its uploads back 90% of their time');
  });

  it('a lower bound that changes nothing for the others leaves their times exact', () => {
    // Under 1 MB/s the last of 60 MB ends at 60 s however the two share it.
    const forecasts = together(runLimit, [load('nas', [12], { measured: measured(2 * MB, 10, 9) }), load('offsite', [48])]);
    assert.equal(forecasts.offsite?.estimate?.durationMs, 60_000);
    assert.equal(forecasts.offsite?.estimate?.atMost, undefined);
  });

  it('a timetable change of the run\'s limit at a whole minute changes every part from then on', () => {
    // 0.5 MB/s each for the first minute (30 MB), then 1 MB/s each for the other 30 MB.
    const forecasts = together(timetable(at(60), MB, 2 * MB), [load('nas', [60]), load('offsite', [60])]);
    assert.equal(forecasts.nas?.estimate?.durationMs, 90_000);
    assert.equal(forecasts.offsite?.estimate?.durationMs, 90_000);
  });

  it('where the run\'s limit is off, each target goes at its own rate; one without any has no estimate and the others go on', () => {
    const forecasts = together(timetable(at(60), MB, undefined), [load('nas', [90], { measured: measured(MB, 1) }), load('offsite', [90])]);
    // nas: 30 MB in the first minute at its half, then 60 MB at its measured 1 MB/s.
    assert.equal(forecasts.nas?.estimate?.durationMs, 120_000);
    assert.deepEqual(forecasts.nas?.estimate?.basis, ['bwlimit', 'measured']);
    assert.match(forecasts.offsite?.noEstimate ?? '', /^time unknown: no bwlimit in force from \w{3} \d\d:\d\d, and no run has measured the speed to offsite yet /);
  });

  it('a target whose time is unknown still takes its part of the run\'s limit when the limit holds again', () => {
    // 1 MB/s for the first minute, off for the second, 1 MB/s again from then on. nas (measured 2 MB/s) sends 30 MB
    // at its half, then 120 MB at its own speed. offsite's speed is unknown: it is taken to have sent nothing while no
    // limit held, so it still takes half of the limit when it holds again: nas's last 150 MB go at 0.5 MB/s.
    const runLimitAt: LimitAt = (time) => (time < at(60) || time >= at(120) ? MB : undefined);
    const forecasts = together(runLimitAt, [load('nas', [300], { measured: measured(2 * MB, 1) }), load('offsite', [600])]);
    assert.equal(forecasts.nas?.estimate?.durationMs, 120_000 + 300_000);
    assert.deepEqual(forecasts.nas?.estimate?.sharedWith, ['offsite']);
    assert.equal(forecasts.offsite?.estimate, undefined);
  });
});

describe('forecastTargets: the files of a target go up side by side, as the executor sends them', () => {
  it('uploads under way together share the target\'s rate: with two connections the first two end together', () => {
    const forecast = alone([60, 60, 60], { measured: measured(MB, 1), deadline: at(90) });
    // 0.5 MB/s each: VM1 and VM2 end at 120 s, VM3 starts then and ends at 180 s.
    assert.equal(forecast.estimate?.durationMs, 180_000);
    assert.deepEqual(forecast.deferred, [
      { vm: 'VM1', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 45 * MB },
      { vm: 'VM2', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 45 * MB },
      { vm: 'VM3', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 0 },
    ]);
  });

  it('a file that ends frees its connection for the next file in start order, whether of the same upload or the next', () => {
    // 2 MB/s over 2 connections: A's two files first, 1 MB/s each; A's 10 MB file ends at 10 s and B's starts;
    // B's 30 MB end at 40 s, A's last 10 MB at the whole 2 MB/s after them (45 s). One after the other, B would end last.
    const twoFiles = [
      { vm: 'A', stamp: '2026-11-28-220000', bytes: 60 * MB, files: [10 * MB, 50 * MB] },
      { vm: 'B', stamp: '2026-11-28-220000', bytes: 30 * MB, files: [30 * MB] },
    ];
    const [forecast] = forecastTargets({
      start: START,
      targets: [{ target: 'nas', uploads: twoFiles, connections: 2, measured: measured(2 * MB, 1) }],
      deadline: at(42),
    });
    assert.equal(forecast?.estimate?.durationMs, 45_000);
    assert.deepEqual(forecast?.deferred, [{ vm: 'A', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 54 * MB }]);
  });

  it('with one connection the uploads go one after the other', () => {
    const forecast = alone([60, 60, 60], { connections: 1, measured: measured(MB, 1), deadline: at(90) });
    assert.deepEqual(forecast.deferred?.map((upload) => [upload.vm, upload.sentByDeadline]), [['VM2', 30 * MB], ['VM3', 0]]);
  });
});

describe('forecastTargets: what a deadline would defer', () => {
  it('lists the backups that would not end by the deadline, with what of each would be on the server', () => {
    // 1 MB/s over one connection: VM1 ends at 60 s, VM2 at 120 s, VM3 at 180 s; the deadline at 90 s.
    const forecast = alone([60, 60, 60], { connections: 1, measured: measured(MB, 1), deadline: at(90) });
    assert.deepEqual(forecast.deferred, [
      { vm: 'VM2', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 30 * MB },
      { vm: 'VM3', stamp: '2026-11-28-220000', bytes: 60 * MB, sentByDeadline: 0 },
    ]);
  });

  it('defers nothing when everything ends before the deadline', () => {
    assert.deepEqual(alone([60, 60], { measured: measured(MB, 1), deadline: at(3600) }).deferred, []);
  });

  it('a deadline already past defers everything, nothing sent', () => {
    const forecast = alone([1, 2], { measured: measured(MB, 1), deadline: at(-10) });
    assert.deepEqual(forecast.deferred?.map((upload) => upload.sentByDeadline), [0, 0]);
  });

  it('the deadline is judged at the rates of the timetable', () => {
    // 60 MB in the first minute, then 10 MB/s: VM1 (100 MB) ends at 64 s, before a deadline at 70 s.
    const forecast = alone([100, 100], { connections: 1, limitAt: timetable(at(60), MB, 10 * MB), deadline: at(70) });
    assert.deepEqual(forecast.deferred?.map((upload) => [upload.vm, upload.sentByDeadline]), [['VM2', 60 * MB]]);
  });

  it('without a time the deadline cannot be judged, and the forecast says so instead of listing nothing', () => {
    const forecast = alone([1], { deadline: at(1) });
    assert.equal(forecast.deferred, undefined);
    assert.equal(forecast.deferredUnknown, 'which backups the deadline would defer on nas cannot be judged: the time of its uploads is unknown');
  });

  it('a deadline before the time becomes unknown is judged: the rates up to it are known', () => {
    // 1 MB/s until 60 s, then no limit and no measured speed; the deadline at 30 s.
    const forecast = alone([60, 60], { connections: 1, limitAt: timetable(at(60), MB, undefined), deadline: at(30) });
    assert.equal(forecast.estimate, undefined);
    assert.deepEqual(forecast.deferred?.map((upload) => [upload.vm, upload.sentByDeadline]), [['VM1', 30 * MB], ['VM2', 0]]);
  });
});

describe('forecastPlan: every target of a plan', () => {
  const plan = planOf([
    targetPlan('nas', { order: uploads(60, 60) }),
    targetPlan('offsite', { order: uploads(30) }),
    targetPlan('new', { order: uploads(1) }),
  ]);
  const oneConnection = () => 1;

  it('each target at its own measured speed or limit; the deadline applies to all and is named', () => {
    const forecast = forecastPlan(plan, {
      start: START,
      measured: { nas: measured(MB, 1) },
      limitFor: (target) => (target === 'offsite' ? () => MB / 2 : undefined),
      connectionsOf: oneConnection,
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
    assert.match(fresh?.noEstimate ?? '', /^time unknown: no bwlimit, and no run has measured the speed to new yet /);
    assert.match(fresh?.deferredUnknown ?? '', /cannot be judged/);
  });

  it("the run's limit is shared by the targets' transfers, as many at once as each target's connections and files allow", () => {
    const resume = {
      type: 'resume' as const,
      stamp: '2026-11-28-220000',
      localDir: '/backups/Bart/2026-11-28-220000',
      // The first file is on the server already: only the other two are transfers.
      files: [{ path: 'a.vmdk', size: 10 * MB, offset: 10 * MB }, { path: 'b.vmdk', size: 30 * MB, offset: 0 }, { path: 'c.vmdk', size: 30 * MB, offset: 0 }],
      bytes: 60 * MB,
      replacesIncomplete: false,
      reason: 'resumed',
    };
    const twoFiles = planOf([targetPlan('nas', { vms: [vmPlan('Bart', [resume])] }), targetPlan('offsite', { order: uploads(30) })]);
    const forecast = forecastPlan(twoFiles, { start: START, measured: {}, runLimitAt: () => 3 * MB, connectionsOf: () => 4 });
    assert.deepEqual(forecast.targets.map((target) => target.estimate?.startRate), [2 * MB, MB]);
  });

  it('an unreadable record of measured speeds is said as the reason', () => {
    const forecast = forecastPlan(plan, {
      start: START,
      measured: {},
      connectionsOf: oneConnection,
      measuredUnreadable: 'the record of measured speeds /x/vmftp.speeds.json is not a speed record',
    });
    assert.equal(forecast.targets[0]?.noEstimate, 'time unknown: no bwlimit, and the record of measured speeds /x/vmftp.speeds.json is not a speed record');
    assert.equal(forecast.deadline, undefined);
  });
});
