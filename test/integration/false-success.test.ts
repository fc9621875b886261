/**
 * No false success: a source that holds no backup at all, and a VM whose newest backup on a
 * target is older than its `maxAge`, fail the run loudly; a VM folder linked from another disk is
 * backed up, not passed over with a warning while the run says success (exit code, stderr, log, ping) instead
 * of ending in "vmftp success". The built CLI against a real FTP server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startPingServer } from '../support/http.js';
import { makeBackupTree, readTree, stampHoursAgo, type TreeSpec } from '../support/fixtures.js';
import { parseReport } from '../support/report.js';
import { remoteEntries } from '../support/safety.js';
import { editConfig, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { startSmtpServer, type ReceivedMail } from '../support/smtp.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const STAMP = '2012-08-18-154137';

describe('a source that holds no <VM>/<STAMP> backup fails (exit 2) and says so', () => {
  test('ftp-srv: an empty source folder: exit 2 naming the folder, asking about `source`, failure ping, nothing touched', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { remote: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
    const monitor = await startPingServer();
    t.after(() => monitor.stop());
    const log = path.join(s.work, 'vmftp.log');
    editConfig(s, (config) => {
      config.notify = { url: `${monitor.url}/hc` };
      config.log = { file: log };
    });
    const before = readTree(s.server.root);

    const run = await s.vmftp();
    assert.equal(run.code, 2, run.stderr);
    assert.ok(run.stderr.includes(`source folder ${s.source} holds no <VM>/<STAMP> backup: it holds no folder`), run.stderr);
    assert.match(run.stderr, /is `source` \(or -f\) right/);
    assert.doesNotMatch(`${run.stdout}${run.stderr}`, /success/);
    assert.match(readFileSync(log, 'utf8'), /FAILED \(exit code 2[^\n]*\n[^\n]*holds no <VM>\/<STAMP> backup/);
    assert.deepEqual(
      monitor.pings.map((ping) => ping.path),
      ['/hc/start', '/hc/fail'],
    );
    assert.match(monitor.pings[1]?.body ?? '', /holds no <VM>\/<STAMP> backup/);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
    assert.deepEqual(readTree(s.server.root), before);
  });

  test('ftp-srv: -f pointing at one VM\'s folder: exit 2, "looks like the folder of one VM", names the parent', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 1000 }, 'Bart/2012-08-19-154137': { 'disk1.vmdk': 1000 } },
    });
    const vmFolder = path.join(s.source, 'Bart');

    const run = await s.vmftp('-f', vmFolder, '-S');
    assert.equal(run.code, 2, run.stderr);
    assert.ok(
      run.stderr.includes(`source folder ${vmFolder} holds no <VM>/<STAMP> backup: its folders ${STAMP}, 2012-08-19-154137 are backup stamps`),
      run.stderr,
    );
    assert.match(run.stderr, /looks like the folder of one VM \(Bart\)/);
    assert.ok(run.stderr.includes(`one folder per VM: ${s.source}`), run.stderr);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
  });

  test('ftp-srv: VM folders without a backup in them (the job wrote nothing since the last -x): exit 2 naming them', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV);
    mkdirSync(path.join(s.source, 'Bart'));
    mkdirSync(path.join(s.source, 'Raoul', STAMP), { recursive: true });

    const run = await s.vmftp();
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /holds no <VM>\/<STAMP> backup: none of its folders \(Bart, Raoul\) holds a yyyy-MM-dd-HHmmss folder with files/);
    assert.match(run.stderr, /Raoul.2012-08-18-154137: backup folder holds no file, ignored/);
  });
});

describe('a VM folder or a backup folder linked from another disk is backed up like one of its own', () => {
  test('ftp-srv: a linked VM folder and a linked backup folder go up and verify; nothing is passed over as "not a VM folder"', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm name="Bart"/>' } } });
    // A second disk: Lisa's whole folder, and a newer Bart backup, linked into the source (mklink /J on Windows).
    const otherDisk = path.join(s.work, 'other-disk');
    const newer = '2012-09-01-000000';
    makeBackupTree(otherDisk, { [`Lisa/${STAMP}`]: { 'disk1.vmdk': 20_000 }, [`bart-${newer}`]: { 'vm.ovf': '<vm name="Bart" newer/>' } });
    symlinkSync(path.join(otherDisk, 'Lisa'), path.join(s.source, 'Lisa'));
    symlinkSync(path.join(otherDisk, `bart-${newer}`), path.join(s.source, 'Bart', newer));

    const run = await s.vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /ignored/);
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Lisa', STAMP)), readTree(path.join(otherDisk, 'Lisa', STAMP)));
    assert.deepEqual(readTree(path.join(s.remoteRoot, 'Bart', newer)), readTree(path.join(otherDisk, `bart-${newer}`)));
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [STAMP, newer]);
  });
});

describe('maxAge: a VM whose newest backup on a target is too old fails the run (exit 1); the rotation still happens', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: default 8d: a VM the job stopped producing (10 days) is named with target and age in stderr, --json, log and e-mail; -x waits; maxAge false silences it`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const fresh = stampHoursAgo(2);
      const bart = [stampHoursAgo(72), stampHoursAgo(48), stampHoursAgo(24)];
      const homer = [stampHoursAgo(24 * 13), stampHoursAgo(24 * 12), stampHoursAgo(24 * 11), stampHoursAgo(24 * 10 + 1)];
      const remote: TreeSpec = Object.fromEntries([
        ...bart.map((stamp) => [`Bart/${stamp}`, { 'disk.vmdk': 100 }]),
        ...homer.map((stamp) => [`Homer/${stamp}`, { 'disk.vmdk': 100 }]),
      ]);
      const s = await setUpScenario(t, kind, { local: { [`Bart/${fresh}`]: { 'disk.vmdk': 2000 } }, remote, keep: 3 });
      const smtp = await startSmtpServer({ user: 'vmftp', password: 'smtp-pw' });
      t.after(() => smtp.stop());
      const log = path.join(s.work, 'vmftp.log');
      editConfig(s, (config) => {
        // No maxAge in the file: the default applies.
        delete config.maxAge;
        config.log = { file: log };
        config.mail = { from: 'vmftp@lan', to: 'ops@lan', smtp: { host: smtp.host, port: smtp.port, user: 'vmftp', password: 'smtp-pw' } };
      });

      const run = await s.vmftp('--json', '-m', '-x');
      assert.equal(run.code, 1, run.stderr);
      const report = parseReport(run.stdout);
      assert.deepEqual(
        report.tooOld?.map(({ target, vm, newest, maxAge }) => ({ target, vm, newest, maxAge })),
        [{ target: 'nas', vm: 'Homer', newest: homer[3], maxAge: '8d' }],
      );
      const line = `Homer on nas: the newest complete backup, ${homer[3]}, is 10d 1h old, older than maxAge 8d`;
      assert.ok(report.tooOld[0]?.message.startsWith(line), report.tooOld[0]?.message);
      assert.ok(run.stderr.includes(line), run.stderr);
      assert.ok(readFileSync(log, 'utf8').includes(`too old: ${line}`), 'the summary in the log names it');
      const [mail] = smtp.messages as [ReceivedMail];
      assert.equal(mail.parsed.subject, 'vmftp: FAILED — 1 uploaded, 2 deleted, 1 older than maxAge');
      assert.ok((mail.parsed.text ?? '').includes(`too old: ${line}`), mail.parsed.text);

      // The rotation still happened: tonight's Bart is on the server, each VM keeps its 3 newest.
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [...bart.slice(1), fresh]);
      assert.deepEqual(remoteEntries(s.remoteRoot, 'Homer'), homer.slice(1));
      // ... but the run failed, so -x purged nothing.
      assert.equal(report.afterSuccess?.kind, 'not-run');
      assert.ok(existsSync(path.join(s.source, 'Bart', fresh)));

      // Homer is retired on purpose: its own maxAge false ends the alarm, and -x purges again.
      editConfig(s, (config) => {
        config.vms = { Homer: { targets: ['nas'], maxAge: false }, '*': ['nas'] };
      });
      const next = await s.vmftp('--json', '-x');
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(parseReport(next.stdout).tooOld, []);
      assert.ok(!existsSync(path.join(s.source, 'Bart', fresh)), 'purged after the good run');
    });
  }

  test('ftp-srv: maxAge 36h and a backup job that stopped 2 days ago: exit 1 naming VM, target and age; a fresh backup ends it', BOUNDED, async (t) => {
    const stopped = stampHoursAgo(49);
    const s = await setUpScenario(t, FTP_SRV, { local: { [`Bart/${stopped}`]: { 'disk.vmdk': 100 } } });
    editConfig(s, (config) => {
      config.maxAge = '36h';
    });
    const first = await s.vmftp();
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stdout, new RegExp(`too old: Bart on nas: the newest complete backup, ${stopped}, is 2d 1h old, older than maxAge 36h`));
    assert.match(first.stdout, /FAILED \(exit code 1\)/);
    assert.deepEqual(remoteEntries(s.remoteRoot, 'Bart'), [stopped], 'uploaded all the same');

    const tonight = stampHoursAgo(1);
    mkdirSync(path.join(s.source, 'Bart', tonight));
    writeFileSync(path.join(s.source, 'Bart', tonight, 'disk.vmdk'), 'tonight');
    const second = await s.vmftp();
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /too old/);
  });

  test("ftp-srv: default 8d and a VM's first backup whose upload fails (552): exit 1, the too-old line names that upload, not the backup job", BOUNDED, async (t) => {
    const tonight = stampHoursAgo(1);
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${tonight}`]: { 'disk.vmdk': 100 } },
      rules: { replyToUpload: { match: 'disk.vmdk', code: 552, text: 'Disk full' } },
    });
    editConfig(s, (config) => {
      delete config.maxAge;
    });

    const run = await s.vmftp('--json');
    assert.equal(run.code, 1, run.stderr);
    const tooOld = parseReport(run.stdout).tooOld ?? [];
    assert.deepEqual(
      tooOld.map(({ vm, target, failed, message }) => ({ vm, target, failed, message })),
      [{ vm: 'Bart', target: 'nas', failed: tonight, message: `Bart has no complete backup on nas (maxAge 8d): its upload of ${tonight} failed this run (see the error above)` }],
    );
    assert.doesNotMatch(run.stderr, /backup job/);
  });

  test('ftp-srv: the target is listed again after the uploads when a maxAge or a bare -x needs it, and only then', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {});
    /** Runs vmftp on a new backup of Bart; returns whether remoteDir was listed after its rename. */
    const listedAfterRename = async (stamp: string, ...args: string[]): Promise<boolean> => {
      mkdirSync(path.join(s.source, 'Bart', stamp), { recursive: true });
      writeFileSync(path.join(s.source, 'Bart', stamp, 'disk.vmdk'), stamp);
      const logStart = s.proxy.log.length;
      const run = await s.vmftp(...args);
      assert.equal(run.code, 0, run.stderr);
      const commands = s.proxy.log.slice(logStart);
      const renamed = commands.indexOf(`RNTO /backups/Bart/${stamp}`);
      assert.ok(renamed > 0, commands.join('\n'));
      return commands.slice(renamed).some((line) => /^(MLSD|LIST)( -a)? \/backups$/.test(line));
    };

    // The scenario's config has maxAge false: nothing after the run would read a listing.
    assert.equal(await listedAfterRename(stampHoursAgo(30)), false);
    const purged = stampHoursAgo(20);
    assert.equal(await listedAfterRename(purged, '-x'), true, 'a bare -x purges by what the target holds after the run');
    assert.ok(!existsSync(path.join(s.source, 'Bart', purged)), 'and purged by it');
    editConfig(s, (config) => {
      config.maxAge = '8d';
    });
    assert.equal(await listedAfterRename(stampHoursAgo(10)), true, 'maxAge is judged on what the target holds after the run');
  });
});
