/**
 * `bwlimit` at run time: the bytes of every upload pass through the run's limit and their
 * target's own, whichever program sends them (the internal client reads through it; curl and
 * ncftpput get the file on stdin through it). Listings and control traffic do not pass here.
 *
 * Each limit is a virtual schedule (GCRA, the token bucket written as "when is the last byte paid
 * for"): a piece of a file reserves its time at the rate in force and waits until it is due, so
 * the bytes leave evenly, never more than a tenth of a second's worth ahead of the rate, and
 * concurrent transfers are served in the order they asked. The timetable is read again for every
 * piece, and no piece is longer than a tenth of a second at the lowest rate in force, so a change
 * of the timetable applies within a fraction of a second, also in the middle of a huge file.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { formatRate, limitAt, neverLimits, type BwTimetable } from '../core/bwlimit.js';

/** The clock a limit reads and waits on; tests pass a virtual one. */
export interface LimiterClock {
  /** Milliseconds on a monotonic scale: what the rates are measured against. */
  now(): number;
  /** The local time the timetable is read at. */
  date(): Date;
  /** Resolves after `ms` milliseconds; rejects with an AbortError when `signal` aborts first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const SYSTEM_CLOCK: LimiterClock = {
  now: () => performance.now(),
  date: () => new Date(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }),
};

/** How far ahead of its rate a limit lets bytes go: small, so the rate holds over any second. */
const BURST_SECONDS = 0.1;

/** The smallest piece worth a wait, for rates so low that a tenth of a second is a few bytes. */
const MIN_PIECE_BYTES = 512;

/** One `bwlimit` timetable, shared by every transfer that passes through it. */
class SharedLimit {
  /** When (clock.now()) the bytes let through so far are paid for at the rates they went at. */
  #paidUntil = Number.NEGATIVE_INFINITY;

  constructor(
    /** Where the timetable was written: `bwlimit` or `targets.<name>.bwlimit`. */
    readonly field: string,
    readonly timetable: BwTimetable,
    private readonly clock: LimiterClock,
  ) {}

  /** Returns the bytes per second in force now; undefined: no limit now. */
  rateNow(): number | undefined {
    return limitAt(this.timetable, this.clock.date());
  }

  /** Returns the milliseconds to wait before `bytes` may go at `rate`, counting them as gone. */
  reserve(bytes: number, rate: number): number {
    const now = this.clock.now();
    // An idle limit saves nothing up beyond the burst: the schedule restarts from now.
    this.#paidUntil = Math.max(this.#paidUntil, now) + (bytes * 1000) / rate;
    return this.#paidUntil - now - BURST_SECONDS * 1000;
  }
}

/** The limits one target's uploads pass through: its own, then the run's. */
export class TransferLimit {
  /** How many of the transfers are waiting for the limits now, and since when (clock.now()) one has been. */
  #waiting = 0;
  #waitingSince = 0;
  #heldMs = 0;

  constructor(
    private readonly limits: readonly SharedLimit[],
    private readonly clock: LimiterClock,
  ) {}

  /**
   * Returns how long (ms) at least one transfer waited for these limits: the time they held the
   * uploads back, so that a speed measured under them is known not to be the link's (run/speed-record.ts).
   */
  heldMs(): number {
    return this.#heldMs + (this.#waiting > 0 ? this.clock.now() - this.#waitingSince : 0);
  }

  async #wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#waiting++ === 0) this.#waitingSince = this.clock.now();
    try {
      await this.clock.sleep(ms, signal);
    } finally {
      if (--this.#waiting === 0) this.#heldMs += this.clock.now() - this.#waitingSince;
    }
  }

  /**
   * Resolves when every byte of `chunk` was handed to `push`, piece by piece, each when the
   * limits in force let it go; rejects with an AbortError when `signal` aborts while it waits.
   */
  async pass(chunk: Buffer, push: (piece: Buffer) => void, signal: AbortSignal): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const rates = this.limits.map((limit) => limit.rateNow());
      const limited = rates.filter((rate): rate is number => rate !== undefined);
      if (limited.length === 0) {
        push(offset === 0 ? chunk : chunk.subarray(offset));
        return;
      }
      const pieceBytes = Math.min(chunk.length - offset, Math.max(MIN_PIECE_BYTES, Math.floor(Math.min(...limited) * BURST_SECONDS)));
      // One limit after the other: a piece held back by its target's limit takes no share of the run's meanwhile.
      for (const [index, limit] of this.limits.entries()) {
        const rate = rates[index];
        if (rate === undefined) continue;
        const wait = limit.reserve(pieceBytes, rate);
        if (wait > 0) await this.#wait(wait, signal);
      }
      push(chunk.subarray(offset, offset + pieceBytes));
      offset += pieceBytes;
    }
  }

  /** Returns `source` passed through these limits: the stream a backend sends instead of the file. */
  throttle(source: Readable): Readable {
    const stop = new AbortController();
    const gate = new Transform({
      // Pieces are small; a megabyte of them in flight keeps the socket or the pipe busy between waits.
      readableHighWaterMark: 1 << 20,
      transform: (chunk: Buffer, _encoding, done) => {
        this.pass(chunk, (piece) => gate.push(piece), stop.signal).then(() => done(), done);
      },
      destroy(error, done) {
        // A stopped or failed upload leaves no wait behind.
        stop.abort();
        done(error);
      },
    });
    // A read error reaches the upload through the gate, which pipeline destroys with it.
    return pipeline(source, gate, () => undefined);
  }
}

/** The run's `bwlimit` and each target's, as the run applies them. */
export class Bandwidth {
  readonly #global: SharedLimit | undefined;
  readonly #targets: ReadonlyMap<string, SharedLimit>;
  readonly #clock: LimiterClock;

  /**
   * `global`: config `bwlimit` or `--bwlimit`, shared by all transfers of the run together;
   * `perTarget`: each target's own `bwlimit`, shared by that target's transfers.
   */
  constructor(global: BwTimetable | undefined, perTarget: Readonly<Record<string, BwTimetable | undefined>>, clock: LimiterClock = SYSTEM_CLOCK) {
    this.#global = global === undefined ? undefined : new SharedLimit('bwlimit', global, clock);
    const targets = new Map<string, SharedLimit>();
    for (const [name, timetable] of Object.entries(perTarget)) {
      if (timetable !== undefined) targets.set(name, new SharedLimit(`targets.${name}.bwlimit`, timetable, clock));
    }
    this.#targets = targets;
    this.#clock = clock;
  }

  /** Returns the limits `target`'s uploads pass through; undefined when no timetable ever limits them. */
  forTarget(target: string): TransferLimit | undefined {
    const limits = [this.#targets.get(target), this.#global].filter(
      (limit): limit is SharedLimit => limit !== undefined && !neverLimits(limit.timetable),
    );
    return limits.length === 0 ? undefined : new TransferLimit(limits, this.#clock);
  }

  /**
   * Returns what limits `target`'s uploads now, for the plan: `512 KiB/s (bwlimit "08:00,512k 23:00,off")`,
   * one part per limit, or undefined when it has none at all.
   */
  describe(target: string): string | undefined {
    const limits = [this.#targets.get(target), this.#global].filter((limit): limit is SharedLimit => limit !== undefined);
    if (limits.length === 0) return undefined;
    return limits.map((limit) => `${formatRate(limit.rateNow())} now (${limit.field} "${limit.timetable.spec}")`).join(', ');
  }
}
