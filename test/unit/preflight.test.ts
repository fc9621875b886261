/**
 * "Can this config run here": one preflight, after the config loaded and before anything is
 * touched, that names every reason at once; one reason alone is the very error it always was.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResolvedConfig, TargetConfig } from '../../src/config/types.js';
import { assertRunnable, preflightProblems } from '../../src/config/preflight.js';
import { Secret } from '../../src/config/secret.js';
import { ConfigError, ExitCode, exitCodeOf } from '../../src/errors.js';
import { tmpDir } from '../support/fixtures.js';
import { targetConfig } from '../support/target.js';

/** The programs are on this machine's PATH, or are not anywhere. */
const NO_PROGRAMS = { PATH: tmpDir('preflight') };

function config(uploadMethod: ResolvedConfig['uploadMethod'], targets: TargetConfig[] = [targetConfig()], mail = false): ResolvedConfig {
  return {
    source: '/backups',
    keep: 3,
    maxAge: false,
    targets: Object.fromEntries(targets.map((one) => [one.name, one])),
    vms: { '*': { targets: targets.map((one) => one.name) } },
    ...(mail ? { mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', port: 587, secure: false } } } : {}),
    lockFile: '/tmp/vmftp.lock',
    logKeep: 10,
    uploadMethod,
    deleteFirst: false,
  };
}

const messages = (problems: readonly ConfigError[]) => problems.map((problem) => problem.message);

describe('preflight', () => {
  test('a config the internal client can run, without -m, passes', () => {
    assert.deepEqual(preflightProblems(config('internal'), { mail: false, env: NO_PROGRAMS }), []);
    assert.deepEqual(preflightProblems(config('internal', [targetConfig()], true), { mail: true, env: NO_PROGRAMS }), []);
  });

  test('-m without mail, and every active-mode target under the internal client', () => {
    const targets = [targetConfig({ activeMode: true }), targetConfig({ name: 'offsite', activeMode: true }), targetConfig({ name: 'plain' })];
    assert.deepEqual(messages(preflightProblems(config('internal', targets), { mail: true, env: NO_PROGRAMS })), [
      '-m: there is nothing to send the report with',
      'targets.nas.activeMode: the internal client has no active mode',
      'targets.offsite.activeMode: the internal client has no active mode',
    ]);
  });

  test('-u ncftpput: the program, TLS and the login file, all at once', () => {
    const targets = [
      targetConfig({ secure: true }),
      targetConfig({ name: 'offsite', password: new Secret('a\nb') }),
      targetConfig({ name: 'plain' }),
    ];
    const problems = preflightProblems(config('ncftpput', targets), { mail: false, env: NO_PROGRAMS });
    assert.deepEqual(messages(problems), [
      'ncftpput not found on PATH — install it or use -u internal',
      '-u ncftpput cannot reach every target: ncftpput has no TLS',
      '-u ncftpput cannot log in to every target',
    ]);
    assert.deepEqual(problems[1]?.problems, ['targets.nas.secure: true needs TLS, which -u ncftpput does not have; use -u curl or -u internal']);
    assert.deepEqual(problems[2]?.problems, ["targets.offsite.password: contains a line break, which ncftpput's login file cannot hold"]);
  });

  test('-u curl: a user name with ":" is named by field', () => {
    const problems = preflightProblems(config('curl', [targetConfig({ user: 'dom:user' })]), { mail: false, env: NO_PROGRAMS });
    assert.deepEqual(messages(problems), ['curl not found on PATH — install it or use -u internal', '-u curl cannot log in to every target']);
    assert.deepEqual(problems[1]?.problems, ['targets.nas.user: contains ":", which curl takes as the end of the user name']);
  });

  test('a missing program is a ConfigError (exit 2) that says what to do', () => {
    for (const method of ['curl', 'ncftpput'] as const) {
      assert.throws(
        () => assertRunnable(config(method), { mail: false, env: NO_PROGRAMS }),
        (error: unknown) =>
          error instanceof ConfigError && error.message === `${method} not found on PATH — install it or use -u internal` && exitCodeOf(error) === ExitCode.Usage,
      );
    }
    assert.doesNotThrow(() => assertRunnable(config('internal'), { mail: false, env: NO_PROGRAMS }));
  });

  test('assertRunnable: one reason is thrown as it is; several become one error listing each with its hint (exit 2)', () => {
    assert.throws(
      () => assertRunnable(config('internal'), { mail: true, env: NO_PROGRAMS }),
      (error: unknown) => error instanceof ConfigError && error.message === '-m: there is nothing to send the report with' && exitCodeOf(error) === ExitCode.Usage,
    );
    assert.throws(
      () => assertRunnable(config('curl', [targetConfig({ activeMode: true })]), { mail: true, env: NO_PROGRAMS }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, 'This config cannot run here (2 problems)');
        assert.deepEqual(error.problems, [
          '-m: there is nothing to send the report with',
          "  mail: missing (-m e-mails the report through the config's mail block)",
          '  → add mail: { from, to, smtp: { host } } to the config (see README, "Config reference"), or run without -m',
          'curl not found on PATH — install it or use -u internal',
          '  → Debian/Ubuntu: apt-get install curl; Windows 10+ ships curl.exe',
        ]);
        assert.equal(exitCodeOf(error), ExitCode.Usage);
        return true;
      },
    );
  });
});
