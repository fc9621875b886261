/**
 * The nightly run with `-u curl` and `-u ncftpput`: the built CLI against
 * ftp-srv and pure-ftpd on 127.0.0.1, through the fault proxy. Switching `-u`
 * must change nothing in what vmftp promises: the same tree on the server,
 * the same rotation, the same exit codes and safe failures (cut mid-file,
 * 552, refused login), and the password's files gone even after Ctrl-C.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { loginTo, runVmftp, startVmftp, writeConfig, type CliResult } from '../support/cli.js';
import { startFaultProxy, type FaultProxyHandle, type FaultRules } from '../support/fault-proxy.js';
import { copyFixture, makeBackupTree, readTree, tmpDir, type TreeSpec } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { remoteEntries } from '../support/safety.js';
import { SERVER_KINDS, type ServerKind } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const RUN_TIMEOUT_MS = 45_000;
const STAMP = '2013-01-01-000000';
const OLD_STAMPS = ['2012-05-01-000000', '2012-06-01-000000', '2012-07-01-000000'];
const OLD_BART: TreeSpec = Object.fromEntries(OLD_STAMPS.map((stamp) => [`Bart/${stamp}`, { 'vm.ovf': `<old ${stamp}/>` }]));
const METHODS = ['curl', 'ncftpput'] as const;
type Method = (typeof METHODS)[number];

interface Setup {
  readonly source: string;
  readonly remoteRoot: string;
  readonly proxy: FaultProxyHandle;
  readonly env: NodeJS.ProcessEnv;
  /** `vmftp -c <config> -u <method> ...args`, to its end. */
  vmftp(...args: string[]): Promise<CliResult>;
  start(...args: string[]): ReturnType<typeof startVmftp>;
}

/** A server seeded with `remote`, the proxy in front of it, `local` as the source and a config pointing at the proxy. */
async function setUp(
  t: TestContext,
  kind: ServerKind,
  method: Method,
  options: { local?: TreeSpec; fixture?: boolean; remote?: TreeSpec; rules?: FaultRules; configPassword?: string; target?: Record<string, unknown> } = {},
): Promise<Setup> {
  const work = tmpDir(`cli-${method}-${kind.name}`, t);
  const source = path.join(work, 'source');
  if (options.fixture === true) copyFixture('VMbackupFolder', source);
  makeBackupTree(source, options.local ?? {});
  const server = await kind.start({ root: path.join(work, 'ftp') });
  t.after(() => server.stop());
  const proxy = await startFaultProxy(server, options.rules ?? {});
  t.after(() => proxy.stop());
  const remoteRoot = path.join(server.root, 'backups');
  if (options.remote !== undefined) makeBackupTree(remoteRoot, options.remote);
  const { configPath, env } = await writeConfig(work, {
    source,
    targets: {
      nas: { ...loginTo(server, proxy), password: options.configPassword ?? server.password, ...options.target },
    },
  });
  // The external programs' private folders go under TMPDIR: this test's own, so it can check they are gone.
  const runEnv = { ...env, TMPDIR: tmpDir('tmp', t) };
  const start = (...args: string[]) => {
    kind.chown(server.root);
    return startVmftp(['-c', configPath, '-u', method, ...args], { env: runEnv, timeoutMs: RUN_TIMEOUT_MS });
  };
  return { source, remoteRoot, proxy, env: runEnv, start, vmftp: (...args) => start(...args).done };
}

/** The external programs left no private folder behind. */
function assertNoSecretsLeft(setup: Setup): void {
  assert.deepEqual(readdirSync(setup.env.TMPDIR!).filter((name) => name.startsWith('vmftp-secret-')), []);
}

for (const method of METHODS) {
  for (const kind of SERVER_KINDS) {
    describe(`-u ${method} against ${kind.name}`, () => {
      test('uploads the fixture tree byte-identical, rotates with -n 2 after the upload; a second run changes nothing', BOUNDED, async (t) => {
        if (!kind.usable(t) || !requireMethod(t, method)) return;
        const setup = await setUp(t, kind, method, { fixture: true });
        const { source, remoteRoot, vmftp } = setup;

        const first = await vmftp();
        assert.equal(first.code, 0, first.stderr);
        assert.deepEqual(readTree(remoteRoot), readTree(source));

        makeBackupTree(source, { [`Bart/${STAMP}`]: { 'sample.txt': 'newest Bart\n', 'disk Ölkers/disk 1.vmdk': 200_000 } });
        const rotate = await vmftp('-n', '2');
        assert.equal(rotate.code, 0, rotate.stderr);
        assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), ['2012-08-18-154137', STAMP]);
        assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', STAMP)), readTree(path.join(source, 'Bart', STAMP)));

        const logStart = setup.proxy.log.length;
        const again = await vmftp('-n', '2');
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(setup.proxy.log.slice(logStart).filter((line) => /^(STOR|APPE|RNFR|RMD|DELE)/.test(line)), []);
        assertNoSecretsLeft(setup);
      });

      test('a cut mid-file fails that backup only (exit 1), old backups stay; the next run resumes it with APPE', BOUNDED, async (t) => {
        if (!kind.usable(t) || !requireMethod(t, method)) return;
        const setup = await setUp(t, kind, method, {
          local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 400_000, 'vm.ovf': '<vm/>' }, 'Raoul/2012-07-13-154137': { 'disk.vmdk': 20_000 } },
          remote: OLD_BART,
          rules: { cutUpload: { match: 'disk1.vmdk', afterBytes: 150_000 } },
          // No retry in this run: the next run's resume is what this test shows (faults-transient.test.ts: the same run).
          target: { retries: 0 },
        });
        const { source, remoteRoot, proxy, vmftp } = setup;

        const cut = await vmftp('-x');
        assert.equal(cut.code, 1, cut.stderr);
        assert.match(cut.stderr, new RegExp(`Bart/${STAMP}[^\\n]*disk1\\.vmdk[^\\n]*with ${method} failed`));
        assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
        assert.ok(existsSync(path.join(source, 'Bart', STAMP)), '-x purged nothing');
        assert.deepEqual(readTree(path.join(remoteRoot, 'Raoul', '2012-07-13-154137')), readTree(path.join(source, 'Raoul', '2012-07-13-154137')));
        const partial = path.join(remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk');
        for (const deadline = Date.now() + 5000; !(existsSync(partial) && statSync(partial).size === 150_000) && Date.now() < deadline; ) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        assert.equal(statSync(partial).size, 150_000, 'the server kept what it got before the cut');

        proxy.setRules({});
        const logStart = proxy.log.length;
        const next = await vmftp();
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
        assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', STAMP)), readTree(path.join(source, 'Bart', STAMP)));
        const writes = proxy.log.slice(logStart).filter((line) => /^(STOR|APPE|REST)/.test(line));
        // The cut file is appended to; vm.ovf went up beside it in the first run (files of a backup upload in parallel).
        assert.deepEqual(writes, [`APPE /backups/Bart/${STAMP}.partial/disk1.vmdk`]);
        assertNoSecretsLeft(setup);
      });

      test('a 552 reply to the upload fails the backup (exit 1) naming the file; all old backups stay', BOUNDED, async (t) => {
        if (!kind.usable(t) || !requireMethod(t, method)) return;
        const setup = await setUp(t, kind, method, {
          local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 300_000, 'vm.ovf': '<vm/>' } },
          remote: OLD_BART,
          rules: { replyToUpload: { match: 'disk1.vmdk', code: 552, text: 'Disk full', afterBytes: 65_536 } },
        });
        const { source, remoteRoot, proxy, vmftp } = setup;

        const full = await vmftp('-x');
        assert.equal(full.code, 1, full.stderr);
        assert.match(full.stderr, new RegExp(`disk1\\.vmdk[^\\n]*(552|out of space)`));
        assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS, `${STAMP}.partial`]);
        assert.ok(!proxy.log.some((line) => /^(RMD|DELE)/.test(line)), 'nothing deleted');
        assert.ok(existsSync(path.join(source, 'Bart', STAMP)), '-x purged nothing');

        proxy.setRules({});
        const next = await vmftp();
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
        assertNoSecretsLeft(setup);
      });

      test('a refused login exits 4 naming the target, and changes nothing', BOUNDED, async (t) => {
        if (!kind.usable(t) || !requireMethod(t, method)) return;
        const setup = await setUp(t, kind, method, {
          local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
          remote: OLD_BART,
          configPassword: 'a-wrong-password',
        });
        const before = readTree(setup.remoteRoot);
        const run = await setup.vmftp('-x', '-n', '1');
        assert.equal(run.code, 4, run.stderr);
        assert.match(run.stderr, /nas \(127\.0\.0\.1:\d+\)[^\n]*530/);
        assert.deepEqual(readTree(setup.remoteRoot), before);
        assert.ok(existsSync(path.join(setup.source, 'Bart', STAMP)));
      });
    });
  }

  describe(`-u ${method}: what is refused before anything changes`, () => {
    test(`${method} missing from PATH exits 2 with what to do`, BOUNDED, async (t) => {
      const work = tmpDir(`cli-missing-${method}`, t);
      const source = path.join(work, 'source');
      makeBackupTree(source, { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } });
      const { configPath, env } = await writeConfig(work, {
        source,
        targets: { nas: { host: '127.0.0.1', port: 1, user: 'backup', password: 'unused-password' } },
      });
      const run = await runVmftp(['-c', configPath, '-u', method], { env: { ...env, PATH: tmpDir('empty-path', t) } });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`${method} not found on PATH — install it or use -u internal`));
    });

    test('active mode is accepted and used for the uploads', BOUNDED, async (t) => {
      const kind = SERVER_KINDS[0]!;
      if (!kind.usable(t) || !requireMethod(t, method)) return;
      const setup = await setUp(t, kind, method, { local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 100_000 } }, target: { activeMode: true } });
      const run = await setup.vmftp();
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(readTree(setup.remoteRoot), readTree(setup.source));
      const storeAt = setup.proxy.log.findIndex((line) => line.startsWith('STOR'));
      assert.match(setup.proxy.log.slice(0, storeAt).reverse().find((line) => /^(PORT|EPRT|PASV|EPSV)/.test(line)) ?? '', /^(PORT|EPRT) /);
    });
  });
}

describe('-u ncftpput: no TLS, and its login file never outlives the run', () => {
  test('a secure target is a config error naming the target (exit 2)', BOUNDED, async (t) => {
    const work = tmpDir('cli-ncftpput-tls', t);
    const source = path.join(work, 'source');
    makeBackupTree(source, { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } });
    const { configPath, env } = await writeConfig(work, {
      source,
      targets: {
        nas: { host: '127.0.0.1', port: 1, user: 'backup', password: 'unused-password' },
        offsite: { host: '127.0.0.1', port: 2, user: 'backup', password: 'unused-password', secure: true },
      },
    });
    const run = await runVmftp(['-c', configPath, '-u', 'ncftpput'], { env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /targets\.offsite\.secure: true needs TLS, which -u ncftpput does not have/);
    assert.doesNotMatch(run.stderr, /targets\.nas\.secure/);
  });

  test('Ctrl-C during an upload exits 130 and removes the login file', BOUNDED, async (t) => {
    const kind = SERVER_KINDS[0]!;
    if (!kind.usable(t) || !requireMethod(t, 'ncftpput')) return;
    const setup = await setUp(t, kind, 'ncftpput', {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 4_000_000 } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 65_536 } },
    });
    const running = setup.start();
    const tmp = setup.env.TMPDIR!;
    const loginFiles = () =>
      readdirSync(tmp)
        .filter((name) => name.startsWith('vmftp-secret-'))
        .flatMap((dir) => (existsSync(path.join(tmp, dir, 'login.cfg')) ? [path.join(tmp, dir, 'login.cfg')] : []));
    for (const deadline = Date.now() + 15_000; loginFiles().length === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(loginFiles().length, 1, 'ncftpput is running with its login file');
    assert.equal(statSync(loginFiles()[0]!).mode & 0o777, 0o600);

    running.kill('SIGINT');
    const result = await running.done;
    assert.equal(result.code, 130, result.stderr);
    assertNoSecretsLeft(setup);
  });
});
