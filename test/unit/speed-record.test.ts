/**
 * The record of measured upload speeds next to the lock (src/run/speed-record.ts): what a run
 * keeps (only the link's speed: not one a bwlimit, a deadline or a signal cut short), what `-S`
 * reads back, and that a missing or broken record only means no estimate.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { TargetOutcome } from '../../src/run/outcome.js';
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
    assert.deepEqual(measuredSpeeds(outcomes, finished()), { speeds: { nas: { bytes: 50_000_000, seconds: 20, measuredAt: STARTED.toISOString() } }, notKept: {} });
  });

  test('keeps only the speed of the link: not what the bwlimit held back more than a tenth of the time', () => {
    const outcomes = [upload('nas', 50_000_000, '2026-11-28T03:00:10.000Z', 20_000), upload('offsite', 10_000_000, '2026-11-28T03:00:10.000Z', 20_000)];
    const measured = measuredSpeeds(outcomes, finished({ nas: 2000, offsite: 2001 }));
    assert.deepEqual(Object.keys(measured.speeds), ['nas'], 'held back a tenth of the time: kept');
    assert.deepEqual(measured.notKept, { offsite: 'the bwlimit held its uploads back 10% of their time, so it measured the limit, not the link' });
    assert.equal(measuredSpeeds(outcomes, finished({ offsite: 20_000 })).notKept.offsite, 'the bwlimit held its uploads back 100% of their time, so it measured the limit, not the link');
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
