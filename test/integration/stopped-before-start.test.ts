/**
 * A run that stops before it starts still reports: with a config whose log, mail and notify
 * blocks are valid, a password variable that is not set, a bad target field, a missing source
 * folder, a lock that cannot be created or a held lock still write the log, send the failure ping and (-m) the failure e-mail,
 * and exit with their own code. A broken mail or notify block is said on stderr and in the log.
 * The built CLI against real FTP, SMTP and HTTP servers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { loginTo, runVmftp, writeConfig } from '../support/cli.js';
import { startDelivery } from '../support/delivery.js';
import { copyFixture, tmpDir } from '../support/fixtures.js';
import { startFtpSrv } from '../support/ftp-srv.js';
import { writeLockFile } from '../support/lock-file.js';
import { editConfig as editScenarioConfig } from '../support/scenario.js';
import type { ReceivedMail } from '../support/smtp.js';
import { bounded } from '../support/wait.js';

/** The fields of the written config these tests change. */
interface EditableConfig {
  source: string;
  lockFile: string;
  targets: { nas: Record<string, unknown> };
  mail: { smtp: Record<string, unknown> };
}

async function setUp(t: TestContext) {
  const work = tmpDir('stopped', t);
  const source = copyFixture('VMbackupFolder', path.join(work, 'source'));
  const server = await startFtpSrv({ root: path.join(work, 'ftp') });
  t.after(() => server.stop());
  const { monitor, smtp, config, env: deliveryEnv } = await startDelivery(t);
  const written = await writeConfig(work, {
    source,
    targets: { nas: loginTo(server) },
    extra: {
      log: { file: 'logs/vmftp.log' },
      ...config,
    },
  });
  const env = { ...written.env, ...deliveryEnv };
  const original = readFileSync(written.configPath, 'utf8');
  /** Rewrites the config through `edit`, from the file as written here: one broken field at a time. */
  const editConfig = (edit: (config: EditableConfig) => void) => {
    writeFileSync(written.configPath, original);
    editScenarioConfig(written, edit);
  };
  return { work, source, server, smtp, monitor, env, editConfig, lockFile: written.lockFile, configPath: written.configPath, logFile: path.join(work, 'logs', 'vmftp.log') };
}

describe('a run that stops before it starts still reports', () => {
  test('password variable not set, bad target field, missing source, lock held: log, fail ping, e-mail, own exit code', bounded(120), async (t) => {
    const s = await setUp(t);
    const cases = [
      {
        name: 'the FTP password variable is not set (a SYSTEM task)',
        prepare: () => undefined,
        env: { VMFTP_TEST_SMTP_PASSWORD: s.env.VMFTP_TEST_SMTP_PASSWORD },
        code: 2,
        says: /targets\.nas\.password: environment variable VMFTP_TEST_PASSWORD_NAS is not set/,
        todo: /Fix what is listed above; nothing was changed/,
      },
      {
        name: 'a bad target field',
        prepare: () =>
          s.editConfig((config) => {
            config.targets.nas.port = 'twenty-one';
          }),
        env: s.env,
        code: 2,
        says: /targets\.nas\.port: expected a number, got "twenty-one"/,
        todo: /Fix what is listed above/,
      },
      {
        name: 'the source folder is missing',
        prepare: () =>
          s.editConfig((config) => {
            config.source = path.join(s.work, 'no-such-folder');
          }),
        env: s.env,
        code: 2,
        says: /no-such-folder/,
        todo: /→ /,
      },
      {
        name: 'the lock cannot be created (a file where its folder should be)',
        prepare: () => {
          writeFileSync(path.join(s.work, 'not-a-folder'), 'x');
          s.editConfig((config) => {
            config.lockFile = path.join(s.work, 'not-a-folder', 'vmftp.lock');
          });
        },
        env: s.env,
        code: 2,
        says: /cannot create the lock file .*not-a-folder[/\\]vmftp\.lock \(EEXIST: [^)]*\): nothing was sent or deleted/,
        todo: /→ let the account that runs vmftp write to that folder, or set `lockFile`/,
      },
      {
        name: 'the lock is held',
        prepare: () => {
          s.editConfig(() => undefined);
          // A live process (this test runner) on this host holds the lock.
          writeLockFile(s.lockFile);
        },
        env: s.env,
        code: 3,
        says: /another vmftp run holds the lock/,
        todo: /wait for it to finish/,
      },
    ];
    for (const [index, one] of cases.entries()) {
      one.prepare();
      const run = await runVmftp(['-c', s.configPath, '-m'], { env: one.env });
      assert.equal(run.code, one.code, `${one.name}: ${run.stderr}`);
      const log = readFileSync(s.logFile, 'utf8');
      assert.match(log, one.says, `${one.name}: in the log`);
      assert.match(log, new RegExp(`ERROR vmftp on .+: FAILED \\(exit code ${one.code}`), `${one.name}: the verdict in the log`);
      assert.deepEqual(
        s.monitor.pings.slice(-2).map((ping) => ping.path),
        ['/ping/night/start', '/ping/night/fail'],
        `${one.name}: the fail ping`,
      );
      assert.match(s.monitor.pings.at(-1)?.body ?? '', one.says);
      assert.equal(s.smtp.messages.length, index + 1, `${one.name}: one e-mail`);
      const mail = s.smtp.messages.at(-1) as ReceivedMail;
      assert.match(mail.parsed.subject ?? '', /^vmftp: FAILED — /, one.name);
      assert.match(mail.parsed.text ?? '', one.says, `${one.name}: the body says what failed`);
      assert.match(mail.parsed.text ?? '', one.todo, `${one.name}: and what to do`);
    }
    rmSync(s.lockFile);
    assert.equal(s.monitor.pings.length, 2 * cases.length);
    // Only the run that held the lock (missing source) started a new log; the others appended.
    const logs = [`${s.logFile}.1`, s.logFile].map((file) => readFileSync(file, 'utf8'));
    assert.deepEqual(logs.map((text) => text.match(/INFO  vmftp backup run started/g)?.length), [2, 3], 'each run left its lines');
  });

  test('a broken mail block is said on stderr and in the log; the fail ping still goes out', bounded(120), async (t) => {
    const s = await setUp(t);
    s.editConfig((config) => {
      config.mail.smtp.port = 'x';
      config.targets.nas.port = 'twenty-one';
    });
    const run = await runVmftp(['-c', s.configPath, '-m'], { env: s.env });
    assert.equal(run.code, 2, run.stderr);
    const said = /mail: this block of the config is invalid \(see below\): no report e-mail can be sent until it is fixed/;
    assert.match(run.stderr, said);
    assert.match(run.stderr, /mail\.smtp\.port: expected a number/);
    assert.match(readFileSync(s.logFile, 'utf8'), said);
    assert.equal(s.smtp.messages.length, 0);
    assert.deepEqual(s.monitor.pings.map((ping) => ping.path), ['/ping/night/start', '/ping/night/fail']);
  });
});
