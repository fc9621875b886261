/**
 * The record of measured upload speeds next to the lock (src/run/speed-record.ts): what a run
 * keeps (with how long a bwlimit held it back; not a speed a deadline or a signal cut short, nor a
 * lower bound under a faster earlier record), what `-S` reads back, and that a missing or broken
 * record only means no estimate; and what a measured speed says of the link (src/core/link-speed.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { TargetOutcome } from '../../src/run/outcome.js';
import { linkSpeedOf } from '../../src/core/link-speed.js';
import { measuredSpeeds, readSpeedRecord, speedRecordFile, writeSpeedRecord } from '../../src/run/speed-record.js';
import { tmpDir } from '../support/fixtures.js';

const STARTED = new Date('2026-11-28T03:00:00Z');

function upload(
  target: string,
  bytes: number,
  startedAt: string,
  durationMs: number,
  action: 'upload' | 'keep' = 'upload',
  status: 'done' | 'deferred' = 'done',
): TargetOutcome {
  return { target, durationMs, actions: [{ vm: 'Bart', stamp: '2026-11-28-020000', action, status, bytes, durationMs, startedAt, detail: '' }] };
}

/** A run that went to its end, and that no bwlimit held back (unless `heldMs` says otherwise). */
const finished = (heldMs: Readonly<Record<string, number>> = {}) => ({ startedAt: STARTED, interrupted: false, heldMs: (target: string) => heldMs[target] ?? 0 });

describe('speed record', () => {
  test('lives next to the lock, named after it', () => {
    assert.equal(speedRecordFile(path.join('/var', 'log', 'vmftp', 'vmftp.lock')), path.join('/var', 'log', 'vmftp', 'vmftp.speeds.json'));
    assert.equal(speedRecordFile(path.join('/tmp', 'vmftp-0123abcd.lock')), path.join('/tmp', 'vmftp-0123abcd.speeds.json'));
    assert.equal(speedRecordFile(path.join('/run', 'my.lck')), path.join('/run', 'my.lck.speeds.json'));
  });

  test('a run measures bytes over the wall time of its uploads, per target; a target that sent nothing measures nothing', () => {
    const outcomes: TargetOutcome[] = [
      upload('nas', 50_000_000, '2026-11-28T03:00:10.000Z', 20_000),
      upload('offsite', 0, '2026-11-28T03:00:10.000Z', 5_000),
      upload('kept', 0, '2026-11-28T03:00:10.000Z', 0, 'keep'),
      { target: 'down', error: 'unreachable', actions: [], durationMs: 0 },
    ];
    assert.deepEqual(measuredSpeeds(outcomes, finished()), { speeds: { nas: { bytes: 50_000_000, seconds: 20, measuredAt: STARTED.toISOString(), heldSeconds: 0 } }, notKept: {} });
  });

  test('keeps a speed the bwlimit held back, with how long it held it (at most the uploads\' time)', () => {
    const outcomes = [upload('nas', 50_000_000, '2026-11-28T03:00:10.000Z', 20_000), upload('offsite', 10_000_000, '2026-11-28T03:00:10.000Z', 20_000)];
    const measured = measuredSpeeds(outcomes, finished({ nas: 2000, offsite: 25_000 }));
    assert.deepEqual(measured.notKept, {});
    assert.deepEqual([measured.speeds.nas?.heldSeconds, measured.speeds.offsite?.heldSeconds], [2, 20]);
  });

  test('a speed is the link\'s when the bwlimit held its uploads back at most a hundredth of their time, else a lower bound; unknown in an old record', () => {
    const speed = (heldSeconds?: number) => ({ bytes: 20_000_000, seconds: 10, measuredAt: STARTED.toISOString(), ...(heldSeconds === undefined ? {} : { heldSeconds }) });
    assert.deepEqual(linkSpeedOf(speed(0)), { bytesPerSecond: 2_000_000 });
    assert.deepEqual(linkSpeedOf(speed(0.1)), { bytesPerSecond: 2_000_000 });
    assert.deepEqual(linkSpeedOf(speed(0.11)), { bytesPerSecond: 2_000_000, atLeast: 'the bwlimit held its uploads back 1% of their time' });
    assert.deepEqual(linkSpeedOf(speed(9.5)), { bytesPerSecond: 2_000_000, atLeast: 'the bwlimit held its uploads back 95% of their time' });
    assert.match(linkSpeedOf(speed())?.atLeast ?? '', /older vmftp, does not say whether a bwlimit held the uploads back/);
    assert.equal(linkSpeedOf({ bytes: 0, seconds: 0, measuredAt: STARTED.toISOString(), heldSeconds: 0 }), undefined);
  });

  test('a lower bound does not replace a faster earlier speed, and says why; it replaces a slower one; the link\'s speed always replaces', async (t: TestContext) => {
    const file = path.join(tmpDir('speeds', t), 'vmftp.speeds.json');
    const at = (seconds: number, heldSeconds?: number) => ({ bytes: 10_000_000, seconds, measuredAt: STARTED.toISOString(), ...(heldSeconds === undefined ? {} : { heldSeconds }) });
    const link = at(1, 0);
    await writeSpeedRecord(file, { nas: link, old: at(1) });
    const held = await writeSpeedRecord(file, { nas: at(10, 9), old: at(10, 9) });
    assert.deepEqual(await readSpeedRecord(file), { speeds: { nas: link, old: at(1) } }, 'both earlier records are faster');
    assert.match(held.nas ?? '', /^the bwlimit held its uploads back 90% of their time, so the link may be faster than it, and the speed kept from the run of .+ is faster$/);
    assert.deepEqual(Object.keys(held), ['nas', 'old']);
    assert.deepEqual(await writeSpeedRecord(file, { nas: at(0.5, 0.45) }), {}, 'a faster lower bound replaces');
    assert.deepEqual(await writeSpeedRecord(file, { nas: at(10, 0) }), {}, "the link's speed replaces");
    assert.deepEqual(await readSpeedRecord(file), { speeds: { nas: at(10, 0), old: at(1) } });
  });

  test('keeps nothing of a run a signal stopped, nor of a target whose uploads the deadline stopped', () => {
    const outcomes = [upload('nas', 50_000_000, '2026-11-28T03:00:10.000Z', 20_000), upload('offsite', 1_000_000, '2026-11-28T03:00:10.000Z', 20_000, 'upload', 'deferred')];
    assert.deepEqual(measuredSpeeds(outcomes, finished()).notKept, { offsite: 'the deadline stopped its uploads' });
    assert.deepEqual(Object.keys(measuredSpeeds(outcomes, finished()).speeds), ['nas']);
    assert.deepEqual(measuredSpeeds(outcomes, { ...finished(), interrupted: true }), {
      speeds: {},
      notKept: { nas: 'a signal stopped the run', offsite: 'a signal stopped the run' },
    });
  });

  test('no file is an empty record; what a run writes is read back; later runs keep the other targets', async (t: TestContext) => {
    const file = speedRecordFile(path.join(tmpDir('speeds', t), 'logs', 'vmftp.lock'));
    assert.deepEqual(await readSpeedRecord(file), { speeds: {} });
    const nas = { bytes: 1000, seconds: 2, measuredAt: STARTED.toISOString() };
    const offsite = { bytes: 10, seconds: 1, measuredAt: STARTED.toISOString() };
    await writeSpeedRecord(file, { nas });
    await writeSpeedRecord(file, { offsite });
    assert.deepEqual(await readSpeedRecord(file), { speeds: { nas, offsite } });
    const newer = { ...nas, bytes: 4000 };
    await writeSpeedRecord(file, { nas: newer });
    assert.deepEqual(await readSpeedRecord(file), { speeds: { nas: newer, offsite } });
    assert.deepEqual(readdirSync(path.dirname(file)), ['vmftp.speeds.json'], 'no draft left beside it');
  });

  test('a broken record is unreadable (said, with its path), and the next run writes it anew', async (t: TestContext) => {
    const file = path.join(tmpDir('speeds', t), 'vmftp.speeds.json');
    for (const text of ['{"version":1,"targets":{"nas":{"bytes":"many"', '{"version":2,"targets":{}}', 'null']) {
      writeFileSync(file, text);
      const record = await readSpeedRecord(file);
      assert.ok('unreadable' in record, text);
      assert.match(record.unreadable, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a speed record`));
    }
    const nas = { bytes: 1000, seconds: 2, measuredAt: STARTED.toISOString() };
    await writeSpeedRecord(file, { nas });
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { version: 1, targets: { nas } });
  });
});
