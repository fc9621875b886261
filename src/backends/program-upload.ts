/**
 * The one safety sequence of the backends that run an outside program (curl, ncftpput) per file,
 * so that the guarantee cannot drift between them: the local file still has its planned size, the
 * digest is read alongside, a failure becomes the backend's own error, and after a success the file
 * must still have its size and the program must have sent exactly the rest of it. What to send is
 * execute's decision alone (an empty file is sent too).
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { FtpError, LocalFileError } from '../errors.js';
import type { UploadJob } from './backend.js';
import type { TransferLimit } from './bandwidth.js';
import { alongsideDigest, assertLocalUnchanged, assertSentWhole } from './local-file.js';

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
  await assertLocalUnchanged(job);
  const { error, sent } = await alongsideDigest(job, transfer());
  if (error !== undefined) {
    if (sent !== undefined) onBytes?.(sent);
    throw error;
  }
  onBytes?.(sent ?? job.size - job.offset);
  // The backup job may still be writing: what the program sent must be exactly the planned file.
  await assertLocalUnchanged(job);
  if (sent !== undefined) assertSentWhole(job, sent);
}

/** Pipe reads of 1 MiB, as the internal client reads files (docs/ftp-servers.md). */
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Returns what `run` returned and the bytes read from the file, after `run` had the rest of
 * `job`'s file (from `job.offset` on) as a stream for the program's stdin, through `limit` when
 * the target has a `bwlimit`. The stream is closed when `run` ends, whatever the outcome.
 */
export async function feedThrough<T>(
  limit: TransferLimit | undefined,
  job: UploadJob,
  run: (stdin: Readable) => Promise<T>,
): Promise<{ result: T; bytesRead: number }> {
  const file = createReadStream(job.localPath, { start: job.offset, highWaterMark: READ_CHUNK_BYTES });
  const stdin = limit === undefined ? file : limit.throttle(file);
  try {
    const result = await run(stdin);
    return { result, bytesRead: file.bytesRead };
  } finally {
    stdin.destroy();
    file.destroy();
  }
}
