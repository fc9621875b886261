/**
 * The progress display: plain lines (cron, Task Scheduler, pipes) at 10 % steps
 * and heartbeats, never more often than every 10 s; bars on a terminal.
 * Driven with a fake clock and fake streams: no timing in the assertions.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import type { Plan } from '../../src/core/model.js';
import { createProgress, noProgress, type Progress } from '../../src/report/progress.js';
import { planOf, targetPlan, uploadAction, vmPlan } from '../support/plan.js';
import { waitFor } from '../support/wait.js';

/** A plan with one upload of `bytes` bytes on target nas. */
function oneUpload(bytes: number): Plan {
  return planOf([targetPlan('nas', { vms: [vmPlan('Bart', [uploadAction('Bart', '2026-11-23-020000', bytes)])] })]);
}

/** A stream that keeps what is written; `tty` makes it look like a terminal. */
function sink(tty: boolean): Writable & { text: () => string; isTTY?: boolean; columns?: number } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  }) as Writable & { text: () => string; isTTY?: boolean; columns?: number };
  stream.text = () => chunks.join('');
  if (tty) {
    stream.isTTY = true;
    stream.columns = 120;
  }
  return stream;
}

/** A display on a fake clock (`clock.ms`), writing to a sink, started on a plan of one upload of `bytes` bytes. */
async function startedDisplay(tty: boolean, bytes: number): Promise<{ clock: { ms: number }; stream: ReturnType<typeof sink>; progress: Progress }> {
  const clock = { ms: 0 };
  const stream = sink(tty);
  const progress = await createProgress({ stream, now: () => clock.ms });
  progress.start(oneUpload(bytes));
  return { clock, stream, progress };
}

describe('progress without a terminal', () => {
  test('a line per further 10 % at most every 10 s, and a heartbeat after 60 s without one', async () => {
    const { clock, stream, progress } = await startedDisplay(false, 1000);
    const file = progress.file('nas', 'Bart/2026-11-23-020000/disk1.vmdk', 1000);
    const at = (seconds: number, bytes: number) => {
      clock.ms = seconds * 1000;
      file.onBytes(bytes);
    };
    at(1, 100); // within the first 10 s: nothing
    at(11, 200); // 20 %: a line
    at(12, 300); // 30 %, but 1 s after the last line: nothing
    at(25, 310); // still 30 %, 14 s later: a line for the step missed
    at(40, 320); // no new step, 15 s: nothing
    at(90, 330); // no new step, 65 s: heartbeat
    file.end();
    progress.stop();
    const lines = stream.text().trimEnd().split('\n');
    assert.deepEqual(lines, [
      'progress: 20% — 200 B of 1000 B, 0.0 MB/s, ETA 44.0 s (nas: Bart/2026-11-23-020000/disk1.vmdk)',
      'progress: 31% — 310 B of 1000 B, 0.0 MB/s, ETA 55.6 s (nas: Bart/2026-11-23-020000/disk1.vmdk)',
      'progress: 33% — 330 B of 1000 B, 0.0 MB/s, ETA 3m03s (nas: Bart/2026-11-23-020000/disk1.vmdk)',
    ]);
  });

  test('with files side by side, the line names the file whose bytes moved, not the one started last', async () => {
    const { clock, stream, progress } = await startedDisplay(false, 1000);
    const disk = progress.file('nas', 'Bart/x/disk1.vmdk', 900);
    const ovf = progress.file('nas', 'Bart/x/vm.ovf', 100);
    clock.ms = 1000;
    ovf.onBytes(100);
    ovf.end();
    clock.ms = 11_000;
    disk.onBytes(300);
    disk.end();
    progress.stop();
    assert.equal(stream.text(), 'progress: 40% — 400 B of 1000 B, 0.0 MB/s, ETA 16.5 s (nas: Bart/x/disk1.vmdk)\n');
  });

  test('a run that ends within 10 s prints no progress line; log lines pass through', async () => {
    const { clock, stream, progress } = await startedDisplay(false, 1000);
    const file = progress.file('nas', 'Bart/x/disk1.vmdk', 1000);
    for (let bytes = 100; bytes <= 1000; bytes += 100) {
      clock.ms += 500;
      file.onBytes(bytes);
    }
    file.end();
    progress.log('nas: Bart/x uploaded and verified\n');
    progress.stop();
    assert.equal(stream.text(), 'nas: Bart/x uploaded and verified\n');
  });

  test('noProgress shows nothing and only forwards log lines', () => {
    const lines: string[] = [];
    const progress = noProgress((line) => lines.push(line));
    progress.start(oneUpload(10));
    const file = progress.file('nas', 'a', 10);
    file.onBytes(10);
    file.end();
    progress.log('hello\n');
    progress.stop();
    assert.deepEqual(lines, ['hello\n']);
  });
});

describe('progress on a terminal', () => {
  test('draws a bar for the file and one for the run with bytes, speed and ETA; log lines go above them', { timeout: 20_000 }, async () => {
    const { clock, stream, progress } = await startedDisplay(true, 4_000_000);
    const file = progress.file('nas', 'Bart/2026-11-23-020000/disk1.vmdk', 4_000_000);
    clock.ms = 1000;
    file.onBytes(2_000_000);
    // cli-progress redraws on its own timer: wait (bounded) until it has drawn the half-way state.
    await waitFor(() => stream.text().includes('disk1.vmdk'), 'the file bar to be drawn');
    progress.log('nas: something worth saying\n');
    clock.ms = 2000;
    file.onBytes(4_000_000);
    file.end();
    progress.log('nas: Bart/2026-11-23-020000 uploaded and verified\n');
    progress.stop();
    progress.stop();
    progress.log('after the bars\n');
    const text = stream.text();
    assert.match(text, /nas: Bart\/2026-11-23-020000\/disk1\.vmdk .*50% \| 1\.9 MiB\/3\.8 MiB \| 2\.0 MB\/s \| ETA 1\.0 s/);
    assert.match(text, /total .*100% \| 3\.8 MiB\/3\.8 MiB \| 2\.0 MB\/s \| ETA 0 ms/);
    assert.match(text, /nas: something worth saying\n/);
    assert.match(text, /nas: Bart\/2026-11-23-020000 uploaded and verified\n/, 'a line logged just before the end is not lost');
    assert.ok(text.endsWith('after the bars\n'));
    assert.match(text, /\x1b\[/, 'a terminal gets cursor movement');
  });
});
