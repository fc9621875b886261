import type { TargetConfig, UploadMethod } from '../config/types.js';
import type { FtpSession } from '../ftp/session.js';
import type { Backend } from './backend.js';
import { createInternalBackend } from './internal.js';

/** Returns the backend that moves the file bytes of one target with the chosen program. */
export function createBackend(method: UploadMethod, session: FtpSession, _target: TargetConfig): Backend {
  switch (method) {
    case 'internal':
      return createInternalBackend(session);
    case 'curl':
    case 'ncftpput':
      throw new Error(`upload method ${method} is not available yet`);
  }
}
