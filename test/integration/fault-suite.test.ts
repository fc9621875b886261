/**
 * Issue 4's fault-injection suite: the built CLI against ftp-srv and pure-ftpd on 127.0.0.1, with
 * the fault proxy between them. Transient faults (a cut at the first, a middle and the last byte,
 * a server restart, a 421 on an extra connection, a stalled data connection) are retried in the
 * same run and resumed from the server's size (APPE); permanent ones (452, 552, 550 on delete,
 * 553 on rename) fail their backup at once, without a retry. After each: old backups intact,
 * nothing incomplete under a final name, local not purged after a failure, and a follow-up run
 * that ends with exactly the tree retention expects, byte-identical to the local files.
 */
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { childProcesses, isRunning, runVmftp, writeConfig, type CliResult } from '../support/cli.js';
import { makeBackupTree, readTree, tmpDir, type TreeSpec } from '../support/fixtures.js';
import { randomPassword } from '../support/ftp-srv.js';
import { startPingServer } from '../support/http.js';
import { findProgram } from '../../src/backends/programs.js';
import { requireOrSkip, requirePureFtpd, startPureFtpd, type PureFtpdHandle } from '../support/pure-ftpd.js';
import { assertNoIncompleteFinal, assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { setUpScenario, type Scenario } from '../support/scenario.js';
import { SERVER_KINDS, type ServerKind } from '../support/servers.js';
import { startSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const BOUNDED = { timeout: 60_000 };
const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const STAMP = '2012-08-18-154137';
const DISK = 'disk1.vmdk';
const DISK_BYTES = 400_000;
const OLD_STAMPS = ['2012-05-01-000000', '2012-06-01-000000', '2012-07-01-000000'];
/** Three old complete Bart backups, as earlier runs left them. */
const OLD_BART: TreeSpec = Object.fromEntries(OLD_STAMPS.map((stamp) => [`Bart/${stamp}`, { 'vm.ovf': `<old ${stamp}/>` }]));
const NEW_BART: TreeSpec = { [`Bart/${STAMP}`]: { [DISK]: DISK_BYTES, 'vm.ovf': '<vm name="Bart"/>' } };
/** Retries a test can wait for: 50 ms, then 100, 200. */
const FAST_RETRIES = { retries: 3, retryDelaySeconds: 0.05 };

function output(run: CliResult): string {
  return `${run.stdout}\n${run.stderr}`;
}

/** The upload commands (STOR/APPE) the proxy saw for one file name. */
function uploadsOf(s: Scenario, name: string): string[] {
  return s.proxy.log.filter((line) => /^(STOR|APPE) /.test(line) && line.endsWith(`/${name}`));
}

/** Returns the remote tree retention expects with keep 3: the two newest old Bart backups and every local backup. */
function expectedAfterRotation(s: Scenario): Record<string, Buffer> {
  const kept = Object.fromEntries(
    OLD_STAMPS.slice(1).map((stamp) => [`Bart/${stamp}/vm.ovf`, Buffer.from(`<old ${stamp}/>`)]),
  );
  return { ...kept, ...readTree(s.source) };
}

/** A clean follow-up run exits 0 and leaves exactly `expected` on the server. */
async function assertFollowUp(s: Scenario, expected: () => Record<string, Buffer>): Promise<void> {
  s.proxy.setRules({});
  const next = await s.vmftp();
  assert.equal(next.code, 0, output(next));
  assert.deepEqual(readTree(s.remoteRoot), expected(), 'the follow-up run leaves exactly the tree retention expects');
}

/** The run recovered by itself: exit 0, old kept backups intact, the new backup byte-identical under its final name. */
function assertRecovered(run: CliResult, s: Scenario, before: ReturnType<typeof snapshot>): void {
  assert.equal(run.code, 0, output(run));
  assertNoIncompleteFinal(s.remoteRoot, s.source, before.remote);
  assert.deepEqual(readTree(s.remoteRoot), expectedAfterRotation(s));
  assert.deepEqual(readTree(s.source), before.local, 'no -x: the local backups stay');
}

for (const kind of SERVER_KINDS) {
  describe(`fault suite against ${kind.name}: transient faults are retried in the same run`, () => {
    for (const [where, afterBytes] of [
      ['the first byte', 1],
      ['the middle', DISK_BYTES / 2],
      ['the last byte', DISK_BYTES - 1],
    ] as const) {
      test(`a connection cut after ${where} is retried and resumed with APPE; the run completes`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const s = await setUpScenario(t, kind, {
          local: NEW_BART,
          remote: OLD_BART,
          keep: 3,
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

    test('a data connection that stalls times out (timeoutSeconds 1), is retried and resumed; the run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, {
        local: NEW_BART,
        remote: OLD_BART,
        keep: 3,
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 1 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp();
      assertRecovered(run, s, before);
      assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`, `APPE /backups/Bart/${STAMP}.partial/${DISK}`]);
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

    // curl 7.88 does not end on a 421 greeting: it waits for a 220 and fails with exit 28 (timeout),
    // a transient failure like any other, so only ncftpput's refusal can tell the pool to shrink.
    for (const method of ['ncftpput'] as const) {
      test(`a 421 to ${method}'s own connection (the third, maxConnections 3) shrinks the pool to 2; the run completes`, BOUNDED, async (t) => {
        if (!kind.usable(t) || !requireOrSkip(t, findProgram(method) !== undefined, `${method} on PATH`)) return;
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

  describe(`fault suite against ${kind.name}: permanent faults fail their backup at once`, () => {
    for (const [code, text] of [
      [452, 'Insufficient storage space'],
      [552, 'Disk full'],
    ] as const) {
      test(`a ${code} on the upload is not retried: one STOR, exit 1, old backups intact, nothing purged`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const s = await setUpScenario(t, kind, {
          local: NEW_BART,
          remote: OLD_BART,
          keep: 3,
          rules: { replyToUpload: { match: DISK, code, text, afterBytes: 10_000 } },
          targetFields: FAST_RETRIES,
        });
        const before = snapshot(s.source, s.remoteRoot);

        const run = await s.vmftp('-x');
        assertSafeFailure(run, before, { source: s.source, remoteRoot: s.remoteRoot, code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*${code} ${text}`) });
        assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`], 'a permanent failure is not retried');
        assert.doesNotMatch(output(run), /retry \d of/);
        assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
        await assertFollowUp(s, () => expectedAfterRotation(s));
      });
    }

    test('a file refused for good stops its backup: a sibling failing after it is not retried; the next run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'a.vmdk': 20_000, 'b.vmdk': 20_000 } },
        remote: OLD_BART,
        keep: 3,
        // a.vmdk is refused at once; the STOR of b.vmdk gets no reply, so it fails (a timeout, which is retried) well after.
        rules: { replyToCommand: { command: 'STOR', match: 'a.vmdk', code: 553, text: 'Permission denied' }, stallCommand: { command: 'STOR', match: 'b.vmdk' } },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 3 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp('-x');
      assertSafeFailure(run, before, { source: s.source, remoteRoot: s.remoteRoot, code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*553 Permission denied`) });
      assert.deepEqual(uploadsOf(s, 'b.vmdk'), [`STOR /backups/Bart/${STAMP}.partial/b.vmdk`]);
      assert.doesNotMatch(output(run), /retry \d of/, 'the backup had failed: no retry, no wait');
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    test('a 550 on a delete is not retried: exit 1, the old backup retired to .partial, never half-deleted under its name', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const oldest = OLD_STAMPS[0]!;
      const s = await setUpScenario(t, kind, {
        local: NEW_BART,
        remote: OLD_BART,
        keep: 3,
        rules: { replyToCommand: { command: 'DELE', match: 'vm.ovf', code: 550, text: 'Permission denied' } },
        targetFields: FAST_RETRIES,
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp('-x');
      assertSafeFailure(run, before, {
        source: s.source,
        remoteRoot: s.remoteRoot,
        code: 1,
        cause: new RegExp(`Bart/${oldest}[^\\n]*550 Permission denied`),
        deletedOnPurpose: [`Bart/${oldest}`],
      });
      assert.equal(s.proxy.log.filter((line) => line.startsWith('DELE')).length, 1, 'a permanent failure is not retried');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [`${oldest}.partial`, ...OLD_STAMPS.slice(1), STAMP]);
      assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });

    test('a 553 on the rename is not retried: exit 1, only the .partial; the next run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, {
        local: NEW_BART,
        remote: OLD_BART,
        keep: 3,
        rules: { replyToCommand: { command: 'RNTO', match: STAMP, code: 553, text: 'Rename refused' } },
        targetFields: FAST_RETRIES,
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp('-x');
      assertSafeFailure(run, before, { source: s.source, remoteRoot: s.remoteRoot, code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*553 Rename refused`) });
      assert.equal(s.proxy.log.filter((line) => line.startsWith('RNTO')).length, 1, 'a permanent failure is not retried');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });
  });
}

describe('fault suite: local files that change, signals', () => {
  test('ftp-srv: a local file that grows during its upload fails that backup, is not retried, is not renamed into place', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: NEW_BART,
      remote: OLD_BART,
      keep: 3,
      rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
      targetFields: { ...FAST_RETRIES, timeoutSeconds: 2 },
    });
    const before = snapshot(s.source, s.remoteRoot);
    const partialDisk = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);

    const running = s.start('-x');
    await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === 100_000, 'the upload to stall at 100000 bytes', 15_000);
    // The backup job is still writing: the file grows while vmftp waits for the stalled transfer.
    appendFileSync(path.join(s.source, 'Bart', STAMP, DISK), Buffer.alloc(1000, 1));
    const run = await running.done;

    const grown = { ...before, local: readTree(s.source) };
    assertSafeFailure(run, grown, { source: s.source, remoteRoot: s.remoteRoot, code: 1, cause: /disk1\.vmdk is 401000 bytes, 400000 when the run started/ });
    assert.deepEqual(uploadsOf(s, DISK), [`STOR /backups/Bart/${STAMP}.partial/${DISK}`], 'a changed local file is not sent again');
    assert.ok(!s.proxy.log.some((line) => line.startsWith(`RNTO /backups/Bart/${STAMP}`)), 'no rename into place');
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
    await assertFollowUp(s, () => expectedAfterRotation(s));
  });

  test('ftp-srv: SIGINT during a stalled upload exits 130, frees the lock, keeps the .partial; the next run completes', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: NEW_BART,
      remote: OLD_BART,
      keep: 3,
      rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
      targetFields: FAST_RETRIES,
    });
    const before = snapshot(s.source, s.remoteRoot);
    const partialDisk = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);

    const running = s.start('-x');
    await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === 100_000, 'the upload to stall at 100000 bytes', 15_000);
    running.kill('SIGINT');
    const run = await running.done;

    assertSafeFailure(run, before, { source: s.source, remoteRoot: s.remoteRoot, code: 130, cause: /interrupted by SIGINT/ });
    // The run stops its transfers and still ends with its report: the summary says "interrupted", nothing was deleted.
    assert.match(output(run), /FAILED \(exit code 130/);
    assert.ok(!s.proxy.log.some((line) => /^(RNFR|RMD|DELE)/.test(line)), `nothing deleted: ${s.proxy.log.join(' | ')}`);
    assert.ok(!existsSync(s.lockFile), 'the lock goes with the interrupted run');
    assert.ok(remoteEntries(s.remoteRoot, 'Bart').includes(`${STAMP}.partial`), 'the .partial stays for the next run');
    assert.ok(!remoteEntries(s.remoteRoot, 'Bart').includes(STAMP));
    await assertFollowUp(s, () => expectedAfterRotation(s));
  });
});

describe('fault suite: the figures of a stopped run', () => {
  test('ftp-srv: SIGTERM mid-upload: the report counts the bytes that went out, and the totals\' time is the run\'s', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: NEW_BART,
      rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
    });
    const partialDisk = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);
    const running = s.start('--json');
    t.after(() => running.kill('SIGKILL'));
    await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === 100_000, 'the upload to stall at 100000 bytes', 15_000);
    running.kill('SIGTERM');
    const run = await running.done;
    assert.equal(run.code, 130, output(run));

    const { report, totals } = JSON.parse(run.stdout) as {
      report: { durationMs: number; targets: { actions: { stamp: string; action: string; status: string; bytes: number; startedAt?: string }[] }[] };
      totals: { durationMs: number; bytes: number };
    };
    const stopped = report.targets[0]!.actions.find((action) => action.stamp === STAMP)!;
    assert.equal(stopped.status, 'failed');
    // What went out: vm.ovf whole and disk1.vmdk up to the stall (the server holds 100000; the socket may hold a little more).
    const ovf = '<vm name="Bart"/>'.length;
    assert.ok(stopped.bytes >= 100_000 + ovf && stopped.bytes < DISK_BYTES + ovf, `bytes of the stopped upload: ${stopped.bytes}`);
    assert.equal(totals.bytes, stopped.bytes);
    assert.ok(stopped.startedAt !== undefined && !Number.isNaN(Date.parse(stopped.startedAt)), 'the action says when it began: the wall times come from it');
    assert.equal(totals.durationMs, report.durationMs, 'report.durationMs and totals.durationMs agree');
  });
});

describe('fault suite: a signal while curl or ncftpput uploads', () => {
  const SMTP_USER = 'vmftp-mailer';
  for (const [method, signal] of [
    ['curl', 'SIGTERM'],
    ['curl', 'SIGHUP'],
    ['ncftpput', 'SIGINT'],
    ['ncftpput', 'SIGTERM'],
  ] as const) {
    test(`-u ${method}: ${signal} to vmftp alone ends ${method} at once, keeps the .partial, reports (summary, log, fail ping, e-mail), exits 130`, BOUNDED, async (t) => {
      if (!requireOrSkip(t, findProgram(method) !== undefined, `${method} on PATH`)) return;
      const monitor = await startPingServer();
      t.after(() => monitor.stop());
      const smtpPassword = randomPassword();
      const smtp = await startSmtpServer({ user: SMTP_USER, password: smtpPassword });
      t.after(() => smtp.stop());
      const s = await setUpScenario(t, FTP_SRV, {
        local: NEW_BART,
        remote: OLD_BART,
        keep: 3,
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        // The stalled program would wait this long by itself: only the signal can end it within the test.
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 40 },
        config: {
          log: { file: 'logs/vmftp.log' },
          notify: { url: `${monitor.url}/ping/night` },
          mail: { from: 'vmftp@backup.lan', to: 'ops@backup.lan', smtp: { host: smtp.host, port: smtp.port, user: SMTP_USER, password: { env: 'VMFTP_TEST_SMTP_PASSWORD' } } },
        },
      });
      s.env.VMFTP_TEST_SMTP_PASSWORD = smtpPassword;
      const before = snapshot(s.source, s.remoteRoot);
      const partialDisk = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);

      const running = s.start('-u', method, '-m', '-x');
      t.after(() => running.kill('SIGKILL'));
      await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === 100_000, 'the upload to stall at 100000 bytes', 15_000);
      const uploaders = childProcesses(running.pid).filter((child) => child.command === method);
      assert.ok(uploaders.length > 0, `${method} is uploading: ${JSON.stringify(childProcesses(running.pid))}`);
      const signalledAt = Date.now();
      process.kill(running.pid, signal);
      const run = await running.done;
      const tookMs = Date.now() - signalledAt;

      assertSafeFailure(run, before, { source: s.source, remoteRoot: s.remoteRoot, code: 130, cause: new RegExp(`interrupted by ${signal}`) });
      assert.ok(tookMs < 10_000, `vmftp ended ${tookMs} ms after ${signal}: within its 10 s`);
      for (const uploader of uploaders) assert.ok(!isRunning(uploader.pid), `${method} (pid ${uploader.pid}) was left running`);
      assert.ok(remoteEntries(s.remoteRoot, 'Bart').includes(`${STAMP}.partial`), 'the .partial stays for the next run');
      assert.ok(!s.proxy.log.some((line) => /^(RNFR|RMD|DELE)/.test(line)), `nothing deleted: ${s.proxy.log.join(' | ')}`);
      assert.ok(!existsSync(s.lockFile), 'the lock goes with the interrupted run');
      // The summary: the stopped backup and why, on stdout, in the log file, the ping and the e-mail.
      const stopped = new RegExp(`Bart/${STAMP} upload failed: interrupted by ${signal}`);
      assert.match(run.stdout, /FAILED \(exit code 130/);
      assert.match(run.stdout, stopped);
      const log = readFileSync(path.join(s.work, 'logs', 'vmftp.log'), 'utf8');
      assert.match(log, /FAILED \(exit code 130: interrupted\)/);
      assert.match(log, stopped);
      assert.deepEqual(monitor.pings.map((ping) => ping.path), ['/ping/night/start', '/ping/night/fail']);
      assert.match(monitor.pings[1]!.body, stopped);
      assert.equal(smtp.messages.length, 1, 'one e-mail');
      assert.match(smtp.messages[0]!.parsed.subject ?? '', /^vmftp: FAILED — /);
      assert.match(smtp.messages[0]!.parsed.text ?? '', stopped);

      await assertFollowUp(s, () => expectedAfterRotation(s));
    });
  }
});

describe('fault suite: the server stopped and started again during a run', () => {
  test('pure-ftpd: restarted while an upload is stalled; the run reconnects, resumes with APPE and completes', BOUNDED, async (t) => {
    if (!requirePureFtpd(t)) return;
    let server: PureFtpdHandle | undefined;
    const restartable: ServerKind = {
      name: 'pure-ftpd',
      usable: requirePureFtpd,
      start: async (options) => (server = await startPureFtpd(options)),
    };
    const s = await setUpScenario(t, restartable, {
      local: NEW_BART,
      remote: OLD_BART,
      keep: 3,
      rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
      // Room for the restart: retries after 1 s and 2 s more.
      targetFields: { retries: 3, retryDelaySeconds: 1 },
    });
    const before = snapshot(s.source, s.remoteRoot);
    const partialDisk = path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK);

    const running = s.start();
    await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === 100_000, 'the upload to stall at 100000 bytes', 15_000);
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

describe('fault suite: connections per target', () => {
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

describe('fault suite: timeouts', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: a control connection that stops answering (SIZE, then RNTO, unanswered) times out, is retried over a new connection; the run completes`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, {
        local: NEW_BART,
        remote: OLD_BART,
        keep: 3,
        rules: { stallCommand: [{ command: 'SIZE', match: DISK }, { command: 'RNTO', match: STAMP }] },
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 1 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const run = await s.vmftp();
      assertRecovered(run, s, before);
      assert.equal(s.proxy.log.filter((line) => line === `RNTO /backups/Bart/${STAMP}`).length, 2, 'the unanswered rename is sent again');
      assert.match(output(run), /rename [^\n]*failed \([^\n]*[Tt]imeout[^\n]*\); retry 1 of 3/);
      await assertFollowUp(s, () => expectedAfterRotation(s));
    });
  }

  test('a server that accepts but never greets: the login times out (timeoutSeconds 1), exit 4 naming host:port, nothing touched', BOUNDED, async (t) => {
    const silent = net.createServer((socket) => socket.on('error', () => undefined));
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const port = (silent.address() as net.AddressInfo).port;
    const work = tmpDir('fault-suite-silent', t);
    const source = path.join(work, 'source');
    makeBackupTree(source, NEW_BART);
    const { configPath, env } = await writeConfig(work, {
      source,
      targets: { nas: { host: '127.0.0.1', port, user: 'backup', password: 'unused-password', timeoutSeconds: 1 } },
    });
    const before = readTree(source);

    const run = await runVmftp(['-c', configPath, '-x'], { env, timeoutMs: 30_000 });
    assert.equal(run.code, 4, output(run));
    assert.match(run.stderr, new RegExp(`nas \\(127\\.0\\.0\\.1:${port}\\)[^\\n]*[Tt]imeout`));
    assert.deepEqual(readTree(source), before, 'the local backups must not be touched');
  });
});

/** 4 GiB: offsets past it do not fit in 32 bits. */
const FOUR_GIB = 2 ** 32;

describe('fault suite: files over 4 GiB (sparse on both sides: cheap on disk and time)', () => {
  test('pure-ftpd: a .partial holding 4 GiB is resumed past 2^32 with APPE, cut, resumed again from SIZE, verified and renamed', BOUNDED, async (t) => {
    if (!requirePureFtpd(t)) return;
    const tail = Buffer.from('the end of a disk bigger than 4 GiB\n'.repeat(30));
    const s = await setUpScenario(t, { name: 'pure-ftpd', usable: requirePureFtpd, start: startPureFtpd }, {
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
    const action = (JSON.parse(run.stdout) as { report: { targets: { actions: { stamp: string; action: string; bytes: number }[] }[] } }).report.targets[0]!.actions.find((candidate) => candidate.stamp === STAMP);
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
