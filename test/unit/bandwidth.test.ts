/**
 * The bandwidth limiter on a virtual clock: every wait is an event the test fires in time order,
 * so rates, sharing and a timetable change are checked exactly, with no real time spent.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Bandwidth, type LimiterClock } from '../../src/backends/bandwidth.js';
import { parseBwLimit, type BwTimetable } from '../../src/core/bwlimit.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function timetable(spec: string): BwTimetable {
  const parsed = parseBwLimit(spec);
  if ('problem' in parsed) assert.fail(parsed.problem);
  return parsed.timetable;
}

/** A clock whose time moves only when the earliest pending wait is fired. */
class VirtualClock implements LimiterClock {
  #ms = 0;
  readonly #start: Date;
  readonly #waits: { at: number; resolve: () => void }[] = [];

  constructor(start = new Date(2026, 10, 30, 3, 0, 0)) {
    this.#start = start;
  }

  now(): number {
    return this.#ms;
  }

  date(): Date {
    return new Date(this.#start.getTime() + this.#ms);
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const abort = (): void => {
        this.#waits.splice(this.#waits.indexOf(wait), 1);
        reject(signal.reason);
      };
      const wait = {
        at: this.#ms + ms,
        resolve: () => {
          signal.removeEventListener('abort', abort);
          resolve();
        },
      };
      this.#waits.push(wait);
      signal.addEventListener('abort', abort);
    });
  }

  get pendingWaits(): number {
    return this.#waits.length;
  }

  /** Resolves with `work`'s result once it settled, firing the waits in time order meanwhile (at most `maxWaits`). */
  async run<T>(work: Promise<T>, maxWaits = 1_000_000): Promise<T> {
    let settled = false;
    const done = work.finally(() => (settled = true));
    for (let fired = 0; fired < maxWaits; fired += 1) {
      // Let streams and promise chains move until they wait on the clock again.
      for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
      if (settled) return done;
      this.#waits.sort((a, b) => a.at - b.at);
      const next = this.#waits.shift();
      if (next === undefined) continue;
      this.#ms = Math.max(this.#ms, next.at);
      next.resolve();
    }
    throw new Error('the work did not finish within the waits allowed');
  }
}

/** What reached the consumer of a throttled stream: [virtual ms, bytes so far] after each piece. */
async function consume(stream: Readable, clock: VirtualClock): Promise<[number, number][]> {
  const seen: [number, number][] = [];
  let total = 0;
  for await (const piece of stream) {
    total += (piece as Buffer).length;
    seen.push([clock.now(), total]);
  }
  return seen;
}

/** A file of `bytes` read in 1 MiB chunks, as the backends read files. */
function file(bytes: number): Readable {
  const chunks: Buffer[] = [];
  for (let left = bytes; left > 0; left -= MiB) chunks.push(Buffer.alloc(Math.min(MiB, left), 7));
  return Readable.from(chunks);
}

/** A source that reads `chunks` chunks of 64 KiB, one every 100 ms on `clock`: 640 KiB/s. */
function paced(clock: VirtualClock, chunks: number): Readable {
  const never = new AbortController().signal;
  async function* source(): AsyncGenerator<Buffer> {
    for (let chunk = 0; chunk < chunks; chunk += 1) {
      await clock.sleep(100, never);
      yield Buffer.alloc(64 * KiB, 7);
    }
  }
  return Readable.from(source());
}

/** A file too big to finish in a test: 1 MiB chunks for as long as it is read. */
function endless(): Readable {
  const chunk = Buffer.alloc(MiB, 7);
  return new Readable({
    read() {
      this.push(chunk);
    },
  });
}

/** Reads `stream` until virtual time `ms`, then stops it; resolves with the bytes that had arrived by `ms`. */
async function bytesWithin(stream: Readable, clock: VirtualClock, ms: number): Promise<number> {
  let total = 0;
  for await (const piece of stream) {
    if (clock.now() > ms) break;
    total += (piece as Buffer).length;
  }
  return total;
}

/** Returns the bytes that had arrived by virtual time `ms`. */
function bytesBy(seen: [number, number][], ms: number): number {
  return seen.filter(([at]) => at <= ms).at(-1)?.[1] ?? 0;
}

describe('bandwidth limiter', () => {
  it('a 2 MiB file at 512k takes 4 s less the 0.1 s burst, and no second carries more than the limit', async () => {
    const clock = new VirtualClock();
    const limit = new Bandwidth(timetable('512k'), {}, clock).forTarget('nas');
    assert.ok(limit);
    const seen = await clock.run(consume(limit.throttle(file(2 * MiB)), clock));
    assert.equal(seen.at(-1)?.[1], 2 * MiB);
    assert.equal(clock.now(), 3900);
    for (let second = 0; second < 4; second += 1) {
      const carried = bytesBy(seen, second * 1000 + 999) - bytesBy(seen, second * 1000 - 1);
      assert.ok(carried <= 512 * KiB * 1.1, `second ${second} carried ${carried} bytes`);
    }
  });

  it('the run limit is shared by the transfers of all targets together', async () => {
    const clock = new VirtualClock();
    const bandwidth = new Bandwidth(timetable('512k'), {}, clock);
    const [nas, offsite] = [bandwidth.forTarget('nas'), bandwidth.forTarget('offsite')];
    assert.ok(nas && offsite);
    const [a, b] = await clock.run(Promise.all([consume(nas.throttle(file(MiB)), clock), consume(offsite.throttle(file(MiB)), clock)]));
    // 2 MiB at 512 KiB/s together: 4 s less the burst, and each got half of every second on the way.
    assert.equal(clock.now(), 3900);
    assert.ok(Math.abs(bytesBy(a, 2000) - bytesBy(b, 2000)) <= 52 * KiB, `${bytesBy(a, 2000)} vs ${bytesBy(b, 2000)}`);
  });

  it("a target's own limit holds within the run's, and the run's limit is used in full", async () => {
    const clock = new VirtualClock();
    const bandwidth = new Bandwidth(timetable('512k'), { slow: timetable('128k') }, clock);
    const [slow, fast] = [bandwidth.forTarget('slow'), bandwidth.forTarget('fast')];
    assert.ok(slow && fast);
    const [a, b] = await clock.run(Promise.all([consume(slow.throttle(file(256 * KiB)), clock), consume(fast.throttle(file(4 * MiB)), clock)]));
    const slowDone = a.at(-1)?.[0] ?? 0;
    // 256 KiB at (at most) 128 KiB/s: not before 1.9 s.
    assert.ok(slowDone >= 1900, `slow target done at ${slowDone} ms`);
    // Meanwhile both together went at the run's 512 KiB/s: not above it, and not far below.
    const together = 256 * KiB + bytesBy(b, slowDone);
    assert.ok(together <= (512 * KiB * (slowDone + 100)) / 1000, `${together} bytes in ${slowDone} ms`);
    assert.ok(together >= (512 * KiB * (slowDone - 200)) / 1000, `${together} bytes in ${slowDone} ms`);
  });

  // Max-min fair: a transfer held lower by its target's own limit takes that, the others share the rest
  // by bytes, whatever the size of each one's pieces (the -S forecast, core/forecast.ts, assumes the same).
  for (const { run, runRate, own, slowRate, fastRate } of [
    { run: '10M', runRate: 10 * MiB, own: '2M', slowRate: 2 * MiB, fastRate: 8 * MiB },
    { run: '512k', runRate: 512 * KiB, own: '128k', slowRate: 128 * KiB, fastRate: 384 * KiB },
    { run: '10M', runRate: 10 * MiB, own: '8M', slowRate: (10 * MiB) / 3, fastRate: (20 * MiB) / 3 },
  ]) {
    it(`run limit ${run}, one transfer to a target limited to ${own}, two to another: each gets its max-min fair share`, async () => {
      const clock = new VirtualClock();
      const bandwidth = new Bandwidth(timetable(run), { slow: timetable(own) }, clock);
      const [slow, fast] = [bandwidth.forTarget('slow'), bandwidth.forTarget('fast')];
      assert.ok(slow && fast);
      const seconds = 10;
      const [slowBytes, ...fastBytes] = await clock.run(
        Promise.all([slow, fast, fast].map((limit) => bytesWithin(limit.throttle(endless()), clock, seconds * 1000))),
      );
      const [slowGot, fastGot] = [(slowBytes ?? 0) / seconds, fastBytes.reduce((sum, bytes) => sum + bytes, 0) / seconds];
      const got = `slow ${Math.round(slowGot / KiB)} KiB/s, fast ${Math.round(fastGot / KiB)} KiB/s`;
      assert.ok((slowGot + fastGot) * seconds <= runRate * (seconds + 0.1), `together above the run limit: ${got}`);
      assert.ok(Math.abs(slowGot - slowRate) <= slowRate * 0.05, got);
      assert.ok(Math.abs(fastGot - fastRate) <= fastRate * 0.05, got);
      assert.ok(Math.abs((fastBytes[0] ?? 0) - (fastBytes[1] ?? 0)) <= ((fastRate * seconds) / 2) * 0.05, `${fastBytes.join(' vs ')} bytes between the two fast transfers`);
    });
  }

  it('a timetable change in the middle of a file applies within a second', async () => {
    // Monday 07:59:58; 1M until 08:00, then 100k.
    const clock = new VirtualClock(new Date(2026, 10, 30, 7, 59, 58));
    const limit = new Bandwidth(timetable('07:00,1M 08:00,100k'), {}, clock).forTarget('nas');
    assert.ok(limit);
    const seen = await clock.run(consume(limit.throttle(file(3 * MiB)), clock));
    assert.equal(seen.at(-1)?.[1], 3 * MiB);
    // Two seconds at 1 MiB/s (plus the burst), then 100 KiB/s from 08:00 on: the second after the
    // change carries at most one piece reserved at the old rate beyond it, the seconds after it the new rate.
    const before = bytesBy(seen, 2000);
    assert.ok(before >= 1.9 * MiB && before <= 2.2 * MiB, `${before} bytes before 08:00`);
    const changing = bytesBy(seen, 3000) - before;
    assert.ok(changing <= 110 * KiB + 0.2 * MiB, `${changing} bytes in the second of the change`);
    for (let second = 4; second < 10; second += 1) {
      const carried = bytesBy(seen, second * 1000) - bytesBy(seen, (second - 1) * 1000);
      assert.ok(carried <= 100 * KiB * 1.1 && carried >= 100 * KiB * 0.9, `second ${second} carried ${carried} bytes`);
    }
  });

  it('from off to limited and back, in the middle of a file', async () => {
    // Monday 07:59:59, a source that reads 640 KiB/s: off until 08:00, 64k for the minute after, then off.
    const clock = new VirtualClock(new Date(2026, 10, 30, 7, 59, 59));
    const limit = new Bandwidth(timetable('Mon-08:00,64k Mon-08:01,off'), {}, clock).forTarget('nas');
    assert.ok(limit);
    const seen = await clock.run(consume(limit.throttle(paced(clock, 96)), clock));
    assert.ok(Math.abs(bytesBy(seen, 1000) - 640 * KiB) <= 64 * KiB, `${bytesBy(seen, 1000)} bytes before 08:00 (off)`);
    const limited = bytesBy(seen, 60_000) - bytesBy(seen, 2000);
    assert.ok(Math.abs(limited - 58 * 64 * KiB) <= 64 * KiB, `${limited} bytes from 08:00:01 to 08:00:59 (64k)`);
    // 6 MiB: 640 KiB, then 3840 KiB in the limited minute, then the rest at the source's speed again.
    const done = seen.at(-1)?.[0] ?? 0;
    assert.ok(done <= 65_000, `done at ${done} ms`);
  });

  it('says how long it held a target back: all the time of a transfer faster than the limit, the waits of two transfers once', async () => {
    const clock = new VirtualClock();
    const limit = new Bandwidth(timetable('512k'), {}, clock).forTarget('nas');
    assert.ok(limit);
    await clock.run(Promise.all([consume(limit.throttle(file(MiB)), clock), consume(limit.throttle(file(MiB)), clock)]));
    assert.equal(clock.now(), 3900);
    assert.equal(limit.heldMs(), 3900);
  });

  it('does not hold back a transfer slower than the limit', async () => {
    const clock = new VirtualClock();
    const limit = new Bandwidth(timetable('1M'), {}, clock).forTarget('nas');
    assert.ok(limit);
    await clock.run(consume(limit.throttle(paced(clock, 32)), clock));
    assert.equal(clock.now(), 3200);
    assert.equal(limit.heldMs(), 0);
  });

  it('off, 0, or no bwlimit at all: no limit to pass through', () => {
    const bandwidth = new Bandwidth(timetable('off'), { nas: timetable('0'), offsite: timetable('08:00,off 19:00,1M') });
    assert.equal(bandwidth.forTarget('nas'), undefined);
    assert.ok(bandwidth.forTarget('offsite'), 'a timetable that limits some of the time');
    assert.equal(new Bandwidth(undefined, {}).forTarget('nas'), undefined);
  });

  it('a destroyed transfer leaves no wait behind', async () => {
    const clock = new VirtualClock();
    const limit = new Bandwidth(timetable('1k'), {}, clock).forTarget('nas');
    assert.ok(limit);
    const stream = limit.throttle(file(MiB));
    const reading = consume(stream, clock).catch((error: unknown) => error);
    for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(clock.pendingWaits, 1, 'waiting for the limit');
    stream.destroy(new Error('stopped'));
    assert.match(String(await reading), /stopped/);
    assert.equal(clock.pendingWaits, 0);
  });

  it('describe names the rate in force now and where it was set', () => {
    const clock = new VirtualClock(new Date(2026, 10, 30, 9, 0, 0));
    const bandwidth = new Bandwidth(timetable('08:00,512k 23:00,off'), { nas: timetable('1M') }, clock);
    assert.equal(bandwidth.describe('nas'), '1 MiB/s now (targets.nas.bwlimit "1M"), 512 KiB/s now (bwlimit "08:00,512k 23:00,off")');
    assert.equal(new Bandwidth(undefined, {}, clock).describe('nas'), undefined);
  });
});
