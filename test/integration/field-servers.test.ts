/**
 * vmftp against servers configured like those administrators really have: a NAS
 * behind NAT naming another address in PASV, servers without SIZE, EPSV, MLSD, FEAT, APPE or
 * REST, an IIS-style MS-DOS listing, a server that allows one connection. Each one is a real
 * server (test/support/pyftpdlib.ts) set up that way, and every scenario ends the same way:
 * nothing lost, nothing incomplete under a final name, byte-identical copies, and a second run
 * that changes nothing. And a VM folder the FTP user may enter but not list: only that VM is
 * left alone, the run fails naming it.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { loginTo, runVmftp, writeConfig, type CliResult } from '../support/cli.js';
import { makeBackupTree, readTree, tmpDir, type TreeSpec } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { requireProftpd, startProftpd } from '../support/proftpd.js';
import { requirePyftpdlib, startPyftpdlib, type StartPyftpdlibOptions } from '../support/pyftpdlib.js';
import { actionKinds, parseCheck, parseReport } from '../support/report.js';
import { assertNoIncompleteFinal, assertSafeFailure, finalFolders, snapshot, type Snapshot } from '../support/safety.js';
import { bounded } from '../support/wait.js';

const METHODS = ['internal', 'curl', 'ncftpput'] as const;
type Method = (typeof METHODS)[number];

/** Two VMs, files of a few data packets each, one in a sub-folder. */
const LOCAL: TreeSpec = {
  'Bart/2012-08-18-154137': { 'disk1.vmdk': 300_000, 'vm.ovf': '<ovf/>', 'sub/notes.txt': 'hello' },
  'Raoul/2012-07-13-154137': { 'disk.vmdk': 120_000 },
};

/** Returns true when the test can run with `method` here (skips, or fails under CI=true, otherwise). */
function usable(t: TestContext, method: Method): boolean {
  return requirePyftpdlib(t) && requireMethod(t, method);
}

/** A local tree, a field server set up with `server`, and a config with one target `nas` at `/backups` on it. */
async function setUp(
  t: TestContext,
  server: Omit<StartPyftpdlibOptions, 'root'>,
  options: { local?: TreeSpec; remote?: TreeSpec; target?: Record<string, unknown> } = {},
) {
  const work = tmpDir('field', t);
  const source = path.join(work, 'source');
  makeBackupTree(source, options.local ?? LOCAL);
  const ftp = await startPyftpdlib({ root: path.join(work, 'ftp'), ...server });
  t.after(() => ftp.stop());
  const remoteRoot = path.join(ftp.root, 'backups');
  if (options.remote !== undefined) makeBackupTree(remoteRoot, options.remote);
  const { configPath, env } = await writeConfig(work, {
    source,
    targets: {
      nas: { ...loginTo(ftp), retryDelaySeconds: 0.1, ...options.target },
    },
  });
  const vmftp = (...args: string[]) => runVmftp(['-c', configPath, ...args], { env, timeoutMs: 60_000 });
  return { source, remoteRoot, vmftp, password: ftp.password };
}

/**
 * Asserts that a run succeeded and left the server holding exactly the local backups (plus the
 * old ones `before` had that retention keeps), with nothing incomplete under a final name, and
 * that a second run only keeps.
 */
async function assertConverged(
  run: CliResult,
  setup: { source: string; remoteRoot: string; vmftp: (...args: string[]) => Promise<CliResult> },
  before: Snapshot,
  method: Method,
): Promise<void> {
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, 0, output);
  assertNoIncompleteFinal(setup.remoteRoot, setup.source, before.remote);
  for (const [name, bytes] of Object.entries(readTree(setup.source))) {
    assert.ok(readTree(setup.remoteRoot)[name]?.equals(bytes), `${name} is not on the server byte for byte\n${output}`);
  }
  assert.ok(!Object.keys(readTree(setup.remoteRoot)).some((name) => name.includes('.partial')), `a .partial is left\n${output}`);

  const serverAfterFirst = readTree(setup.remoteRoot);
  const second = await setup.vmftp('-u', method, '--json');
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.deepEqual(actionKinds(parseReport(second.stdout)), ['keep'], 'the second run only keeps');
  assert.deepEqual(readTree(setup.remoteRoot), serverAfterFirst, 'the second run changed the server');
}

describe('a NAS behind NAT: PASV names another address, no EPSV', () => {
  for (const method of METHODS) {
    test(`-u ${method}: data connections go to the control connection's host; everything arrives`, bounded(90), async (t) => {
      if (!usable(t, method)) return;
      const setup = await setUp(t, { masquerade: '10.255.255.1', remove: ['EPSV'] });
      const before = snapshot(setup.source, setup.remoteRoot);
      const run = await setup.vmftp('-u', method, '-v', 'debug');
      await assertConverged(run, setup, before, method);
      assert.match(run.stdout + run.stderr, /PASV reply names 10\.255\.255\.1 .*: data connections go to 127\.0\.0\.1/);
    });
  }

  // 192.0.2.1 is no private address: ncftpput would connect there (libncftp only corrects private ones).
  for (const method of ['internal', 'curl'] as const) {
    test(`-u ${method}: a PASV naming a public address of another host is not followed either`, bounded(90), async (t) => {
      if (!usable(t, method)) return;
      const setup = await setUp(t, { masquerade: '192.0.2.1', remove: ['EPSV'] });
      const before = snapshot(setup.source, setup.remoteRoot);
      await assertConverged(await setup.vmftp('-u', method), setup, before, method);
    });
  }

  test('-u ncftpput: refuses a server whose PASV names a public address of another host, says why and what to use', bounded(90), async (t) => {
    if (!usable(t, 'ncftpput')) return;
    const setup = await setUp(t, { masquerade: '192.0.2.1', remove: ['EPSV'] }, { remote: { 'Bart/2012-01-01-000000': { 'old.vmdk': 1000 } } });
    const before = snapshot(setup.source, setup.remoteRoot);
    const run = await setup.vmftp('-u', 'ncftpput', '-x');
    assertSafeFailure(run, before, {
      code: 1,
      cause: /PASV reply names 192\.0\.2\.1, not 127\.0\.0\.1 .*ncftpput would open its data connection to 192\.0\.2\.1.*use -u internal or -u curl/,
    });
    const next = await setup.vmftp('-u', 'internal');
    await assertConverged(next, setup, before, 'internal');
  });
});

/** Returns the first `bytes` bytes of a local backup file: what an interrupted upload left on the server. */
function prefixOf(source: string, file: string, bytes: number): Buffer {
  return readTree(source)[file]!.subarray(0, bytes);
}

describe('servers that lack a command', () => {
  for (const method of METHODS) {
    test(`no SIZE, -u ${method}: sizes come from the listing, for the verify and for a resume`, bounded(90), async (t) => {
      if (!usable(t, method)) return;
      const setup = await setUp(t, { remove: ['SIZE'] });
      makeBackupTree(setup.remoteRoot, {
        'Bart/2012-08-18-154137.partial': { 'disk1.vmdk': prefixOf(setup.source, 'Bart/2012-08-18-154137/disk1.vmdk', 100_000) },
      });
      const before = snapshot(setup.source, setup.remoteRoot);
      const run = await setup.vmftp('-u', method, '-v', 'debug');
      await assertConverged(run, setup, before, method);
      assert.match(run.stderr, /Bart\/2012-08-18-154137\/disk1\.vmdk from byte 100000/, 'resumed where the listing says the file ends');
    });
  }

  for (const method of METHODS) {
    test(`an old IIS-like server (MS-DOS LIST; no SIZE, EPSV, MLSD, MLST, FEAT; OPTS UTF8 and MKD of a folder that exists refused), -u ${method}: uploads, resumes and rotates`, bounded(90), async (t) => {
      if (!usable(t, method)) return;
      const setup = await setUp(t, { msdos: true, remove: ['SIZE', 'EPSV', 'MLSD', 'MLST', 'FEAT'] }, {
        remote: { 'Bart/2012-01-01-000000': { 'old.vmdk': 5000 }, 'Homer/2012-02-01-000000': { 'h.vmdk': 700 } },
      });
      makeBackupTree(setup.remoteRoot, {
        'Raoul/2012-07-13-154137.partial': { 'disk.vmdk': prefixOf(setup.source, 'Raoul/2012-07-13-154137/disk.vmdk', 50_000) },
      });
      const before = snapshot(setup.source, setup.remoteRoot);
      const run = await setup.vmftp('-u', method, '-n', '1', '-v', 'debug');
      assert.match(run.stderr, /Raoul\/2012-07-13-154137\/disk\.vmdk from byte 50000/, 'resumed where the MS-DOS listing says the file ends');
      await assertConverged(run, setup, before, method);
      // -n 1: Bart's old backup went after the new one verified; Homer, only on the server, keeps its newest.
      assert.deepEqual([...finalFolders(setup.remoteRoot).keys()], ['Bart/2012-08-18-154137', 'Homer/2012-02-01-000000', 'Raoul/2012-07-13-154137']);
    });
  }

  for (const method of METHODS) {
    test(`no APPE and no REST, -u ${method}: interrupted files start again from byte 0, said once; nothing appended`, bounded(90), async (t) => {
      if (!usable(t, method)) return;
      const setup = await setUp(t, { remove: ['APPE', 'REST'] });
      makeBackupTree(setup.remoteRoot, {
        'Bart/2012-08-18-154137.partial': { 'disk1.vmdk': prefixOf(setup.source, 'Bart/2012-08-18-154137/disk1.vmdk', 100_000) },
        'Raoul/2012-07-13-154137.partial': { 'disk.vmdk': prefixOf(setup.source, 'Raoul/2012-07-13-154137/disk.vmdk', 60_000) },
      });
      const before = snapshot(setup.source, setup.remoteRoot);
      const run = await setup.vmftp('-u', method, '-v', 'debug');
      await assertConverged(run, setup, before, method);
      const said = run.stderr.match(/nas: the server cannot append to a file \(it answered 500 to APPE for .*\): interrupted files are sent again from their first byte/g) ?? [];
      assert.equal(said.length, 1, `said once per target\n${run.stderr}`);
    });
  }
});

describe('a server that allows one connection', () => {
  for (const method of METHODS) {
    test(`-u ${method}: inventory, uploads, the fresh listing, deletes and the check before -x all go through that one`, bounded(90), async (t) => {
      if (!usable(t, method)) return;
      const setup = await setUp(t, { maxConsPerIp: 1 }, { remote: { 'Bart/2012-01-01-000000': { 'old.vmdk': 5000 } } });
      const before = snapshot(setup.source, setup.remoteRoot);
      const run = await setup.vmftp('-u', method, '-n', '1');
      await assertConverged(run, setup, before, method);
      assert.match(run.stderr, /nas: the server refused connection 2 .*; using 1 from now on/, 'the second connection was really refused');
      assert.deepEqual([...finalFolders(setup.remoteRoot).keys()], ['Bart/2012-08-18-154137', 'Raoul/2012-07-13-154137'], 'the old backup is deleted');

      // Nothing left to upload: the check before -x purges what is now on the server, still over one connection.
      const serverBefore = readTree(setup.remoteRoot);
      const purge = await setup.vmftp('-u', method, '-n', '1', '-x');
      assert.equal(purge.code, 0, `${purge.stdout}\n${purge.stderr}`);
      assert.deepEqual(readTree(setup.source), {}, 'the uploaded local backups are purged');
      assert.deepEqual(readTree(setup.remoteRoot), serverBefore);
    });
  }
});

describe('a VM folder the FTP user may enter but not list', () => {
  test('550 to its MLSD/LIST: exit 1 (not 4: the target answered) naming VM, target, folder and the server\'s words; the other VM goes up and rotates; nothing of that VM changes, nothing purged; -d says so', bounded(90), async (t) => {
    if (!usable(t, 'internal')) return;
    const stamp = '2012-08-18-154137';
    const old = ['2012-05-01-000000', '2012-06-01-000000', '2012-07-01-000000'];
    const remote = Object.fromEntries(['Bart', 'Homer'].flatMap((vm) => old.map((day) => [`${vm}/${day}`, { 'vm.ovf': `<old ${vm} ${day}/>` }])));
    const setup = await setUp(
      t,
      { refuseListing: ['/backups/Homer'] },
      { local: { [`Bart/${stamp}`]: { 'disk1.vmdk': 100_000 }, [`Homer/${stamp}`]: { 'disk1.vmdk': 100_000 } }, remote },
    );
    const homerBefore = readTree(path.join(setup.remoteRoot, 'Homer'));

    const run = await setup.vmftp('-x', '--json');

    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    const report = parseReport(run.stdout);
    assert.deepEqual(report.targets.map((target) => target.error), [undefined], 'the target is reached');
    assert.deepEqual(report.problems, [
      {
        vm: 'Homer',
        target: 'nas',
        message:
          'nas: folder /backups/Homer could not be listed (the server replied 550 Permission denied.): nothing of Homer is uploaded to or deleted on nas, ' +
          'and none of its local backups is purged; check the permissions of /backups/Homer on nas',
      },
    ]);
    assert.match(run.stderr, /problem: Homer: nas: folder \/backups\/Homer could not be listed \(the server replied 550 Permission denied\.\)/, 'the log says it too');
    assert.deepEqual(readdirSync(path.join(setup.remoteRoot, 'Bart')).sort(), [...old.slice(1), stamp], 'Bart went up and was rotated');
    assert.deepEqual(readTree(path.join(setup.remoteRoot, 'Homer')), homerBefore, "Homer's old backups are untouched, nothing new there");
    assert.equal(report.afterSuccess?.kind, 'not-run');
    assert.deepEqual(Object.keys(readTree(setup.source)).sort(), [`Bart/${stamp}/disk1.vmdk`, `Homer/${stamp}/disk1.vmdk`], 'nothing purged');

    const display = await setup.vmftp('-d');
    assert.equal(display.code, 1, `${display.stdout}\n${display.stderr}`);
    assert.match(display.stdout, /could not list \/backups\/Homer \(the server replied 550 Permission denied\.\): what is there of Homer is unknown/);
  });
});

describe('vmftp check: what each server offers and what vmftp does about it', () => {
  test('an odd NAS (NAT, MS-DOS LIST, no SIZE/EPSV/MLSD/APPE/REST, one connection) and proftpd with explicit FTPS', bounded(90), async (t) => {
    if (!requirePyftpdlib(t) || !requireProftpd(t)) return;
    const work = tmpDir('field-check', t);
    const odd = await startPyftpdlib({
      root: path.join(work, 'odd'),
      masquerade: '10.255.255.1',
      remove: ['EPSV', 'SIZE', 'MLSD', 'MLST', 'APPE', 'REST'],
      msdos: true,
      maxConsPerIp: 1,
    });
    t.after(() => odd.stop());
    const tls = await startProftpd({ root: path.join(work, 'tls'), tls: 'explicit' });
    t.after(() => tls.stop());
    const { configPath, env } = await writeConfig(work, {
      source: work,
      targets: {
        odd: loginTo(odd),
        secure: { ...loginTo(tls), secure: true, allowSelfSigned: true, verify: 'hash', maxConnections: 3 },
      },
    });

    const text = await runVmftp(['-c', configPath, 'check'], { env });
    assert.equal(text.code, 0, `${text.stdout}\n${text.stderr}`);
    const block = (name: string) => text.stdout.slice(text.stdout.indexOf(`${name} (127.0.0.1:`)).split('\n\n')[0] ?? '';
    const oddBlock = block('odd');
    assert.match(oddBlock, /listing\s+LIST, MS-DOS format \(the server has no MLSD\)/);
    assert.match(oddBlock, /sizes\s+from the folder listing \(the server does not know SIZE\)/);
    assert.match(oddBlock, /data\s+PASV \(no EPSV\), naming 10\.255\.255\.1: vmftp connects to 127\.0\.0\.1, the control connection's host, instead/);
    assert.match(oddBlock, /resume\s+none: the server does not know APPE \(500\): an interrupted file is sent again from its first byte/);
    assert.match(oddBlock, /digests\s+none/);
    assert.match(oddBlock, /tls\s+none \(plain FTP\)/);
    assert.match(oddBlock, /connections\s+1: the server refused connection 2 .*vmftp does everything over 1/);
    const secureBlock = block('secure');
    assert.match(secureBlock, /listing\s+MLSD$/m);
    assert.match(secureBlock, /sizes\s+SIZE/);
    assert.match(secureBlock, /data\s+EPSV/);
    assert.match(secureBlock, /resume\s+APPE/);
    assert.match(secureBlock, /digests\s+HASH \(SHA-256\), verify: 'hash' uses it/);
    assert.match(secureBlock, /tls\s+TLSv1\.[23]; data connections reuse the control connection's TLS session/);
    assert.match(secureBlock, /connections\s+3 at once \(targets\.secure\.maxConnections; more were not tried\)/);

    const json = await runVmftp(['-c', configPath, 'check', '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const { targets } = parseCheck(json.stdout);
    assert.deepEqual(
      targets.map((target) => [target.target, target.ok, target.server?.sizes]),
      [
        ['odd', true, 'from the folder listing (the server does not know SIZE)'],
        ['secure', true, 'SIZE'],
      ],
    );
    assert.deepEqual(readTree(odd.root), {}, 'the probe is gone');
  });
});
