import type { TestContext } from 'node:test';
import { startFtpSrv, type FtpServerHandle, type StartServerOptions } from './ftp-srv.js';
import { requirePureFtpd, startPureFtpd } from './pure-ftpd.js';

/** A real FTP server the integration suites run against. */
export interface ServerKind {
  readonly name: 'ftp-srv' | 'pure-ftpd';
  /** Returns false (test skipped) or throws (CI=true) when the server cannot run here. */
  readonly usable: (t: Pick<TestContext, 'skip'>) => boolean;
  readonly start: (options: StartServerOptions) => Promise<FtpServerHandle>;
}

/** The in-process npm server (always there) and pure-ftpd from Debian. */
export const SERVER_KINDS: readonly ServerKind[] = [
  { name: 'ftp-srv', usable: () => true, start: startFtpSrv },
  { name: 'pure-ftpd', usable: requirePureFtpd, start: startPureFtpd },
];
