/**
 * Error translation of the internal client (src/ftp/session.ts): whatever basic-ftp or the socket
 * throws becomes an FtpError whose kind (and so retry and exit code) comes from the reply code or
 * errno, never from message text. The curl and ncftpput tables are in backend-errors.test.ts; the
 * same translation against real servers is in test/integration/session-errors.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FTPError } from 'basic-ftp';
import { ExitCode, FtpError, exitCodeOf, type FtpErrorKind } from '../../src/errors.js';
import { kindOfReply, translateFtpError } from '../../src/ftp/session.js';
import { targetConfig } from '../support/target.js';

const TARGET = targetConfig({ host: 'nas.lan', port: 2121 });

function replyError(code: number, message: string): FTPError {
  return new FTPError({ code, message: `${code} ${message}` });
}

function errnoError(code: string, message = `connect ${code} 192.0.2.1:2121`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe('kindOfReply: an FTP reply code -> error kind', () => {
  const table: [code: number, kind: FtpErrorKind, why: string][] = [
    [530, 'auth', 'not logged in'],
    [331, 'auth', 'a password was asked for and never accepted'],
    [332, 'auth', 'an account is needed'],
    [421, 'transient', 'service closing / too many connections'],
    [425, 'transient', 'cannot open the data connection'],
    [426, 'transient', 'transfer aborted'],
    [450, 'transient', 'file busy'],
    [451, 'transient', 'local error on the server'],
    [452, 'permanent', 'out of space: a retry only fills the disk again'],
    [552, 'permanent', 'exceeded storage allocation'],
    [550, 'permanent', 'no such file or no permission'],
    [553, 'permanent', 'file name not allowed'],
    [500, 'permanent', 'command not understood'],
    [502, 'permanent', 'command not implemented'],
    [504, 'permanent', 'parameter not implemented'],
  ];
  for (const [code, kind, why] of table) {
    test(`${code} (${why}) is ${kind}`, () => assert.equal(kindOfReply(code), kind));
  }
});

describe('translateFtpError: what basic-ftp or the socket threw -> FtpError', () => {
  test('a refused login is auth, exit 4, with the reply code and a hint naming the config fields', () => {
    const error = translateFtpError(replyError(530, 'Login incorrect.'), TARGET, 'login');
    assert.equal(error.kind, 'auth');
    assert.equal(error.replyCode, 530);
    assert.equal(exitCodeOf(error), ExitCode.Unreachable);
    assert.equal(error.message, 'login on nas (nas.lan:2121): server replied 530 Login incorrect.');
    assert.equal(error.hint, 'check targets.nas.user and its password');
  });

  test('a 4xx reply is transient and a 5xx permanent, both exit 1, with no login hint', () => {
    const transient = translateFtpError(replyError(421, 'Too many connections'), TARGET, 'upload /vm/a');
    assert.deepEqual([transient.kind, transient.replyCode, exitCodeOf(transient), transient.hint], ['transient', 421, ExitCode.PartialFailure, undefined]);
    const full = translateFtpError(replyError(552, 'Disk full'), TARGET, 'upload /vm/a');
    assert.deepEqual([full.kind, full.replyCode, exitCodeOf(full)], ['permanent', 552, ExitCode.PartialFailure]);
    assert.equal(full.message, 'upload /vm/a on nas (nas.lan:2121): server replied 552 Disk full');
  });

  for (const errno of ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']) {
    test(`${errno} is connect, exit 4, naming host:port and what to check`, () => {
      const error = translateFtpError(errnoError(errno), TARGET, 'login');
      assert.equal(error.kind, 'connect');
      assert.equal(error.replyCode, undefined);
      assert.equal(exitCodeOf(error), ExitCode.Unreachable);
      assert.equal(error.message, `cannot connect to nas (nas.lan:2121): ${errno}`);
      assert.equal(error.hint, 'check that the server runs and targets.nas.host/port are right');
    });
  }

  for (const errno of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED']) {
    test(`an untrusted certificate (${errno}) is permanent (waiting does not fix it), hinting ca or allowSelfSigned`, () => {
      const error = translateFtpError(errnoError(errno, 'self-signed certificate'), TARGET, 'login');
      assert.equal(error.kind, 'permanent');
      assert.match(error.message, new RegExp(`^login on nas \\(nas\\.lan:2121\\) failed: the server's TLS certificate is not trusted \\(self-signed certificate; ${errno}\\)$`));
      assert.match(error.hint ?? '', /targets\.nas\.ca .*allowSelfSigned: true/);
    });
  }

  test('a certificate for another host name hints at targets.<name>.host', () => {
    const error = translateFtpError(errnoError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), TARGET, 'login');
    assert.equal(error.kind, 'permanent');
    assert.equal(error.hint, 'the certificate is not for nas.lan: set targets.nas.host to a name it is for');
  });

  for (const thrown of [errnoError('ECONNRESET', 'read ECONNRESET'), errnoError('EPIPE', 'write EPIPE'), new Error('Timeout (control socket)'), 'a string']) {
    test(`anything else (${thrown instanceof Error ? thrown.message : JSON.stringify(thrown)}) is transient: retried`, () => {
      const error = translateFtpError(thrown, TARGET, 'list /vm');
      assert.equal(error.kind, 'transient');
      assert.equal(error.replyCode, undefined);
      assert.equal(error.message, `list /vm on nas (nas.lan:2121) failed: ${thrown instanceof Error ? thrown.message : thrown}`);
      assert.equal(error.cause, thrown);
    });
  }

  test('the kind never comes from the text: a message that reads like a 530 without a reply code is transient', () => {
    assert.equal(translateFtpError(new Error('530 Login incorrect.'), TARGET, 'login').kind, 'transient');
    assert.equal(translateFtpError(errnoError('ECONNRESET', 'ECONNREFUSED'), TARGET, 'login').kind, 'transient');
  });

  test('an FtpError already translated passes through as the same object', () => {
    const original = new FtpError('refusing to touch /vm/..', 'permanent');
    assert.equal(translateFtpError(original, TARGET, 'delete /vm/..'), original);
  });

  test('the original error stays reachable as the cause', () => {
    const thrown = replyError(550, 'No such file');
    assert.equal(translateFtpError(thrown, TARGET, 'delete /vm/x').cause, thrown);
  });
});
