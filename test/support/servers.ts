import type { TestContext } from 'node:test';
import { startFtpSrv, type FtpServerHandle, type StartServerOptions } from './ftp-srv.js';
import { requireProftpd, startProftpd } from './proftpd.js';
import { chownToFtpUser, requirePureFtpd, startPureFtpd } from './pure-ftpd.js';
import { chownToVsftpdUser, requireVsftpd, startVsftpd } from './vsftpd.js';

/**
 * A real FTP server the integration suites run against, with what a suite needs to write on it
 * behind the FTP login's back. vsftpd logs in anonymously and may write only under `/pub`:
 * `remoteBase` is where a suite puts its remoteDir, `chown` hands a folder the test filled behind
 * the server's back to the FTP user.
 */
export interface ServerKind {
  readonly name: 'ftp-srv' | 'pure-ftpd' | 'proftpd' | 'vsftpd';
  /** Returns false (test skipped) or throws (CI=true) when the server cannot run here. */
  readonly usable: (t: Pick<TestContext, 'skip'>) => boolean;
  readonly start: (options: StartServerOptions) => Promise<Omit<FtpServerHandle, 'kind'>>;
  /** Folder (as the FTP user sees it) under which the user may create folders: '' for `/`. */
  readonly remoteBase: '' | '/pub';
  readonly chown: (dir: string) => void;
}

/** The in-process npm server (always there) and pure-ftpd from Debian: the servers every suite iterates. */
export const SERVER_KINDS: readonly ServerKind[] = [
  { name: 'ftp-srv', usable: () => true, start: startFtpSrv, remoteBase: '', chown: chownToFtpUser },
  { name: 'pure-ftpd', usable: requirePureFtpd, start: startPureFtpd, remoteBase: '', chown: chownToFtpUser },
];

/**
 * More C servers, for the compatibility suite (test/integration/servers-compat.test.ts), the
 * backend contract suite and the few tests that need one of them: not in SERVER_KINDS. proftpd
 * 1.3.8 (MLSD, HASH) and vsftpd 3.0.3 (LIST only), from Debian, unpacked by
 * scripts/ensure-test-deps.sh.
 */
export const COMPAT_SERVER_KINDS: readonly ServerKind[] = [
  { name: 'proftpd', usable: requireProftpd, start: startProftpd, remoteBase: '', chown: chownToFtpUser },
  { name: 'vsftpd', usable: requireVsftpd, start: startVsftpd, remoteBase: '/pub', chown: chownToVsftpdUser },
];

/** All four servers, for the backend contract suite (test/integration/backends.test.ts): a backend's contract holds on each. */
export const ALL_SERVER_KINDS: readonly ServerKind[] = [...SERVER_KINDS, ...COMPAT_SERVER_KINDS];
