/**
 * Checks the config file (found and read by file.ts), resolves passwords and paths,
 * and lays the flags the user typed over it: defaults < file < flags.
 * Reads only; nothing on disk changes, whatever the outcome.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { parseBwLimit, type BwTimetable } from '../core/bwlimit.js';
import { parseClockTime, parseRunDuration, type DeadlineSettings } from '../core/deadline.js';
import type { VmRoute } from '../core/model.js';
import { ConfigError } from '../errors.js';
import type { Secret } from './secret.js';
import { secretsOf } from '../delivery/redact.js';
import { DEFAULT_LOG_KEEP, logSchema, notifySchema, type vmRouteSchema } from './schema.js';
import { UPLOAD_METHODS, type NotifyConfig, type Reporting, type ResolvedConfig, type TargetConfig, type UploadMethod } from './types.js';
import { readConfigFile } from './file.js';
import { FieldReader, isReadIssue, runSchemas, type ReadConfig } from './resolve.js';
import { fieldPath, validateConfigReading, type ValidatedConfig } from './validate.js';

/** The flags the user actually typed; an absent flag leaves the config file's value in place. */
export interface CliFlags {
  /** `-f`: local backup root, relative to the working directory. */
  readonly folder?: string;
  /** `-n`: backups to keep per VM; overrides every `keep` in the file. */
  readonly keep?: number;
  /** `-u` */
  readonly uploadMethod?: UploadMethod;
  /** `--delete-first` */
  readonly deleteFirst?: boolean;
  /** `--bwlimit`: replaces config `bwlimit`. */
  readonly bwlimit?: string;
  /** `--max-duration`, as typed (`90m`). */
  readonly maxDuration?: string;
  /** `--stop-at`, as typed (`07:00`). */
  readonly stopAt?: string;
}

/** Where to look and what the user typed; `cwd` and `env` default to the process's own. */
export interface LoadConfigOptions {
  /** `-c`: load exactly this file instead of searching. */
  readonly configPath?: string;
  readonly cwd?: string;
  readonly flags: CliFlags;
  readonly env?: NodeJS.ProcessEnv;
}

/** A config ready for a run, and what the user should hear about it even though it works. */
export interface LoadedConfig {
  readonly config: ResolvedConfig;
  readonly warnings: string[];
}

/**
 * Returns the config for a run: the file found in `cwd` (or given with `-c`),
 * validated, passwords resolved into `Secret`s, paths made absolute, flags
 * applied; and warnings about things that work but should change.
 * Throws a `ConfigError` listing every problem of every phase at once.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const { flags } = options;
  const file = await readConfigFile(cwd, options.configPath);
  const configDir = path.dirname(file.filepath);
  const problems: string[] = [];
  const warnings: string[] = [];

  const reader = new FieldReader(configDir, env);
  const schemas = runSchemas(reader);
  const checked = await validateConfigReading(file.config, schemas.config, isReadIssue);
  if (!checked.ok) problems.push(...checked.problems);
  problems.push(...flagProblems(flags));
  if (!checked.ok) problems.push(...checked.readProblems);

  const rawSource = isRecord(file.config) ? file.config.source : undefined;
  let source: string | undefined;
  if (flags.folder !== undefined && flags.folder !== '') source = path.resolve(cwd, flags.folder);
  else if (typeof rawSource === 'string' && rawSource !== '') source = path.resolve(configDir, rawSource);
  else if (rawSource === undefined) problems.push('source: missing — set it in the config or pass -f <folder>');

  if (!checked.ok || problems.length > 0 || source === undefined) {
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    throw new ReportableConfigError(
      `Invalid vmftp configuration in ${file.filepath} (${count})`,
      problems,
      'Fix what is listed above; nothing was changed.',
      await reportingOfFile(file.config, file.filepath, reader, schemas.mail),
    );
  }

  const config = resolve(checked.value, { configPath: file.filepath, configDir, source, flags });
  warnings.push(...passwordWarnings(config, reader), ...settingWarnings(config));
  return { config, warnings };
}

/** An invalid config whose log, mail and notify blocks can still report the run that it stopped. */
export class ReportableConfigError extends ConfigError {
  constructor(
    message: string,
    problems: readonly string[],
    hint: string,
    readonly reporting: Reporting,
  ) {
    super(message, problems, hint);
  }
}

/** Returns what reports a run of a valid config. */
export function reportingOf(config: ResolvedConfig): Reporting {
  return {
    ...(config.configPath === undefined ? {} : { configPath: config.configPath }),
    ...(config.logFile === undefined ? {} : { logFile: config.logFile }),
    logKeep: config.logKeep,
    ...(config.mail === undefined ? {} : { mail: config.mail }),
    ...(config.notify === undefined ? {} : { notify: config.notify }),
    secrets: secretsOf(config),
    broken: [],
  };
}

/**
 * Returns what can still report a run of an invalid config: each of the log, mail and notify
 * blocks that is valid on its own (its password resolved), and the names of those that are not.
 */
async function reportingOfFile(raw: unknown, configPath: string, reader: FieldReader, mailSchema: ReturnType<typeof runSchemas>['mail']): Promise<Reporting> {
  const fields = isRecord(raw) ? raw : {};
  const configDir = path.dirname(configPath);
  const broken: ('mail' | 'notify' | 'log')[] = [];
  const log = fields.log === undefined ? undefined : logSchema.safeParse(fields.log);
  if (log?.success === false) broken.push('log');
  // Usable when valid on its own, its password read.
  const mail = fields.mail === undefined ? undefined : await mailSchema.safeParseAsync(fields.mail);
  if (mail?.success === false) broken.push('mail');
  const notify = fields.notify === undefined ? undefined : notifySchema.safeParse(fields.notify);
  if (notify?.success === false) broken.push('notify');
  const logFile = log?.success === true && log.data.file !== undefined ? path.resolve(configDir, log.data.file) : undefined;
  return {
    configPath,
    ...(logFile === undefined ? {} : { logFile }),
    logKeep: log?.success === true ? log.data.keep : DEFAULT_LOG_KEEP,
    ...(mail?.success === true ? { mail: mail.data } : {}),
    ...(notify?.success === true ? { notify: toNotify(notify.data) } : {}),
    secrets: reader.secrets,
    broken,
  };
}

/** Problems with the flags' values; their types are the CLI's business, their ranges are checked here. */
function flagProblems(flags: CliFlags): string[] {
  const problems: string[] = [];
  if (flags.keep !== undefined && !(Number.isInteger(flags.keep) && flags.keep >= 1)) {
    problems.push(`-n/--keep: expected a whole number >= 1, got ${String(flags.keep)}`);
  }
  if (flags.folder === '') problems.push('-f/--folder: must not be empty');
  const methods: readonly string[] = UPLOAD_METHODS;
  if (flags.uploadMethod !== undefined && !methods.includes(flags.uploadMethod)) {
    problems.push(`-u/--upload-method: expected one of ${UPLOAD_METHODS.join(', ')}, got ${JSON.stringify(flags.uploadMethod)}`);
  }
  const bwlimit = flags.bwlimit === undefined ? undefined : parseBwLimit(flags.bwlimit);
  if (bwlimit !== undefined && 'problem' in bwlimit) problems.push(`--bwlimit: ${bwlimit.problem}`);
  if (flags.maxDuration !== undefined && parseRunDuration(flags.maxDuration) === undefined) {
    problems.push(`--max-duration: expected a duration above zero like "90m", "6h" or "1h30m" (units d, h, m for minutes, s), got ${JSON.stringify(flags.maxDuration)}`);
  }
  if (flags.stopAt !== undefined && parseClockTime(flags.stopAt) === undefined) {
    problems.push(`--stop-at: expected a time of day "HH:MM" (00:00 to 23:59), got ${JSON.stringify(flags.stopAt)}`);
  }
  return problems;
}

interface ResolveContext {
  readonly configPath: string;
  readonly configDir: string;
  readonly source: string;
  readonly flags: CliFlags;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the run's config from a validated file, its passwords and certificates read: paths made absolute, flags applied. */
function resolve(value: ReadConfig, context: ResolveContext): ResolvedConfig {
  const { configDir, flags } = context;
  // What loading changes is taken apart; everything else (keep, maxAge, fields added later) goes on as validated.
  const { source: _source, targets: fileTargets, vms: fileVms, mail, lockFile: fileLockFile, log, notify, window, ...asValidated } = value;
  const targets: Record<string, TargetConfig> = {};
  for (const [name, target] of Object.entries(fileTargets)) targets[name] = { ...target, name };

  const vms: Record<string, VmRoute> = {};
  if (fileVms === undefined) {
    // No routing written: every VM goes to every target, like the original tool with its one server.
    vms['*'] = { targets: Object.keys(targets) };
  } else {
    for (const [vm, route] of Object.entries(fileVms)) vms[vm] = toRoute(route);
  }

  const logFile = log?.file !== undefined ? path.resolve(configDir, log.file) : undefined;
  const lockFile = fileLockFile !== undefined ? path.resolve(configDir, fileLockFile) : defaultLockFile(context.configPath, logFile);

  return {
    ...asValidated,
    configPath: context.configPath,
    source: context.source,
    ...(flags.keep !== undefined ? { keepOverride: flags.keep } : {}),
    // --bwlimit, when typed, replaces the file's.
    ...bwlimitOf(value, flags),
    targets,
    vms,
    ...(mail !== undefined ? { mail } : {}),
    lockFile,
    ...(logFile !== undefined ? { logFile } : {}),
    logKeep: log?.keep ?? DEFAULT_LOG_KEEP,
    ...(notify !== undefined ? { notify: toNotify(notify) } : {}),
    uploadMethod: flags.uploadMethod ?? 'internal',
    deleteFirst: flags.deleteFirst ?? false,
    ...(flags.maxDuration === undefined && flags.stopAt === undefined && window === undefined
      ? {}
      : { deadline: deadlineSettings(flags, window?.end) }),
  };
}

/** Returns what may end the run early; flagProblems and the schema have checked every value. */
function deadlineSettings(flags: CliFlags, windowEnd: string | undefined): DeadlineSettings {
  const maxDurationMs = flags.maxDuration === undefined ? undefined : parseRunDuration(flags.maxDuration);
  const stopAt = flags.stopAt === undefined ? undefined : parseClockTime(flags.stopAt);
  const end = windowEnd === undefined ? undefined : parseClockTime(windowEnd);
  return {
    ...(flags.maxDuration === undefined || maxDurationMs === undefined ? {} : { maxDuration: { text: flags.maxDuration, ms: maxDurationMs } }),
    ...(stopAt === undefined ? {} : { stopAt }),
    ...(end === undefined ? {} : { windowEnd: end }),
  };
}

/** Returns the run's `bwlimit`: `--bwlimit` when typed, else the file's (flagProblems refused a bad flag). */
function bwlimitOf(value: Pick<ReadConfig, 'bwlimit'>, flags: CliFlags): { bwlimit?: BwTimetable } {
  const typed = flags.bwlimit === undefined ? undefined : parseBwLimit(flags.bwlimit);
  const bwlimit = typed !== undefined && 'timetable' in typed ? typed.timetable : value.bwlimit;
  return bwlimit === undefined ? {} : { bwlimit };
}

/**
 * Returns the lock of a config without `lockFile`: one per configuration, so two configs on one
 * machine never block each other. Next to the log file and named after it (`vmftp.log` ->
 * `vmftp.lock`), where an administrator looking for "why did it not run" already looks; two
 * configs that share a log file share its lock, since only one run at a time may rotate it.
 * Without a log file, in the temp folder under a name drawn from the config file's path.
 */
function defaultLockFile(configPath: string, logFile: string | undefined): string {
  if (logFile !== undefined) return path.join(path.dirname(logFile), `${path.parse(logFile).name}.lock`);
  // Windows paths are case-insensitive: C:\vmftp\vmftp.config.ts and c:\VMFTP\vmftp.config.ts are one config.
  const key = process.platform === 'win32' ? configPath.toLowerCase() : configPath;
  return path.join(os.tmpdir(), `vmftp-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.lock`);
}

function toRoute(route: z.output<typeof vmRouteSchema>): VmRoute {
  if (typeof route === 'string') return { targets: [route] };
  if (Array.isArray(route)) return { targets: [...route] };
  return { ...route, targets: [...route.targets] };
}

/** Expands healthchecks-style `url` into its three pings; explicit start/success/failure win. */
function toNotify(notify: NonNullable<ValidatedConfig['notify']>): NotifyConfig {
  const base = notify.url?.replace(/\/+$/, '');
  const start = notify.start ?? (base === undefined ? undefined : `${base}/start`);
  const success = notify.success ?? base;
  const failure = notify.failure ?? (base === undefined ? undefined : `${base}/fail`);
  return {
    ...(start !== undefined ? { start } : {}),
    ...(success !== undefined ? { success } : {}),
    ...(failure !== undefined ? { failure } : {}),
    method: notify.method,
    timeoutSeconds: notify.timeoutSeconds,
  };
}

/** The password warnings of a loaded config, each after its field's path: a password written in the file, a file others can read. */
function passwordWarnings(config: ResolvedConfig, reader: FieldReader): string[] {
  const passwords: [PropertyKey[], Secret | undefined][] = [
    ...Object.values(config.targets).map((target): [PropertyKey[], Secret] => [['targets', target.name, 'password'], target.password]),
    [['mail', 'smtp', 'password'], config.mail?.smtp.password],
  ];
  return passwords.flatMap(([keys, secret]) => {
    const note = secret === undefined ? undefined : reader.noteOn(secret);
    return note === undefined ? [] : [`${fieldPath(keys)}${note}`];
  });
}

/** Settings that are valid but will not do what they seem to. */
function settingWarnings(config: ResolvedConfig): string[] {
  const warnings: string[] = [];
  for (const target of Object.values(config.targets)) {
    const field = (key: string): string => fieldPath(['targets', target.name, key]);
    if (target.secure === false && target.sslNoRevoke === true) {
      warnings.push(`${field('sslNoRevoke')}: has no effect without secure: true or "implicit"`);
    }
    if (target.secure === false && target.allowSelfSigned) {
      warnings.push(`${field('allowSelfSigned')}: has no effect without secure: true or "implicit"`);
    }
    if (target.secure === false && target.ca !== undefined) {
      warnings.push(`${field('ca')}: has no effect without secure: true or "implicit"`);
    }
    if (target.secure !== false && target.allowSelfSigned && target.ca !== undefined) {
      warnings.push(`${field('allowSelfSigned')}: turns certificate checks off, so ca is not used`);
    }
    if (target.activeMode && config.uploadMethod === 'internal') {
      warnings.push(
        `${field('activeMode')}: the internal client only does passive mode; pass -u curl or -u ncftpput for active mode`,
      );
    }
  }
  return warnings;
}
