/**
 * The one safety sequence of the backends that run an outside program (curl, ncftpput) per file,
 * so that the guarantee cannot drift between them: the local file still has its planned size, the
 * digest is read alongside, a failure becomes the backend's own error, and after a success the file
 * must still have its size and the program must have sent exactly the rest of it. What to send is
 * execute's decision alone (an empty file is sent too).
 */
import type { FtpError, LocalFileError } from '../errors.js';
import type { UploadJob } from './backend.js';
import { alongsideDigest, assertLocalSize, assertSentWhole } from './local-file.js';

/** How one run of the program went. */
export interface ProgramTransfer {
  /** The failure, already translated into the project's error kinds; undefined: the server confirmed the file. */
  readonly error?: FtpError | LocalFileError | undefined;
  /** The bytes that went out from `job.offset` on, when the program or the feeding stream tells. */
  readonly sent?: number | undefined;
}

/**
 * Resolves when `transfer` (one run of the program) sent the rest of `job`'s file and the checks
 * around it passed; rejects with the transfer's error, or with LocalFileError when the file changed.
 * `onBytes` gets the bytes that went out: on a failure only when `transfer` knows them.
 */
export async function uploadWithProgram(
  job: UploadJob,
  onBytes: ((bytes: number) => void) | undefined,
  transfer: () => Promise<ProgramTransfer>,
): Promise<void> {
  await assertLocalSize(job);
  const { error, sent } = await alongsideDigest(job, transfer());
  if (error !== undefined) {
    if (sent !== undefined) onBytes?.(sent);
    throw error;
  }
  onBytes?.(sent ?? job.size - job.offset);
  // The backup job may still be writing: what the program sent must be exactly the planned file.
  await assertLocalSize(job);
  if (sent !== undefined) assertSentWhole(job, sent);
}
