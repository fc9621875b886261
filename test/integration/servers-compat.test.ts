/**
 * vmftp on more real servers: the built CLI against proftpd 1.3.8 (MLSD, HASH) and vsftpd 3.0.3
 * (no MLSD: LIST only) from Debian on 127.0.0.1, judged by what is on the server's disk. The same
 * nightly run, rotation and -d as rotation.test.ts runs on ftp-srv and pure-ftpd, once per server
 * (one server per suite, one remoteDir per test, to stay fast).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { loginTo, runVmftp, writeConfig } from '../support/cli.js';
import { copyFixture, makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import type { FtpServerHandle } from '../support/ftp-srv.js';
import { requireMethod } from '../support/methods.js';
import { actionKinds, parseDisplay, parseReport } from '../support/report.js';
import { remoteEntries } from '../support/safety.js';
import { COMPAT_SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

for (const kind of COMPAT_SERVER_KINDS) {
  describe(`vmftp against ${kind.name}`, () => {
    const work = tmpDir(`compat-${kind.name}`);
    let server: Omit<FtpServerHandle, 'kind'> | undefined;

    before(async () => {
      // Without the server the tests skip (or fail under CI) one by one in kind.usable().
      if (!kind.usable({ skip: () => undefined })) return;
      server = await kind.start({ root: path.join(work, 'ftp') });
    });
    after(() => server?.stop());

    /** A fixture source and a fresh remoteDir for one test; `vmftp()` runs the CLI on them. */
    async function setUp(t: TestContext, extraTarget: Record<string, unknown> = {}) {
      assert.ok(server, `${kind.name} did not start`);
      const srv = server;
      const dir = tmpDir(`compat-${kind.name}`, t);
      const source = copyFixture('VMbackupFolder', path.join(dir, 'source'));
      const remoteDir = `${kind.remoteBase}/${path.basename(dir)}`;
      const remoteRoot = path.join(srv.root, remoteDir);
      const { configPath, env } = await writeConfig(dir, {
        source,
        targets: { nas: { ...loginTo(srv), remoteDir, ...extraTarget } },
      });
      const vmftp = (...args: string[]) => {
        // Folders the test wrote on the server's disk must belong to the FTP user, as uploads would.
        kind.chown(path.join(srv.root, kind.remoteBase));
        return runVmftp(['-c', configPath, ...args], { env, timeoutMs: 45_000 });
      };
      return { source, remoteRoot, vmftp };
    }

    for (const method of ['internal', 'curl'] as const) {
      test(`-u ${method}: uploads the fixture tree byte-identical; a second run only keeps`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        if (!requireMethod(t, method)) return;
        const { source, remoteRoot, vmftp } = await setUp(t);

        const first = await vmftp('-u', method);
        assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
        assert.deepEqual(readTree(remoteRoot), readTree(source));
        assert.match(first.stdout, /vmftp success/);

        const second = await vmftp('-u', method, '--json');
        assert.equal(second.code, 0, second.stderr);
        assert.deepEqual(actionKinds(parseReport(second.stdout)), ['keep']);
        assert.deepEqual(readTree(remoteRoot), readTree(source));
      });
    }

    test('a newer backup and -n 2 rotate out the oldest; a VM only on the server keeps its 2 newest; strays stay', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { source, remoteRoot, vmftp } = await setUp(t);
      const homerStamps = ['2012-01-01-000000', '2012-02-01-000000', '2012-03-01-000000'];
      makeBackupTree(remoteRoot, {
        ...Object.fromEntries(homerStamps.map((stamp) => [`Homer/${stamp}`, { 'h.txt': stamp }])),
        'Bart/notes': { 'n.txt': 'not a backup' },
      });
      assert.equal((await vmftp()).code, 0);
      makeBackupTree(source, { 'Bart/2013-01-01-000000': { 'sample.txt': 'newest Bart\n', 'disk/disk1.vmdk': 200_000 } });

      const run = await vmftp('-n', '2');
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), ['2012-08-18-154137', '2013-01-01-000000', 'notes']);
      assert.deepEqual(remoteEntries(remoteRoot, 'Raoul'), ['2012-07-13-154137']);
      assert.deepEqual(remoteEntries(remoteRoot, 'Homer'), homerStamps.slice(1));
      assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', '2013-01-01-000000')), readTree(path.join(source, 'Bart', '2013-01-01-000000')));
      assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', 'notes')), { 'n.txt': Buffer.from('not a backup') });
      assert.match(run.stdout + run.stderr, /Bart\/notes is not a <VM>\/<STAMP> backup/);
    });

    test('-d lists every backup with its files and size, and changes nothing', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { source, remoteRoot, vmftp } = await setUp(t);
      assert.equal((await vmftp()).code, 0);
      makeBackupTree(remoteRoot, { 'Bart/2013-01-01-000000.partial': { 'half.vmdk': 'half an upload' } });
      kind.chown(remoteRoot);
      const serverBefore = readTree(remoteRoot);

      const text = await vmftp('-d');
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /Bart\s+2012-08-18-154137\s+1 file\s+116 B\s+complete/);
      assert.match(text.stdout, /Raoul\s+2012-07-13-154137\s+1 file\s+109 B\s+complete/);
      assert.match(text.stdout, /Bart\s+2013-01-01-000000\s.*(partial|incomplete)/);

      const json = await vmftp('-d', '--json');
      assert.equal(json.code, 0, json.stderr);
      const listing = parseDisplay(json.stdout);
      const complete = listing.targets[0]!.vms.flatMap((vm) =>
        vm.backups.filter((b) => b.state === 'complete').map((b) => [vm.vm, b.stamp, b.files, b.bytes]),
      );
      const local = readTree(source);
      const expected = ['Bart/2000-08-28-154138', 'Bart/2012-08-18-154137', 'Raoul/2012-07-13-154137'].map((backup) => {
        const files = Object.entries(local).filter(([name]) => name.startsWith(`${backup}/`));
        return [...backup.split('/'), files.length, files.reduce((sum, [, bytes]) => sum + bytes.length, 0)];
      });
      assert.deepEqual(complete, expected);
      assert.deepEqual(readTree(remoteRoot), serverBefore, '-d must not change the server');
    });

    if (kind.name === 'proftpd') {
      test('verify: hash checks every file with the server\'s digest (mod_digest: HASH / XSHA256)', BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const { source, remoteRoot, vmftp } = await setUp(t, { verify: 'hash' });
        const run = await vmftp('-v', 'debug');
        assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
        assert.deepEqual(readTree(remoteRoot), readTree(source));
        const output = `${run.stdout}\n${run.stderr}`;
        assert.match(output, /verified with HASH \(SHA-256\)/, 'FEAT offers HASH with SHA-256: vmftp picks it');
        // proftpd answers `213-Computing SHA-256 digest` then `213 SHA-256 0-<n> <hex> <path>`.
        assert.doesNotMatch(output, /checked by size only|no SHA-256 digest/, 'every file is checked by its digest, not only its size');
      });
    }
  });
}
