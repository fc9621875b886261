#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { assertUploadMethodUsable } from './backends/index.js';
import { loadConfig, type CliFlags } from './config/load.js';
import type { ResolvedConfig, UploadMethod } from './config/types.js';
import { displayTargets } from './display.js';
import { ConfigError, ExitCode, VmftpError, exitCodeOf } from './errors.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log.js';
import { formatDisplay, formatPlan, formatReport } from './report.js';
import { runBackup } from './run.js';
import { scanSource } from './scan.js';

interface CliOptions {
  folder?: string;
  keep?: number;
  config?: string;
  display?: boolean;
  simulate?: boolean;
  uploadMethod?: UploadMethod;
  execute?: true | string;
  mail?: boolean;
  verbosity?: LogLevel;
  json?: boolean;
  deleteFirst?: boolean;
}

const HELP_AFTER = `
Examples:
  vmftp                          run with the vmftp config found from here
  vmftp -c /etc/vmftp.config.ts -S    show what would be uploaded and deleted, change nothing
  vmftp -f D:\\Backups -n 5 -x     upload, keep 5 per VM, then purge the uploaded local backups
  vmftp -d                       list the backups on every target
  vmftp --json -S                the plan as JSON

Exit codes:
  0    all done: every planned upload verified, every planned delete done
  1    some transfer, verify, rename or delete failed (the rest ran)
  2    usage or config error: nothing was changed
  3    another vmftp run holds the lock
  4    a target could not be reached or refused the login
  130  interrupted (SIGINT/SIGTERM)`;

/** Returns the commander program; options carry no defaults so the config file is not silently overridden. */
function buildProgram(): Command {
  return new Command()
    .name('vmftp')
    .description('Send VM backups (<source>/<VM>/<STAMP>/) to FTP servers, keep the newest N per VM, free the local disk.')
    .option('-f, --folder <path>', 'local backup root (default: config `source`)')
    .option('-n, --keep <n>', 'backups to keep per VM (default: config `keep`, else 3)', parseKeep)
    .option('-c, --config <path>', 'config file (default: search for a vmftp config)')
    .option('-d, --display', 'list the backups on every target and exit')
    .option('-S, --simulate', 'print the plan, change nothing')
    .addOption(
      new Option('-u, --upload-method <method>', 'program that sends the files (default: internal)').choices([
        'internal',
        'curl',
        'ncftpput',
      ]),
    )
    .option('-x, --execute [command]', 'after full success: purge the uploaded local backups, or run <command>')
    .option('-m, --mail', 'e-mail the report (config `mail`)')
    .addOption(new Option('-v, --verbosity <level>', 'error | warn | info | debug (default: info)').choices(LOG_LEVELS))
    .option('--json', 'machine-readable plan or report on stdout')
    .option('--delete-first', 'delete rotated-out backups before uploading (servers without room for N+1)')
    .addHelpText('after', HELP_AFTER)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
}

function parseKeep(value: string): number {
  const keep = Number(value);
  if (!Number.isInteger(keep) || keep < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return keep;
}

function flagsOf(options: CliOptions): CliFlags {
  return {
    ...(options.folder === undefined ? {} : { folder: options.folder }),
    ...(options.keep === undefined ? {} : { keep: options.keep }),
    ...(options.uploadMethod === undefined ? {} : { uploadMethod: options.uploadMethod }),
    ...(options.deleteFirst === undefined ? {} : { deleteFirst: options.deleteFirst }),
  };
}

/** Refuses what this version or this machine cannot do, before anything is touched. */
function assertSupported(options: CliOptions, config: ResolvedConfig): void {
  if (options.mail === true) {
    throw new ConfigError('-m: e-mailing the report is not available yet in this version', [], 'run without -m');
  }
  const active = Object.values(config.targets).filter((target) => target.activeMode);
  if (active.length > 0 && config.uploadMethod === 'internal') {
    throw new ConfigError(
      `targets.${active[0]!.name}.activeMode: the internal client has no active mode`,
      [],
      'use -u curl or -u ncftpput for that target, or turn activeMode off',
    );
  }
  assertUploadMethodUsable(config);
}

async function main(argv: readonly string[], log: { current: Logger }): Promise<ExitCode> {
  const program = buildProgram();
  program.parse(argv);
  const options = program.opts<CliOptions>();
  log.current = createLogger(options.verbosity ?? 'info');
  const { config, warnings } = await loadConfig({ ...(options.config === undefined ? {} : { configPath: options.config }), flags: flagsOf(options) });
  for (const warning of warnings) log.current.warn(warning);
  assertSupported(options, config);
  const print = (text: string) => process.stdout.write(`${text}\n`);

  if (options.display === true) {
    const local = await scanSource(config.source).then(
      (scan) => scan.backups,
      () => [],
    );
    const targets = await displayTargets(config, local, log.current);
    print(options.json === true ? JSON.stringify({ targets }, null, 2) : formatDisplay(targets));
    return targets.some((target) => target.error !== undefined) ? ExitCode.Unreachable : ExitCode.Ok;
  }

  const result = await runBackup(
    config,
    { simulate: options.simulate === true, ...(options.execute === undefined ? {} : { afterSuccess: options.execute }) },
    log.current,
  );
  if (result.kind === 'plan') {
    print(options.json === true ? JSON.stringify({ plan: result.plan, warnings: result.warnings }, null, 2) : formatPlan(result.plan, result.warnings));
    return result.exitCode;
  }
  print(options.json === true ? JSON.stringify({ report: result.report }, null, 2) : formatReport(result.report));
  return result.report.exitCode;
}

/** The one place where errors become a message and an exit code. */
function reportFailure(error: unknown, log: Logger): ExitCode {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.Ok : ExitCode.Usage;
  }
  if (error instanceof VmftpError) {
    log.error(error.message);
    if (error instanceof ConfigError) for (const problem of error.problems) log.error(`  ${problem}`);
    if (error.hint !== undefined) log.error(`  → ${error.hint}`);
  } else {
    log.error(`unexpected failure: ${error instanceof Error ? error.message : String(error)}`);
    log.error('  → this is a bug in vmftp: run again with -v debug and report the output');
  }
  if (log.level === 'debug' && error instanceof Error && error.stack !== undefined) log.debug(error.stack);
  return exitCodeOf(error);
}

const log = { current: createLogger('info') };
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Unfinished uploads stay as <stamp>.partial and are resumed next time; the lock goes with the exit handler.
    log.current.error(`interrupted by ${signal}: unfinished uploads stay as .partial and resume next run`);
    process.exit(ExitCode.Interrupted);
  });
}
main(process.argv, log).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = reportFailure(error, log.current);
  },
);
