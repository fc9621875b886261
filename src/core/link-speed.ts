/**
 * What a measured upload speed says of the link it went over: the link's own speed when no
 * bwlimit held the uploads back, else only a speed the link reaches at least (a limit holds
 * uploads to its rate, whatever the link could do). Pure.
 */
import type { MeasuredSpeed } from './model.js';

/**
 * The share of their time a bwlimit may have held uploads back and their speed still count as the
 * link's. A transfer slower than the limit never waits for it (the limiter's schedule lags behind
 * it), one faster waits nearly all its time (backends/bandwidth.ts): a hold this short changes the
 * speed by at most about as much, a longer one means the limit, not the link, set the speed.
 */
const HELD_BACK_SHARE = 0.01;

/** The speed of a link as a measurement shows it. */
export interface LinkSpeed {
  readonly bytesPerSecond: number;
  /** Present when the link may be faster (the speed is a lower bound of the link's): why. */
  readonly atLeast?: string;
}

/** Returns the link's speed that `measured` shows; undefined when it measured nothing. */
export function linkSpeedOf(measured: MeasuredSpeed): LinkSpeed | undefined {
  if (!(measured.bytes > 0 && measured.seconds > 0)) return undefined;
  const bytesPerSecond = measured.bytes / measured.seconds;
  if (measured.heldSeconds === undefined) {
    return { bytesPerSecond, atLeast: 'the record, written by an older vmftp, does not say whether a bwlimit held the uploads back' };
  }
  if (measured.heldSeconds <= measured.seconds * HELD_BACK_SHARE) return { bytesPerSecond };
  const share = Math.round(Math.min(1, measured.heldSeconds / measured.seconds) * 100);
  return { bytesPerSecond, atLeast: `the bwlimit held its uploads back ${share}% of their time` };
}

/**
 * Returns why `newer` does not replace `earlier` in the record, undefined when it does: a speed of
 * the link always replaces the earlier one (the link may have changed), a lower bound only one
 * that says less (none, nothing measured, or a lower speed). A lower bound under a faster earlier
 * record does not contradict it: the limit held the uploads, not the link.
 */
export function keepsEarlier(earlier: MeasuredSpeed | undefined, newer: MeasuredSpeed): string | undefined {
  const link = linkSpeedOf(newer);
  const before = earlier === undefined ? undefined : linkSpeedOf(earlier);
  if (link === undefined || link.atLeast === undefined || before === undefined || before.bytesPerSecond <= link.bytesPerSecond) return undefined;
  return `${link.atLeast}, so the link may be faster than it, and the speed kept from the run of ${earlier?.measuredAt} is faster`;
}
