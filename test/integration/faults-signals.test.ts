/**
 * Fault class: the run is stopped by a signal (SIGINT, SIGTERM, SIGHUP: the scheduled task ended, a
 * closed session, Ctrl+C). It stops its transfers and the curl/ncftpput it started, keeps the
 * .partial for the next run, frees the lock, still reports (summary, log, ping, e-mail) and exits
 * 130. The built CLI against ftp-srv on 127.0.0.1 with the fault proxy stalling the upload. The
 * same with the internal client, and what the server holds while it waits, is invariant 1's
 * (test/integration/invariants.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { childProcesses, isRunning, output } from '../support/cli.js';
import { startDelivery } from '../support/delivery.js';
import { assertFollowUp, DISK, expectedAfterRotation, FAST_RETRIES, NEW_BART, setUpNight, stalledAt, STAMP } from '../support/faults.js';
import { requireMethod } from '../support/methods.js';
import { parseRunJson } from '../support/report.js';
import { assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;

describe('signals: the figures of a stopped run', () => {
  test('ftp-srv: SIGTERM mid-upload: the report counts no byte the server does not hold, and the totals\' time is the run\'s', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: NEW_BART,
      rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
    });
    const running = s.start('--json');
    t.after(() => running.kill('SIGKILL'));
    await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK), 100_000);
    running.kill('SIGTERM');
    const run = await running.done;
    assert.equal(run.code, 130, output(run));

    const { report, totals } = parseRunJson(run.stdout);
    const stopped = report.targets[0]!.actions.find((action) => action.stamp === STAMP)!;
    assert.equal(stopped.status, 'failed');
    // At most what the server holds (vm.ovf if it got through, 100000 of disk1.vmdk): the proxy took the
    // rest of the disk into its buffers and never delivered it. After a signal the server is not asked again.
    const ovf = '<vm name="Bart"/>'.length;
    assert.ok(stopped.bytes <= 100_000 + ovf, `bytes of the stopped upload: ${stopped.bytes}`);
    assert.equal(totals.bytes, stopped.bytes);
    assert.ok(stopped.startedAt !== undefined && !Number.isNaN(Date.parse(stopped.startedAt)), 'the action says when it began: the wall times come from it');
    assert.equal(totals.durationMs, report.durationMs, 'report.durationMs and totals.durationMs agree');
  });
});

describe('signals: while curl or ncftpput uploads', () => {
  const SMTP_USER = 'vmftp-mailer';
  for (const [method, signal] of [
    ['curl', 'SIGTERM'],
    ['curl', 'SIGHUP'],
    ['ncftpput', 'SIGINT'],
    ['ncftpput', 'SIGTERM'],
  ] as const) {
    test(`-u ${method}: ${signal} to vmftp alone ends ${method} at once, keeps the .partial, reports (summary, log, fail ping, e-mail), exits 130`, BOUNDED, async (t) => {
      if (!requireMethod(t, method)) return;
      const { monitor, smtp, config, env } = await startDelivery(t, SMTP_USER);
      const s = await setUpNight(t, FTP_SRV, {
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        // The stalled program would wait this long by itself: only the signal can end it within the test.
        targetFields: { ...FAST_RETRIES, timeoutSeconds: 40 },
        config: {
          log: { file: 'logs/vmftp.log' },
          ...config,
        },
      });
      Object.assign(s.env, env);
      const before = snapshot(s.source, s.remoteRoot);

      const running = s.start('-u', method, '-m', '-x');
      t.after(() => running.kill('SIGKILL'));
      await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK), 100_000);
      const uploaders = childProcesses(running.pid).filter((child) => child.command === method);
      assert.ok(uploaders.length > 0, `${method} is uploading: ${JSON.stringify(childProcesses(running.pid))}`);
      const signalledAt = Date.now();
      process.kill(running.pid, signal);
      const run = await running.done;
      const tookMs = Date.now() - signalledAt;

      assertSafeFailure(run, before, { code: 130, cause: new RegExp(`interrupted by ${signal}`) });
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
