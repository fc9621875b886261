import { Command, InvalidArgumentError, Option } from 'commander';
import { colorsFor } from './report/color.js';
import type { CliFlags } from './config/load.js';
import { UPLOAD_METHODS, type UploadMethod } from './config/types.js';
import { ExitCode, exitCodeHelp, InterruptedError } from './errors.js';
import { failureJson, reportFailure } from './report/failure.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './delivery/log.js';
import { leaveLocksForNextRun } from './run/lock.js';
import { setV8Flags } from './v8-flags.js';
import { vmftpVersion } from './version.js';

setV8Flags();

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
  bwlimit?: string;
  maxDuration?: string;
  stopAt?: string;
  /** false with --no-progress. */
  progress: boolean;
}

const HELP_AFTER = `
Without a command, vmftp runs the backup with the options above.

Examples:
  vmftp                          run with the vmftp config found from here
  vmftp -c /etc/vmftp.config.ts -S    show what would be uploaded and deleted, change nothing
  vmftp -f D:\\Backups -n 5 -x -m   upload, keep 5 per VM, purge the local backups no target needs, e-mail the report
  vmftp -d                       list the backups on every target
  vmftp --json -S                the plan as JSON
  vmftp check -c vmftp.config.ts test every target before the first night
  vmftp help check               the options of a command

Exit codes:
${exitCodeHelp()}`;

/** What the command line asked for; `run` is set by the action commander picked. */
interface Invocation {
  run?: () => Promise<ExitCode>;
  /** `--json` was given: a failure prints a JSON error object on stdout. */
  json?: boolean;
}

/** The options the backup run and `check` share, so each command's --help lists what it takes. */
const configOption = () => new Option('-c, --config <path>', 'config file (default: search for a vmftp config)');
const verbosityOption = () => new Option('-v, --verbosity <level>', 'error | warn | info | debug (default: info)').choices(LOG_LEVELS);

/** Returns the commander program; options carry no defaults so the config file is not silently overridden. */
function buildProgram(invocation: Invocation, log: { current: Logger }, signal: AbortSignal): Command {
  const program = new Command()
    .name('vmftp')
    .description('Send VM backups (<source>/<VM>/<STAMP>/) to FTP servers, keep the newest N per VM, free the local disk.')
    // The program's own options come before a command's name (`vmftp -c x check`); after it, the command's (`vmftp check -c x`).
    .enablePositionalOptions()
    .helpCommand('help [command]', 'show the help of a command')
    .option('-f, --folder <path>', 'local backup root (default: config `source`)')
    .option('-n, --keep <n>', 'backups to keep per VM (default: config `keep`, else 3)', parseKeep)
    .addOption(configOption())
    .option('-d, --display', 'list the backups on every target and exit')
    .option('-S, --simulate', 'print the plan, change nothing')
    .addOption(
      new Option('-u, --upload-method <method>', 'program that sends the files (default: internal)').choices(UPLOAD_METHODS),
    )
    .option('-x, --execute [command]', 'after full success: purge the local backups -S lists as purge, or run <command>')
    .option('-m, --mail', 'e-mail the report (config `mail`), also after a failed run')
    .addOption(verbosityOption())
    .option('--json', 'machine-readable plan or report on stdout')
    .option('--delete-first', 'delete rotated-out backups before uploading (servers without room for N+1)')
    .option('--bwlimit <spec>', 'bytes/s for all uploads together, rclone syntax: 10M, 512k, off, or "08:00,512k 23:00,off" (replaces config bwlimit)')
    .option('--max-duration <duration>', 'stop the transfers this long after the start (90m, 6h, 1h30m); unfinished ones resume next run')
    .option('--stop-at <HH:MM>', 'stop the transfers at the next such local time (config `window.end`; the earlier wins)')
    .option('--no-progress', 'no progress bars or progress lines on stderr')
    .version(vmftpVersion(), '-V, --version', 'print the version and exit')
    .addHelpText('after', HELP_AFTER)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });

  const setUp = (command: Command): CliOptions => {
    const options = command.optsWithGlobals<CliOptions>();
    invocation.json = options.json === true;
    log.current = createLogger(options.verbosity ?? 'info', undefined, colorsFor(process.stderr));
    return options;
  };
  // Loaded when a command runs, not at start: --version, --help and init need neither the config's
  // schema (zod) nor the FTP client, and a run pays the same either way.
  const load = async (options: CliOptions) => {
    const { loadConfig } = await import('./config/load.js');
    return loadConfig({ ...(options.config === undefined ? {} : { configPath: options.config }), flags: flagsOf(options) });
  };

  program.action(() => {
    invocation.run = async () => {
      const options = setUp(program);
      const { backupCommand } = await import('./commands/backup.js');
      return backupCommand(() => load(options), {
        display: options.display === true,
        simulate: options.simulate === true,
        ...(options.execute === undefined ? {} : { execute: options.execute }),
        mail: options.mail === true,
        json: options.json === true,
        progress: options.progress,
        level: options.verbosity ?? 'info',
        signal,
      });
    };
  });

  program
    .command('init')
    .description('write a commented starter vmftp.config.ts (default: in the current folder)')
    .argument('[file]', 'where to write it', 'vmftp.config.ts')
    .option('--force', 'replace the file if it exists')
    .action((file: string, initOptions: { force?: boolean }) => {
      invocation.run = async () => {
        setUp(program);
        const { initCommand } = await import('./commands/init.js');
        return initCommand(file, initOptions.force === true);
      };
    });

  program
    .command('check')
    .description('log into every target and create, write, rename and delete a probe folder under remoteDir')
    .addOption(configOption())
    .addOption(verbosityOption())
    .option('--json', 'the result of every target as JSON on stdout')
    .action((_options: unknown, command: Command) => {
      invocation.run = async () => {
        const options = setUp(command);
        const loaded = await load(options);
        const { checkCommand } = await import('./commands/check.js');
        return checkCommand(loaded, { json: options.json === true }, log.current);
      };
    });
  return program;
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
    ...(options.bwlimit === undefined ? {} : { bwlimit: options.bwlimit }),
    ...(options.maxDuration === undefined ? {} : { maxDuration: options.maxDuration }),
    ...(options.stopAt === undefined ? {} : { stopAt: options.stopAt }),
  };
}

async function main(argv: readonly string[], log: { current: Logger }, signal: AbortSignal): Promise<ExitCode> {
  const invocation: Invocation = {};
  try {
    await buildProgram(invocation, log, signal).parseAsync(argv);
    return invocation.run === undefined ? ExitCode.Ok : await invocation.run();
  } catch (error) {
    // stdout carries only the result: with --json, a failure before any result is a JSON error object there.
    if (invocation.json === true) process.stdout.write(`${JSON.stringify(failureJson(error), null, 2)}\n`);
    throw error;
  }
}

/** Time a stopped run gets to close its connections, write its log and send its report before it is cut short. */
const STOP_GRACE_MS = 10_000;

// A reader that went away (`vmftp -d | head`, a dead log collector) must not stop the run: the
// uploads, the log file and the e-mail go on without the console.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

const log = { current: createLogger('info') };
const interrupt = new AbortController();
// SIGHUP too: a closed terminal or session, and job control that uses it, stop the run the same way.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupt.signal.aborted) {
      // Asked twice: stop now. The .partial folders stay, and so does the lock, for the next run to say this one ended without its report.
      leaveLocksForNextRun(`stopped by a second ${signal} before its report was done`);
      process.exit(ExitCode.Interrupted);
    }
    // Unfinished uploads stay as <stamp>.partial and are resumed next time.
    log.current.error(`interrupted by ${signal}: stopping the transfers; unfinished uploads stay as .partial and resume next run`);
    interrupt.abort(new InterruptedError(`interrupted by ${signal}`));
    setTimeout(() => {
      leaveLocksForNextRun(`its report was not done ${STOP_GRACE_MS / 1000} s after ${signal}`);
      process.exit(ExitCode.Interrupted);
    }, STOP_GRACE_MS).unref();
  });
}
main(process.argv, log, interrupt.signal).then(
  (code) => {
    process.exitCode = interrupt.signal.aborted ? ExitCode.Interrupted : code;
  },
  (error: unknown) => {
    process.exitCode = interrupt.signal.aborted ? ExitCode.Interrupted : reportFailure(error, log.current);
  },
);
