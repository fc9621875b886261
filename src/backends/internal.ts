import { createReadStream } from 'node:fs';
import type { FtpSession } from '../ftp/session.js';
import type { Backend, UploadJob } from './backend.js';
import { assertLocalSize, assertSentWhole } from './local-file.js';

/** basic-ftp's default 64 KiB reads run at ~1/3 of curl's speed; 1 MiB matches curl (FTP-SERVERS.md). */
const READ_CHUNK_BYTES = 1 << 20;

/** Returns the backend that sends files over the target's own basic-ftp session. */
export function createInternalBackend(session: FtpSession): Backend {
  return {
    method: 'internal',
    async upload(job: UploadJob, onBytes?: (bytes: number) => void): Promise<void> {
      await assertLocalSize(job);
      const source = createReadStream(job.localPath, { start: job.offset, highWaterMark: READ_CHUNK_BYTES });
      session.trackProgress(onBytes);
      try {
        await session.upload(source, job.remotePath, job.offset);
      } finally {
        session.trackProgress(undefined);
        source.destroy();
      }
      // The backup job may still be writing: what we sent must be exactly the planned file.
      await assertLocalSize(job);
      assertSentWhole(job, source.bytesRead);
    },
  };
}
