import type { ResolvedConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { ncftpputLoginProblems } from './ncftpput.js';
import { requireProgram } from './programs.js';

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
