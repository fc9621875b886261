import type { ResolvedConfig, TargetConfig, UploadMethod } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { FtpSession } from '../ftp/session.js';
import type { Backend } from './backend.js';
import { createCurlBackend, type CurlBackendOptions } from './curl.js';
import { createInternalBackend } from './internal.js';
import { createNcftpputBackend, ncftpputLoginProblems, type NcftpputBackendOptions } from './ncftpput.js';
import { requireProgram } from './programs.js';

/** Settings of the external backends that are not part of a target (tests throttle curl with them). */
export type BackendOptions = CurlBackendOptions & NcftpputBackendOptions;

/** Returns the backend that moves the file bytes of one target with the chosen program. */
export function createBackend(method: UploadMethod, session: FtpSession, target: TargetConfig, options: BackendOptions = {}): Backend {
  switch (method) {
    case 'internal':
      return createInternalBackend(session);
    case 'curl':
      return createCurlBackend(target, options);
    case 'ncftpput':
      return createNcftpputBackend(target, options);
  }
}

/**
 * Returns when `config.uploadMethod` can upload to every target on this
 * machine; throws a ConfigError (exit 2) before anything is touched otherwise: the program is not on PATH, or a target's login cannot
 * be handed to it without a command line.
 */
export function assertUploadMethodUsable(config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): void {
  const method = config.uploadMethod;
  if (method === 'internal') return;
  requireProgram(method, env);
  const targets = Object.values(config.targets);
  const problems =
    method === 'curl'
      ? targets.filter((target) => target.user.includes(':')).map((target) => `targets.${target.name}.user: contains ":", which curl takes as the end of the user name`)
      : targets.flatMap(ncftpputLoginProblems);
  if (problems.length > 0) throw new ConfigError(`-u ${method} cannot log in to every target`, problems, 'use -u internal for these targets');
}
