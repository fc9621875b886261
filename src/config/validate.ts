/**
 * Checks a config as loaded from a file, without touching the disk: every
 * problem is collected and named by its field, so one run of `vmftp` tells
 * the administrator everything to fix.
 */
import { z } from 'zod';
import { configSchema, type ValidatedConfig } from './schema.js';

export type { ValidatedConfig };

/** The outcome of `validateConfig`: the parsed config, or every problem as `field: message` lines. */
export type ValidationResult =
  | { readonly ok: true; readonly value: ValidatedConfig }
  | { readonly ok: false; readonly problems: string[] };

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/**
 * Returns the parsed config with defaults filled in, or every problem found,
 * each as `field: message` (`targets.nas.port: expected a number, got "twenty-one"`):
 * the fields' own, then those of the rules that tie fields together (target references, VM names).
 */
export function validateConfig(raw: unknown): ValidationResult {
  const checked = checkedWith(configSchema.safeParse(raw, { reportInput: true }), () => false);
  return checked.ok ? checked : { ok: false, problems: checked.problems };
}

/** The outcome of `validateConfigReading`: the problems of the file and those of what its fields point to come apart. */
export type ReadingValidationResult<Value> =
  | { readonly ok: true; readonly value: Value }
  | { readonly ok: false; readonly problems: string[]; readonly readProblems: string[] };

/**
 * Returns the config parsed by `schema`, a schema whose fields read what they point to (resolve.ts),
 * or every problem: the file's own (as `validateConfig` names them) apart from the issues `isRead`
 * picks out, the problems of what the fields point to.
 */
export async function validateConfigReading<Value>(
  raw: unknown,
  schema: z.ZodType<Value>,
  isRead: (issue: Issue) => boolean,
): Promise<ReadingValidationResult<Value>> {
  return checkedWith(await schema.safeParseAsync(raw, { reportInput: true }), isRead);
}

function checkedWith<Value>(parsed: z.ZodSafeParseResult<Value>, isRead: (issue: Issue) => boolean): ReadingValidationResult<Value> {
  if (parsed.success) return { ok: true, value: parsed.data };
  const { issues } = parsed.error;
  const problems = issues.filter((issue) => !isRead(issue)).flatMap((issue) => issueLines(issue, []));
  const readProblems = issues.filter(isRead).flatMap((issue) => issueLines(issue, []));
  return { ok: false, problems: [...new Set(problems)], readProblems: [...new Set(readProblems)] };
}

/**
 * Returns a field path as users read it: `targets.nas.port`, `vms.Raoul[1]`,
 * `vms["web 01"]`; the empty path is `config` (the file as a whole).
 */
export function fieldPath(path: readonly PathKey[]): string {
  if (path.length === 0) return 'config';
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (/^[\w$*-]+$/.test(name)) return index === 0 ? name : `.${name}`;
      // JSON quoting also escapes control characters, so a hostile key cannot forge a log line.
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}

/** Lines for one zod issue; `prefix` is the path of the union the issue came from, if any. */
function issueLines(issue: Issue, prefix: readonly PathKey[]): string[] {
  const path = [...prefix, ...issue.path];
  const field = fieldPath(path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${fieldPath([...path, key])}: unknown field${suggestion(path, key)}`);
    case 'invalid_union': {
      // Report the alternative the user evidently meant (the one whose shape fits),
      // so `password: { env: 5 }` says `password.env: expected a string`.
      const fitting = issue.errors.filter((branch) => !branch.some(isShapeMismatch));
      const [only] = fitting;
      if (fitting.length === 1 && only !== undefined) return only.flatMap((inner) => issueLines(inner, path));
      return [`${field}: ${withGot(issue.message, issue.input, path)}`];
    }
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`;
      const received = 'received' in issue && typeof issue.received === 'string' ? issue.received : undefined;
      if (issue.input === undefined && received === undefined) return [`${field}: missing (expected ${expected})`];
      const got = received ?? describe(issue.input, path);
      return [`${field}: expected ${expected}, got ${got}`];
    }
    case 'invalid_value': {
      const choices = issue.values.map((value) => JSON.stringify(value));
      const expected = choices.length === 1 ? `expected ${choices[0]}` : `expected one of ${choices.join(', ')}`;
      return [`${field}: ${withGot(expected, issue.input, path)}`];
    }
    default:
      return [`${field}: ${withGot(issue.message, issue.input, path)}`];
  }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'a list',
};

/** True for an issue saying the value is not this union alternative at all (rather than a bad field inside it). */
function isShapeMismatch(issue: Issue): boolean {
  return (
    issue.path.length === 0 &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'unrecognized_keys')
  );
}

/** Messages that state an expectation get the value that broke it; others ("must not be empty") stand alone. */
function withGot(message: string, input: unknown, path: readonly PathKey[]): string {
  return message.startsWith('expected') ? `${message}, got ${describe(input, path)}` : message;
}

/**
 * Returns a short description of a value for an error message. Under a
 * `password` field only the type is given: a password typed in the wrong
 * place must not end up in the log or the e-mail.
 */
function describe(value: unknown, path: readonly PathKey[]): string {
  const sensitive = path.includes('password');
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string': {
      if (sensitive) return 'a string';
      const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
      return JSON.stringify(shown);
    }
    case 'number':
    case 'boolean':
      return sensitive ? `a ${typeof value}` : String(value);
    case 'object':
      return 'an object';
    case 'undefined':
      return 'nothing';
    default:
      return `a ${typeof value}`;
  }
}

/** ` (did you mean "host"?)` when an unknown key is a near miss of a field that exists there, else ''. */
function suggestion(path: readonly PathKey[], key: string): string {
  const known = [...new Set(fieldsAt(configSchema, path))];
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0 : editDistance(name, key);
    if (distance <= Math.min(2, Math.floor(name.length / 3)) && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best === undefined ? '' : ` (did you mean "${best.name}"?)`;
}

/** Field names of the object schemas found at `path`, looking through optional, default, transform and union. */
function fieldsAt(schema: z.ZodType, path: readonly PathKey[]): string[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) {
    return fieldsAt(schema.def.innerType as z.ZodType, path);
  }
  if (schema instanceof z.ZodPipe) return fieldsAt(schema.in as z.ZodType, path);
  if (schema instanceof z.ZodUnion) return schema.options.flatMap((option) => fieldsAt(option as z.ZodType, path));
  const [head, ...rest] = path;
  if (schema instanceof z.ZodObject) {
    if (head === undefined) return Object.keys(schema.shape);
    const field: unknown = schema.shape[String(head)];
    return field instanceof z.ZodType ? fieldsAt(field, rest) : [];
  }
  if (schema instanceof z.ZodRecord && head !== undefined) return fieldsAt(schema.valueType as z.ZodType, rest);
  if (schema instanceof z.ZodArray && typeof head === 'number') return fieldsAt(schema.element as z.ZodType, rest);
  return [];
}

/** Edit distance counting a swap of two neighbours as one edit (`hots` -> `host` is 1). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = rows[i];
      if (row !== undefined) row[j] = best;
    }
  }
  return at(a.length, b.length);
}
