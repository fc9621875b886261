import { promises as fs } from 'node:fs';
import { LocalFileError } from '../errors.js';
import type { UploadJob } from './backend.js';

const STILL_WRITTEN = 'wait for the backup job to finish, then run vmftp again';

/**
 * Resolves when the local file still has the size the plan was made with;
 * rejects with LocalFileError when it cannot be read or its size changed
 * (the backup job may still be writing it).
 */
export async function assertLocalSize(job: UploadJob): Promise<void> {
  const stats = await fs.stat(job.localPath).catch((error: NodeJS.ErrnoException) => {
    throw new LocalFileError(`${job.localPath} cannot be read: ${error.code ?? error.message}`, undefined, { cause: error });
  });
  if (stats.size !== job.size) {
    throw new LocalFileError(
      `${job.localPath} is ${stats.size} bytes, ${job.size} when the run started: the backup is still being written`,
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
