/**
 * `bwlimit` at run time: the bytes of every upload pass through the run's limit and their
 * target's own, whichever program sends them (the internal client reads through it; curl and
 * ncftpput get the file on stdin through it). Listings and control traffic do not pass here.
 *
 * Each limit is a virtual schedule (GCRA, the token bucket written as "when is the last byte paid
 * for"): a piece of a file waits until the schedule is due for it at the rate in force, so the
 * bytes leave evenly, never more than a tenth of a second's worth ahead of the rate. Concurrent
 * transfers share a limit evenly by bytes (max-min fair: one held lower by its target's own limit
 * takes that, the others share the rest), as the -S forecast assumes (core/forecast.ts). The
 * timetable is read again for every piece, and no piece is longer than a tenth of a second at the
 * lowest rate in force, so a change of the timetable applies within a fraction of a second, also
 * in the middle of a huge file.
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

/** A piece of a file waiting for a limit. */
interface Waiting {
  /** Where the piece starts in the limit's fair order: the bytes served before it, counted per transfer. */
  readonly tag: number;
  readonly bytes: number;
  /** The rate in force when the piece asked, which its size was chosen for. */
  readonly rate: number;
  /** Lets the piece go. */
  go(): void;
}

/**
 * One `bwlimit` timetable, shared by every transfer that passes through it.
 *
 * Waiting pieces go in fair order by bytes (start-time fair queueing), not in the order they asked:
 * a transfer's piece is tagged with where that transfer's bytes end so far, a transfer back from a
 * pause (held by its target's own limit, or a slow source) starting at the piece last let go, so
 * it takes no credit for the pause. The transfers that keep asking thus share the rate evenly by
 * bytes whatever the size of their pieces, and what one cannot use goes to the others (max-min fair).
 */
class SharedLimit {
  /** When (clock.now()) the bytes let through so far are paid for at the rates they went at. */
  #paidUntil = Number.NEGATIVE_INFINITY;
  /** The tag of the piece last let go: where a transfer back from a pause starts. */
  #virtualBytes = 0;
  /** Where each transfer's bytes end in the fair order. */
  readonly #transferEnds = new WeakMap<object, number>();
  readonly #waiting: Waiting[] = [];
  /** Stops the wait for the next piece's turn: it is worked out again when a piece comes or goes. */
  #nextTurn: AbortController | undefined;

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

  /**
   * Returns undefined when `bytes` of `transfer` may go now, else a promise that resolves when
   * they may, or rejects with an AbortError when `signal` aborts first. `rate`: the rate in force
   * when they asked.
   */
  take(transfer: object, bytes: number, rate: number, signal: AbortSignal): Promise<void> | undefined {
    const tag = Math.max(this.#virtualBytes, this.#transferEnds.get(transfer) ?? Number.NEGATIVE_INFINITY);
    this.#transferEnds.set(transfer, tag + bytes);
    let gone = false;
    let settle: { resolve(): void; reject(reason: unknown): void } | undefined;
    const piece: Waiting = {
      tag,
      bytes,
      rate,
      go: () => {
        gone = true;
        signal.removeEventListener('abort', abort);
        settle?.resolve();
      },
    };
    const abort = (): void => {
      this.#waiting.splice(this.#waiting.indexOf(piece), 1);
      settle?.reject(signal.reason);
      this.#serve();
    };
    // An idle limit saves nothing up beyond the burst: the schedule restarts from now.
    if (this.#waiting.length === 0) this.#paidUntil = Math.max(this.#paidUntil, this.clock.now());
    this.#waiting.push(piece);
    this.#serve();
    if (gone) return undefined;
    return new Promise((resolve, reject) => {
      settle = { resolve, reject };
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
    });
  }

  /** Lets the waiting pieces go in fair order while the rate in force allows, then waits for the next one's turn. */
  #serve(): void {
    this.#nextTurn?.abort();
    this.#nextTurn = undefined;
    for (;;) {
      // The earliest tag first; on a tie, the piece that asked first.
      const next = this.#waiting.reduce<Waiting | undefined>((first, piece) => (first === undefined || piece.tag < first.tag ? piece : first), undefined);
      if (next === undefined) return;
      const rateNow = this.rateNow();
      if (rateNow !== undefined) {
        // A piece pays at the rate it asked at (it was cut to a tenth of a second at that rate), or at a
        // higher one in force now: after a drop of the rate, the pieces asked before it go at the old one.
        const paidUntil = this.#paidUntil + (next.bytes * 1000) / Math.max(next.rate, rateNow);
        const wait = paidUntil - this.clock.now() - BURST_SECONDS * 1000;
        if (wait > 0) {
          const turn = new AbortController();
          this.#nextTurn = turn;
          this.clock.sleep(wait, turn.signal).then(
            () => {
              if (this.#nextTurn === turn) this.#serve();
            },
            () => undefined,
          );
          return;
        }
        this.#paidUntil = paidUntil;
      }
      this.#waiting.splice(this.#waiting.indexOf(next), 1);
      this.#virtualBytes = next.tag;
      next.go();
    }
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
   * uploads back, so that a speed measured under them is known to be only a lower bound of the
   * link's (core/link-speed.ts).
   */
  heldMs(): number {
    return this.#heldMs + (this.#waiting > 0 ? this.clock.now() - this.#waitingSince : 0);
  }

  async #wait(turn: Promise<void>): Promise<void> {
    if (this.#waiting++ === 0) this.#waitingSince = this.clock.now();
    try {
      await turn;
    } finally {
      if (--this.#waiting === 0) this.#heldMs += this.clock.now() - this.#waitingSince;
    }
  }

  /**
   * Resolves when every byte of `chunk` was handed to `push`, piece by piece, each when the
   * limits in force let it go; rejects with an AbortError when `signal` aborts while it waits.
   * `transfer` stands for the upload the chunk belongs to: the limits share their rate fairly among uploads.
   */
  async #pass(transfer: object, chunk: Buffer, push: (piece: Buffer) => void, signal: AbortSignal): Promise<void> {
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
        const turn = limit.take(transfer, pieceBytes, rate, signal);
        if (turn !== undefined) await this.#wait(turn);
      }
      push(chunk.subarray(offset, offset + pieceBytes));
      offset += pieceBytes;
    }
  }

  /** Returns `source` passed through these limits: the stream a backend sends instead of the file. */
  throttle(source: Readable): Readable {
    const stop = new AbortController();
    const transfer = {};
    const gate = new Transform({
      // Pieces are small; a megabyte of them in flight keeps the socket or the pipe busy between waits.
      readableHighWaterMark: 1 << 20,
      transform: (chunk: Buffer, _encoding, done) => {
        this.#pass(transfer, chunk, (piece) => gate.push(piece), stop.signal).then(() => done(), done);
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
