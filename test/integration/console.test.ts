/**
 * The console is not the run: a reader of stdout that went away (`vmftp -d | head`, a log
 * collector that died) must not stop a backup halfway or end it with a stack trace; and stdout
 * carries only the result, so `--json` is one JSON document, also when the run fails.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runVmftp } from '../support/cli.js';
import { readTree } from '../support/fixtures.js';
import { writeLockFile } from '../support/lock-file.js';
import { parseFailure } from '../support/report.js';
import { editConfig, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const LOCAL = { 'Bart/2013-01-01-000000': { 'disk1.vmdk': 200_000, 'vm.ovf': '<vm/>' }, 'Raoul/2013-01-02-000000': { 'r.vmdk': 50_000 } };

describe('stdout closed by its reader', () => {
  for (const args of [[], ['-d'], ['-S'], ['--json']]) {
    test(`vmftp ${args.join(' ') || '(backup run)'} ends normally, with no EPIPE stack trace`, BOUNDED, async (t) => {
      const s = await setUpScenario(t, FTP_SRV, { local: LOCAL });
      const run = await runVmftp(['-c', s.configPath, '--no-progress', ...args], { env: s.env, closeStdout: true });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /EPIPE|Error:|at .*\.js:\d+/);
      if (args.length === 0) assert.deepEqual(readTree(s.remoteRoot), readTree(s.source), 'the backup went up all the same');
    });
  }
});

describe('--json: a failure is a JSON error object on stdout', () => {
  test('a config error (a bad field, a password variable that is not set): exit 2, every problem by field', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: LOCAL });
    editConfig<{ targets: { nas: Record<string, unknown> } }>(s, (config) => {
      config.targets.nas.port = 'twenty-one';
    });
    for (const args of [['--json'], ['--json', '-S'], ['check', '--json']]) {
      const run = await runVmftp(['-c', s.configPath, ...args], { env: {} });
      assert.equal(run.code, 2, run.stderr);
      const { error } = parseFailure(run.stdout);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /^Invalid vmftp configuration in .*vmftp\.config\.json \(2 problems\)$/);
      assert.deepEqual(error.problems, [
        'targets.nas.port: expected a number, got "twenty-one"',
        'targets.nas.password: environment variable VMFTP_TEST_PASSWORD_NAS is not set',
      ]);
      assert.match(error.hint ?? '', /nothing was changed/);
      assert.match(run.stderr, /targets\.nas\.port: expected a number/, 'stderr still tells a person');
    }
  });

  test('a run refused by the lock: exit 3, the refusal as a JSON error', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: LOCAL });
    // A live process (this test runner) on this host holds the lock.
    writeLockFile(s.lockFile);
    const run = await runVmftp(['-c', s.configPath, '--json'], { env: s.env });
    assert.equal(run.code, 3, run.stderr);
    const { error } = parseFailure(run.stdout);
    assert.equal(error.exitCode, 3);
    assert.match(error.message, /^another vmftp run holds the lock /);
    assert.match(error.hint ?? '', /wait for it to finish/);
  });
});
