/**
 * The nightly run end to end: the built CLI against real FTP servers on
 * 127.0.0.1 (ftp-srv in-process, pure-ftpd from Debian), judged by what is on
 * the server's disk afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loginTo, runVmftp, writeConfig } from '../support/cli.js';
import { copyFixture, makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { actionKinds, parseReport, parseSimulation } from '../support/report.js';
import { remoteEntries } from '../support/safety.js';
import { SERVER_KINDS } from '../support/servers.js';

for (const kind of SERVER_KINDS) {
  describe(`nightly run against ${kind.name}`, () => {
    async function setUp(t: import('node:test').TestContext) {
      const work = tmpDir(`rotation-${kind.name}`, t);
      const source = copyFixture('VMbackupFolder', path.join(work, 'source'));
      const server = await kind.start({ root: path.join(work, 'ftp') });
      t.after(() => server.stop());
      const { configPath, env } = await writeConfig(work, {
        source,
        targets: { nas: loginTo(server) },
      });
      const remoteRoot = path.join(server.root, 'backups');
      const vmftp = (...args: string[]) => {
        // Folders the test wrote on the server's disk must belong to the FTP user, as uploads would.
        kind.chown(server.root);
        return runVmftp(['-c', configPath, ...args], { env });
      };
      return { work, source, server, remoteRoot, vmftp };
    }

    test('uploads the fixture tree byte-identical; a second run changes nothing', async (t) => {
      if (!kind.usable(t)) return;
      const { source, remoteRoot, vmftp } = await setUp(t);

      const first = await vmftp();
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(readTree(remoteRoot), readTree(source));
      assert.match(first.stdout, /vmftp success/);

      const second = await vmftp('--json');
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(actionKinds(parseReport(second.stdout)), ['keep']);
      assert.deepEqual(readTree(remoteRoot), readTree(source));
    });

    // ftp-srv 4.6 answers SIZE of an empty file with "213 File status" (its reply drops the 0): the C servers only.
    for (const method of kind.name === 'ftp-srv' ? [] : (['internal', 'curl', 'ncftpput'] as const)) {
      test(`-u ${method}: an empty file (VMware's .vmsd) goes up with its backup, which is renamed into place`, async (t) => {
        if (!kind.usable(t) || !requireMethod(t, method)) return;
        const { source, remoteRoot, vmftp } = await setUp(t);
        makeBackupTree(source, { 'Bart/2013-01-01-000000': { 'Bart.vmsd': '', 'Bart.vmx': 'config\n' } });

        const run = await vmftp('-u', method);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', '2013-01-01-000000')), readTree(path.join(source, 'Bart', '2013-01-01-000000')));
      });
    }

    test('a newer backup and -n 2 rotate out the oldest, after the upload', async (t) => {
      if (!kind.usable(t)) return;
      const { source, remoteRoot, vmftp } = await setUp(t);
      assert.equal((await vmftp()).code, 0);
      makeBackupTree(source, { 'Bart/2013-01-01-000000': { 'sample.txt': 'newest Bart\n', 'disk/disk1.vmdk': 200_000 } });

      const run = await vmftp('-n', '2');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), ['2012-08-18-154137', '2013-01-01-000000']);
      assert.deepEqual(remoteEntries(remoteRoot, 'Raoul'), ['2012-07-13-154137']);
      assert.deepEqual(
        readTree(path.join(remoteRoot, 'Bart', '2013-01-01-000000')),
        readTree(path.join(source, 'Bart', '2013-01-01-000000')),
      );
    });

    test('a VM only on the server keeps its N newest; a local backup older than the window is skipped', async (t) => {
      if (!kind.usable(t)) return;
      const { source, remoteRoot, vmftp } = await setUp(t);
      const homerStamps = ['2012-01-01-000000', '2012-02-01-000000', '2012-03-01-000000', '2012-04-01-000000'];
      makeBackupTree(remoteRoot, Object.fromEntries(homerStamps.map((stamp) => [`Homer/${stamp}`, { 'h.txt': stamp }])));
      const bartRemote = ['2013-01-01-000000', '2013-02-01-000000', '2013-03-01-000000'];
      makeBackupTree(remoteRoot, Object.fromEntries(bartRemote.map((stamp) => [`Bart/${stamp}`, { 'b.txt': stamp }])));

      const run = await vmftp();
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(remoteEntries(remoteRoot, 'Homer'), homerStamps.slice(1));
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), bartRemote, 'the two old local Bart backups are not uploaded');
      assert.ok(existsSync(path.join(source, 'Bart', '2000-08-28-154138')), 'skipped local backups stay');
    });

    test('-S prints the plan with reasons and changes nothing; --json -S gives the same plan as data', async (t) => {
      if (!kind.usable(t)) return;
      const { remoteRoot, vmftp, server } = await setUp(t);
      makeBackupTree(remoteRoot, { 'Raoul/2011-01-01-000000': { 'old.txt': 'old' } });
      const before = readTree(server.root);

      const text = await vmftp('-S', '-n', '1');
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /upload\s+2012-08-18-154137/);
      assert.match(text.stdout, /skip\s+2000-08-28-154138/);
      assert.match(text.stdout, /delete\s+2011-01-01-000000/);

      const json = await vmftp('-S', '-n', '1', '--json');
      assert.equal(json.code, 0, json.stderr);
      const { plan } = parseSimulation(json.stdout);
      const raoul = plan.targets[0]!.vms.find((vm) => vm.vm === 'Raoul')!;
      assert.deepEqual(
        raoul.actions.map((action) => [action.type, action.stamp]),
        [
          ['upload', '2012-07-13-154137'],
          ['delete', '2011-01-01-000000'],
        ],
      );
      assert.ok(raoul.actions.every((action) => action.reason.length > 0));
      assert.deepEqual(readTree(server.root), before, 'a simulation must not change the server');
    });

    test('anything that is not <VM>/<STAMP> is warned about and never touched', async (t) => {
      if (!kind.usable(t)) return;
      const { source, remoteRoot, vmftp } = await setUp(t);
      makeBackupTree(remoteRoot, {
        'Bart/2012-08-18': { 'x.txt': 'not a stamp' },
        'Bart/notes': { 'n.txt': 'notes' },
        'Bart/2001-01-01-000000': { 'old.txt': 'old backup' },
      });
      mkdirSync(path.join(source, 'Bart', 'in-progress'));
      writeFileSync(path.join(remoteRoot, 'README.txt'), 'hello');
      writeFileSync(path.join(source, 'stray.txt'), 'not a VM');

      const run = await vmftp('-n', '1');
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), ['2012-08-18', '2012-08-18-154137', 'notes']);
      assert.ok(existsSync(path.join(remoteRoot, 'README.txt')));
      assert.match(run.stderr, /stray\.txt: not a VM folder/);
      assert.match(run.stderr, /in-progress: not a backup folder/);
      assert.match(run.stdout + run.stderr, /Bart\/notes is not a <VM>\/<STAMP> backup/);
    });
  });
}
