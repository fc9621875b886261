/**
 * The shape of what users write in a vmftp config file, as a zod schema.
 *
 * Messages for checks live here, next to the check; validate.ts turns every
 * issue into one `field: message` line and appends `, got <value>` to
 * messages that start with "expected". Objects are strict because a typo in
 * a field name must be reported, not silently ignored.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseBwLimit } from '../core/bwlimit.js';
import { parseClockTime } from '../core/deadline.js';
import { vmNameProblem } from '../core/stamp.js';

/**
 * Returns true when the object's own fields parsed, so a whole-object rule
 * does not pile a second, misleading problem onto a field problem
 * (`{ dayly: 7 }` is a typo, not a policy that keeps nothing).
 */
function onlyIfFieldsValid(payload: z.core.ParsePayload): boolean {
  return payload.issues.length === 0;
}

const nonEmpty = z.string().min(1, { error: 'must not be empty' });

/** A local path; load.ts makes it absolute against the config file's folder. */
export const localPath = nonEmpty;

const count = z.number().int().min(0, { error: 'expected a whole number >= 0' });

/** Reasons a `within` duration is unusable, or undefined when it is fine. */
function durationProblem(value: string): string | undefined {
  const expected = 'expected a duration like "30d" or "1y2m3d4h" (units y, m, d, h)';
  if (!/^(?:\d+[ymdh])+$/.test(value)) return expected;
  const units = value.match(/[ymdh]/g) ?? [];
  if (new Set(units).size !== units.length) return `${expected}, each unit once`;
  // A zero duration keeps nothing more than `last` would; it is always a mistake.
  if (!/[1-9]/.test(value)) return 'expected a duration above zero';
  return undefined;
}

const within = z.string().superRefine((value, ctx) => {
  const problem = durationProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value });
});

/** How old the newest backup of a VM on a target may be after a run, or false: no check. */
/** Eight days: never a false alarm for a nightly, a weekdays-only or a weekly backup job (README). */
export const DEFAULT_MAX_AGE = '8d';

export const maxAgeSchema = z
  .union([z.literal(false), z.string()], { error: 'expected a duration like "36h" or "8d" (units y, m, d, h), or false (no check)' })
  .superRefine((value, ctx) => {
    const problem = typeof value === 'string' ? durationProblem(value) : undefined;
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value });
  });

/** `bwlimit`: a rate or a timetable in rclone's syntax, parsed here (core/bwlimit.ts says how). */
export const bwlimitSchema = z.string().transform((value, ctx) => {
  const parsed = parseBwLimit(value);
  if ('timetable' in parsed) return parsed.timetable;
  ctx.addIssue({ code: 'custom', message: parsed.problem, input: value });
  return z.NEVER;
});

const GFS_COUNTS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

/** restic `forget` style retention: a backup is kept if any rule keeps it. */
export const gfsSchema = z
  .strictObject({
    last: count.optional(),
    hourly: count.optional(),
    daily: count.optional(),
    weekly: count.optional(),
    monthly: count.optional(),
    yearly: count.optional(),
    within: within.optional(),
  })
  .refine((policy) => policy.within !== undefined || GFS_COUNTS.some((rule) => (policy[rule] ?? 0) > 0), {
    error: `keeps nothing: set at least one of ${GFS_COUNTS.join(', ')} above 0, or within`,
    when: onlyIfFieldsValid,
  });

/** A number keeps the N newest backups; an object is a GFS policy. */
export const keepSchema = z.union(
  [z.number().int().min(1, { error: 'expected a whole number >= 1 (backups to keep)' }), gfsSchema],
  { error: `expected a whole number >= 1 or a GFS object { ${[...GFS_COUNTS, 'within'].join(', ')} }` },
);

/** A password as written: in clear (allowed, warned about), from an environment variable or from a file. */
export const passwordSchema = z.union(
  [
    nonEmpty,
    z.strictObject({
      env: nonEmpty.refine((name) => !/[=\0]/.test(name), { error: 'expected an environment variable name' }),
    }),
    z.strictObject({ file: localPath }),
  ],
  { error: 'expected a string, { env: "NAME" } or { file: "PATH" }' },
);

const port = z
  .number()
  .int()
  .min(1, { error: 'expected a port from 1 to 65535' })
  .max(65535, { error: 'expected a port from 1 to 65535' });

const host = nonEmpty.refine((value) => !/[/\\\s]/.test(value), {
  error: 'expected a host name or IP address (no "ftp://", no path, no spaces)',
});

/** Reasons a remote folder is unusable, or undefined when it is fine. */
function remoteDirProblem(value: string): string | undefined {
  if (!value.startsWith('/')) return 'expected an absolute remote folder starting with "/"';
  if (value.includes('\\')) return 'expected "/" as the separator, not "\\"';
  if (/[\x00-\x1f\x7f]/.test(value)) return 'must not contain control characters';
  return undefined;
}

const remoteDir = z
  .string()
  .superRefine((value, ctx) => {
    const problem = remoteDirProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value });
  })
  // The planner joins VM and stamp onto it, so one spelling per folder: `/vm`, never `/vm/` or `/x/../vm`.
  .transform((value) => {
    const normalized = path.posix.normalize(value);
    return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
  });

/** One FTP server's fields as written; `withTargetRules` adds what depends on more than one field. */
export const targetFields = z
  .strictObject({
    host,
    port: port.optional(),
    user: nonEmpty,
    password: passwordSchema,
    remoteDir,
    secure: z
      .union([z.boolean(), z.literal('implicit')], {
        error: 'expected true (explicit FTPS), false (plain FTP) or "implicit"',
      })
      .default(false),
    allowSelfSigned: z.boolean().default(false),
    // `-u curl` on Windows: curl.exe (Schannel) skips the certificate revocation check (`--ssl-no-revoke`),
    // for hosts that cannot reach their CA's revocation server.
    sslNoRevoke: z.boolean().optional(),
    // The CA that signs the server's certificate, a PEM file; resolve.ts reads it.
    ca: localPath.optional(),
    // Servers often refuse a 3rd or 4th connection from one client with 421.
    maxConnections: z.number().int().min(1, { error: 'expected a whole number >= 1' }).default(2),
    activeMode: z.boolean().default(false),
    timeoutSeconds: z.number().positive({ error: 'expected a number of seconds above 0' }).default(30),
    // Idle seconds before TCP keepalive probes on the control connection.
    // Routers and firewalls forget idle connections after 5 to 60 minutes; curl probes after 60 s too.
    // Whole seconds: TCP_KEEPIDLE has no finer unit, and Linux takes at most 32767.
    keepaliveSeconds: z.number().int().min(1, { error: 'expected whole seconds from 1 to 32767' }).max(32767, { error: 'expected whole seconds from 1 to 32767' }).default(60),
    // Three retries ride out a NAS reboot or a WAN hiccup without holding a scheduled task for long.
    retries: z.number().int().min(0, { error: 'expected a whole number >= 0' }).default(3),
    // Doubled after each failed attempt: 2, 4, 8 s.
    retryDelaySeconds: z.number().min(0, { error: 'expected a number of seconds >= 0' }).default(2),
    verify: z.enum(['size', 'hash', 'none']).default('size'),
    keep: keepSchema.optional(),
    maxAge: maxAgeSchema.optional(),
    // This target's own limit, within the run's `bwlimit`.
    bwlimit: bwlimitSchema.optional(),
  });

/** Returns the target schema made of `fields`: the port filled in, which depends on `secure`. */
export function withTargetRules<Target extends { readonly port?: number | undefined; readonly secure: boolean | 'implicit' }>(fields: z.ZodType<Target>) {
  // Implicit FTPS listens on 990 by convention; 21 would only ever time out there.
  return fields.transform((target) => ({ ...target, port: target.port ?? (target.secure === 'implicit' ? 990 : 21) }));
}

/** One FTP server as written, its port filled in. */
export const targetSchema = withTargetRules(targetFields);

/** Returns the `targets` schema: a record of `target`, at least one. */
export function targetsOf<Target extends z.ZodType>(target: Target) {
  return z.record(z.string(), target).refine((targets) => Object.keys(targets).length > 0, { error: 'at least one target is required' });
}

const targetList = z.array(nonEmpty).min(1, { error: 'must list at least one target' });

/** Where one VM goes: a target name, a list of them, or a list with the VM's own retention. */
export const vmRouteSchema = z.union(
  [
    nonEmpty,
    targetList,
    z.strictObject({
      targets: targetList,
      keep: keepSchema.optional(),
      maxAge: maxAgeSchema.optional(),
      priority: z.number().optional(),
    }),
  ],
  { error: 'expected a target name, a list of target names, or { targets: [...], keep, maxAge, priority }' },
);

const address = nonEmpty.refine((value) => value.includes('@'), { error: 'expected an e-mail address' });

/** The SMTP server's fields as written; `withSmtpRules` adds what depends on more than one field. */
export const smtpFields = z.strictObject({
  host,
  port: port.optional(),
  secure: z.boolean().default(false),
  user: nonEmpty.optional(),
  password: passwordSchema.optional(),
});

/** Returns the smtp schema made of `fields`: a password needs a user, and the port follows `secure`. */
export function withSmtpRules<Smtp extends { readonly port?: number | undefined; readonly secure: boolean; readonly user?: string | undefined; readonly password?: unknown }>(
  fields: z.ZodType<Smtp>,
) {
  return (
    fields
      .refine((smtp) => smtp.password === undefined || smtp.user !== undefined, {
        error: 'required when mail.smtp.password is set',
        path: ['user'],
        when: onlyIfFieldsValid,
      })
      // Same convention as nodemailer: TLS from the first byte on 465, STARTTLS on 587.
      .transform((smtp) => ({ ...smtp, port: smtp.port ?? (smtp.secure ? 465 : 587) }))
  );
}

/** The report e-mail (`-m`). */
export const mailSchema = z.strictObject({
  from: address,
  to: z.union([address, z.array(address).min(1, { error: 'must list at least one address' })], {
    error: 'expected an e-mail address or a list of them',
  }),
  subject: nonEmpty.optional(),
  subjectOnError: nonEmpty.optional(),
  smtp: withSmtpRules(smtpFields),
});

const url = nonEmpty.refine((value) => /^https?:\/\/[^/\s]+/.test(value), {
  error: 'expected an http:// or https:// URL',
});

/**
 * Pings at start, success and failure, healthchecks.io style: `url` alone means `url/start`,
 * `url` and `url/fail`; `start`, `success` and `failure` set or override each one.
 */
export const notifySchema = z
  .strictObject({
    url: url.optional(),
    start: url.optional(),
    success: url.optional(),
    failure: url.optional(),
    method: z.enum(['GET', 'POST']).default('POST'),
    // A monitoring service that hangs must not hold up the night's backups for long.
    timeoutSeconds: z.number().positive({ error: 'expected a number of seconds above 0' }).default(10),
  })
  .refine((notify) => [notify.url, notify.start, notify.success, notify.failure].some((value) => value !== undefined), {
    error: 'sets no URL: give url (healthchecks style) or at least one of start, success, failure',
    when: onlyIfFieldsValid,
  });

/** Old logs kept when `log.keep` is not set (or the log block is absent or broken). The original
 * tool's RotatingFileHandler kept 10 old logs: ten nights of history. */
export const DEFAULT_LOG_KEEP = 10;

/** The log file. */
export const logSchema = z.strictObject({
  file: localPath.optional(),
  keep: z.number().int().min(0, { error: 'expected a whole number >= 0 (old logs to keep)' }).default(DEFAULT_LOG_KEEP),
});

/** A time of day on the local clock. */
const clockTime = z.string().refine((value) => parseClockTime(value) !== undefined, {
  error: 'expected a time of day "HH:MM" (00:00 to 23:59)',
});

/** The night's window: at `end` no new transfer starts and the running ones stop (README, "A deadline"). */
export const windowSchema = z.strictObject({ end: clockTime });

/** The whole config file's fields; `withConfigRules` adds what depends on more than one of them. */
export const configFields = z.strictObject({
  source: localPath.optional(),
  keep: keepSchema.default(3),
  maxAge: maxAgeSchema.default(DEFAULT_MAX_AGE),
  // One limit for all the uploads of a run together; --bwlimit replaces it.
  bwlimit: bwlimitSchema.optional(),
  targets: targetsOf(targetSchema),
  vms: z.record(z.string(), vmRouteSchema).optional(),
  mail: mailSchema.optional(),
  lockFile: localPath.optional(),
  log: logSchema.optional(),
  notify: notifySchema.optional(),
  window: windowSchema.optional(),
});

/**
 * Returns the config schema made of `fields`, with the rules that tie fields together: target names,
 * VM names and the targets each route names (configRuleProblems), checked on the parsed config.
 */
export function withConfigRules<Fields extends z.ZodType>(fields: Fields) {
  return fields.superRefine(
    (config, ctx) => {
      for (const { path, message } of configRuleProblems(config)) ctx.addIssue({ code: 'custom', path, message });
    },
    // Also when fields failed: a route naming no target that exists is reported in the same run as a
    // bad port. A field that failed holds what was written there, so the rules look before they read.
    { when: () => true },
  );
}

/** The whole config file. */
export const configSchema = withConfigRules(configFields);

/** One problem of the config's cross-field rules: where, and what. */
interface RuleProblem {
  readonly path: PropertyKey[];
  readonly message: string;
}

/**
 * Returns the problems that need more than one field: target names that are empty or hold control
 * characters, VM keys that are not folder names (core/stamp.ts's rule, the one the scan and deletes
 * use), routes naming a target that does not exist or naming one twice. Takes the config as the
 * schema parsed it; what a field's own check reports (a route that is not a list) is skipped here.
 */
function configRuleProblems(config: unknown): RuleProblem[] {
  if (!isRecord(config)) return [];
  const problems: RuleProblem[] = [];
  const targetNames = isRecord(config.targets) ? Object.keys(config.targets) : [];
  for (const name of targetNames) {
    if (name.trim() === '') problems.push({ path: ['targets', name], message: 'a target name must not be empty' });
    else if (/[\x00-\x1f\x7f]/.test(name)) {
      problems.push({ path: ['targets', name], message: 'a target name must not contain control characters' });
    }
  }
  if (!isRecord(config.vms)) return problems;
  if (Object.keys(config.vms).length === 0) {
    problems.push({ path: ['vms'], message: "maps no VM; map VM names (or '*') to targets, or leave vms out to send every VM to every target" });
  }
  for (const [vm, route] of Object.entries(config.vms)) {
    const problem = vm === '*' ? undefined : vmNameProblem(vm);
    if (problem !== undefined) problems.push({ path: ['vms', vm], message: problem });
    if (targetNames.length === 0) continue; // `targets` itself is reported; every reference would be noise.
    const seen = new Set<string>();
    for (const { path, name } of targetReferences(['vms', vm], route)) {
      if (!targetNames.includes(name)) {
        problems.push({ path, message: `unknown target ${JSON.stringify(name)} (targets: ${targetNames.join(', ')})` });
      } else if (seen.has(name)) {
        problems.push({ path, message: `target ${JSON.stringify(name)} is listed twice` });
      }
      seen.add(name);
    }
  }
  return problems;
}

/** Every non-empty target name a route mentions, with its field path, whatever form the route has. */
function targetReferences(path: readonly PropertyKey[], route: unknown): { path: PropertyKey[]; name: string }[] {
  if (typeof route === 'string') return route === '' ? [] : [{ path: [...path], name: route }];
  if (Array.isArray(route)) {
    return route.flatMap((name: unknown, index) =>
      typeof name === 'string' && name !== '' ? [{ path: [...path, index], name }] : [],
    );
  }
  if (isRecord(route) && Array.isArray(route.targets)) return targetReferences([...path, 'targets'], route.targets);
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a user writes in `vmftp.config.ts` (defaults optional); the type `defineConfig` checks. */
export type VmftpConfig = z.input<typeof configSchema>;

/** A config that passed validation: defaults filled in, `remoteDir` normalized, paths still as written. */
export type ValidatedConfig = z.output<typeof configSchema>;
