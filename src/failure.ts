import { CommanderError } from 'commander';
import { ConfigError, ExitCode, VmftpError, exitCodeOf } from './errors.js';
import type { Logger } from './log.js';

/** Returns an error as the lines an administrator reads: what happened, every problem, what to do next. */
export function failureLines(error: unknown): string[] {
  if (error instanceof VmftpError) {
    const lines = [error.message];
    if (error instanceof ConfigError) for (const problem of error.problems) lines.push(`  ${problem}`);
    if (error.hint !== undefined) lines.push(`  → ${error.hint}`);
    return lines;
  }
  return [
    `unexpected failure: ${error instanceof Error ? error.message : String(error)}`,
    '  → this is a bug in vmftp: run again with -v debug and report the output',
  ];
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
