/**
 * The types a run works with, derived from the schema (schema.ts): a field added there is here
 * too. Only what loading changes is written out: the password becomes a Secret, `ca` the PEM text
 * of that file, paths absolute, `vms` routes, `notify` its three URLs, `window` (with --max-duration
 * and --stop-at) the `deadline`.
 */
import type { z } from 'zod';
import type { DeadlineSettings } from '../core/deadline.js';
import type { VmRoute } from '../core/model.js';
import type { Secret } from './secret.js';
import type { mailSchema, notifySchema, passwordSchema, targetSchema, ValidatedConfig } from './schema.js';

/** Where a password comes from, as written in the config file. */
export type PasswordSource = z.output<typeof passwordSchema>;

/** The upload methods `-u` chooses from. */
export const UPLOAD_METHODS = ['internal', 'curl', 'ncftpput'] as const;
export type UploadMethod = (typeof UPLOAD_METHODS)[number];

/**
 * One FTP server, validated, defaults applied (schema.ts says each field's meaning and default),
 * its password resolved and its `ca` read: the PEM text of the CA that signs the server's
 * certificate.
 */
export type TargetConfig = Readonly<Omit<z.output<typeof targetSchema>, 'password' | 'ca'>> & {
  /** The target's key in `targets`. */
  readonly name: string;
  readonly password: Secret;
  readonly ca?: string;
};

export type VerifyMode = TargetConfig['verify'];

type MailFile = z.output<typeof mailSchema>;

/** The report e-mail, validated, defaults applied, the SMTP password resolved. */
export type MailConfig = Readonly<Omit<MailFile, 'smtp'>> & {
  readonly smtp: Readonly<Omit<MailFile['smtp'], 'password'>> & { readonly password?: Secret };
};

/** Where to ping, per moment of the run; a moment without a URL is not pinged. */
export type NotifyConfig = Readonly<Pick<z.output<typeof notifySchema>, 'method' | 'timeoutSeconds'>> & {
  readonly start?: string;
  readonly success?: string;
  readonly failure?: string;
};

/** The fields of the file that reach the run as validated: `keep`, `maxAge`, and any field added to the schema. */
type AsValidated = Readonly<Omit<ValidatedConfig, 'source' | 'targets' | 'vms' | 'mail' | 'lockFile' | 'log' | 'notify' | 'window'>>;

/** The configuration a run works with: file, then flags, defaults filled in. */
export type ResolvedConfig = AsValidated & {
  /** Absolute path of the config file, when one was loaded. */
  readonly configPath?: string;
  /** Absolute local backup root. */
  readonly source: string;
  /** `-n`, when the user typed it. */
  readonly keepOverride?: number;
  readonly targets: Readonly<Record<string, TargetConfig>>;
  /** VM name or `'*'` -> route; targets named here exist in `targets`. */
  readonly vms: Readonly<Record<string, VmRoute>>;
  readonly mail?: MailConfig;
  /** Absolute path of the run's lock file. */
  readonly lockFile: string;
  /** Absolute path of the log file (config `log.file`), when one is set. */
  readonly logFile?: string;
  /** Old logs kept beside `logFile` (`vmftp.log.1` … `.N`), config `log.keep`. */
  readonly logKeep: number;
  readonly notify?: NotifyConfig;
  readonly uploadMethod: UploadMethod;
  readonly deleteFirst: boolean;
  /** `--max-duration`, `--stop-at` and config `window.end`: the earliest is the run's deadline; absent: none. */
  readonly deadline?: DeadlineSettings;
};

/**
 * What reports a run: the log file, the e-mail and the pings. A run that stops before it starts
 * (a config error elsewhere in the file, -m without mail...) still reports through these.
 */
export interface Reporting {
  readonly configPath?: string;
  readonly logFile?: string;
  readonly logKeep: number;
  readonly mail?: MailConfig;
  readonly notify?: NotifyConfig;
  /** Every password known, to mask them wherever they turn up. */
  readonly secrets: readonly Secret[];
  /** Blocks that are written but broken: nothing goes out through them, and the run says so. */
  readonly broken: readonly ('mail' | 'notify' | 'log')[];
}
