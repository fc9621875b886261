/**
 * Whether this machine can upload with a method: the internal client always can, curl and
 * ncftpput need their program on PATH.
 *
 *   test(`-u ${method}: ...`, BOUNDED, async (t) => {
 *     if (!requireMethod(t, method)) return;          // skips locally, fails under CI=true
 *     ...
 *   });
 */
import type { TestContext } from 'node:test';
import { findProgram } from '../../src/backends/programs.js';
import type { UploadMethod } from '../../src/config/types.js';
import { requireOrSkip } from './pure-ftpd.js';

/** The Debian package of each program vmftp can hand the bytes to. */
const PACKAGES = { curl: 'curl', ncftpput: 'ncftp' } as const;

/** Returns true when `-u method` can run here; otherwise skips the test (or throws under CI=true) and returns false. */
export function requireMethod(t: Pick<TestContext, 'skip'>, method: UploadMethod): boolean {
  if (method === 'internal') return true;
  return requireOrSkip(t, findProgram(method) !== undefined, `${method} on PATH (apt-get install ${PACKAGES[method]})`);
}
