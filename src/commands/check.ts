/**
 * `vmftp check`: before the first night, prove every target works: connect,
 * log in, and create, write, rename and delete a probe folder
 * `<remoteDir>/.vmftp-check-<random>`. Nothing else on the server is touched.
 * On the way it finds out what the server offers (check-server.ts).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { LoadedConfig } from '../config/load.js';
import type { ResolvedConfig, TargetConfig } from '../config/types.js';
import { ExitCode, FtpError, VmftpError } from '../errors.js';
import { FtpSession } from '../ftp/session.js';
import { createLocalDigest } from '../ftp/hash.js';
import type { Logger } from '../delivery/log.js';
import { colorsFor, NO_COLORS, type Colors } from '../report/color.js';
import { describeError } from '../report/failure.js';
import { table } from '../report/format.js';
import { notReached } from '../report/totals.js';
import { describeServer, type ServerReport } from './check-server.js';

/** What `check` found on one target. */
export interface TargetCheck {
  readonly target: string;
  readonly host: string;
  readonly remoteDir: string;
  readonly ok: boolean;
  /** The steps that worked, in order. */
  readonly passed: readonly string[];
  /** The step that failed and why, with what to do. */
  readonly failure?: string;
  /** Set with `failure` when the server refused the login (wrong user or password), worded as the backup run words it. */
  readonly loginRefused?: true;
  /** What the server offers and what vmftp does about it (when the check got that far). */
  readonly server?: ServerReport;
}

const PROBE_TEXT = 'vmftp check: this folder is a probe and is deleted right away\n';

/** `vmftp check`: checks every target, prints the table (or `--json`); returns exit 0 when all passed, 4 otherwise. */
export async function checkCommand(loaded: LoadedConfig, options: { readonly json: boolean }, log: Logger): Promise<ExitCode> {
  for (const warning of loaded.warnings) log.warn(warning);
  const checks = await checkTargets(loaded.config, log);
  process.stdout.write(`${options.json ? JSON.stringify({ targets: checks }, null, 2) : formatCheck(checks, colorsFor(process.stdout))}\n`);
  return checks.every((check) => check.ok) ? ExitCode.Ok : ExitCode.Unreachable;
}

/** Returns the result of every configured target, checked in parallel. */
export function checkTargets(config: ResolvedConfig, log: Logger): Promise<TargetCheck[]> {
  return Promise.all(Object.values(config.targets).map((target) => checkTarget(target, log)));
}

async function checkTarget(target: TargetConfig, log: Logger): Promise<TargetCheck> {
  const probe = path.posix.join(target.remoteDir, `.vmftp-check-${randomBytes(4).toString('hex')}`);
  const renamed = `${probe}-renamed`;
  const passed: string[] = [];
  let step = `connect and log in as ${target.user}`;
  let session: FtpSession | undefined;
  let created: string | undefined;
  try {
    session = await FtpSession.open(target);
    passed.push(`logged in as ${target.user}`);

    step = `find ${target.remoteDir}`;
    const existed = (await session.list(target.remoteDir)) !== undefined;
    if (!existed) passed.push(`${target.remoteDir} does not exist yet: creating it`);

    step = `create folder ${probe}`;
    await session.ensureDir(probe);
    created = probe;
    passed.push(`created ${probe}`);

    step = `write a file into ${probe}`;
    const file = path.posix.join(probe, 'probe.txt');
    await session.upload(Readable.from([Buffer.from(PROBE_TEXT)]), file, 0);
    const size = await session.size(file);
    if (size !== Buffer.byteLength(PROBE_TEXT)) {
      throw new FtpError(`${file} is ${size} bytes on the server after sending ${Buffer.byteLength(PROBE_TEXT)}`, 'permanent');
    }
    passed.push('wrote and sized a file');

    if (target.verify === 'hash') {
      step = `compare the digest of ${file}`;
      passed.push(await checkDigest(session, file, target, log));
    }

    step = `find out what the server offers`;
    const server = await describeServer(session, probe, file, Buffer.byteLength(PROBE_TEXT));
    for (const [aspect, finding] of Object.entries(server)) log.info(`check ${target.name}: ${aspect}: ${finding}`);

    step = `rename ${probe} to ${renamed}`;
    await session.rename(probe, renamed);
    created = renamed;
    passed.push('renamed the folder');

    step = `delete ${renamed}`;
    await session.removeDir(renamed);
    created = undefined;
    passed.push('deleted the folder');
    log.info(`check ${target.name}: OK (${passed.join(', ')})`);
    return { target: target.name, host: `${target.host}:${target.port}`, remoteDir: target.remoteDir, ok: true, passed, server };
  } catch (error) {
    // The project's errors already name the operation and the server; anything else gets the step.
    const detail = error instanceof VmftpError ? describeError(error) : `${step}: ${describeError(error)}`;
    const loginRefused = error instanceof FtpError && error.kind === 'auth';
    const failure = loginRefused ? `${notReached({ loginRefused })}: ${detail}` : detail;
    log.error(`check ${target.name}: FAILED: ${failure}`);
    if (session !== undefined && created !== undefined) {
      // Leave nothing behind; if even that fails, say which folder to remove by hand.
      await session.removeDir(created).catch(() => log.warn(`check ${target.name}: could not remove the probe ${created}; delete it by hand`));
    }
    return {
      target: target.name,
      host: `${target.host}:${target.port}`,
      remoteDir: target.remoteDir,
      ok: false,
      passed,
      failure,
      ...(loginRefused ? { loginRefused } : {}),
    };
  } finally {
    session?.close();
  }
}

/**
 * Returns what `verify: 'hash'` will do on this server, once the probe's digest matched; a
 * server that offers none is a warning, not a failure: uploads are then checked by size.
 */
async function checkDigest(session: FtpSession, file: string, target: TargetConfig, log: Logger): Promise<string> {
  const method = await session.remoteHashMethod();
  if (method === undefined) {
    log.warn(`check ${target.name}: the server offers no file digest (HASH, XSHA256, XSHA512, XSHA1, XMD5 or XCRC): verify 'hash' will check sizes only`);
    return 'no digest offered (sizes only)';
  }
  const digest = createLocalDigest(method.algorithm);
  digest.update(Buffer.from(PROBE_TEXT));
  const local = digest.hex();
  const remote = await session.remoteHash(file, method, Buffer.byteLength(PROBE_TEXT));
  if (remote === undefined) {
    log.warn(`check ${target.name}: the server offers ${method.command} but gave no digest of ${file}: verify 'hash' may check sizes only`);
    return `${method.command} gave no digest (sizes only)`;
  }
  if (remote !== local) {
    throw new FtpError(
      `${method.command} of ${file} answered ${remote}, ${local} expected`,
      'permanent',
      undefined,
      `set targets.${target.name}.verify to 'size' if this server's digests cannot be trusted`,
    );
  }
  return `compared ${method.algorithm} with ${method.command}`;
}

/** Returns the per-target result table of `check`. */
export function formatCheck(checks: readonly TargetCheck[], colors: Colors = NO_COLORS): string {
  const rows = [
    ['target', 'server', 'remoteDir', 'result'],
    ...checks.map((check) => [check.target, check.host, check.remoteDir, check.ok ? 'OK' : `FAILED: ${check.failure ?? ''}`]),
  ];
  const good = checks.filter((check) => check.ok).length;
  const verdict =
    good === checks.length
      ? colors.green(`all ${checks.length} target${checks.length === 1 ? '' : 's'} OK: login, create, write, rename and delete work`)
      : colors.red(`${checks.length - good} of ${checks.length} target${checks.length === 1 ? '' : 's'} FAILED: fix what is listed, then run vmftp check again`);
  const paint = (text: string, row: number, column: number): string => {
    if (row === 0) return colors.bold(text);
    if (column === 3) return checks[row - 1]?.ok === true ? colors.green(text) : colors.red(text);
    return text;
  };
  const servers = checks.flatMap((check) =>
    check.server === undefined
      ? []
      : [`${colors.bold(`${check.target} (${check.host})`)}: what the server offers, and what vmftp does\n${table(Object.entries(check.server).map(([aspect, finding]) => [`  ${aspect}`, finding]))}`],
  );
  return [table(rows, paint), ...servers, verdict].join('\n\n');
}
