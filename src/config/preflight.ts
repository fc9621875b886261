/**
 * Can this config run here, with these flags? The one place that asks, after the config loaded
 * and before anything is touched: the report has somewhere to go, every target can be reached
 * the way the upload method reaches it, the upload program is installed and can be handed the
 * login. It names every reason at once, so one failed night tells the administrator everything.
 */
import { ncftpputLoginProblems } from '../backends/ncftpput.js';
import { missingProgram } from '../backends/programs.js';
import { ConfigError } from '../errors.js';
import type { ResolvedConfig } from './types.js';
import { fieldPath } from './validate.js';

/** What the command line asks of the run beyond the config. */
export interface PreflightOptions {
  /** `-m`: the report is e-mailed. */
  readonly mail: boolean;
  /** Where the upload program is looked for; default: the process's own. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Returns every reason `config` cannot run on this machine, each as the ConfigError (exit 2) that explains it; empty: it can. */
export function preflightProblems(config: ResolvedConfig, options: PreflightOptions): ConfigError[] {
  const problems: ConfigError[] = [];
  if (options.mail && config.mail === undefined) {
    problems.push(
      new ConfigError(
        '-m: there is nothing to send the report with',
        ['mail: missing (-m e-mails the report through the config\'s mail block)'],
        'add mail: { from, to, smtp: { host } } to the config (see README, "Config reference"), or run without -m',
      ),
    );
  }
  const targets = Object.values(config.targets);
  if (config.uploadMethod === 'internal') {
    for (const target of targets.filter((one) => one.activeMode)) {
      problems.push(
        new ConfigError(
          `targets.${target.name}.activeMode: the internal client has no active mode`,
          [],
          'use -u curl or -u ncftpput for that target, or turn activeMode off',
        ),
      );
    }
    return problems;
  }
  const method = config.uploadMethod;
  const missing = missingProgram(method, options.env ?? process.env);
  if (missing !== undefined) problems.push(missing);
  if (method === 'ncftpput') {
    // ncftpput has no TLS: a secure target would get its password in clear.
    const secure = targets.filter((target) => target.secure !== false);
    if (secure.length > 0) {
      problems.push(
        new ConfigError(
          `-u ncftpput cannot reach every target: ncftpput has no TLS`,
          secure.map(
            (target) =>
              `${fieldPath(['targets', target.name, 'secure'])}: ${JSON.stringify(target.secure)} needs TLS, which -u ncftpput does not have; use -u curl or -u internal`,
          ),
        ),
      );
    }
  }
  const loginProblems =
    method === 'curl'
      ? targets.filter((target) => target.user.includes(':')).map((target) => `targets.${target.name}.user: contains ":", which curl takes as the end of the user name`)
      : targets.flatMap(ncftpputLoginProblems);
  if (loginProblems.length > 0) problems.push(new ConfigError(`-u ${method} cannot log in to every target`, loginProblems, 'use -u internal for these targets'));
  return problems;
}

/**
 * Returns when `config` can run here; throws otherwise: the one ConfigError when there is one
 * reason, else one ConfigError that lists every reason with what to do about it.
 */
export function assertRunnable(config: ResolvedConfig, options: PreflightOptions): void {
  const problems = preflightProblems(config, options);
  const [only] = problems;
  if (only === undefined) return;
  if (problems.length === 1) throw only;
  throw new ConfigError(
    `This config cannot run here (${problems.length} problems)`,
    problems.flatMap((problem) => [
      problem.message,
      ...problem.problems.map((line) => `  ${line}`),
      ...(problem.hint === undefined ? [] : [`  → ${problem.hint}`]),
    ]),
    'Fix what is listed above; nothing was changed.',
  );
}
