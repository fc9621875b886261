/**
 * The default command, as a scheduled task runs it: open the run's log,
 * ping "start", run (or simulate, or list), print the result, write the
 * summary to the log, ping "success"/"failure", e-mail the report.
 * Whatever happens after the config loaded, the log, the ping and the
 * e-mail still go out, and the exit code stays the run's own.
 */
import { colorsFor } from '../report/color.js';
import { reportingOf, ReportableConfigError, type LoadedConfig } from '../config/load.js';
import { assertRunnable } from '../config/preflight.js';
import type { Reporting, ResolvedConfig } from '../config/types.js';
import { displayTargets } from '../report/display.js';
import { ExitCode } from '../errors.js';
import { failureJson, failureLines, reportFailure } from '../report/failure.js';
import { logs, type LogLevel } from '../delivery/log.js';
import { composeMail, sendMail } from '../delivery/mail.js';
import { ping } from '../delivery/notify.js';
import { createProgress, noProgress, type Progress } from '../report/progress.js';
import { createRedactor } from '../delivery/redact.js';
import { formatDisplay } from '../report/listing.js';
import { formatPlan } from '../report/plan.js';
import { formatReport } from '../report/report.js';
import { describeNotReached, runTotals } from '../report/totals.js';
import { runBackup } from '../run/run.js';
import { openRunLog, type RunLog } from '../delivery/run-log.js';
import { scanSource } from '../facts/scan.js';
import { summarizeError, summarizePlan, summarizeReport, verdict, type RunSummary } from '../report/summary.js';

/** What the command line asks of a backup run. */
export interface BackupOptions {
  readonly display: boolean;
  readonly simulate: boolean;
  /** `-x` */
  readonly execute?: true | string;
  /** `-m` */
  readonly mail: boolean;
  readonly json: boolean;
  /** false with `--no-progress`. */
  readonly progress: boolean;
  readonly level: LogLevel;
  /** Aborted on SIGINT/SIGTERM/SIGHUP: the run stops its transfers and ends with exit 130, log, ping and e-mail included. */
  readonly signal?: AbortSignal;
}

/** What goes missing while a reporting block of the config is broken. */
const BROKEN: Record<Reporting['broken'][number], string> = {
  mail: 'no report e-mail can be sent',
  notify: 'no ping can be sent',
  log: 'no log file is written',
};

/** What the run printed and how it ended. */
interface Ended {
  readonly stdout?: string;
  readonly summary: RunSummary;
}

/**
 * Returns the run's exit code after the log, the pings and the e-mail are done. A config that
 * cannot run (invalid, or not here: `config/preflight.ts`) still reports through what of it works.
 */
export async function backupCommand(load: () => Promise<LoadedConfig>, options: BackupOptions): Promise<ExitCode> {
  let loaded: LoadedConfig;
  try {
    loaded = await load();
  } catch (error) {
    if (!(error instanceof ReportableConfigError)) throw error;
    return reportedRun(error.reporting, options, [], '', () => Promise.reject(error));
  }
  const { config, warnings } = loaded;
  try {
    assertRunnable(config, { mail: options.mail });
  } catch (error) {
    return reportedRun(reportingOf(config), options, warnings, '', () => Promise.reject(error));
  }
  return reportedRun(reportingOf(config), options, warnings, `, upload method ${config.uploadMethod}`, (runLog, progress) =>
    runSelected(config, options, runLog, progress),
  );
}

/** Opens the run's log, pings, runs `run`, prints its result, logs the summary, pings and e-mails it. */
async function reportedRun(
  reporting: Reporting,
  options: BackupOptions,
  /** What the config loader warned about. */
  warnings: readonly string[],
  /** What the start line adds about the run. */
  about: string,
  run: (runLog: RunLog, progress: Progress) => Promise<Ended>,
): Promise<ExitCode> {
  const startedAt = new Date();
  const redact = createRedactor(reporting.secrets);
  const real = !options.display && !options.simulate;
  // Bars and plain progress lines are info: `-v warn` and `-v error` ask for a quiet console.
  const progress: Progress =
    real && options.progress && logs(options.level, 'info') ? await createProgress({ stream: process.stderr }) : noProgress();
  const runLog = await openRunLog({
    level: options.level,
    console: (line) => progress.log(line),
    colors: colorsFor(process.stderr),
    ...(reporting.logFile === undefined ? {} : { file: reporting.logFile }),
    keep: reporting.logKeep,
    redact,
  });
  // Only a backup run rotates the log, once it holds the lock (runSelected); the others add to it.
  if (!real) await runLog.openFile('append');
  const log = runLog.logger;
  const mode = options.display ? 'list (-d)' : options.simulate ? 'simulation (-S)' : 'backup run';
  log.info(`vmftp ${mode} started with config ${reporting.configPath ?? '(none)'}${about}`);
  for (const warning of warnings) log.warn(warning);
  for (const block of reporting.broken) log.error(`${block}: this block of the config is invalid (see below): ${BROKEN[block]} until it is fixed`);
  if (options.mail && options.display) log.warn('-m: no e-mail for -d; the listing is printed only');
  if (real) await ping(reporting.notify, 'start', '', log, redact);

  let ended: Ended;
  try {
    ended = await run(runLog, progress);
  } catch (error) {
    const exitCode = reportFailure(error, log);
    ended = {
      ...(options.json ? { stdout: JSON.stringify(failureJson(error), null, 2) } : {}),
      summary: summarizeError(failureLines(error).join('\n'), exitCode),
    };
  } finally {
    progress.stop();
  }

  if (ended.stdout !== undefined) process.stdout.write(`${redact(ended.stdout)}\n`);
  const { summary } = ended;
  const level = summary.exitCode === ExitCode.Ok ? 'info' : summary.exitCode === ExitCode.Deferred ? 'warn' : 'error';
  runLog.record(level, `${verdict(summary)}: ${summary.headline}`);
  runLog.record('info', summary.text);
  if (real) {
    await ping(reporting.notify, summary.exitCode === ExitCode.Ok ? 'success' : 'failure', `${verdict(summary)}\n\n${summary.text}`, log, redact);
  }
  if (options.mail && !options.display && reporting.mail !== undefined) {
    const message = composeMail(
      reporting.mail,
      summary,
      {
        log: runLog.text(),
        ...(reporting.logFile === undefined ? {} : { logFile: reporting.logFile }),
        ...(reporting.configPath === undefined ? {} : { configPath: reporting.configPath }),
        startedAt,
      },
      redact,
    );
    try {
      await sendMail(reporting.mail, message);
      log.info(`mail: report sent to ${String(reporting.mail.to)} ("${message.subject}")`);
    } catch (error) {
      // The backups are what the exit code tells; a lost e-mail is said loudly but does not change it.
      log.error(`mail: ${(error as Error).message}`);
      log.error(`  → check mail.smtp (host, port, secure, user, password); exit code stays ${summary.exitCode}, the run's own`);
    }
  }
  await runLog.close();
  return summary.exitCode;
}

/** Runs what the flags ask for; throws what the run throws (lock held, source missing...). */
async function runSelected(config: ResolvedConfig, options: BackupOptions, runLog: RunLog, progress: Progress): Promise<Ended> {
  const log = runLog.logger;
  const colors = colorsFor(process.stdout);
  if (options.display) {
    const local = await scanSource(config.source).then(
      (scan) => scan.backups,
      () => [],
    );
    const targets = await displayTargets(config, local, log);
    // A VM folder the server would not list: the target answered (not 4), yet the listing is not whole.
    const exitCode = targets.some((target) => target.error !== undefined)
      ? ExitCode.Unreachable
      : targets.some((target) => (target.unreadable ?? []).length > 0)
        ? ExitCode.PartialFailure
        : ExitCode.Ok;
    const missed = describeNotReached(targets);
    const headline = missed === '' ? `listed ${targets.length} targets` : missed;
    return {
      stdout: options.json ? JSON.stringify({ targets }, null, 2) : formatDisplay(targets, colors),
      summary: { exitCode, headline, text: formatDisplay(targets) },
    };
  }
  const result = await runBackup(
    config,
    {
      simulate: options.simulate,
      ...(options.execute === undefined ? {} : { afterSuccess: options.execute }),
      observer: progress,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.simulate ? {} : { onLocked: () => runLog.openFile('new') }),
    },
    log,
  );
  progress.stop();
  if (result.kind === 'plan') {
    const summary = summarizePlan(result.plan, result.warnings, result.exitCode);
    return {
      stdout: options.json
        ? JSON.stringify({ plan: result.plan, warnings: result.warnings, ...(Object.keys(result.bandwidth).length === 0 ? {} : { bandwidth: result.bandwidth }) }, null, 2)
        : formatPlan(result.plan, result.warnings, result.bandwidth),
      summary,
    };
  }
  return {
    stdout: options.json
      ? JSON.stringify({ report: result.report, totals: runTotals(result.report) }, null, 2)
      : formatReport(result.report, { colors, detail: options.level === 'debug' }),
    summary: summarizeReport(result.report),
  };
}
