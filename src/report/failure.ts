import { CommanderError } from 'commander';
import { ConfigError, ExitCode, VmftpError, exitCodeOf } from '../errors.js';
import type { Logger } from '../delivery/log.js';

/** What an error says, in parts: the console and log lines and the `--json` error object are both made of it. */
function describeFailure(error: unknown): { message: string; problems: readonly string[]; hint?: string } {
  if (error instanceof VmftpError) {
    return {
      message: error.message,
      problems: error instanceof ConfigError ? error.problems : [],
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    };
  }
  return {
    message: `unexpected failure: ${error instanceof Error ? error.message : String(error)}`,
    problems: [],
    hint: 'this is a bug in vmftp: run again with -v debug and report the output',
  };
}

/**
 * Returns an error in one line, where it is one cell of a table or one line of the log: the
 * message, and what to do next in brackets.
 */
export function describeError(error: unknown): string {
  if (error instanceof VmftpError) return error.hint === undefined ? error.message : `${error.message} (${error.hint})`;
  return error instanceof Error ? error.message : String(error);
}

/** Returns an error as the lines an administrator reads: what happened, every problem, what to do next. */
export function failureLines(error: unknown): string[] {
  const { message, problems, hint } = describeFailure(error);
  return [message, ...problems.map((problem) => `  ${problem}`), ...(hint === undefined ? [] : [`  → ${hint}`])];
}

/** A failure as `--json` prints it on stdout, where a script expects one JSON document. */
export interface FailureJson {
  readonly error: { readonly message: string; readonly problems: readonly string[]; readonly hint?: string; readonly exitCode: ExitCode };
}

/** Returns an error as the JSON object `--json` prints instead of a result. */
export function failureJson(error: unknown): FailureJson {
  return { error: { ...describeFailure(error), exitCode: exitCodeOf(error) } };
}

/** The one place where errors become a message and an exit code: logs the lines, returns the code. */
export function reportFailure(error: unknown, log: Logger): ExitCode {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help'
      ? ExitCode.Ok
      : ExitCode.Usage;
  }
  for (const line of failureLines(error)) log.error(line);
  if (log.level === 'debug' && error instanceof Error && error.stack !== undefined) log.debug(error.stack);
  return exitCodeOf(error);
}
