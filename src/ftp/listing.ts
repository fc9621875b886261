import { FileType, parseList } from 'basic-ftp';
import type { RemoteEntry } from './session.js';

/** Returns the RemoteEntry kind of a basic-ftp FileType. */
export function kindOfFileType(type: FileType): RemoteEntry['kind'] {
  return type === FileType.File ? 'file' : type === FileType.Directory ? 'dir' : 'other';
}

/**
 * What a `STAT <dir>` reply says:
 * - `listing`: a folder's entries (`.` and `..` left out). `sawDot` tells that the server listed
 *   the folder's own `.` entry, i.e. that the folder exists, even when `entries` is empty.
 * - `ambiguous`: a well-formed reply with nothing in it. pure-ftpd and vsftpd answer `213` with an
 *   empty body for a missing folder (ftp-srv does for an empty one): only the plain listing path
 *   can tell "missing" from "empty".
 * - `unusable`: anything else (an error code, a single line, a line that is not a plain Unix
 *   `ls -l` line, a name we would not read back the same way). STAT is then off for the session.
 *
 * The code does not tell a folder from a file: proftpd answers 212 for a folder and 213 for a file,
 * ftp-srv the other way round, pure-ftpd and vsftpd 213 for both.
 */
export type StatListing =
  | { readonly kind: 'listing'; readonly entries: RemoteEntry[]; readonly sawDot: boolean }
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'unusable'; readonly reason: string };

/**
 * A strict `ls -l` line: type and permissions, link count, owner and group without spaces, size,
 * date (`Mon dd hh:mm` or `Mon dd  yyyy`), one space, then the name as it is. basic-ftp's parser
 * allows spaces in owner and group, so a name that holds a date-like prefix could shift its
 * fields; a line both parsers do not read the same way is refused.
 */
const STRICT_LINE = /^([-dl])[-rwxsStTL]{9}[+.@]? +(\d+) +(\S+) +(\S+) +(\d+) +(\S{3} +\d{1,2} +(?:\d{1,2}:\d{2}|\d{4})) (.+)$/u;

/** Characters we never accept in a name read from the control connection (CR/LF end a reply line). */
const CONTROL_OR_SLASH = /[\u0000-\u001f\u007f/]/u;

/**
 * Returns the folder listing in a `STAT <dir>` reply as basic-ftp hands it over (lines joined with
 * `\n`, first and last status lines included), or why it cannot be trusted.
 */
export function parseStatReply(code: number, message: string): StatListing {
  if (code !== 211 && code !== 212 && code !== 213) return { kind: 'unusable', reason: `STAT answered ${code}` };
  const lines = message.split('\n');
  const first = lines[0] ?? '';
  const last = lines[lines.length - 1] ?? '';
  if (lines.length < 2 || !first.startsWith(`${code}-`) || !(last === String(code) || last.startsWith(`${code} `))) {
    return { kind: 'unusable', reason: `STAT answered a single line: ${first}` };
  }
  let body = lines.slice(1, -1);
  // proftpd starts every line of the body with a space (RFC 959's advice for multi-line replies).
  if (body.length > 0 && body.every((line) => line.startsWith(' '))) body = body.map((line) => line.slice(1));
  const entries: RemoteEntry[] = [];
  const names = new Set<string>();
  let sawDot = false;
  for (const line of body) {
    if (/^total \d+$/u.test(line)) continue;
    const strict = STRICT_LINE.exec(line);
    if (strict === null) return { kind: 'unusable', reason: `not an ls -l line: ${JSON.stringify(line)}` };
    const [, type, , , , size, , rest] = strict as unknown as [string, string, string, string, string, string, string, string];
    if (rest === '.' || rest === '..') {
      if (type !== 'd') return { kind: 'unusable', reason: `${rest} is not a folder: ${JSON.stringify(line)}` };
      sawDot ||= rest === '.';
      continue;
    }
    // A symlink reads `name -> target`; a second ` -> ` leaves it unclear where the name ends.
    if (type === 'l' && rest.split(' -> ').length !== 2) return { kind: 'unusable', reason: `symlink name unclear: ${JSON.stringify(line)}` };
    const name = type === 'l' ? rest.slice(0, rest.indexOf(' -> ')) : rest;
    const parsed = parseList(line);
    const info = parsed[0];
    if (parsed.length !== 1 || info === undefined || info.name !== name || info.size !== Number(size)) {
      return { kind: 'unusable', reason: `basic-ftp reads the line otherwise: ${JSON.stringify(line)}` };
    }
    if (name === '' || CONTROL_OR_SLASH.test(name) || names.has(name)) {
      return { kind: 'unusable', reason: `unexpected name: ${JSON.stringify(line)}` };
    }
    names.add(name);
    entries.push({ name, kind: kindOfFileType(info.type), size: info.size });
  }
  if (entries.length === 0 && !sawDot) return { kind: 'ambiguous' };
  return { kind: 'listing', entries, sawDot };
}

/**
 * Returns true when `STAT <dir>` may be sent for `dir`: an absolute path with no glob
 * metacharacter (`* ? [ ] { } ~`), no whitespace or control character, and no component starting
 * with `-`. pure-ftpd and others glob the argument of STAT and LIST, split it at spaces and read
 * `-x` as options, so such a path would list something else.
 */
export function statMayList(dir: string): boolean {
  if (!dir.startsWith('/')) return false;
  if (/[*?[\]{}~\s\u0000-\u001f\u007f\\]/u.test(dir)) return false;
  return dir.split('/').every((part) => !part.startsWith('-'));
}

/**
 * Returns undefined when both listings hold the same names with the same kinds and sizes (sizes of
 * folders aside: servers report 4096, 0 or nothing), else the first difference.
 */
export function listingDifference(stat: readonly RemoteEntry[], plain: readonly RemoteEntry[]): string | undefined {
  const byName = new Map(plain.map((entry) => [entry.name, entry]));
  if (byName.size !== plain.length) return 'the plain listing repeats a name';
  if (stat.length !== plain.length) return `${stat.length} entries by STAT, ${plain.length} by the plain listing`;
  for (const entry of stat) {
    const other = byName.get(entry.name);
    if (other === undefined) return `${JSON.stringify(entry.name)} only in the STAT listing`;
    if (other.kind !== entry.kind) return `${JSON.stringify(entry.name)}: ${entry.kind} by STAT, ${other.kind} by the plain listing`;
    if (entry.kind !== 'dir' && other.size !== entry.size) {
      return `${JSON.stringify(entry.name)}: ${entry.size} bytes by STAT, ${other.size} by the plain listing`;
    }
  }
  return undefined;
}

/** The formats of listing lines basic-ftp reads. */
export type ListingFormat = 'MLSD' | 'Unix' | 'MS-DOS';

/**
 * Returns the format of a raw MLSD/LIST listing by its first line, undefined when it holds no
 * line or one of no known format: `type=file;size=5; name` (MLSD), `-rw-r--r-- 1 ...` (Unix
 * `ls -l`), `11-28-26  06:25PM  <DIR>  Bart` (MS-DOS, as IIS lists by default).
 */
export function listingFormat(raw: string): ListingFormat | undefined {
  const line = raw.split(/\r?\n/u).find((candidate) => candidate.trim() !== '' && !/^total \d+$/u.test(candidate));
  if (line === undefined) return undefined;
  if (/^\d{2}-\d{2}-\d{2,4} +\d{1,2}:\d{2}(?:[AP]M)? +(?:<DIR>|\d+) /iu.test(line)) return 'MS-DOS';
  if (/^[-dlbcps][-rwxsStTL]{9}/u.test(line)) return 'Unix';
  if (/^(?:[\w.-]+=[^;]*;)+ /u.test(line)) return 'MLSD';
  return undefined;
}
