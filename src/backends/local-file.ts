import { createReadStream, promises as fs } from 'node:fs';
import type { LocalDigest } from '../ftp/hash.js';
import { LocalFileError, LocalFileRewrittenError } from '../errors.js';
import type { UploadJob } from './backend.js';

const STILL_WRITTEN = 'wait for the backup job to finish, then run vmftp again';

/**
 * Resolves when the local file still has the size and modification time the
 * scan saw; rejects with LocalFileError when it cannot be read, and with
 * LocalFileRewrittenError when either changed (the backup job is still writing
 * it: a growing file changes its size, a preallocated image filled in place
 * only its modification time). A new size is no proof of an append (a job
 * that writes the file again from its start, or out of order), so what a
 * server holds of the file is not taken for a prefix of it either way.
 */
export async function assertLocalUnchanged(job: Pick<UploadJob, 'localPath' | 'size' | 'modifiedMs'>): Promise<void> {
  const stats = await fs.stat(job.localPath).catch((error: NodeJS.ErrnoException) => {
    throw new LocalFileError(`${job.localPath} cannot be read: ${error.code ?? error.message}`, undefined, { cause: error });
  });
  if (stats.size !== job.size) {
    throw new LocalFileRewrittenError(
      `${job.localPath} is ${stats.size} bytes, ${job.size} when the run started: the backup is still being written`,
      STILL_WRITTEN,
    );
  }
  if (job.modifiedMs !== undefined && stats.mtimeMs !== job.modifiedMs) {
    throw new LocalFileRewrittenError(
      `${job.localPath} was written to after the run saw it (its size stayed ${job.size} bytes): the backup is still being written`,
      STILL_WRITTEN,
    );
  }
}

/** Returns when `sent` bytes from `job.offset` on make up exactly the planned file; throws LocalFileError otherwise. */
export function assertSentWhole(job: UploadJob, sent: number): void {
  if (job.offset + sent !== job.size) {
    throw new LocalFileError(
      `${job.localPath} changed while it was sent (${job.offset + sent} bytes read, ${job.size} expected)`,
      STILL_WRITTEN,
    );
  }
}

/** Feeds `digest` the bytes of `job`'s file from `start` up to (not including) `end`; rejects with LocalFileError when they cannot all be read. */
export async function digestLocalRange(job: UploadJob, digest: LocalDigest, start: number, end: number): Promise<void> {
  if (end <= start) return;
  let read = 0;
  try {
    for await (const chunk of createReadStream(job.localPath, { start, end: end - 1, highWaterMark: 1 << 20 })) {
      digest.update(chunk as Buffer);
      read += (chunk as Buffer).length;
    }
  } catch (error) {
    throw new LocalFileError(`${job.localPath} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, undefined, { cause: error });
  }
  assertSentWhole({ ...job, offset: start, size: end }, read);
}

/**
 * Returns what `transfer` returns. With a digest to feed, the whole file is digested while an
 * outside program (curl, ncftpput) reads it for the upload: both reads go at once, so the
 * second mostly hits the page cache the first just filled.
 */
export async function alongsideDigest<T>(job: UploadJob, transfer: Promise<T>): Promise<T> {
  const [result] = await Promise.all([transfer, job.digest === undefined ? undefined : digestLocalRange(job, job.digest, 0, job.size)]);
  return result;
}
