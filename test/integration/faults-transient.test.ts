/**
 * Fault class: transient faults. A connection cut (at the first, a middle and the last byte), a
 * stalled data or control connection, a server restart and a 421 on an extra connection are retried
 * in the same run and resumed from the server's size (APPE); what the retries could not finish is
 * resumed by the next run. The built CLI against ftp-srv and pure-ftpd on 127.0.0.1, with the fault
 * proxy (test/support/fault-proxy.ts) between them. After each: old backups intact, nothing
 * incomplete under a final name, the local folder kept, and a follow-up run that ends with exactly
 * the tree retention expects, byte-identical to the local files.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { output } from '../support/cli.js';
import { assertFollowUp, assertRecovered, DISK, DISK_BYTES, expectedAfterRotation, FAST_RETRIES, OLD_BART, setUpNight, stalledAt, STAMP, uploadsOf } from '../support/faults.js';
import { readTree } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { requirePureFtpd, startPureFtpd, type PureFtpdHandle } from '../support/pure-ftpd.js';
import { parseReport } from '../support/report.js';
import { assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS, type ServerKind } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const PURE_FTPD = SERVER_KINDS.find((kind) => kind.name === 'pure-ftpd')!;

for (const kind of SERVER_KINDS) {
  describe(`transient faults against ${kind.name}: a connection cut`, () => {
    for (const [where, afterBytes] of [
      ['the first byte', 1],
      ['the middle', DISK_BYTES / 2],
      ['the last byte', DISK_BYTES - 1],
    ] as const) {
      test(`a connection cut after ${where} is retried and resumed with APPE; the run completes`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const s = await setUpNight(t, kind, {
          rules: { cutUpload: { match: DISK, afterBytes } },
          targetFields: FAST_RETRIES,
        });
        const before = snapshot(s.source, s.remoteRoot);

        const run = await s.vmftp();
        assertRecovered(run, s, before);
        assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`, `APPE /backups/Bart/${STAMP}.partial/${DISK}`]);
        assert.match(output(run), new RegExp(`upload of Bart/${STAMP}/${DISK} failed[^\\n]*retry 1 of 3`));
        await assertFollowUp(s, () => expectedAfterRotation(s));
      });
    }

    test('a connection cut mid-file with no retry left fails that backup only, purges nothing; the next run resumes it byte-identical', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const cutAt = 150_000;
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: {
          [`Bart/${STAMP}`]: { [DISK]: DISK_BYTES, 'vm.ovf': '<vm name="Bart"/>' },
          'Raoul/2012-07-13-154137': { 'disk.vmdk': 20_000 },
        },
        remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' }, 'Bart/2012-06-01-000000': { 'vm.ovf': '<older/>' } },
        rules: { cutUpload: { match: DISK, afterBytes: cutAt } },
        // No retry in this run: the next run's resume is what this test shows (the tests above: the same run).
        targetFields: { retries: 0 },
      });
      const before = snapshot(source, remoteRoot);

      const cut = await vmftp('-x');
      assertSafeFailure(cut, before, { code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*disk1\\.vmdk`) });
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), ['2012-06-01-000000', '2012-07-01-000000', `${STAMP}.partial`]);
      assert.match(cut.stdout + cut.stderr, /-x: not run/);
      // One cut costs the transfer it hit, not the rest of the run: Raoul went up over a new connection.
      assert.deepEqual(readTree(path.join(remoteRoot, 'Raoul', '2012-07-13-154137')), readTree(path.join(source, 'Raoul', '2012-07-13-154137')));

      // The server keeps what it received before the cut; let it finish writing before the next night's run.
      await stalledAt(path.join(remoteRoot, 'Bart', `${STAMP}.partial`, DISK), cutAt);

      proxy.setRules({});
      const logStart = proxy.log.length;
      const next = await vmftp('--json');
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(readTree(remoteRoot), { ...readTree(source), 'Bart/2012-06-01-000000/vm.ovf': Buffer.from('<older/>'), 'Bart/2012-07-01-000000/vm.ovf': Buffer.from('<old/>') });
      const resumed = proxy.log.slice(logStart).filter((line) => line.startsWith('APPE'));
      assert.deepEqual(resumed, [`APPE /backups/Bart/${STAMP}.partial/disk1.vmdk`], 'the cut file is resumed with APPE');
      const action = parseReport(next.stdout).targets[0]!.actions.find((candidate) => candidate.vm === 'Bart' && candidate.stamp === STAMP);
      assert.equal(action?.action, 'resume');
      // vm.ovf went up beside disk1.vmdk in the first run (files of a backup upload in parallel).
      assert.equal(action?.bytes, DISK_BYTES - cutAt, 'only the bytes after the cut are sent again');
    });
  });

  describe(`transient faults against ${kind.name}: a stall, a refused extra connection`, () => {
    test('a data connection that stalls times out (timeoutSeconds 1), is retried and resumed; the run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpNight(t, kind, {
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 1 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp();
      assertRecovered(run, s, before);
      assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`, `APPE /backups/Bart/${STAMP}.partial/${DISK}`]);
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    // The verify lists the .partial folder once (MLSD, or LIST on a server without it) instead of one SIZE per file.
    test('a control connection that stops answering (the verify listing, then RNTO, unanswered) times out, is retried over a new connection; the run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpNight(t, kind, {
        rules: { stallCommand: [{ command: 'MLSD', match: `${STAMP}.partial` }, { command: 'LIST', match: `${STAMP}.partial` }, { command: 'RNTO', match: STAMP }] },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 1 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp();
      assertRecovered(run, s, before);
      assert.equal(s.proxy.log.filter((line) => line === `RNTO /backups/Bart/${STAMP}`).length, 2, 'the unanswered rename is sent again');
      assert.match(output(run), /list [^\n]*\.partial failed \([^\n]*[Tt]imeout[^\n]*\); retry 1 of 3/);
      assert.match(output(run), /rename [^\n]*failed \([^\n]*[Tt]imeout[^\n]*\); retry 1 of 3/);
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    test('a 421 on the third connection (maxConnections 3) shrinks the pool to 2; the run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const files = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((name) => [`${name}.vmdk`, 50_000]));
      const s = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: files, 'Raoul/2012-07-13-154137': { 'r.vmdk': 50_000 } },
        remote: OLD_BART,
        keep: 3,
        rules: { refuseConnectionNumber: 3 },
        targetFields: { ...FAST_RETRIES, maxConnections: 3 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp();
      assertRecovered(run, s, before);
      assert.ok(s.proxy.connections >= 3, `a third connection was tried (${s.proxy.connections})`);
      assert.match(output(run), /nas: the server refused connection 3 [^\n]*using 2 from now on/);
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    // The executor asks the server's size of a file whose upload failed, for the report's bytes: a server that does
    // not answer must not hold the report for timeoutSeconds (60 here: the run would be killed at the scenario's 45 s).
    test('no answer to the SIZE after a failed upload: the report comes without it, counting only what the server confirmed', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpNight(t, kind, {
        rules: { replyToUpload: { match: DISK, afterBytes: 100_000, code: 451, text: 'Transfer aborted.' }, stallCommand: { command: 'SIZE', match: DISK } },
        targetFields: { retries: 0, timeoutSeconds: 60 },
      });

      const run = await s.vmftp('--json');
      assert.equal(run.code, 1, output(run));
      const upload = parseReport(run.stdout).targets[0]?.actions.find((action) => action.action === 'upload');
      assert.equal(upload?.status, 'failed', output(run));
      assert.equal(upload?.bytes, readTree(s.source)[`Bart/${STAMP}/vm.ovf`]?.length, 'vm.ovf whole, nothing of the unanswered disk1.vmdk');
      assert.match(output(run), /disk1\.vmdk: how much of it the server holds is unknown \(no answer within 5\.0 s\)/);
      assert.equal(statSync(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK)).size, 100_000);
    });

    // curl 7.88 does not end on a 421 greeting: it waits for a 220 and fails with exit 28 (timeout),
    // a transient failure like any other, so only ncftpput's refusal can tell the pool to shrink.
    for (const method of ['ncftpput'] as const) {
      test(`a 421 to ${method}'s own connection (the third, maxConnections 3) shrinks the pool to 2; the run completes`, BOUNDED, async (t) => {
        if (!kind.usable(t) || !requireMethod(t, method)) return;
        const files = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((name) => [`${name}.vmdk`, 50_000]));
        const s = await setUpScenario(t, kind, {
          local: { [`Bart/${STAMP}`]: files },
          remote: OLD_BART,
          keep: 3,
          rules: { refuseConnectionNumber: 3 },
          // No retries: only the pool's own handling of the refusal can carry the run.
          targetFields: { retries: 0, maxConnections: 3 },
        });
        const before = snapshot(s.source, s.remoteRoot);

        const run = await s.vmftp('-u', method);
        assertRecovered(run, s, before);
        assert.match(output(run), /nas: the server refused connection 3 [^\n]*using 2 from now on/);
        await assertFollowUp(s, () => expectedAfterRotation(s));
      });
    }
  });
}

describe('transient faults: the server stopped and started again during a run', () => {
  test('pure-ftpd: restarted while an upload is stalled; the run reconnects, resumes with APPE and completes', BOUNDED, async (t) => {
    if (!requirePureFtpd(t)) return;
    let server: PureFtpdHandle | undefined;
    const restartable: ServerKind = { ...PURE_FTPD, start: async (options) => (server = await startPureFtpd(options)) };
    const s = await setUpNight(t, restartable, {
      rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
      // Room for the restart: retries after 1 s and 2 s more.
      targetFields: { retries: 3, retryDelaySeconds: 1 },
    });
    const before = snapshot(s.source, s.remoteRoot);

    const running = s.start();
    await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK), 100_000);
    const logAtRestart = s.proxy.log.length;
    await server!.restart();
    const run = await running.done;

    assertRecovered(run, s, before);
    assert.ok(
      s.proxy.log.slice(logAtRestart).includes(`APPE /backups/Bart/${STAMP}.partial/${DISK}`),
      `resumed after the restart: ${s.proxy.log.slice(logAtRestart).join(' | ')}`,
    );
    await assertFollowUp(s, () => expectedAfterRotation(s));
  });
});

describe('connections per target', () => {
  for (const maxConnections of [1, 3]) {
    test(`ftp-srv: maxConnections ${maxConnections}: inventory, uploads of two backups, verify, rename and delete use ${maxConnections} connection(s) in all`, BOUNDED, async (t) => {
      const files = Object.fromEntries(['a', 'b', 'c', 'd'].map((name) => [`${name}.vmdk`, 30_000]));
      const s = await setUpScenario(t, FTP_SRV, {
        local: { [`Bart/${STAMP}`]: files, 'Raoul/2012-07-13-154137': files },
        remote: OLD_BART,
        keep: 3,
        targetFields: { maxConnections },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp();
      assertRecovered(run, s, before);
      // Sessions are kept and reused: with nothing failing, the pool opens exactly its cap.
      assert.equal(s.proxy.connections, maxConnections);
    });
  }
});

/** 4 GiB: offsets past it do not fit in 32 bits. */
const FOUR_GIB = 2 ** 32;

describe('transient faults: files over 4 GiB (sparse on both sides: cheap on disk and time)', () => {
  test('pure-ftpd: a .partial holding 4 GiB is resumed past 2^32 with APPE, cut, resumed again from SIZE, verified and renamed', BOUNDED, async (t) => {
    if (!requirePureFtpd(t)) return;
    const tail = Buffer.from('the end of a disk bigger than 4 GiB\n'.repeat(30));
    const s = await setUpScenario(t, PURE_FTPD, {
      keep: 3,
      rules: { cutUpload: { match: DISK, afterBytes: 100 } },
      targetFields: FAST_RETRIES,
    });
    // A sparse local disk: 4 GiB of zeros, then `tail`.
    const localDir = path.join(s.source, 'Bart', STAMP);
    mkdirSync(localDir, { recursive: true });
    const localDisk = path.join(localDir, DISK);
    writeAt(localDisk, FOUR_GIB, tail);
    // The server already holds the first 4 GiB (sparse too): only `tail` is left to send.
    const partialDir = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`);
    mkdirSync(partialDir, { recursive: true });
    closeSync(openSync(path.join(partialDir, DISK), 'w'));
    truncateSync(path.join(partialDir, DISK), FOUR_GIB);

    const run = await s.vmftp('--json');
    assert.equal(run.code, 0, output(run));
    // Both from offsets past 2^32: the plan's (from the listing), then the retry's (from SIZE after the cut).
    assert.deepEqual(uploadsOf(s, DISK), [`APPE /backups/Bart/${STAMP}.partial/${DISK}`, `APPE /backups/Bart/${STAMP}.partial/${DISK}`]);
    const action = parseReport(run.stdout).targets[0]!.actions.find((candidate) => candidate.stamp === STAMP);
    assert.equal(action?.action, 'resume');
    assert.equal(action?.bytes, tail.length);
    const remoteDisk = path.join(s.remoteRoot, 'Bart', STAMP, DISK);
    assert.equal(statSync(remoteDisk).size, FOUR_GIB + tail.length);
    assert.deepEqual(readAt(remoteDisk, FOUR_GIB - 16, tail.length + 16), Buffer.concat([Buffer.alloc(16), tail]));
  });
});

/** Writes `data` at `offset` of a new (sparse) file. */
function writeAt(file: string, offset: number, data: Buffer): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Returns `length` bytes of `file` from `offset`. */
function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, offset);
    return buffer;
  } finally {
    closeSync(fd);
  }
}
