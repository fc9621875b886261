/**
 * The delete-path guard (backupPath in src/run/execute.ts): every remote folder vmftp creates, renames
 * or deletes is built by it, so a name from a server, a config or a bug can never make a delete
 * reach outside `<remoteDir>/<VM>/<STAMP>[.partial]`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ExitCode, FtpError, exitCodeOf } from '../../src/errors.js';
import { backupPath } from '../../src/run/execute.js';

const STAMP = '2012-08-18-154137';

describe('backupPath: the only remote folders vmftp touches', () => {
  const accepted: [remoteDir: string, vm: string, stamp: string, partial: boolean, expected: string][] = [
    ['/vm', 'Bart', STAMP, false, `/vm/Bart/${STAMP}`],
    ['/vm', 'Bart', STAMP, true, `/vm/Bart/${STAMP}.partial`],
    ['/', 'Bart', STAMP, false, `/Bart/${STAMP}`],
    ['/vm/', 'Bart', STAMP, true, `/vm/Bart/${STAMP}.partial`],
    ['/backups/nightly', 'web 01', STAMP, false, `/backups/nightly/web 01/${STAMP}`],
    ['/vm', 'ünïcødé-日本', STAMP, false, `/vm/ünïcødé-日本/${STAMP}`],
    ['/vm', '.hidden', STAMP, false, `/vm/.hidden/${STAMP}`],
    ['/vm', 'Bart.v2', '2000-02-29-235959', false, '/vm/Bart.v2/2000-02-29-235959'],
  ];
  for (const [remoteDir, vm, stamp, partial, expected] of accepted) {
    test(`${remoteDir} + ${JSON.stringify(vm)} + ${stamp}${partial ? ' (partial)' : ''} -> ${expected}`, () => {
      const built = backupPath(remoteDir, vm, stamp, partial);
      assert.equal(built, expected);
      // Exactly two segments below remoteDir, neither climbing out.
      const below = path.posix.relative(remoteDir, built).split('/');
      assert.deepEqual(below, [vm, partial ? `${stamp}.partial` : stamp]);
    });
  }

  const refused: [vm: string, stamp: string, why: string][] = [
    ['..', STAMP, 'the VM name climbs to remoteDir\'s parent'],
    ['.', STAMP, 'the VM name is remoteDir itself'],
    ['', STAMP, 'an empty VM name is remoteDir itself'],
    ['../etc', STAMP, 'a VM name with a separator'],
    ['Bart/..', STAMP, 'a VM name that walks back'],
    ['a\\b', STAMP, 'a Windows separator'],
    ['Bart.', STAMP, 'a name Windows would store as another VM\'s folder'],
    ['Bart ', STAMP, 'a trailing space'],
    ['a\u0000b', STAMP, 'a NUL'],
    ['Bart', '..', 'the stamp climbs to the VM folder\'s parent'],
    ['Bart', '', 'an empty stamp is the VM folder itself'],
    ['Bart', `${STAMP}/..`, 'a stamp that walks back'],
    ['Bart', `${STAMP}.partial`, 'the partial suffix given as part of the stamp'],
    ['Bart', '2012-08-18', 'a date without a time'],
    ['Bart', '2012-13-40-999999', 'a stamp of no real date'],
    ['Bart', 'notes', 'a stray folder'],
  ];
  for (const [vm, stamp, why] of refused) {
    for (const partial of [false, true]) {
      test(`refuses ${JSON.stringify(vm)} / ${JSON.stringify(stamp)}${partial ? ' (partial)' : ''}: ${why}`, () => {
        assert.throws(
          () => backupPath('/vm', vm, stamp, partial),
          (error: unknown) => {
            assert.ok(error instanceof FtpError, `expected an FtpError, got ${String(error)}`);
            // Permanent: a retry would build the same path again.
            assert.equal(error.kind, 'permanent');
            assert.equal(exitCodeOf(error), ExitCode.PartialFailure);
            assert.match(error.message, /^refusing to touch \/vm\/.*: not a valid VM name and stamp$/s);
            return true;
          },
        );
      });
    }
  }
});
