/**
 * `vmftp check` and `vmftp init`, as a new installation uses them: write a
 * starter config, then prove every target works before the first night.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { STARTER_PASSWORD_ENV } from '../../src/commands/init.js';
import { loadConfig } from '../../src/config/load.js';
import { loginTo, runVmftp, writeConfig } from '../support/cli.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import { randomPassword, startFtpSrv } from '../support/ftp-srv.js';
import { parseCheck } from '../support/report.js';
import { BOUNDED } from '../support/wait.js';

async function servers(t: TestContext) {
  const work = tmpDir('check', t);
  const good = await startFtpSrv({ root: path.join(work, 'good') });
  t.after(() => good.stop());
  const locked = await startFtpSrv({ root: path.join(work, 'locked') });
  t.after(() => locked.stop());
  const proxy = await startFaultProxy(locked, { replyToCommand: { command: 'MKD', code: 550, text: 'Permission denied', times: 100 } });
  t.after(() => proxy.stop());
  // A backup already on the good server: check must not touch it.
  makeBackupTree(path.join(good.root, 'backups'), { 'Bart/2012-08-18-154137': { 'disk1.vmdk': 1000 } });
  mkdirSync(path.join(locked.root, 'backups'));
  return { work, good, locked, proxy };
}

describe('vmftp check', () => {
  test('reports every target: a good one OK, a wrong password and an unwritable remoteDir FAILED; exit 4', BOUNDED, async (t) => {
    const { work, good, locked, proxy } = await servers(t);
    const before = readTree(good.root);
    const wrong = randomPassword();
    const { configPath, env } = await writeConfig(work, {
      source: work,
      targets: {
        nas: loginTo(good),
        badpass: { ...loginTo(good), password: wrong },
        readonly: loginTo(locked, proxy),
      },
    });

    const text = await runVmftp(['check', '-c', configPath], { env });
    assert.equal(text.code, 4, text.stderr);
    assert.match(text.stdout, /^nas\s+127\.0\.0\.1:\d+\s+\/backups\s+OK$/m);
    assert.match(text.stdout, /^badpass\s+.*FAILED: login refused: login on badpass \(127\.0\.0\.1:\d+\): server replied 530 .*\(check targets\.badpass\.user and its password\)$/m);
    assert.match(text.stdout, /^readonly\s+.*FAILED: create folder \/backups\/\.vmftp-check-[0-9a-f]{8} on readonly \(127\.0\.0\.1:\d+\): server replied 550 /m);
    assert.match(text.stdout, /2 of 3 targets FAILED/);
    assert.ok(!(text.stdout + text.stderr).includes(wrong));

    const json = await runVmftp(['check', '-c', configPath, '--json'], { env });
    assert.equal(json.code, 4);
    const { targets } = parseCheck(json.stdout);
    const nas = targets.find((one) => one.target === 'nas');
    assert.deepEqual(nas?.passed, ['logged in as backup', `created ${nas?.passed[1]?.slice('created '.length)}`, 'wrote and sized a file', 'renamed the folder', 'deleted the folder']);
    assert.deepEqual(
      targets.map((one) => [one.target, one.ok]),
      [
        ['nas', true],
        ['badpass', false],
        ['readonly', false],
      ],
    );
    // The backup run's word for it (its table, the e-mail subject): "login refused", only for the refused login.
    assert.deepEqual(targets.filter((one) => one.loginRefused === true).map((one) => one.target), ['badpass']);
    assert.match(targets.find((one) => one.target === 'badpass')?.failure ?? '', /^login refused: /);
    assert.deepEqual(readTree(good.root), before, 'the backups are untouched and no probe is left behind');
    assert.deepEqual(readdirSync(path.join(good.root, 'backups')), ['Bart']);
    // basic-ftp walks into /backups first, then creates the probe by its bare name.
    assert.ok(proxy.log.some((line) => /^MKD (\/backups\/)?\.vmftp-check-[0-9a-f]{8}$/.test(line)), proxy.log.join('\n'));
  });

  test('exit 0 when every target passes', BOUNDED, async (t) => {
    const { work, good } = await servers(t);
    const { configPath, env } = await writeConfig(work, {
      source: work,
      targets: { nas: { ...loginTo(good), remoteDir: '/new/vm' } },
    });
    const run = await runVmftp(['-c', configPath, 'check'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /all 1 target OK/);
    assert.match(run.stderr, /\/new\/vm does not exist yet: creating it/);
    assert.deepEqual(readdirSync(path.join(good.root, 'new', 'vm')), [], 'only the (empty) remoteDir stays');
  });
});

describe('vmftp init', () => {
  test('writes a commented vmftp.config.ts that the real loader accepts once its password variable is set', BOUNDED, async (t) => {
    const dir = tmpDir('init', t);
    const file = path.join(dir, 'vmftp.config.ts');
    const run = await runVmftp(['init', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`next: set ${STARTER_PASSWORD_ENV}`));
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\/\/ vmftp\.config\.ts, written by `vmftp init`/);
    assert.match(text, /import \{ defineConfig \} from 'vmftp';/);
    assert.ok(text.split('\n').filter((line) => line.trim().startsWith('//')).length >= 15, 'the file explains itself');

    await assert.rejects(loadConfig({ configPath: file, flags: {}, env: {} }), (error: { problems?: string[] }) => {
      assert.deepEqual(error.problems, [`targets.nas.password: environment variable ${STARTER_PASSWORD_ENV} is not set`]);
      return true;
    });
    const { config } = await loadConfig({ configPath: file, flags: {}, env: { [STARTER_PASSWORD_ENV]: 'secret' } });
    assert.equal(config.targets.nas?.password.reveal(), 'secret');
    assert.equal(config.logFile, path.join(dir, 'logs', 'vmftp.log'));
    assert.equal(config.logKeep, 10);
    assert.equal(config.keep, 3);
  });

  test('refuses to overwrite (exit 2, file unchanged); --force replaces it', BOUNDED, async (t) => {
    const dir = tmpDir('init-exists', t);
    const file = path.join(dir, 'vmftp.config.ts');
    writeFileSync(file, '// mine\n');
    const refused = await runVmftp(['init', file]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /init: .*vmftp\.config\.ts exists; nothing was written/);
    assert.match(refused.stderr, /pass --force/);
    assert.equal(readFileSync(file, 'utf8'), '// mine\n');

    const forced = await runVmftp(['init', '--force', file]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(readFileSync(file, 'utf8'), /defineConfig/);
    assert.ok(!existsSync(path.join(dir, 'logs')), 'init writes the config only');
  });
});
