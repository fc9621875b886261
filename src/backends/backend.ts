import type { UploadMethod } from '../config/types.js';
import type { LocalDigest } from '../ftp/hash.js';

/** One file to send into a folder that already exists on the server. */
export interface UploadJob {
  readonly localPath: string;
  /** Absolute remote path of the file. */
  readonly remotePath: string;
  /** Bytes the server already holds: the transfer appends from here. */
  readonly offset: number;
  /** Local size when the plan was made; a file that no longer has it fails with LocalFileError. */
  readonly size: number;
  /** Local modification time when the scan saw the file; a file that no longer has it fails with LocalFileError too. */
  readonly modifiedMs?: number;
  /**
   * With `verify: 'hash'`: the backend feeds it every byte of the file, from byte 0 and in
   * order, reading each byte once, so the digest is of what the server should now hold.
   */
  readonly digest?: LocalDigest;
}

/**
 * Moves file bytes, nothing else: backends never decide what to upload, and
 * listing, rename and delete stay on the internal FtpSession.
 */
export interface Backend {
  readonly method: UploadMethod;
  /**
   * Resolves when the server confirmed the whole file. Rejects with FtpError
   * (its kind says whether a retry can help) or LocalFileError (the local file
   * changed or could not be read).
   */
  upload(job: UploadJob, onBytes?: (bytes: number) => void): Promise<void>;
}
