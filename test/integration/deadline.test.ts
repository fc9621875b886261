/**
 * The deadline (--max-duration). The built CLI against ftp-srv through the fault proxy, whose
 * stalled upload is the slowest link there is: with `--max-duration 6s` the run stops it at the
 * deadline, for each upload method, and exits 5; the `.partial` stays, the completed VM's rotation
 * still happens, nothing is purged by -x, and the log, the ping, the e-mail and --json say what was
 * deferred and how much of it is on the server. The next run sends only the rest (APPE from there).
 * With the default maxAge, a VM whose first backup the deadline defers is deferred too (exit 5),
 * not reported as a VM the backup job stopped producing (exit 1). A rename refused after the deadline
 * passed during its retries (which the deadline does not stop) fails its upload (exit 1), not deferred.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readSpeedRecord, speedRecordFile } from '../../src/run/speed-record.js';
import { childProcesses, isRunning, output } from '../support/cli.js';
import { startDelivery } from '../support/delivery.js';
import { requireMethod } from '../support/methods.js';
import { parseReport } from '../support/report.js';
import { assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { DEFAULT_MAX_AGE } from '../../src/config/schema.js';
import { stampHoursAgo } from '../support/fixtures.js';
import { setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { bounded, waitFor } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const SMTP_USER = 'vmftp-mailer';
const DISK = 'disk1.vmdk';
const DISK_BYTES = 400_000;
const OVF = '<vm name="Bart"/>';
const HOMER_OVF = '<vm name="Homer"/>';
/** Where the proxy holds Bart's disk: what the server has when the window closes. */
const STALL_AT = 100_000;
const BART_NEW = '2026-11-28-220000';
const BART_OLD = ['2026-11-26-220000', '2026-11-27-220000'];
const HOMER_NEW = '2026-11-28-221500';
const HOMER_OLD = ['2026-11-26-221500', '2026-11-27-221500'];
/** A run that waits on its stalled upload until this timeout is not one the deadline stopped. */
const TIMEOUT_SECONDS = 40;
/** Room for the start, the inventory and the first bytes on a loaded machine: the stall must come before the deadline. */
const MAX_DURATION = '6s';

describe(`deadline: --max-duration ${MAX_DURATION} over a stalled upload`, () => {
  for (const method of ['internal', 'curl', 'ncftpput'] as const) {
    test(`-u ${method}: the window closes, exit 5, .partial kept, the completed VM rotated, nothing purged, told everywhere; the next run sends only the rest`, bounded(90), async (t) => {
      if (!requireMethod(t, method)) return;
      const { monitor, smtp, config, env } = await startDelivery(t, SMTP_USER);
      const s = await setUpScenario(t, FTP_SRV, {
        local: {
          [`Bart/${BART_NEW}`]: { [DISK]: DISK_BYTES, 'vm.ovf': OVF },
          [`Homer/${HOMER_NEW}`]: { 'vm.ovf': HOMER_OVF },
        },
        remote: Object.fromEntries([...BART_OLD.map((stamp) => `Bart/${stamp}`), ...HOMER_OLD.map((stamp) => `Homer/${stamp}`)].map((dir) => [dir, { 'vm.ovf': `<old ${dir}/>` }])),
        keep: 2,
        rules: { stallUpload: { match: DISK, afterBytes: STALL_AT } },
        targetFields: { retries: 3, retryDelaySeconds: 0.05, timeoutSeconds: TIMEOUT_SECONDS },
        config: {
          // The stamps are fixed; the clock is not: no maxAge verdict may join the deadline's.
          maxAge: false,
          log: { file: 'logs/vmftp.log' },
          ...config,
        },
      });
      Object.assign(s.env, env);
      const before = snapshot(s.source, s.remoteRoot);
      const partialDisk = path.join(s.remoteRoot, 'Bart', `${BART_NEW}.partial`, DISK);

      const startedAt = Date.now();
      const running = s.start('-u', method, '--max-duration', MAX_DURATION, '-m', '-x', '--json');
      t.after(() => running.kill('SIGKILL'));
      await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === STALL_AT, `the upload to stall at ${STALL_AT} bytes`, 15_000);
      const uploaders = method === 'internal' ? [] : childProcesses(running.pid).filter((child) => child.command === method);
      if (method !== 'internal') assert.ok(uploaders.length > 0, `${method} is uploading: ${JSON.stringify(childProcesses(running.pid))}`);
      const run = await running.done;
      const tookMs = Date.now() - startedAt;

      // Nothing lost: old backups intact but the one the completed VM's rotation deletes, nothing
      // incomplete under a final name, the local backups not purged by -x.
      assertSafeFailure(run, before, {
        code: 5,
        cause: new RegExp(`the window closed \\(--max-duration ${MAX_DURATION}\\)`),
        deletedOnPurpose: [`Homer/${HOMER_OLD[0]}`],
      });
      // Only the deadline can end the stalled transfer this early: by itself it waits TIMEOUT_SECONDS.
      assert.ok(tookMs < (TIMEOUT_SECONDS / 2) * 1000, `the run ended ${tookMs} ms after it started`);
      for (const uploader of uploaders) assert.ok(!isRunning(uploader.pid), `${method} (pid ${uploader.pid}) was left running`);
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...BART_OLD, `${BART_NEW}.partial`], 'Bart: old backups untouched, the .partial stays');
      assert.equal(statSync(partialDisk).size, STALL_AT);
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Homer'), [HOMER_OLD[1]!, HOMER_NEW], 'Homer completed: its rotation ran');
      assert.ok(!existsSync(s.lockFile), 'the lock goes with the run');

      const report = parseReport(run.stdout);
      assert.equal(report.exitCode, 5);
      assert.equal(report.windowClosed?.by, `--max-duration ${MAX_DURATION}`);
      assert.deepEqual(report.windowClosed?.deferred, [
        { target: 'nas', vm: 'Bart', stamp: BART_NEW, bytes: DISK_BYTES + OVF.length, onServer: STALL_AT + OVF.length },
      ]);
      const actions = report.targets[0]!.actions;
      assert.equal(actions.find((action) => action.stamp === BART_NEW)?.status, 'deferred');
      assert.equal(actions.find((action) => action.stamp === HOMER_NEW)?.status, 'done');
      // Sent is what reached the server: the bytes the proxy took past the stall never did.
      assert.equal(actions.find((action) => action.stamp === BART_NEW)?.bytes, STALL_AT + OVF.length, 'Bart: sent = what the server holds');
      // The speed record, from which -S forecasts the next night, keeps nothing of a run the deadline cut.
      assert.deepEqual(await readSpeedRecord(speedRecordFile(s.lockFile)), { speeds: {} }, 'no speed kept from a run the deadline stopped');

      // What the administrator reads: the log, the failure ping, the e-mail.
      const deferredLine = new RegExp(`deferred: nas Bart/${BART_NEW}: [\\d.]+ KiB of [\\d.]+ KiB already on the server`);
      const log = readFileSync(path.join(s.work, 'logs', 'vmftp.log'), 'utf8');
      assert.match(log, /INCOMPLETE \(exit code 5: deferred: the window closed/);
      assert.match(log, deferredLine);
      assert.match(log, /-x: not run: the window closed/);
      assert.match(log, /nas: this run's upload speed is not kept for -S: the deadline stopped its uploads/);
      assert.deepEqual(monitor.pings.map((ping) => ping.path), ['/ping/night/start', '/ping/night/fail']);
      assert.match(monitor.pings[1]!.body, /INCOMPLETE/);
      assert.match(monitor.pings[1]!.body, deferredLine);
      assert.equal(smtp.messages.length, 1, 'one e-mail');
      assert.match(smtp.messages[0]!.parsed.subject ?? '', /^vmftp: INCOMPLETE — .*1 deferred/);
      assert.match(smtp.messages[0]!.parsed.text ?? '', deferredLine);

      // The next run sends only what the server does not hold: disk1.vmdk from byte STALL_AT on.
      s.proxy.setRules({});
      const logBefore = s.proxy.log.length;
      const next = await s.vmftp('-u', method, '--json');
      assert.equal(next.code, 0, output(next));
      const uploads = s.proxy.log.slice(logBefore).filter((line) => /^(STOR|APPE) /.test(line));
      assert.deepEqual(uploads, [`APPE /backups/Bart/${BART_NEW}.partial/${DISK}`], 'only the rest of the disk is sent');
      const resumed = parseReport(next.stdout).targets[0]!.actions.find((action) => action.stamp === BART_NEW)!;
      assert.equal(resumed.action, 'resume');
      assert.equal(resumed.bytes, DISK_BYTES - STALL_AT, 'no byte sent twice');
      const record = await readSpeedRecord(speedRecordFile(s.lockFile));
      assert.equal('speeds' in record ? record.speeds.nas?.bytes : record.unreadable, DISK_BYTES - STALL_AT, 'the run that went to its end keeps its speed');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [BART_OLD[1]!, BART_NEW], 'Bart completed: now its rotation runs');
      assert.deepEqual(readFileSync(path.join(s.remoteRoot, 'Bart', BART_NEW, DISK)), readFileSync(path.join(s.source, 'Bart', BART_NEW, DISK)));
    });
  }
});

describe('deadline and the default maxAge: a first backup the window defers', () => {
  test('exit 5, not 1: the log, --json, the ping and the e-mail say deferred and resumes next run, not "backup job"; the next run completes it, exit 0', bounded(90), async (t) => {
    const bartFirst = stampHoursAgo(2);
    const homerFirst = stampHoursAgo(1);
    const { monitor, smtp, config, env } = await startDelivery(t, SMTP_USER);
    const s = await setUpScenario(t, FTP_SRV, {
      // Nothing of Bart on the server yet: the deferred backup would be its first complete one there.
      local: { [`Bart/${bartFirst}`]: { [DISK]: DISK_BYTES, 'vm.ovf': OVF }, [`Homer/${homerFirst}`]: { 'vm.ovf': HOMER_OVF } },
      rules: { stallUpload: { match: DISK, afterBytes: STALL_AT } },
      targetFields: { retries: 3, retryDelaySeconds: 0.05, timeoutSeconds: TIMEOUT_SECONDS },
      // writeConfig's maxAge false for tests is not what an administrator's config holds.
      config: { maxAge: DEFAULT_MAX_AGE, log: { file: 'logs/vmftp.log' }, ...config },
    });
    Object.assign(s.env, env);

    const run = await s.vmftp('--max-duration', MAX_DURATION, '-m', '--json');
    assert.equal(run.code, 5, output(run));
    const report = parseReport(run.stdout);
    assert.deepEqual(report.tooOld, [], 'no maxAge failure');
    assert.deepEqual(report.windowClosed?.deferred.map((backup) => `${backup.vm}/${backup.stamp}`), [`Bart/${bartFirst}`]);
    assert.deepEqual(
      report.awaitingDeferred?.map(({ target, vm, newest, deferred, maxAge }) => ({ target, vm, newest, deferred, maxAge })),
      [{ target: 'nas', vm: 'Bart', newest: undefined, deferred: bartFirst, maxAge: DEFAULT_MAX_AGE }],
    );
    const awaiting = new RegExp(`Bart: no complete backup on nas, but its backup ${bartFirst} \\(\\d+h old, within maxAge ${DEFAULT_MAX_AGE}\\) was deferred by the window: not a failure, it resumes next run`);
    assert.match(report.awaitingDeferred?.[0]?.message ?? '', awaiting);

    const log = readFileSync(path.join(s.work, 'logs', 'vmftp.log'), 'utf8');
    const told = { log, ping: monitor.pings[1]?.body ?? '', mail: smtp.messages[0]?.parsed.text ?? '' };
    assert.deepEqual(monitor.pings.map((ping) => ping.path), ['/ping/night/start', '/ping/night/fail']);
    assert.equal(smtp.messages.length, 1, 'one e-mail');
    assert.match(smtp.messages[0]!.parsed.subject ?? '', /^vmftp: INCOMPLETE — .*1 deferred/);
    assert.doesNotMatch(smtp.messages[0]!.parsed.subject ?? '', /maxAge/);
    for (const [where, text] of Object.entries(told)) {
      assert.match(text, /INCOMPLETE \(exit code 5: deferred: the window closed/, where);
      assert.match(text, awaiting, where);
      assert.doesNotMatch(text, /backup job|too old|FAILED/, where);
    }

    s.proxy.setRules({});
    const next = await s.vmftp('--json');
    assert.equal(next.code, 0, output(next));
    const nextReport = parseReport(next.stdout);
    assert.deepEqual(nextReport.tooOld, []);
    assert.equal(nextReport.awaitingDeferred, undefined);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [bartFirst], 'Bart complete on the server');
  });
});

describe('deadline during the rename\'s retries: a refusal after it is a failure, not a deferral', () => {
  test('a 450 on the rename, its retry waits past the deadline, then 553: exit 1, the upload failed with the server\'s words, nothing deferred', bounded(90), async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${BART_NEW}`]: { 'vm.ovf': OVF } },
      remote: Object.fromEntries(BART_OLD.map((stamp) => [`Bart/${stamp}`, { 'vm.ovf': `<old ${stamp}/>` }])),
      keep: 2,
      rules: {
        replyToCommand: [
          { command: 'RNTO', match: BART_NEW, code: 450, text: 'Rename busy' },
          { command: 'RNTO', match: BART_NEW, code: 553, text: 'Rename refused' },
        ],
      },
      // The retry waits as long as the whole window: whenever the first rename came, the second comes after the deadline.
      targetFields: { retries: 3, retryDelaySeconds: Number.parseInt(MAX_DURATION, 10) },
      config: { maxAge: false },
    });
    const before = snapshot(s.source, s.remoteRoot);

    const run = await s.vmftp('--max-duration', MAX_DURATION, '--json');
    assertSafeFailure(run, before, { code: 1, cause: new RegExp(`Bart/${BART_NEW}[^\\n]*553 Rename refused`) });
    // The log (stderr) in the order things happened: the window closed, then the second rename was refused.
    const windowClosed = run.stderr.indexOf(`the window closed (--max-duration ${MAX_DURATION})`);
    assert.ok(windowClosed >= 0 && windowClosed < run.stderr.indexOf('553 Rename refused'), `the deadline passed before the second rename\n${output(run)}`);
    assert.deepEqual(s.proxy.log.filter((line) => line.startsWith('RNTO')), [`RNTO /backups/Bart/${BART_NEW}`, `RNTO /backups/Bart/${BART_NEW}`]);
    const report = parseReport(run.stdout);
    assert.equal(report.exitCode, 1);
    assert.equal(report.windowClosed, undefined, 'nothing deferred');
    const upload = report.targets[0]!.actions.find((action) => action.stamp === BART_NEW)!;
    assert.equal(upload.status, 'failed');
    assert.match(upload.detail ?? '', /553 Rename refused/);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...BART_OLD, `${BART_NEW}.partial`]);
  });
});
