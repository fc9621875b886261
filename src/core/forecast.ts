/**
 * How long each target's uploads take, forecast for `--simulate`: at the bandwidth limit in force
 * at each moment, else at the speed the last run measured on that target; and, with a deadline,
 * which backups would not be complete by then. Pure: the clock, the limits and the measured
 * speeds are parameters.
 */
import { format } from 'date-fns/format';
import type { Forecast, ForecastDeferred, MeasuredSpeed, Plan, RateBasis, ScheduledUpload, TargetForecast } from './model.js';

/** Returns the bytes per second a limit allows at `time`, or undefined when no limit is in force then. */
export type LimitAt = (time: Date) => number | undefined;

export interface ForecastInput {
  readonly target: string;
  /** The target's uploads in the order they start (TargetPlan.order). */
  readonly uploads: readonly ScheduledUpload[];
  /** When the uploads start: now. */
  readonly start: Date;
  /** The bandwidth limit of this target's uploads; absent: no `bwlimit` at all. */
  readonly limitAt?: LimitAt;
  /** The last run's speed on this target; absent: none measured yet, or the record is unreadable. */
  readonly measured?: MeasuredSpeed;
  /** Why there is no measured speed when it is not that no run measured one yet (an unreadable record). */
  readonly measuredUnreadable?: string;
  /** No transfer starts after this, and the running ones stop. */
  readonly deadline?: Date;
}

/** What a plan's forecast is made from, besides the plan. */
export interface ForecastContext {
  readonly start: Date;
  /** The last measured speed per target name. */
  readonly measured: Readonly<Record<string, MeasuredSpeed>>;
  readonly measuredUnreadable?: string;
  /** Returns the bandwidth limit of a target's uploads (its own with the run's), undefined for none. */
  readonly limitFor?: (target: string) => LimitAt | undefined;
  readonly deadline?: { readonly at: Date; readonly by: string };
}

/** Limits change at whole minutes (a timetable says HH:MM): within one, the rate is constant. */
const STEP_MS = 60_000;
/** Uploads that would take longer than this get no estimate: some limit in force is as good as zero. */
const HORIZON_MS = 366 * 24 * 3_600_000;

/** Returns the forecast of every target of `plan` (see forecastTarget). */
export function forecastPlan(plan: Plan, context: ForecastContext): Forecast {
  const { start, deadline } = context;
  return {
    from: start.toISOString(),
    ...(deadline === undefined ? {} : { deadline: { at: deadline.at.toISOString(), by: deadline.by } }),
    targets: plan.targets.map(({ target, order }) => {
      const limitAt = context.limitFor?.(target);
      const measured = Object.hasOwn(context.measured, target) ? context.measured[target] : undefined;
      return forecastTarget({
        target,
        uploads: order,
        start,
        ...(limitAt === undefined ? {} : { limitAt }),
        ...(measured === undefined ? {} : { measured }),
        ...(context.measuredUnreadable === undefined ? {} : { measuredUnreadable: context.measuredUnreadable }),
        ...(deadline === undefined ? {} : { deadline: deadline.at }),
      });
    }),
  };
}

/**
 * Returns the forecast of one target: its bytes, how long its uploads take and when they end,
 * each moment at the bandwidth limit in force then, else at the last run's measured speed (the
 * uploads share the rate, one after the other in start order); and with a deadline, the uploads
 * that would not end by it. No estimate when some moment has neither a limit nor a measured speed.
 */
export function forecastTarget(input: ForecastInput): TargetForecast {
  const { target, uploads, start } = input;
  const bytes = uploads.reduce((sum, upload) => sum + upload.bytes, 0);
  const { measured } = input;
  const measuredRate = measured !== undefined && measured.bytes > 0 && measured.seconds > 0 ? measured.bytes / measured.seconds : undefined;
  const basis = new Set<RateBasis>();
  const rateAt = (time: Date): number | undefined => {
    const limit = input.limitAt?.(time);
    if (limit !== undefined) {
      basis.add('bwlimit');
      return limit;
    }
    if (measuredRate !== undefined) basis.add('measured');
    return measuredRate;
  };
  const noEstimate = (why: string): TargetForecast => ({ target, bytes, noEstimate: why });
  const withEstimate = (durationMs: number, startRate: number, deferred?: ForecastDeferred[]): TargetForecast => ({
    target,
    bytes,
    estimate: { durationMs: Math.round(durationMs), endsAt: new Date(start.getTime() + durationMs).toISOString(), basis: [...basis], startRate },
    ...(basis.has('measured') && measured !== undefined ? { measured } : {}),
    ...(deferred === undefined ? {} : { deferred }),
  });

  const startRate = rateAt(start);
  if (startRate === undefined) return noEstimate(noRateReason(input));
  const deadline = input.deadline?.getTime();
  if (bytes === 0) return withEstimate(0, startRate, deadline === undefined ? undefined : []);

  // Walk the minutes: an upload ends once the bytes before it and its own have gone, at the rates of the way.
  const ends: number[] = [];
  let sentByDeadline: number | undefined;
  let now = start.getTime();
  let sent = 0;
  let next = 0;
  let boundary = uploads[0]?.bytes ?? 0;
  while (next < uploads.length) {
    if (now - start.getTime() > HORIZON_MS) return noEstimate('the uploads would take more than a year at the bandwidth limits in force');
    const rate = rateAt(new Date(now));
    if (rate === undefined) return noEstimate(noRateReason(input, new Date(now)));
    const stepEnd = (Math.floor(now / STEP_MS) + 1) * STEP_MS;
    const stepSent = sent + (rate * (stepEnd - now)) / 1000;
    if (deadline !== undefined && sentByDeadline === undefined && deadline <= stepEnd) {
      sentByDeadline = Math.min(bytes, sent + (rate * Math.max(0, deadline - now)) / 1000);
    }
    while (next < uploads.length && boundary <= stepSent) {
      ends.push(rate > 0 ? now + ((boundary - sent) * 1000) / rate : now);
      next++;
      boundary += uploads[next]?.bytes ?? 0;
    }
    sent = Math.min(stepSent, bytes);
    now = stepEnd;
  }
  const durationMs = (ends[ends.length - 1] ?? start.getTime()) - start.getTime();
  if (deadline === undefined) return withEstimate(durationMs, startRate);
  return withEstimate(durationMs, startRate, deferredBy(uploads, ends, deadline, sentByDeadline ?? bytes));
}

/** Returns the uploads that end after the deadline, with the bytes of each sent by then. */
function deferredBy(uploads: readonly ScheduledUpload[], ends: readonly number[], deadline: number, sentByDeadline: number): ForecastDeferred[] {
  const deferred: ForecastDeferred[] = [];
  let before = 0;
  uploads.forEach((upload, index) => {
    if ((ends[index] ?? Number.POSITIVE_INFINITY) > deadline) {
      const sent = Math.round(Math.min(upload.bytes, Math.max(0, sentByDeadline - before)));
      deferred.push({ vm: upload.vm, stamp: upload.stamp, bytes: upload.bytes, sentByDeadline: sent });
    }
    before += upload.bytes;
  });
  return deferred;
}

/** Returns why a target has no estimate: no limit in force (at `from`, or at all) and no measured speed. */
function noRateReason(input: ForecastInput, from?: Date): string {
  const limit =
    input.limitAt === undefined ? 'no bwlimit' : from === undefined ? 'no bwlimit in force now' : `no bwlimit in force from ${format(from, 'EEE HH:mm')}`;
  const speed = input.measuredUnreadable ?? `no run has measured the speed to ${input.target} yet`;
  return `no estimate yet: ${limit}, and ${speed}`;
}
