import type { ResolvedConfig } from '../config/types.js';
import type { Secret } from '../config/secret.js';

/** Replaces every known secret in a text with `***`. */
export type Redactor = (text: string) => string;

const MASK = '***';

/** A redactor that changes nothing: before the config is loaded no secret is known. */
export const NO_SECRETS: Redactor = (text) => text;

/** Returns every password of the config: each target's and the SMTP one. */
export function secretsOf(config: ResolvedConfig): Secret[] {
  const secrets = Object.values(config.targets).map((target) => target.password);
  if (config.mail?.smtp.password !== undefined) secrets.push(config.mail.smtp.password);
  return secrets;
}

/**
 * Secrets shorter than this are masked only where they stand alone (between
 * characters that are not letters or digits, as in `password y rejected` or
 * `u:y@host`): masking a one-letter password inside every word would make
 * the log unreadable (`b***tes`) without hiding anything.
 */
const SHORT_SECRET = 6;

/**
 * Returns a redactor for these secrets. `Secret` already masks itself; this
 * catches the clear text where something else put it into a message: a
 * server echoing the PASS line, a URL with `user:password@` in a child
 * program's error. The URL-encoded spelling is masked too.
 */
export function createRedactor(secrets: readonly Secret[]): Redactor {
  const spellings = new Set<string>();
  for (const secret of secrets) {
    const value = secret.reveal();
    if (value === '') continue;
    spellings.add(value);
    spellings.add(encodeURIComponent(value));
  }
  if (spellings.size === 0) return NO_SECRETS;
  // Longest first, so a password that contains another one is masked whole.
  const alternatives = [...spellings]
    .sort((a, b) => b.length - a.length)
    .map((spelling) => {
      const escaped = spelling.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return spelling.length >= SHORT_SECRET ? escaped : `(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`;
    });
  const pattern = new RegExp(alternatives.join('|'), 'gu');
  return (text) => text.replace(pattern, MASK);
}
