/**
 * One group per safety invariant of docs/design.md ("Safety invariants" 1-8), each a real run of the
 * built CLI against a real FTP server on 127.0.0.1 (ftp-srv; pure-ftpd too where it is cheap),
 * with the fault proxy in front. Judged on the server's and the local disk, and on the exit code.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { format } from 'date-fns/format';
import { findProgram } from '../../src/backends/programs.js';
import { childProcesses, isRunning, markerCommand, output, runVmftp, type CliResult } from '../support/cli.js';
import { assertFollowUp, DISK, expectedAfterRotation, FAST_RETRIES, OLD_BART, OLD_STAMPS, setUpNight, stalledAt, STAMP } from '../support/faults.js';
import { randomPassword } from '../support/ftp-srv.js';
import { startPingServer } from '../support/http.js';
import { readLockFile, writeLockFile } from '../support/lock-file.js';
import { requireMethod } from '../support/methods.js';
import { startSmtpServer } from '../support/smtp.js';
import { makeBackupTree, readTree, type TreeSpec } from '../support/fixtures.js';
import { parseReport, parseSimulation } from '../support/report.js';
import { assertNoIncompleteFinal, assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { editConfig, serverWrites, setUpScenario, type Scenario } from '../support/scenario.js';
import { requireOrSkip } from '../support/pure-ftpd.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED, waitFor } from '../support/wait.js';
import { freePort as closedPort } from '../support/ports.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
/** The original tool's sample tree, as local backups. */
const FIXTURE_TREE: TreeSpec = {
  'Bart/2000-08-28-154138': { 'sample.txt': 'old Bart\n' },
  'Bart/2012-08-18-154137': { 'sample.txt': 'Bart\n', 'disk/disk1.vmdk': 20_000 },
  'Raoul/2012-07-13-154137': { 'samplefile.txt': 'Raoul\n' },
};

describe('invariant 1: upload into <STAMP>.partial, rename only after every file verified', () => {
  for (const kind of SERVER_KINDS) {
    // SIGINT on one server, SIGTERM on the other: one handler stops the run for both (src/cli.ts).
    // SIGTERM with ftp-srv is also in faults-signals.test.ts's figures and invariant 7's run.
    const signal = kind.name === 'ftp-srv' ? 'SIGINT' : 'SIGTERM';
    test(`${kind.name}: while an upload is stalled only <STAMP>.partial exists; ${signal} exits 130, reports, frees the lock, keeps the .partial, deletes nothing; the next run completes`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpNight(t, kind, {
        rules: { stallUpload: { match: DISK, afterBytes: 100_000 } },
        targetFields: FAST_RETRIES,
      });
      const before = snapshot(s.source, s.remoteRoot);
      const seen = new Set<string>();
      const watch = setInterval(() => remoteEntries(s.remoteRoot, 'Bart').forEach((name) => seen.add(name)), 10);
      t.after(() => clearInterval(watch));

      const running = s.start('-x');
      await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, DISK), 100_000);
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
      assert.equal(readLockFile(s.lockFile).pid, running.pid, 'the running vmftp holds the lock');

      running.kill(signal);
      const stopped = await running.done;
      clearInterval(watch);
      assertSafeFailure(stopped, before, { code: 130, cause: new RegExp(`interrupted by ${signal}`) });
      // In vmftp's words, not those of the FTP library whose connection it closed.
      assert.match(stopped.stdout, new RegExp(`Bart/${STAMP} upload failed: interrupted by ${signal} before it completed: it stays as ${STAMP}\\.partial and the next run resumes it`));
      assert.doesNotMatch(output(stopped), /User closed client|closed client during task/);
      // The run stops its transfers and still ends with its report: the summary says "interrupted", nothing was deleted.
      assert.match(output(stopped), /FAILED \(exit code 130/);
      assert.ok(!s.proxy.log.some((line) => /^(RNFR|RMD|DELE)/.test(line)), `nothing deleted: ${s.proxy.log.join(' | ')}`);
      assert.ok(!seen.has(STAMP), `the final name never appeared during the upload (saw ${[...seen].join(', ')})`);
      assert.ok(!existsSync(s.lockFile), 'the lock goes with the interrupted run');
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`], 'the .partial stays for the next run');

      await assertFollowUp(s, () => expectedAfterRotation(s));
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
    });

    test(`${kind.name}: a server that answers 226 for a short file fails the verify: no rename, purges nothing; the next run resumes it`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      // The proxy ends the data after 100 000 bytes and tells the client all went well: only the verify can notice.
      const s = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 300_000, 'vm.ovf': '<vm/>' } },
        remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } },
        rules: { replyToUpload: { match: 'disk1.vmdk', code: 226, text: 'Transfer complete', afterBytes: 100_000 } },
        // No retry in this run (a retry would resend the rest at once): the failed verify is what this test shows.
        targetFields: { retries: 0 },
      });
      const before = snapshot(s.source, s.remoteRoot);

      const lied = await s.vmftp('-x');
      assertSafeFailure(lied, before, { code: 1, cause: /verify failed: [^\n]*disk1\.vmdk is 100000 bytes on the server, 300000 locally/ });
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), ['2012-07-01-000000', `${STAMP}.partial`]);
      assert.ok(!s.proxy.log.some((line) => line.startsWith('RNTO')), 'no rename of an unverified folder');

      s.proxy.setRules({});
      const next = await s.vmftp();
      assert.equal(next.code, 0, next.stderr);
      assert.ok(s.proxy.log.includes(`APPE /backups/Bart/${STAMP}.partial/disk1.vmdk`));
      assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
    });

    test(`${kind.name}: one listing of the .partial folder checks its files; a file it shows short is asked for by SIZE, sent on from there, and only then renamed`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      // As above, the server says 226 for a file it holds 100 000 bytes of; this time the run has retries.
      const s = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 300_000, 'vm.ovf': '<vm/>', 'logs/vmware.log': 'log\n' } },
        rules: { replyToUpload: { match: 'disk1.vmdk', code: 226, text: 'Transfer complete', afterBytes: 100_000 } },
        targetFields: FAST_RETRIES,
      });
      const partial = `/backups/Bart/${STAMP}.partial`;

      const run = await s.vmftp('--json');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
      const bytes = parseReport(run.stdout).targets[0]!.actions.find((action) => action.stamp === STAMP)?.bytes;
      assert.equal(bytes, 300_000 + '<vm/>'.length + 'log\n'.length, 'each byte counted once: the 100 000 bytes the server kept, then the rest');
      const listings = s.proxy.log.filter((line) => /^(MLSD|LIST)\b/.test(line) && line.includes(partial));
      assert.deepEqual(listings.map((line) => line.slice(line.indexOf('/'))), [partial, `${partial}/logs`], 'the folder and its sub-folder listed once each');
      // The check by SIZE, the size to send on from, the check after: all of the one file the listing showed short.
      assert.deepEqual(s.proxy.log.filter((line) => line.startsWith('SIZE')), Array(3).fill(`SIZE ${partial}/disk1.vmdk`), 'SIZE only for the file the listing showed short');
      const appended = s.proxy.log.indexOf(`APPE ${partial}/disk1.vmdk`);
      assert.ok(appended > s.proxy.log.indexOf(`SIZE ${partial}/disk1.vmdk`), `sent on from the size SIZE gave: ${s.proxy.log.join(' | ')}`);
      assert.ok(s.proxy.log.indexOf(`RNTO /backups/Bart/${STAMP}`) > appended, 'renamed only after the rest was sent');
    });

    test(`${kind.name}: a stale incomplete final-named folder is re-sent into .partial, then replaced`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      // The old Python tool uploaded straight into the final name: a cut left a folder missing a file.
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 30_000, 'vm.ovf': '<vm/>' } },
        remote: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
      });

      const run = await vmftp();
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(readTree(remoteRoot), readTree(source));
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [STAMP]);
      const log = proxy.log;
      const lastStor = log.map((line) => line.startsWith(`STOR /backups/Bart/${STAMP}.partial/`)).lastIndexOf(true);
      const staleRemoved = log.indexOf(`RMD /backups/Bart/${STAMP}`);
      const rename = log.indexOf(`RNTO /backups/Bart/${STAMP}`);
      assert.ok(lastStor >= 0, `sent into ${STAMP}.partial: ${log.join(' | ')}`);
      assert.ok(staleRemoved > lastStor, `the stale folder is removed only after the new copy is complete: ${log.join(' | ')}`);
      assert.ok(rename > staleRemoved, `then renamed: ${log.join(' | ')}`);
      // Sent again from the first byte: the summary says re-sent (uploaded 0, resumed 0, re-sent 1), not resumed.
      assert.match(run.stdout, /^nas\s+Bart\s+0\s+0\s+1\s/m);
    });
  }
});

describe('invariant 2: upload everything, then a fresh inventory, then delete', () => {
  test('ftp-srv: the new backup is renamed into place before the server is listed again and the oldest deleted', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } }, remote: OLD_BART, keep: 3 });

    const run = await s.vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
    const log = s.proxy.log;
    const rename = log.indexOf(`RNTO /backups/Bart/${STAMP}`);
    // A delete starts by taking the final name away (RNFR), and ends with the RMD of what was renamed.
    const deleted = log.indexOf(`RNFR /backups/Bart/${OLD_STAMPS[0]}`);
    // Any listing of /backups counts (STAT lists folders too) ...
    const relisted = log.findIndex((line, index) => index > rename && /^(LIST|MLSD|STAT)\b.*\/backups$/.test(line));
    assert.ok(rename >= 0 && deleted >= 0, log.join(' | '));
    assert.ok(rename < relisted && relisted < deleted, `upload, fresh inventory, delete: ${log.join(' | ')}`);
    // ... but a run lists with MLSD/LIST only (STAT is for -d, see src/ftp/listing.ts).
    assert.ok(/^(LIST|MLSD)\b/.test(log[relisted]!), log.join(' | '));
    assert.ok(!log.some((line) => line.startsWith('STAT')), `no STAT listing in a run: ${log.join(' | ')}`);
  });

  test('ftp-srv: with a 552 on the upload the default order keeps every old backup; --delete-first has already deleted the rotated-out one', BOUNDED, async (t) => {
    const rules = { replyToUpload: { match: 'disk1.vmdk', code: 552, text: 'Disk full' } };
    const local: TreeSpec = { [`Bart/${STAMP}`]: { 'disk1.vmdk': 20_000 } };

    const safe = await setUpScenario(t, FTP_SRV, { local, remote: OLD_BART, keep: 3, rules });
    const safeBefore = snapshot(safe.source, safe.remoteRoot);
    const byDefault = await safe.vmftp();
    assertSafeFailure(byDefault, safeBefore, { code: 1, cause: /552 Disk full/ });
    assert.deepEqual(remoteEntries(safe.remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);

    // The trade-off --delete-first documents: room for the new backup is made before it is on the server.
    const tight = await setUpScenario(t, FTP_SRV, { local, remote: OLD_BART, keep: 3, rules });
    const tightBefore = snapshot(tight.source, tight.remoteRoot);
    const deleteFirst = await tight.vmftp('--delete-first');
    assertSafeFailure(deleteFirst, tightBefore, {
      code: 1,
      cause: /552 Disk full/,
      deletedOnPurpose: [`Bart/${OLD_STAMPS[0]}`],
    });
    assert.deepEqual(remoteEntries(tight.remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), `${STAMP}.partial`]);
    const log = tight.proxy.log;
    const deleted = log.indexOf(`RMD /backups/Bart/${OLD_STAMPS[0]}.partial`);
    const stored = log.findIndex((line) => line.startsWith('STOR '));
    assert.ok(deleted >= 0 && deleted < stored, `--delete-first deletes before it uploads: ${log.join(' | ')}`);
    // With no fresh inventory after the uploads, --delete-first decides on one listed by MLSD/LIST only.
    assert.ok(!log.some((line) => line.startsWith('STAT')), `--delete-first never lists with STAT: ${log.join(' | ')}`);
  });
});

describe('invariant 3: a stale .partial is resumed when wanted, removed when not', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: a .partial of a wanted backup is resumed from the size the server holds`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 200_000, 'vm.ovf': '<vm/>' } } });
      const disk = readFileSync(path.join(s.source, 'Bart', STAMP, 'disk1.vmdk'));
      s.seedRemote({ [`Bart/${STAMP}.partial`]: { 'disk1.vmdk': disk.subarray(0, 100_000) } });

      const run = await s.vmftp('--json');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(readTree(s.remoteRoot), readTree(s.source));
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [STAMP]);
      assert.ok(s.proxy.log.includes(`APPE /backups/Bart/${STAMP}.partial/disk1.vmdk`), s.proxy.log.join(' | '));
      assert.ok(!s.proxy.log.includes(`STOR /backups/Bart/${STAMP}.partial/disk1.vmdk`), 'the first half is not sent again');
      const action = parseReport(run.stdout).targets[0]!.actions.find((candidate) => candidate.stamp === STAMP);
      assert.equal(action?.action, 'resume');
      assert.equal(action?.bytes, 200_000 + '<vm/>'.length - 100_000);
    });
  }

  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: a .partial older than the window, with no local backup, or beside a rotated-out backup is removed; the kept backups stay`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, {
        local: FIXTURE_TREE,
        remote: {
          // The 2000 backup is older than the window of -n 1: skipped, so its .partial is not wanted.
          'Bart/2000-08-28-154138.partial': { 'sample.txt': 'old' },
          'Homer/2010-01-01-000000': { 'h.txt': 'Homer 2010' },
          // A stale .partial beside a complete backup of the same stamp, both rotated out.
          'Homer/2010-01-01-000000.partial': { 'h.txt': 'Homer 2010, again' },
          'Homer/2011-01-01-000000': { 'h.txt': 'Homer' },
          // No local Homer backup will ever complete this one.
          'Homer/2013-01-01-000000.partial': { 'h.txt': 'Hom' },
        },
      });

      const run = await s.vmftp('-n', '1');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), ['2012-08-18-154137']);
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Homer'), ['2011-01-01-000000']);
      assert.deepEqual(readTree(path.join(s.remoteRoot, 'Homer', '2011-01-01-000000')), { 'h.txt': Buffer.from('Homer') });
    });
  }
});

describe('invariant 4: deletes only touch <remoteDir>/<VM>/<STAMP> and <STAMP>.partial', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: strays beside and inside the VM folders survive a rotation that deletes`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
      s.seedRemote({
        '.': { 'README.txt': 'a file in remoteDir' },
        Bart: { notes: 'a file in the VM folder' },
        'Bart/2012-08-18': { 'x.txt': 'a date, not a stamp' },
        'Bart/2012-13-40-999999': { 'x.txt': 'an invalid stamp' },
        'Bart/2012-13-40-999999.partial': { 'x.txt': 'an invalid stamp, partial' },
        'Bart/2000-01-01-000000': { 'old.txt': 'a real old backup: rotated out' },
        'Bart/2000-01-02-000000.partial': { 'old.txt': 'a stale partial: removed' },
        'Bart./2000-01-01-000000': { 'x.txt': 'not a VM name' },
      });
      makeBackupTree(s.server.root, { 'outside/Bart/2000-01-01-000000': { 'x.txt': 'outside remoteDir' } });
      const before = readTree(s.server.root);

      const run = await s.vmftp('-n', '1');
      assert.equal(run.code, 0, run.stderr);
      const expected = Object.fromEntries(
        Object.entries(before).filter(([file]) => !/^backups\/Bart\/(2000-01-01-000000|2000-01-02-000000\.partial)\//.test(file)),
      );
      expected[`backups/Bart/${STAMP}/vm.ovf`] = Buffer.from('<vm/>');
      assert.deepEqual(readTree(s.server.root), expected);
      assert.match(output(run), /Bart\/2012-13-40-999999 is not a <VM>\/<STAMP> backup/);
      assert.match(output(run), /Bart\. is not a <VM>\/<STAMP> backup/);
    });
  }

  test('ftp-srv: a config whose vms has a key ".." (or one with a "/") is rejected with exit 2 naming the field, before any connection', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } }, remote: OLD_BART });
    editConfig(s, (config) => {
      config.vms = { '..': 'nas', 'Bart/..': 'nas', Bart: 'nas' };
    });
    const before = readTree(s.server.root);
    const local = readTree(s.source);

    const run = await s.vmftp('-n', '1', '-x');
    assert.equal(run.code, 2, output(run));
    assert.deepEqual(readTree(s.source), local);
    assert.match(run.stderr, /vms\["\.\."\]/);
    assert.match(run.stderr, /vms\["Bart\/\.\."\]/);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
    assert.deepEqual(readTree(s.server.root), before);
  });
});

describe('invariant 5: -x only after full success; bare -x purges what every target holds or does not keep, as -S said', () => {
  test('ftp-srv: -S lists what -x will purge and why; bare -x then purges the uploaded backups and the skipped older one', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE });

    const simulated = await s.vmftp('-n', '1', '-S', '-x');
    assert.equal(simulated.code, 0, simulated.stderr);
    assert.match(simulated.stdout, /-x without a command, once this plan ran in full with no failure/);
    assert.match(simulated.stdout, /purge +Bart\/2000-08-28-154138 +not kept on nas \(older than the newest\)/);
    assert.match(simulated.stdout, /purge +Bart\/2012-08-18-154137 +complete on nas/);
    const planned = parseSimulation((await s.vmftp('-n', '1', '-S', '--json')).stdout).plan.purge;
    assert.equal(Object.keys(readTree(s.source)).length, 4, '-S changed nothing');

    const run = await s.vmftp('-n', '1', '-x', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readTree(s.source), {}, 'the skipped backup went too: no target keeps it, and the newer one is on every target');
    const purged = [...(parseReport(run.stdout).afterSuccess?.purged ?? [])].sort();
    assert.deepEqual(purged, [
      path.join(s.source, 'Bart', '2000-08-28-154138'),
      path.join(s.source, 'Bart', '2012-08-18-154137'),
      path.join(s.source, 'Raoul', '2012-07-13-154137'),
    ]);
    assert.deepEqual(planned.filter((local) => local.purge).map((local) => local.dir).sort(), purged, 'exactly what -S said');
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), ['2012-08-18-154137']);
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Raoul', '2012-07-13-154137')), { 'samplefile.txt': Buffer.from('Raoul\n') });
  });

  test('ftp-srv: with two targets, a VM mapped to both is purged only once it is complete on both', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { 'Bart/2012-08-18-154137': { 'b.txt': 'Bart' }, 'Raoul/2012-07-13-154137': { 'r.txt': 'Raoul' } },
      targets: { nas: '/nas', offsite: '/offsite' },
      vms: { Bart: 'nas', Raoul: ['nas', 'offsite'] },
      keep: 3,
    });
    // Offsite already holds 3 newer Raoul backups: the local one is older than the window there, so it is skipped.
    const newer = ['2013-01-01-000000', '2013-02-01-000000', '2013-03-01-000000'];
    s.seedRemote(Object.fromEntries(newer.map((stamp) => [`Raoul/${stamp}`, { 'r.txt': stamp }])), 'offsite');

    const simulated = await s.vmftp('-S');
    assert.match(simulated.stdout, /leave +Raoul\/2012-07-13-154137 +the newest local backup of Raoul, yet offsite would not keep it/);
    const first = await s.vmftp('-x');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(Object.keys(readTree(s.source)), ['Raoul/2012-07-13-154137/r.txt'], 'Raoul is on nas only: not purged');
    assert.match(first.stdout, /-x: left local backups:\n {2}\S+Raoul\S2012-07-13-154137: the newest local backup of Raoul/);
    assert.deepEqual(remoteEntries(s.remoteRootOf('nas'), 'Raoul'), ['2012-07-13-154137']);
    assert.deepEqual(remoteEntries(s.remoteRootOf('offsite'), 'Raoul'), newer);

    // With room for 4, offsite takes it too: now it is complete on both, and purged.
    const second = await s.vmftp('-n', '4', '-x');
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(remoteEntries(s.remoteRootOf('offsite'), 'Raoul'), ['2012-07-13-154137', ...newer]);
    assert.deepEqual(readTree(s.source), {});
  });

  test('ftp-srv: with one of two targets unreachable, -S says why each local backup stays and -x purges nothing (exit 4)', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${OLD_STAMPS[0]}`]: { 'b.txt': 'old Bart' }, [`Bart/${STAMP}`]: { 'b.txt': 'Bart' }, 'Raoul/2012-07-13-154137': { 'r.txt': 'Raoul' } },
      targets: { nas: '/nas', offsite: '/offsite' },
      vms: { Bart: ['nas', 'offsite'], Raoul: 'nas' },
      keep: 1,
      targetFields: { retryDelaySeconds: 0.05 },
    });
    const port = await closedPort();
    editConfig(s, (config) => {
      (config.targets as Record<string, Record<string, unknown>>).offsite!.port = port;
    });
    const local = readTree(s.source);

    const simulated = await s.vmftp('-S', '--json');
    assert.equal(simulated.code, 4, simulated.stderr);
    const purge = parseSimulation(simulated.stdout).plan.purge;
    assert.deepEqual(
      purge.map((local) => `${local.purge ? 'purge' : 'leave'} ${local.vm}/${local.stamp}: ${local.reason}`),
      [
        `leave Bart/${OLD_STAMPS[0]}: offsite could not be listed`,
        `leave Bart/${STAMP}: offsite could not be listed`,
        'purge Raoul/2012-07-13-154137: complete on nas',
      ],
    );

    const run = await s.vmftp('-x');
    assert.equal(run.code, 4, output(run));
    assert.match(run.stdout, /-x: not run: the run had failures: nothing purged/);
    assert.deepEqual(readTree(s.source), local, 'a failed run purges nothing, of Bart or of any other VM');
    assert.deepEqual(remoteEntries(s.remoteRootOf('nas'), 'Bart'), [STAMP], 'nas got Bart all the same');
  });

  test('ftp-srv: a local VM that no route maps to fails -S and the run (exit 1) naming it; the routed VM goes up, nothing is purged', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE, vms: { Bart: 'nas' } });
    const local = readTree(s.source);
    const unrouted = /no target for VM Raoul: add it to `vms` or add a '\*' route/;

    // A config checked with -S gets the verdict its run gets, in text and in JSON.
    const simulated = await s.vmftp('-S');
    assert.equal(simulated.code, 1, output(simulated));
    assert.match(simulated.stdout, new RegExp(`^problem: Raoul: ${unrouted.source}`, 'm'));
    const json = await s.vmftp('-S', '--json');
    assert.equal(json.code, 1, output(json));
    const { problems } = parseSimulation(json.stdout).plan;
    assert.deepEqual(problems.map((problem) => problem.vm), ['Raoul']);
    assert.match(problems[0]?.message ?? '', unrouted);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [], '-S sent nothing');

    const run = await s.vmftp('-n', '1', '-x');
    assert.equal(run.code, 1, output(run));
    assert.match(output(run), unrouted);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), ['2012-08-18-154137']);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Raoul'), [], 'an unrouted VM is sent nowhere');
    assert.deepEqual(readTree(s.source), local, 'not a full success: nothing purged');
  });

  test('ftp-srv: after a failure nothing is purged and the -x command is not run', BOUNDED, async (t) => {
    const rules = { replyToUpload: { match: 'disk1.vmdk', code: 552, text: 'Disk full' } };
    const s = await setUpScenario(t, FTP_SRV, {
      local: { ...FIXTURE_TREE, [`Homer/${STAMP}`]: { 'disk1.vmdk': 20_000 } },
      rules,
    });
    const marker = path.join(s.work, 'x-command-ran');
    const before = snapshot(s.source, s.remoteRoot);

    const purge = await s.vmftp('-x');
    assertSafeFailure(purge, before, { code: 1, cause: /552 Disk full/ });
    assert.match(output(purge), /-x: not run/);

    s.proxy.setRules(rules);
    const command = await s.vmftp('-x', markerCommand(marker));
    assertSafeFailure(command, before, { code: 1, cause: /552 Disk full/ });
    assert.ok(!existsSync(marker), 'the -x command must not run after a failure');
  });

  test('ftp-srv: -S -x purges nothing, runs no command and changes nothing on the server', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE, remote: OLD_BART });
    const marker = path.join(s.work, 'x-command-ran');
    const local = readTree(s.source);
    const remote = readTree(s.server.root);

    const purge = await s.vmftp('-S', '-x');
    assert.equal(purge.code, 0, purge.stderr);
    const command = await s.vmftp('-S', '-x', markerCommand(marker));
    assert.equal(command.code, 0, command.stderr);
    assert.deepEqual(readTree(s.source), local);
    assert.ok(!existsSync(marker), 'no command on --simulate');
    assert.deepEqual(readTree(s.server.root), remote);
    assert.deepEqual(serverWrites(s.proxy), []);
  });

  test('ftp-srv: -x <command> runs the command after a full success and purges nothing itself; a failing command fails the run', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE });
    const marker = path.join(s.work, 'x-command-ran');
    const local = readTree(s.source);

    const run = await s.vmftp('-x', markerCommand(marker));
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(marker), 'the -x command ran');
    assert.deepEqual(readTree(s.source), local);
    assertNoIncompleteFinal(s.remoteRoot, s.source);

    const failing = await s.vmftp('-x', `"${process.execPath}" -e "process.exit(3)"`);
    assert.equal(failing.code, 1, output(failing));
    assert.match(failing.stdout, /exited with 3/);
  });

  test('ftp-srv: a local backup -x cannot delete (a file held open) fails the run with its report whole; the others are purged; the next run purges the rest', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE });
    const held = path.join(s.source, 'Raoul', '2012-07-13-154137', 'samplefile.txt');
    // The immutable flag refuses the delete as Windows does for a file the backup tool or an antivirus holds open.
    if (spawnSync('chattr', ['+i', held]).status !== 0) return t.skip('chattr +i does not work here (not root, or a file system without the flag)');
    const local = readTree(s.source);
    let run: CliResult;
    try {
      run = await s.vmftp('-x', '--json');
    } finally {
      spawnSync('chattr', ['-i', held]);
    }

    assert.equal(run.code, 1, output(run));
    const report = parseReport(run.stdout);
    assert.deepEqual(report.targets[0]?.actions.filter((action) => action.status === 'done').map((action) => `${action.action} ${action.vm}/${action.stamp}`).sort(), [
      'upload Bart/2000-08-28-154138',
      'upload Bart/2012-08-18-154137',
      'upload Raoul/2012-07-13-154137',
    ]);
    assert.deepEqual(report.afterSuccess?.failed?.map((failure) => failure.dir), [path.dirname(held)]);
    assert.deepEqual([...(report.afterSuccess?.purged ?? [])].sort(), [path.join(s.source, 'Bart', '2000-08-28-154138'), path.join(s.source, 'Bart', '2012-08-18-154137')]);
    assert.match(run.stderr, new RegExp(`-x: could not purge local .*Raoul.2012-07-13-154137 \\(`));
    assert.deepEqual(readTree(s.source), { 'Raoul/2012-07-13-154137/samplefile.txt': Buffer.from('Raoul\n') });
    assert.deepEqual(readTree(s.remoteRoot), local, 'every backup is on the server, complete');

    const next = await s.vmftp('-x');
    assert.equal(next.code, 0, output(next));
    assert.deepEqual(readTree(s.source), {}, 'what the failed purge left goes with the next run');
  });
  test('ftp-srv: -x removes a backup folder that is a link as a link: its data on the other disk stays and the report says so; a backup in a linked VM folder is deleted where it lies', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE, keep: 1 });
    const otherDisk = path.join(s.work, 'other-disk');
    mkdirSync(otherDisk);
    // Bart's newest backup is a link to a folder on the other disk; Raoul's whole VM folder is one.
    const bart = path.join(s.source, 'Bart', '2012-08-18-154137');
    renameSync(bart, path.join(otherDisk, 'bart-backup'));
    symlinkSync(path.join(otherDisk, 'bart-backup'), bart, 'dir');
    const raoul = path.join(s.source, 'Raoul', '2012-07-13-154137');
    renameSync(path.join(s.source, 'Raoul'), path.join(otherDisk, 'Raoul'));
    symlinkSync(path.join(otherDisk, 'Raoul'), path.join(s.source, 'Raoul'), 'dir');
    const real = realpathSync(otherDisk);

    const run = await s.vmftp('-x', '--json');
    assert.equal(run.code, 0, output(run));
    assert.deepEqual(readTree(s.remoteRoot), {
      'Bart/2012-08-18-154137/sample.txt': Buffer.from('Bart\n'),
      'Bart/2012-08-18-154137/disk/disk1.vmdk': readFileSync(path.join(s.remoteRoot, 'Bart/2012-08-18-154137/disk/disk1.vmdk')),
      'Raoul/2012-07-13-154137/samplefile.txt': Buffer.from('Raoul\n'),
    });
    assert.equal(statSync(path.join(s.remoteRoot, 'Bart/2012-08-18-154137/disk/disk1.vmdk')).size, 20_000);
    assert.deepEqual(readTree(path.join(otherDisk, 'bart-backup')), { 'sample.txt': Buffer.from('Bart\n'), 'disk/disk1.vmdk': readFileSync(path.join(s.remoteRoot, 'Bart/2012-08-18-154137/disk/disk1.vmdk')) }, "the data Bart's link led to stays, whole");
    assert.deepEqual(readdirSync(path.join(s.source, 'Bart')), [], 'the link is gone');
    assert.deepEqual(readdirSync(path.join(otherDisk, 'Raoul')), [], "Raoul's backup is deleted where the VM folder's link leads");
    assert.ok(lstatSync(path.join(s.source, 'Raoul')).isSymbolicLink(), 'a linked VM folder stays, as a VM folder does');

    const report = parseReport(run.stdout);
    assert.deepEqual([...(report.afterSuccess?.purged ?? [])].sort(), [path.join(s.source, 'Bart', '2000-08-28-154138'), bart, raoul]);
    assert.deepEqual(report.afterSuccess?.links, [
      { dir: bart, dataKept: [path.join(real, 'bart-backup')] },
      { dir: raoul, deletedAt: path.join(real, 'Raoul', '2012-07-13-154137'), dataKept: [] },
    ]);
    assert.ok(run.stderr.includes(`-x: purged local ${bart} (complete on nas; a link removed, its data at ${path.join(real, 'bart-backup')} was not deleted (-x deletes no data a link inside a backup leads to))`), run.stderr);
    assert.ok(run.stderr.includes(`purged local ${raoul} (complete on nas; deleted at ${path.join(real, 'Raoul', '2012-07-13-154137')})`), run.stderr);
  });

  test('ftp-srv: -x removes a link inside a backup as a link: the folder outside the source it leads to stays, whole, and the report says so', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE });
    // A link in a backup to data that is no backup's (here a folder beside the source; in the field
    // `/` or a VM's live storage): the scan follows it, the purge must never delete through it.
    const outside = path.join(s.work, 'outside');
    makeBackupTree(outside, { live: { 'disk.vmdk': 'live VM data\n', 'nested/vm.nvram': 'nvram\n' } });
    const raoul = path.join(s.source, 'Raoul', '2012-07-13-154137');
    symlinkSync(path.join(outside, 'live'), path.join(raoul, 'extra'), 'dir');

    const run = await s.vmftp('-x', '--json');
    assert.equal(run.code, 0, output(run));
    assert.deepEqual(readTree(outside), { 'live/disk.vmdk': Buffer.from('live VM data\n'), 'live/nested/vm.nvram': Buffer.from('nvram\n') }, 'the data the link led to stays, whole');
    assert.ok(!existsSync(raoul) && readdirSync(path.join(s.source, 'Raoul')).length === 0, "Raoul's backup and the link in it are gone");

    const report = parseReport(run.stdout);
    assert.ok(report.afterSuccess?.purged?.includes(raoul), run.stdout);
    assert.deepEqual(report.afterSuccess?.links, [{ dir: raoul, dataKept: [path.join(realpathSync(outside), 'live')] }]);
    assert.ok(run.stderr.includes(`a link removed, its data at ${path.join(realpathSync(outside), 'live')} was not deleted`), run.stderr);
  });

  test('ftp-srv: a local backup whose files changed between the scan and the purge is left whole, and the report says which file and why', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { ...FIXTURE_TREE, 'Bart/2012-08-18-154137': { 'disk1.vmdk': 2_000_000 } }, keep: 1 });
    // The run's own lock and speed record go into the old backup's folder, which the run only
    // purges (no target keeps it): the speed record, written once the uploads are done, is a file
    // that backup did not hold when the scan saw it. A change the run itself makes, so no race.
    const oldBart = path.join(s.source, 'Bart', '2000-08-28-154138');
    editConfig(s, (config) => {
      config.lockFile = path.join(oldBart, 'vmftp.lock');
    });

    const run = await s.vmftp('-x', '--json');
    assert.equal(run.code, 0, output(run));
    assert.ok(existsSync(path.join(oldBart, 'vmftp.speeds.json')), 'the speed record was written there');
    assert.deepEqual(readdirSync(oldBart).sort(), ['sample.txt', 'vmftp.speeds.json'], 'left whole: nothing of it deleted');
    const report = parseReport(run.stdout);
    assert.deepEqual([...(report.afterSuccess?.purged ?? [])].sort(), [path.join(s.source, 'Bart', '2012-08-18-154137'), path.join(s.source, 'Raoul', '2012-07-13-154137')]);
    assert.deepEqual(report.afterSuccess?.left, [
      { dir: oldBart, reason: 'vmftp.speeds.json is new since the scan: the targets were judged on the files the scan saw' },
    ]);
    assert.ok(run.stderr.includes(`-x: left local ${oldBart}: vmftp.speeds.json is new since the scan`), run.stderr);
  });
});

describe('invariant 6: one run at a time', () => {
  test('ftp-srv: a second run while one runs exits 3 naming the lock file, and leaves that lock alone', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 200_000 } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 50_000 } },
    });
    const first = s.start();
    t.after(() => first.kill('SIGKILL'));
    await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk'), 50_000);
    const held = readLockFile(s.lockFile);
    assert.equal(held.pid, first.pid);
    const before = snapshot(s.source, s.remoteRoot);
    const connections = s.proxy.connections;

    const second = await s.vmftp('-x');
    assertSafeFailure(second, before, { code: 3, cause: /another vmftp run holds the lock/ });
    assert.ok(second.stderr.includes(s.lockFile), `the message names ${s.lockFile}: ${second.stderr}`);
    assert.match(second.stderr, new RegExp(`pid ${first.pid}`));
    assert.deepEqual(readLockFile(s.lockFile), held, 'the refused run must not touch the lock it did not take');
    assert.equal(s.proxy.connections, connections, 'the refused run does not even connect');

    first.kill('SIGTERM');
    assert.equal((await first.done).code, 130);
    assert.ok(!existsSync(s.lockFile));
  });

  test('ftp-srv: one lock per config: two configs without lockFile or log.file run side by side; a second run of one is refused naming its config and start time', BOUNDED, async (t) => {
    const a = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 200_000 } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 50_000 } },
    });
    const b = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
    for (const s of [a, b]) {
      editConfig(s, (config) => {
        delete config.lockFile;
      });
    }
    const first = a.start();
    t.after(() => first.kill('SIGKILL'));
    await stalledAt(path.join(a.remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk'), 50_000);

    const other = await b.vmftp();
    assert.equal(other.code, 0, other.stderr);
    assert.deepEqual(readTree(b.remoteRoot), readTree(b.source));

    const second = await a.vmftp();
    assert.equal(second.code, 3, output(second));
    const lockFile = /holds the lock (\S+vmftp-[0-9a-f]{16}\.lock):/.exec(second.stderr)?.[1];
    assert.ok(lockFile !== undefined && path.dirname(lockFile) === os.tmpdir(), `a lock of this config in the temp folder: ${second.stderr}`);
    const held = readLockFile(lockFile);
    assert.equal(held.pid, first.pid);
    const started = format(new Date(held.startedAt), 'yyyy-MM-dd HH:mm:ss');
    assert.ok(second.stderr.includes(`pid ${first.pid} on ${os.hostname()}, config ${a.configPath}, started ${started}`), second.stderr);

    first.kill('SIGTERM');
    assert.equal((await first.done).code, 130);
    assert.ok(!existsSync(lockFile), 'the lock goes with its run');
  });

  test('ftp-srv: a lock whose process is gone is taken over with a warning, and the run succeeds', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
    const gone = spawnSync(process.execPath, ['-e', ''], { timeout: 10_000 }).pid;
    assert.ok(gone !== undefined);
    assert.throws(() => process.kill(gone, 0), { code: 'ESRCH' }, `pid ${gone} must not exist`);
    writeLockFile(s.lockFile, { pid: gone, startedAt: '2012-08-18T15:41:37.000Z' });

    const run = await s.vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`warn: lock .*vmftp\\.lock was left by pid ${gone}.*taking it over`));
    assert.ok(!existsSync(s.lockFile), 'the taken-over lock is released at the end');
    assert.deepEqual(readTree(s.remoteRoot), readTree(s.source));
  });

  test('ftp-srv: a lock whose pid now belongs to another process (after a reboot) is taken over', BOUNDED, async (t) => {
    if (!requireOrSkip(t, existsSync('/proc/self/stat'), 'Linux /proc')) return;
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
    // This test's own process is alive, but it is not the one that wrote the lock: its start time differs.
    writeLockFile(s.lockFile, { startedAt: '2012-08-18T15:41:37.000Z', processStart: '1' });

    const run = await s.vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`warn: lock .*vmftp\\.lock was left by pid ${process.pid}.*taking it over`));
    assert.deepEqual(readTree(s.remoteRoot), readTree(s.source));
  });
});

describe('invariant 7: secrets never appear in output, reports, plans, listings, logs or the lock file', () => {
  test('ftp-srv: a distinctive password is in no stdout/stderr of any kind of run, nor in the lock file', BOUNDED, async (t) => {
    const password = `Secret-${randomBytes(6).toString('hex')}`;
    const wrong = `Wrong-${randomBytes(6).toString('hex')}`;
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE, serverPassword: password, keep: 1 });
    const leaks = (label: string, run: CliResult) => {
      for (const secret of [password, wrong]) {
        assert.ok(!run.stdout.includes(secret), `${label}: a password is on stdout`);
        assert.ok(!run.stderr.includes(secret), `${label}: a password is on stderr`);
      }
    };

    const runs: [string, string[]][] = [
      ['-S', ['-S']],
      ['-S --json', ['-S', '--json']],
      ['-S -v debug', ['-S', '-v', 'debug']],
      ['normal run, -v debug', ['-v', 'debug']],
      ['--json', ['--json']],
      ['-d', ['-d']],
      ['-d --json', ['-d', '--json']],
    ];
    for (const [label, args] of runs) {
      const run = await s.vmftp(...args);
      assert.equal(run.code, 0, `${label}: ${run.stderr}`);
      leaks(label, run);
    }
    for (const args of [['-x'], ['-v', 'debug'], ['--json'], ['-d']]) {
      const before = snapshot(s.source, s.remoteRoot);
      const failing = await runVmftp(['-c', s.configPath, ...args], { env: { ...s.env, VMFTP_TEST_PASSWORD_NAS: wrong }, timeoutMs: 30_000 });
      assertSafeFailure(failing, before, { code: 4, cause: /530/ });
      leaks(`wrong login ${args.join(' ')}`, failing);
    }

    // The lock file, read while a run holds it.
    makeBackupTree(s.source, { 'Bart/2013-01-01-000000': { 'disk1.vmdk': 100_000 } });
    s.proxy.setRules({ stallUpload: { match: 'disk1.vmdk', afterBytes: 10_000 } });
    const running = s.start('-v', 'debug');
    t.after(() => running.kill('SIGKILL'));
    await stalledAt(path.join(s.remoteRoot, 'Bart', '2013-01-01-000000.partial', 'disk1.vmdk'), 10_000);
    const lock = readFileSync(s.lockFile, 'utf8');
    assert.ok(!lock.includes(password), 'the lock file holds no password');
    running.kill('SIGTERM');
    const interrupted = await running.done;
    assert.equal(interrupted.code, 130);
    leaks('interrupted run', interrupted);
  });
});

describe('invariant 6: a run that died without a report is reported by the next one', () => {
  const SMTP_USER = 'vmftp-mailer';

  test('ftp-srv, -u curl: after a kill -9 mid-upload the next run ends the orphaned curl, resumes the .partial and reports the dead run (log, summary, --json, e-mail)', BOUNDED, async (t) => {
    if (!requireOrSkip(t, findProgram('curl') !== undefined && existsSync('/proc/self/stat'), 'curl on PATH and Linux /proc')) return;
    const smtpPassword = randomPassword();
    const smtp = await startSmtpServer({ user: SMTP_USER, password: smtpPassword });
    t.after(() => smtp.stop());
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 300_000, 'vm.ovf': '<vm/>' } },
      remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 100_000 } },
      // The orphaned curl would wait this long by itself: only the next run can end it within the test.
      targetFields: { timeoutSeconds: 40 },
      config: {
        log: { file: 'logs/vmftp.log' },
        mail: { from: 'vmftp@backup.lan', to: 'ops@backup.lan', smtp: { host: smtp.host, port: smtp.port, user: SMTP_USER, password: { env: 'VMFTP_TEST_SMTP_PASSWORD' } } },
      },
    });
    s.env.VMFTP_TEST_SMTP_PASSWORD = smtpPassword;
    const killed = s.start('-u', 'curl');
    t.after(() => killed.kill('SIGKILL'));
    await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk'), 100_000);
    // The curl that sends the stalled file (vm.ovf's may still be ending by itself).
    const curls = childProcesses(killed.pid).filter(
      (child) => child.command === 'curl' && readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('disk1.vmdk'),
    );
    assert.equal(curls.length, 1, 'curl is uploading disk1.vmdk');
    for (const curl of curls) t.after(() => isRunning(curl.pid) && process.kill(curl.pid, 'SIGKILL'));
    const recorded = readLockFile(s.lockFile).children ?? [];
    for (const curl of curls) assert.ok(recorded.some((child) => child.pid === curl.pid && child.program === 'curl'), `the lock records curl ${curl.pid}: ${JSON.stringify(recorded)}`);

    killed.kill('SIGKILL');
    assert.equal((await killed.done).signal, 'SIGKILL');
    assert.ok(curls.every((curl) => isRunning(curl.pid)), 'a kill -9 leaves curl running: nothing of vmftp ran to end it');

    s.proxy.setRules({});
    const next = await s.vmftp('-u', 'curl', '--json', '-m');
    assert.equal(next.code, 0, next.stderr);
    for (const curl of curls) assert.ok(!isRunning(curl.pid), `curl ${curl.pid}, left uploading by the killed run, was ended`);
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
    const notice = new RegExp(`the previous run \\(pid ${killed.pid}, started at [\\d-]+ [\\d:]+\\) ended without a report[^\\n]*ended its curl \\(pid ${curls[0]!.pid}\\)`);
    assert.match(next.stderr, notice);
    assert.match(readFileSync(path.join(s.work, 'logs', 'vmftp.log'), 'utf8'), notice);
    const report = parseReport(next.stdout);
    assert.equal(report.previousRun?.pid, killed.pid);
    assert.deepEqual(
      report.previousRun.programs.filter((program) => program.program === 'curl' && program.state === 'ended').map((program) => program.pid).sort(),
      curls.map((curl) => curl.pid).sort(),
    );
    assert.equal(smtp.messages.length, 1);
    assert.match(smtp.messages[0]!.parsed.subject ?? '', /previous run ended without a report/);
    assert.match(smtp.messages[0]!.parsed.text ?? '', notice);

    const after = await s.vmftp();
    assert.equal(after.code, 0, after.stderr);
    assert.doesNotMatch(after.stderr, /previous run/, 'a run that ended with its report leaves nothing to report');
  });

  test('ftp-srv, -u ncftpput: the 0600 password file a kill -9 left behind is removed by the next run, which says so', BOUNDED, async (t) => {
    if (!requireMethod(t, 'ncftpput')) return;
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 200_000 } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 50_000 } },
      targetFields: { timeoutSeconds: 40 },
    });
    const killed = s.start('-u', 'ncftpput');
    t.after(() => killed.kill('SIGKILL'));
    await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk'), 50_000);
    const [dir] = readLockFile(s.lockFile).privateDirs ?? [];
    assert.ok(dir !== undefined && existsSync(path.join(dir, 'login.cfg')), `the lock records the folder of ncftpput's login file: ${readFileSync(s.lockFile, 'utf8')}`);
    assert.equal(statSync(path.join(dir, 'login.cfg')).mode & 0o777, 0o600);
    const orphans = childProcesses(killed.pid).filter((child) => child.command === 'ncftpput');
    for (const orphan of orphans) t.after(() => isRunning(orphan.pid) && process.kill(orphan.pid, 'SIGKILL'));
    killed.kill('SIGKILL');
    await killed.done;
    assert.ok(existsSync(path.join(dir, 'login.cfg')), 'kill -9 leaves the password file behind');

    s.proxy.setRules({});
    const next = await s.vmftp('-u', 'ncftpput', '--json');
    assert.equal(next.code, 0, next.stderr);
    assert.ok(!existsSync(dir), `${dir} is gone`);
    assert.ok(next.stderr.includes(`removed the password file it left in ${dir}`), next.stderr);
    assert.deepEqual(parseReport(next.stdout).previousRun?.removedPrivateDirs, [dir]);
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
  });

  test('ftp-srv: -d and -S after a kill -9 leave the dead run\'s lock as it is; the next backup run still reports it', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 200_000 } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 50_000 } },
    });
    const killed = s.start();
    t.after(() => killed.kill('SIGKILL'));
    await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk'), 50_000);
    killed.kill('SIGKILL');
    await killed.done;
    const left = readFileSync(s.lockFile, 'utf8');
    s.proxy.setRules({});

    assert.equal((await s.vmftp('-d')).code, 0);
    const simulated = await s.vmftp('-S');
    assert.equal(simulated.code, 0, simulated.stderr);
    const notice = new RegExp(`the previous run \\(pid ${killed.pid}, started at [\\d-]+ [\\d:]+\\) ended without a report`);
    assert.match(simulated.stderr, notice);
    assert.match(simulated.stderr, /its lock stays for the next backup run, which reports it/);
    assert.doesNotMatch(simulated.stderr, /taking it over/);
    assert.equal(readFileSync(s.lockFile, 'utf8'), left, '-d and -S leave the dead run\'s lock as it is');

    const next = await s.vmftp('--json');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, notice);
    assert.equal(parseReport(next.stdout).previousRun?.pid, killed.pid);
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
    assert.ok(!existsSync(s.lockFile));
  });

  test('ftp-srv: a run forced out by a second SIGTERM, or by the 10 s grace, while its failure ping hangs leaves its lock: the next run reports it', BOUNDED, async (t) => {
    const monitor = await startPingServer();
    t.after(() => monitor.stop());
    // A monitoring service that takes the failure ping and never answers: the stopped run's report waits on it.
    monitor.answers = false;
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 200_000 } },
      config: { notify: { failure: `${monitor.url}/fail`, timeoutSeconds: 40 } },
    });
    const forcedOut = async (how: RegExp, stop: (run: ReturnType<Scenario['start']>) => Promise<void>): Promise<void> => {
      s.proxy.setRules({ stallUpload: { match: 'disk1.vmdk', afterBytes: 50_000 } });
      const run = s.start();
      t.after(() => run.kill('SIGKILL'));
      await stalledAt(path.join(s.remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk'), 50_000);
      await stop(run);
      assert.equal((await run.done).code, 130);
      const left = readLockFile(s.lockFile);
      assert.equal(left.pid, run.pid, 'the lock stays for the next run');
      assert.match(left.forcedOut ?? '', how);

      s.proxy.setRules({});
      const next = await s.vmftp('--json');
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stderr, new RegExp(`the previous run \\(pid ${run.pid}, started at [\\d-]+ [\\d:]+\\) ended without a report \\(${how.source}\\)`));
      assert.equal(parseReport(next.stdout).previousRun?.pid, run.pid);
      assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', STAMP)), readTree(path.join(s.source, 'Bart', STAMP)));
      assert.ok(!existsSync(s.lockFile));
      rmSync(path.join(s.remoteRoot, 'Bart', STAMP), { recursive: true });
    };

    await forcedOut(/stopped by a second SIGTERM before its report was done/, async (run) => {
      run.kill('SIGTERM');
      await waitFor(() => monitor.pings.length === 1, 'the failure ping of the stopped run');
      run.kill('SIGTERM');
    });
    await forcedOut(/its report was not done 10 s after SIGTERM/, async (run) => run.kill('SIGTERM'));
    assert.equal(monitor.pings.length, 2);
  });

  test('ftp-srv: a program in the dead run\'s lock is ended only when its pid, name and start time prove it is that program', BOUNDED, async (t) => {
    if (!requireOrSkip(t, existsSync('/proc/self/stat'), 'Linux /proc')) return;
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
    const gone = spawnSync(process.execPath, ['-e', ''], { timeout: 10_000 }).pid!;
    const orphan = spawn('sleep', ['30'], { stdio: 'ignore' });
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => {
      orphan.kill('SIGKILL');
      stranger.kill('SIGKILL');
    });
    const startOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
    const now = new Date().toISOString();
    writeLockFile(s.lockFile, {
      pid: gone,
      startedAt: '2012-08-18T15:41:37.000Z',
      children: [
        { pid: orphan.pid!, program: 'sleep', startedAt: now, processStart: startOf(orphan.pid!) },
        // A pid the dead run's curl had, now another program's: never ended.
        { pid: stranger.pid!, program: 'curl', startedAt: now, processStart: startOf(stranger.pid!) },
      ],
    });

    const run = await s.vmftp('--json');
    assert.equal(run.code, 0, run.stderr);
    await waitFor(() => orphan.exitCode !== null || orphan.signalCode !== null, 'the recorded program to end');
    assert.equal(orphan.signalCode, 'SIGTERM');
    assert.ok(isRunning(stranger.pid!), 'a process that is not the recorded program is left alone');
    const report = parseReport(run.stdout);
    assert.deepEqual(report.previousRun?.programs, [
      { pid: orphan.pid, program: 'sleep', state: 'ended' },
      { pid: stranger.pid, program: 'curl', state: 'gone' },
    ]);
  });
});

describe('invariant 8: bad input gets a clear error naming the field or path, and changes nothing', () => {
  async function scenario(t: Parameters<typeof setUpScenario>[0]) {
    const s = await setUpScenario(t, FTP_SRV, { local: FIXTURE_TREE, remote: OLD_BART, keep: 1 });
    return { s, local: readTree(s.source), remote: readTree(s.server.root) };
  }

  test('ftp-srv: an invalid config with several problems exits 2, names every one by its field path, touches nothing', BOUNDED, async (t) => {
    const { s, local, remote } = await scenario(t);
    editConfig(s, (config) => {
      const nas = (config.targets as Record<string, Record<string, unknown>>).nas!;
      nas.port = 'twenty-one';
      nas.remoteDir = 'backups';
      config.keep = 0;
      config.vms = { Bart: 'nowhere', '*': 'nas' };
      config.sorce = '/typo';
    });

    const run = await s.vmftp('-x');
    assert.equal(run.code, 2, output(run));
    for (const field of [/targets\.nas\.port: .*twenty-one/, /targets\.nas\.remoteDir: /, /keep: /, /vms\.Bart: .*nowhere/, /sorce/]) {
      assert.match(run.stderr, field);
    }
    assert.match(run.stderr, /5 problems/);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
    assert.deepEqual(readTree(s.server.root), remote);
    assert.deepEqual(readTree(s.source), local);
    assert.ok(!existsSync(s.lockFile));
  });

  test('ftp-srv: a vms key the run could never match ("Bart.", "Bart ") exits 2 naming the field, before any connection', BOUNDED, async (t) => {
    const { s, local, remote } = await scenario(t);
    editConfig(s, (config) => {
      config.vms = { 'Bart.': 'nas', 'Bart ': 'nas', '*': 'nas' };
    });

    const run = await s.vmftp('-x');
    assert.equal(run.code, 2, output(run));
    assert.match(run.stderr, /vms\["Bart\."\]: .*ends with a space or a dot/);
    assert.match(run.stderr, /vms\["Bart "\]: .*ends with a space or a dot/);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
    assert.deepEqual(readTree(s.server.root), remote);
    assert.deepEqual(readTree(s.source), local);
  });

  test('ftp-srv: a source folder that does not exist exits 2 naming the path, before any connection', BOUNDED, async (t) => {
    const { s, remote } = await scenario(t);
    const missing = path.join(s.work, 'no-such-folder');
    editConfig(s, (config) => {
      config.source = missing;
    });

    const run = await s.vmftp('-x');
    assert.equal(run.code, 2, output(run));
    assert.ok(run.stderr.includes(missing), run.stderr);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
    assert.deepEqual(readTree(s.server.root), remote);
    assert.ok(!existsSync(s.lockFile));
  });

  // A target that cannot be reached or refuses the login (exit 4): faults-connect.test.ts.
});
