/**
 * The second half of `vmftp check`: what a target's server offers and what vmftp does about
 * each thing, found by trying it on the check's probe file, never by guessing from a banner.
 */
import { Readable } from 'node:stream';
import { ncftpputPassiveProblem } from '../backends/ncftpput.js';
import type { TargetConfig } from '../config/types.js';
import { FtpError } from '../errors.js';
import { FtpSession, isUnknownCommand } from '../ftp/session.js';

/** One line per behaviour that differs between servers: what the server does, and what vmftp does about it. */
export interface ServerReport {
  readonly listing: string;
  readonly sizes: string;
  readonly data: string;
  readonly resume: string;
  readonly digests: string;
  readonly tls: string;
  readonly connections: string;
}

const APPENDED = 'appended by vmftp check\n';

/**
 * Returns what the server of `session` offers, probed on `file` (`size` bytes, in `dir`, all of
 * the check's own making: the probe appends to it). Rejects when the server claims to append
 * but the file does not grow by exactly what was sent: resuming there would corrupt backups.
 */
export async function describeServer(session: FtpSession, dir: string, file: string, size: number): Promise<ServerReport> {
  const { target } = session;
  await session.list(dir);
  const resume = await probeAppend(session, file, size);
  return {
    listing: describeListing(session),
    sizes: session.sizeSource === 'listing' ? 'from the folder listing (the server does not know SIZE)' : 'SIZE',
    data: describeDataConnection(session, target),
    resume,
    digests: await describeDigests(session, target),
    tls: describeTls(session),
    connections: await probeConnections(target),
  };
}

function describeListing(session: FtpSession): string {
  const listing = session.listing;
  if (listing === undefined) return 'unknown (no listing held a line)';
  return listing.command === 'MLSD' ? 'MLSD' : `${listing.command}, ${listing.format} format (the server has no MLSD)`;
}

function describeDataConnection(session: FtpSession, target: TargetConfig): string {
  const how = session.dataConnection;
  if (how === undefined) return 'unknown (no data connection was opened)';
  if (how.command === 'EPSV') return 'EPSV';
  if (how.announced === how.used) return 'PASV (the server has no EPSV)';
  const ncftpput = ncftpputPassiveProblem(target, how) === undefined ? '' : '; -u ncftpput would follow it: use -u internal or -u curl';
  return `PASV (no EPSV), naming ${how.announced}: vmftp connects to ${how.used}, the control connection's host, instead${ncftpput}`;
}

async function probeAppend(session: FtpSession, file: string, size: number): Promise<string> {
  try {
    await session.upload(Readable.from([Buffer.from(APPENDED)]), file, size);
  } catch (error) {
    if (!(error instanceof FtpError && isUnknownCommand(error.replyCode))) throw error;
    return `none: the server does not know APPE (${error.replyCode}): an interrupted file is sent again from its first byte`;
  }
  const expected = size + Buffer.byteLength(APPENDED);
  const grown = await session.size(file);
  if (grown !== expected) {
    throw new FtpError(
      `APPE to ${file} left it at ${grown} bytes, ${expected} expected: this server does not append as vmftp resumes`,
      'permanent',
      undefined,
      'tell the server\'s administrator; vmftp cannot resume safely there',
    );
  }
  return 'APPE (an interrupted file goes on from the size the server holds)';
}

async function describeDigests(session: FtpSession, target: TargetConfig): Promise<string> {
  const method = await session.remoteHashMethod();
  const use = target.verify === 'hash' ? 'verify: \'hash\' uses it' : 'used with verify: \'hash\'';
  if (method === undefined) return 'none (verify: \'hash\' checks sizes only)';
  return `${method.command} (${method.algorithm}), ${use}`;
}

function describeTls(session: FtpSession): string {
  const tls = session.tls;
  if (tls === undefined) return 'none (plain FTP)';
  if (tls.dataSessionReused === undefined) return tls.version;
  return `${tls.version}; data connections ${tls.dataSessionReused ? 'reuse' : 'do NOT reuse'} the control connection's TLS session`;
}

/** Returns how many connections at once the server allows, up to the target's maxConnections (the check's own is the first). */
async function probeConnections(target: TargetConfig): Promise<string> {
  const extra: FtpSession[] = [];
  try {
    while (extra.length + 1 < target.maxConnections) extra.push(await FtpSession.open(target));
    return `${target.maxConnections} at once (targets.${target.name}.maxConnections; more were not tried)`;
  } catch (error) {
    if (!(error instanceof FtpError) || error.kind !== 'connect') throw error;
    const allowed = extra.length + 1;
    return (
      `${allowed}: the server refused connection ${allowed + 1} (${error.message}); vmftp does everything over ${allowed}` +
      ` (set targets.${target.name}.maxConnections to ${allowed} to skip the refusal)`
    );
  } finally {
    for (const session of extra) session.close();
  }
}
