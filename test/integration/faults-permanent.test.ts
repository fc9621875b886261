/**
 * Fault class: permanent faults. A server that refuses the upload (452, 552), a delete (550) or the
 * rename (553), and a local file that changes while it is sent, fail their backup at once, without
 * a retry, with the server's reply in the report (a file written to in place also loses its copy
 * on the server, which no run may resume from); a local backup that cannot be read, or a VM folder
 * a target will not list, fails the run naming it, and the other VMs still go up. The built CLI against ftp-srv and pure-ftpd on
 * 127.0.0.1, with the fault proxy between them. After each: old backups intact, nothing incomplete
 * under a final name, the local folder not purged, and a follow-up run that ends with exactly the
 * tree retention expects.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { output } from '../support/cli.js';
import { parseReport } from '../support/report.js';
import { assertFollowUp, DISK, DISK_BYTES, expectedAfterRotation, FAST_RETRIES, NEW_BART, OLD_BART, OLD_STAMPS, setUpNight, stalledAt, STAMP, uploadsOf } from '../support/faults.js';
import { pseudoRandomBytes, readTree } from '../support/fixtures.js';
import { assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { serverWrites, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;

for (const kind of SERVER_KINDS) {
  describe(`permanent faults against ${kind.name}: the server refuses`, () => {
    for (const [code, text] of [
      [452, 'Insufficient storage space'],
      [552, 'Disk full'],
    ] as const) {
      test(`a ${code} on the upload is not retried: one STOR, exit 1, all 3 old backups kept (keep 3), nothing deleted or purged; the next run rotates`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const s = await setUpNight(t, kind, {
          rules: { replyToUpload: { match: DISK, code, text, afterBytes: 10_000 } },
          targetFields: FAST_RETRIES,
        });
        const before = snapshot(s.source, s.remoteRoot);

        const run = await s.vmftp('-x');
        assertSafeFailure(run, before, { code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*${code} ${text}`) });
        assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`], 'a permanent failure is not retried');
        assert.doesNotMatch(output(run), /retry \d of/);
        assert.deepEqual(
          remoteEntries(s.remoteRoot, 'Bart'),
          [...OLD_STAMPS, `${STAMP}.partial`],
          'the delete phase deletes nothing: the new backup is not on the server',
        );
        assert.ok(!serverWrites(s.proxy).some((line) => /^(RMD|DELE)/.test(line)), `nothing deleted: ${serverWrites(s.proxy).join(', ')}`);

        await assertFollowUp(s, () => expectedAfterRotation(s));
        assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
      });
    }

    test('a file refused for good stops its backup: a sibling failing after it is not retried; the next run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpNight(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'a.vmdk': 20_000, 'b.vmdk': 20_000 } },
        // a.vmdk is refused at once; the STOR of b.vmdk gets no reply, so it fails (a timeout, which is retried) well after.
        rules: { replyToCommand: { command: 'STOR', match: 'a.vmdk', code: 553, text: 'Permission denied' }, stallCommand: { command: 'STOR', match: 'b.vmdk' } },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 3 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp('-x');
      assertSafeFailure(run, before, { code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*553 Permission denied`) });
      assert.deepEqual(uploadsOf(s, 'b.vmdk'), [`STOR /backups/Bart/${STAMP}.partial/b.vmdk`]);
      assert.doesNotMatch(output(run), /retry \d of/, 'the backup had failed: no retry, no wait');
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    test('a 550 on a delete is not retried: exit 1, the old backup retired to .partial, never half-deleted under its name', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const oldest = OLD_STAMPS[0]!;
      const s = await setUpNight(t, kind, {
        rules: { replyToCommand: { command: 'DELE', match: 'vm.ovf', code: 550, text: 'Permission denied' } },
        targetFields: FAST_RETRIES,
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp('-x');
      assertSafeFailure(run, before, {
        code: 1,
        cause: new RegExp(`Bart/${oldest}[^\\n]*550 Permission denied`),
        deletedOnPurpose: [`Bart/${oldest}`],
      });
      assert.equal(s.proxy.log.filter((line) => line.startsWith('DELE')).length, 1, 'a permanent failure is not retried');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [`${oldest}.partial`, ...OLD_STAMPS.slice(1), STAMP]);
      assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    test('a delete refused halfway (550 on a sub-folder, after its file is gone) leaves no incomplete backup under its final name; the next run finishes it', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const oldest = `Bart/${OLD_STAMPS[0]}`;
      // The server refuses to remove the sub-folder, after its file is gone: the delete stops halfway.
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
        remote: { ...OLD_BART, [oldest]: { 'vm.ovf': '<oldest/>', 'disk/disk1.vmdk': 'oldest disk' } },
        keep: 3,
        rules: { replyToCommand: { command: 'RMD', match: /(^|\/)disk$/, code: 550, text: 'Permission denied' } },
      });
      const before = snapshot(source, remoteRoot);

      const refused = await vmftp('-x');
      assertSafeFailure(refused, before, {
        code: 1,
        cause: new RegExp(`${oldest}[^\\n]*550 Permission denied`),
        deletedOnPurpose: [oldest],
      });
      assert.ok(proxy.log.includes('DELE disk1.vmdk'), `the delete got halfway: ${proxy.log.join(' | ')}`);
      assert.ok(!remoteEntries(remoteRoot, 'Bart').includes(OLD_STAMPS[0]!), 'a half-deleted backup must not keep its final name');
      assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', STAMP)), readTree(path.join(source, 'Bart', STAMP)));

      proxy.setRules({});
      const next = await vmftp();
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
    });

    test('a 553 on the rename is not retried: exit 1, only the .partial, no final-named folder; the next run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpNight(t, kind, {
        rules: { replyToCommand: { command: 'RNTO', match: STAMP, code: 553, text: 'Rename refused' } },
        targetFields: FAST_RETRIES,
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp('-x');
      assertSafeFailure(run, before, { code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*553 Rename refused`) });
      assert.ok(s.proxy.log.includes(`RNTO /backups/Bart/${STAMP}`), 'the rename was tried');
      assert.equal(s.proxy.log.filter((line) => line.startsWith('RNTO')).length, 1, 'a permanent failure is not retried');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);

      await assertFollowUp(s, () => expectedAfterRotation(s));
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
    });
  });
}

describe('permanent faults: a local file that changes size while it is sent', () => {
  for (const { how, write } of [
    { how: 'grows (the job appends to it)', write: (file: string) => appendFileSync(file, Buffer.alloc(1000, 1)) },
    // Not an append: the first 100 000 bytes the server holds are no longer the file's.
    { how: 'is written again from its start, larger (a retried export)', write: (file: string) => writeFileSync(file, pseudoRandomBytes(DISK_BYTES + 1000, 'export retried')) },
  ]) {
    test(`ftp-srv: a local file that ${how} during its upload fails that backup, is not retried, is not renamed into place, loses its server copy; the next run sends it whole`, BOUNDED, async (t) => {
      const s = await setUpNight(t, FTP_SRV, {
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 2 },
      });
      const before = snapshot(s.source, s.remoteRoot);
      const localFile = path.join(s.source, 'Bart', STAMP, DISK);

      const running = s.start('-x');
      const partialCopy = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);
      await stalledAt(partialCopy, 100_000);
      // The backup job is still writing while vmftp waits for the stalled transfer.
      write(localFile);
      const run = await running.done;

      assertSafeFailure(run, { ...before, local: readTree(s.source) }, { code: 1, cause: /disk1\.vmdk is 401000 bytes, 400000 when the run started/ });
      assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`], 'a changed local file is not sent again');
      assert.ok(!s.proxy.log.some((line) => line.startsWith(`RNTO /backups/Bart/${STAMP}`)), 'no rename into place');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
      assert.ok(!existsSync(partialCopy), 'the server\'s copy is gone: a new size does not prove it a prefix of the file, so no run resumes from it');
      await assertFollowUp(s, () => expectedAfterRotation(s));
      assert.ok(readFileSync(path.join(s.remoteRoot, 'Bart', STAMP, DISK)).equals(readFileSync(localFile)), 'the file as the job left it');
    });
  }
});

describe('permanent faults: a local file written to in place while it is sent', () => {
  for (const { when, retries, cause } of [
    { when: 'seen by the retry', retries: FAST_RETRIES, cause: /disk1\.vmdk was written to after the run saw it \(its size stayed 400000 bytes\)/ },
    { when: 'hidden by a timeout with no retry left', retries: { retries: 0 }, cause: /disk1\.vmdk[^\n]*Timeout/ },
  ]) {
    test(`ftp-srv: a preallocated image the backup job fills during its upload (same size, ${when}) fails its backup, its server copy is removed, nothing renamed or purged; the next run sends it whole`, BOUNDED, async (t) => {
      const s = await setUpNight(t, FTP_SRV, {
        local: { [`Bart/${STAMP}`]: { [DISK]: Buffer.alloc(DISK_BYTES), 'vm.ovf': '<vm name="Bart"/>' } },
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        targetFields: { ...retries, timeoutSeconds: 2 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const running = s.start('-x');
      const partialCopy = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);
      await stalledAt(partialCopy, 100_000);
      // The job writes the image's content into the file it had created at its final size.
      const filled = pseudoRandomBytes(DISK_BYTES, 'filled');
      const image = openSync(path.join(s.source, 'Bart', STAMP, DISK), 'r+');
      writeSync(image, filled, 0, DISK_BYTES, 0);
      closeSync(image);
      const run = await running.done;

      assertSafeFailure(run, { ...before, local: readTree(s.source) }, { code: 1, cause });
      assert.ok(!s.proxy.log.some((line) => line.startsWith(`RNTO /backups/Bart/${STAMP}`)), 'no rename into place');
      assert.ok(!existsSync(partialCopy), 'the server\'s copy, stale zeros and all, is gone: no run resumes from it');
      await assertFollowUp(s, () => expectedAfterRotation(s));
      assert.ok(readFileSync(path.join(s.remoteRoot, 'Bart', STAMP, DISK)).equals(filled), 'the image as the job finished it');
    });
  }
});

describe('permanent faults: a local backup that cannot be read', () => {
  test('ftp-srv: a file of one VM\'s backup gone (a broken link) fails the run naming it; the other VM goes up; -x purges nothing', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { ...NEW_BART, [`Homer/${STAMP}`]: { 'vm.ovf': '<vm name="Homer"/>' } } });
    const homer = path.join(s.source, 'Homer', STAMP);
    symlinkSync(path.join(s.work, 'deleted-by-the-backup-job.vmdk'), path.join(homer, DISK));

    const run = await s.vmftp('-x');

    assert.equal(run.code, 1, output(run));
    assert.ok(run.stdout.includes(`problem: Homer: local folder ${homer} could not be read (ENOENT: `), run.stdout);
    assert.match(run.stdout, /\/disk1\.vmdk'\): none of it is sent or purged/);
    assert.match(run.stdout, /-x: not run: the run had failures/);
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)), 'the readable VM is on the server, complete');
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Homer'), [], 'nothing of the unreadable backup is on the server');
    assert.deepEqual(readdirSync(homer).sort(), [DISK, 'vm.ovf'], 'the unreadable backup stays as it was');
    assert.deepEqual(readdirSync(path.join(s.source, 'Bart')), [STAMP], 'nothing purged');
  });
});

describe('permanent faults: a VM folder the target will not list', () => {
  const PURE_FTPD = SERVER_KINDS.find((kind) => kind.name === 'pure-ftpd')!;
  const OLD_HOMER: Record<string, Record<string, string>> = Object.fromEntries(OLD_STAMPS.map((stamp) => [`Homer/${stamp}`, { 'vm.ovf': `<old Homer ${stamp}/>` }]));

  test('pure-ftpd, Homer\'s folder without permission (550 to LIST and CWD): exit 1 naming target and folder; Bart goes up and rotates; nothing of Homer changes, nothing purged', BOUNDED, async (t) => {
    if (!PURE_FTPD.usable(t)) return;
    const s = await setUpScenario(t, PURE_FTPD, {
      local: { ...NEW_BART, [`Homer/${STAMP}`]: { 'vm.ovf': '<vm name="Homer"/>' } },
      remote: { ...OLD_BART, ...OLD_HOMER },
      keep: 3,
    });
    const homerOnServer = path.join(s.remoteRoot, 'Homer');
    const homerBefore = readTree(homerOnServer);
    // pure-ftpd serves as nobody, so the mode holds for it; the test runs as root and removes the tree whatever its mode.
    chmodSync(homerOnServer, 0o000);

    const run = await s.vmftp('-x', '--json');

    assert.equal(run.code, 1, output(run));
    const report = parseReport(run.stdout);
    assert.deepEqual(report.problems?.map(({ vm, target }) => `${vm}@${target}`), ['Homer@nas'], run.stdout);
    assert.match(report.problems?.[0]?.message ?? '', /^nas: folder \/backups\/Homer could not be listed \(.+\): nothing of Homer is uploaded to or deleted on nas, .*check the permissions of \/backups\/Homer on nas$/);
    assert.match(run.stderr, /problem: Homer: nas: folder \/backups\/Homer could not be listed/);
    assert.equal(report.afterSuccess?.kind, 'not-run');
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP], 'Bart went up and was rotated');
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
    assert.deepEqual(report.targets.flatMap((target) => target.actions.filter((action) => action.vm === 'Homer')), [], 'no action on Homer');
    chmodSync(homerOnServer, 0o755);
    assert.deepEqual(readTree(homerOnServer), homerBefore, "Homer's old backups are untouched, nothing new there");
    assert.deepEqual(readdirSync(path.join(s.source, 'Homer')), [STAMP], 'nothing purged');
    assert.deepEqual(readdirSync(path.join(s.source, 'Bart')), [STAMP], 'nothing purged');
  });
});
