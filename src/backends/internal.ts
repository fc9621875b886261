import { createReadStream } from 'node:fs';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { LocalDigest } from '../ftp/hash.js';
import type { FtpSession } from '../ftp/session.js';
import type { Backend, UploadJob } from './backend.js';
import type { TransferLimit } from './bandwidth.js';
import { assertLocalUnchanged, assertSentWhole, digestLocalRange } from './local-file.js';

/** basic-ftp's default 64 KiB reads run at ~1/3 of curl's speed; 1 MiB matches curl (docs/ftp-servers.md). */
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Returns the backend that sends files over the target's own basic-ftp session, through `limit`
 * when the target has one. When `stop` aborts (the run's deadline, a signal) a transfer ends at
 * once, its connection dropped (the session reconnects for whatever comes next), and none starts
 * after: each rejects with the stop's reason.
 */
export function createInternalBackend(session: FtpSession, stop?: AbortSignal, limit?: TransferLimit): Backend {
  return {
    method: 'internal',
    async upload(job: UploadJob, onBytes?: (bytes: number) => void): Promise<void> {
      stop?.throwIfAborted();
      const drop = () => session.dropConnection();
      stop?.addEventListener('abort', drop, { once: true });
      try {
        await send(session, job, limit, onBytes);
      } finally {
        stop?.removeEventListener('abort', drop);
      }
    },
  };
}

/** Resolves when the server confirmed the file from `job.offset` on and the local file is still the planned one. */
async function send(session: FtpSession, job: UploadJob, limit: TransferLimit | undefined, onBytes?: (bytes: number) => void): Promise<void> {
  await assertLocalUnchanged(job);
  // The bytes the server already holds are read once here; the rest are digested as they are sent: one pass.
  if (job.digest !== undefined) await digestLocalRange(job, job.digest, 0, job.offset);
  const file = createReadStream(job.localPath, { start: job.offset, highWaterMark: READ_CHUNK_BYTES });
  const read = job.digest === undefined ? file : digesting(file, job.digest);
  const source = limit === undefined ? read : limit.throttle(read);
  session.trackProgress(onBytes);
  try {
    await session.upload(source, job.remotePath, job.offset);
  } finally {
    session.trackProgress(undefined);
    source.destroy();
  }
  // The backup job may still be writing: what we sent must be exactly the planned file.
  await assertLocalUnchanged(job);
  assertSentWhole(job, file.bytesRead);
}

/** Returns `file` passed through unchanged, feeding `digest` each chunk on its way to the server. */
function digesting(file: Readable, digest: LocalDigest): Readable {
  const tap = new Transform({
    readableHighWaterMark: READ_CHUNK_BYTES,
    writableHighWaterMark: READ_CHUNK_BYTES,
    transform(chunk: Buffer, _encoding, done) {
      digest.update(chunk);
      done(null, chunk);
    },
  });
  // A read error reaches the upload through the tap, which pipeline destroys with it.
  return pipeline(file, tap, () => undefined);
}
