/**
 * What a config's password and `ca` fields point to, read while zod validates the file: the
 * schema of a run (`runSchema`) is the file's schema with those two fields read through here.
 * A field's problem (a variable that is not set, a missing file) is a zod issue at that field,
 * so it is named by its path and reported with every other problem of the file, a bad port
 * beside it included; the run gets a Secret and the certificate's PEM text.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configFields, localPath, mailSchema, passwordSchema, smtpFields, targetFields, targetsOf, withConfigRules, withSmtpRules, withTargetRules } from './schema.js';
import { Secret } from './secret.js';

/** Marks the issues of reading what a field points to, so they can be told from the file's own. */
const READ_ISSUE = { read: true } as const;

/** True for an issue raised while reading what a password or `ca` field points to. */
export function isReadIssue(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && issue.params?.['read'] === true;
}

/** Reads the password and `ca` fields of one config file; remembers every Secret it made and what to warn about. */
export class FieldReader {
  /** Every password read, also from a config that is invalid as a whole: they are masked wherever they turn up. */
  readonly secrets: Secret[] = [];
  /** Secrets that work but should change, and why, worded to follow the field's path. */
  readonly #notes = new Map<Secret, string>();

  constructor(
    /** Relative paths start at the config file's folder. */
    private readonly configDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A password field, read into a Secret. Problems and notes name the variable or file, never the value. */
  readonly password = passwordSchema.transform((source, ctx): Secret => {
    if (typeof source === 'string') return this.#keep(new Secret(source), ' is written in the config file; prefer { env: ... } or { file: ... }');
    if ('env' in source) {
      const value = this.env[source.env];
      if (value === undefined || value === '') return problem(ctx, `environment variable ${source.env} ${value === undefined ? 'is not set' : 'is empty'}`);
      return this.#keep(new Secret(value));
    }
    const file = path.resolve(this.configDir, source.file);
    const text = readText(file, ctx);
    if (text === undefined) return z.NEVER;
    // Editors add a final newline (CRLF on Windows) and Notepad may add a BOM; neither is part of the password.
    const password = text.replace(/^\uFEFF/, '').replace(/[\r\n]+$/, '');
    if (password === '') return problem(ctx, `file "${file}" is empty`);
    return this.#keep(new Secret(password), permissionNote(file));
  });

  /** A `ca` field, read into the PEM text of the certificate. */
  readonly certificate = localPath.transform((ca, ctx): string => {
    const file = path.resolve(this.configDir, ca);
    const text = readText(file, ctx);
    if (text === undefined) return z.NEVER;
    if (!text.includes('-----BEGIN CERTIFICATE-----')) return problem(ctx, `file "${file}" is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`);
    return text;
  });

  /** Returns the warning about the password read into `secret`, worded to follow its field's path, if there is one. */
  noteOn(secret: Secret): string | undefined {
    return this.#notes.get(secret);
  }

  #keep(secret: Secret, note?: string): Secret {
    this.secrets.push(secret);
    if (note !== undefined) this.#notes.set(secret, note);
    return secret;
  }
}

/** Returns the schemas of a run's config: the file's, with the password and `ca` fields read by `reader`. */
export function runSchemas(reader: FieldReader) {
  const target = withTargetRules(targetFields.extend({ password: reader.password, ca: reader.certificate.optional() }));
  const mail = mailSchema.extend({ smtp: withSmtpRules(smtpFields.extend({ password: reader.password.optional() })) });
  return { mail, config: withConfigRules(configFields.extend({ targets: targetsOf(target), mail: mail.optional() })) };
}

/** The config a run is made from: validated, defaults filled in, passwords and certificates read, paths as written. */
export type ReadConfig = z.output<ReturnType<typeof runSchemas>['config']>;

function problem(ctx: z.core.$RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message, params: READ_ISSUE });
  return z.NEVER;
}

/**
 * Returns a file's text, or undefined after raising the issue that says why it cannot be read.
 * Read synchronously: zod puts the entries of a record whose values parse asynchronously in the
 * order their reads finish, so targets (and their problems) would come out of the file in another
 * order than written whenever one password is a file. A few small files at start-up cost nothing.
 */
function readText(file: string, ctx: z.core.$RefinementCtx): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    problem(ctx, `file "${file}" ${fileErrorText(error)}`);
    return undefined;
  }
}

/** A note when a password file can be read by other users of the machine (POSIX only: Windows uses ACLs). */
function permissionNote(file: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  const { mode } = statSync(file);
  return (mode & 0o077) === 0 ? undefined : `: file "${file}" can be read by other users; chmod 600 it`;
}

/** Returns a Node error's code (`ENOENT`), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** Returns a file system error in words, without the stack of path details Node puts in `message`. */
/** Returns why a file cannot be read, in a few words: `does not exist`, `permission denied`. */
export function fileErrorText(error: unknown): string {
  const code = errorCode(error);
  switch (code) {
    case 'ENOENT':
      return 'does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a folder, not a file';
    default:
      return `cannot be read (${code ?? (error instanceof Error ? error.message : String(error))})`;
  }
}
