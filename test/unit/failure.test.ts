/** How an error reads, in one line (a table cell, a log line) and as a block (the run's last words, `--json`). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, ExitCode, FtpError, LockError } from '../../src/errors.js';
import { describeError, failureJson, failureLines } from '../../src/report/failure.js';

describe('describeError: one line', () => {
  test("a vmftp error: its message, and what to do in brackets when it says", () => {
    assert.equal(describeError(new FtpError('login on nas (h:21): server replied 530', 'auth', 530, 'check targets.nas.user')),
      'login on nas (h:21): server replied 530 (check targets.nas.user)');
    assert.equal(describeError(new LockError('another run holds the lock')), 'another run holds the lock');
  });

  test('anything else: its message, or the thrown value as text', () => {
    assert.equal(describeError(new Error('ECONNRESET')), 'ECONNRESET');
    assert.equal(describeError('a string'), 'a string');
  });
});

describe('failureLines and failureJson: the block', () => {
  test('message, every problem indented, then the hint after an arrow', () => {
    const error = new ConfigError('Invalid config', ['a: bad', 'b: worse'], 'fix it');
    assert.deepEqual(failureLines(error), ['Invalid config', '  a: bad', '  b: worse', '  → fix it']);
    assert.deepEqual(failureJson(error), { error: { message: 'Invalid config', problems: ['a: bad', 'b: worse'], hint: 'fix it', exitCode: ExitCode.Usage } });
  });

  test('an unexpected error is named a bug, with how to report it', () => {
    const lines = failureLines(new TypeError('x is undefined'));
    assert.deepEqual(lines, ['unexpected failure: x is undefined', '  → this is a bug in vmftp: run again with -v debug and report the output']);
    assert.equal(failureJson(new TypeError('x')).error.exitCode, ExitCode.PartialFailure);
  });
});
