/**
 * Backup folder names <-> dates, and the rule for what a VM folder may be called.
 * Pure: the clock is never read; stamps are wall-clock local time, as the backup job wrote them.
 */

/** The date-fns pattern of a backup folder name, e.g. `2012-08-18-154137`. */
export const STAMP_FORMAT = 'yyyy-MM-dd-HHmmss';

/** Suffix of a folder that holds an upload not yet verified: `<stamp>.partial`. */
export const PARTIAL_SUFFIX = '.partial';

const STAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/**
 * Returns the local time a stamp names, or undefined when `name` is not exactly a stamp.
 * Strict: every field is fixed-width digits, and the name is a stamp only when the local
 * date built from the fields shows the very same fields again, so `2012-13-40-999999`,
 * `2012-02-30-000000` and `2012-08-18` are not stamps. (No date-fns here: its parse+format
 * round trip costs ~7 us a call, 2 s for a plan of 100,000 backups.)
 */
export function parseStamp(name: string): Date | undefined {
  const match = STAMP_PATTERN.exec(name);
  if (match === null) return undefined;
  const [year, month, day, hours, minutes, seconds] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  // Year 0 is not a year of the Gregorian calendar as written (date-fns refuses it too).
  if (year < 1) return undefined;
  const date = new Date(2000, 0, 1);
  // setFullYear, not the constructor: the constructor maps years 0-99 to 1900-1999.
  date.setFullYear(year, month - 1, day);
  date.setHours(hours, minutes, seconds, 0);
  // A local time skipped by a daylight-saving change fails here too: no clock showed it,
  // so no backup job can have written it, and treating it as "not a backup" never deletes anything.
  const same =
    date.getFullYear() === year &&
    date.getMonth() === month - 1 &&
    date.getDate() === day &&
    date.getHours() === hours &&
    date.getMinutes() === minutes &&
    date.getSeconds() === seconds;
  return same ? date : undefined;
}

/** Returns true when `name` is a valid backup stamp (see {@link parseStamp}). */
export function isStamp(name: string): boolean {
  return parseStamp(name) !== undefined;
}

/**
 * Returns a negative number when stamp `a` is older than `b`, positive when newer, 0 when equal:
 * an oldest-first comparator for `Array.prototype.sort`; use `(a, b) => compareStamps(b, a)` for newest first.
 * Valid stamps are fixed-width with the most significant field first, so comparing the text
 * is comparing the wall-clock times; it also stays consistent across a daylight-saving
 * fall-back hour, where the text is all we know.
 */
export function compareStamps(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/**
 * Returns the stamp of a backup folder name and whether it is an unfinished upload
 * (`<stamp>.partial`), or undefined when the name is neither `<stamp>` nor `<stamp>.partial`.
 */
export function parseBackupFolderName(name: string): { stamp: string; partial: boolean } | undefined {
  if (isStamp(name)) return { stamp: name, partial: false };
  if (name.endsWith(PARTIAL_SUFFIX)) {
    const stamp = name.slice(0, -PARTIAL_SUFFIX.length);
    if (isStamp(stamp)) return { stamp, partial: true };
  }
  return undefined;
}

// C0 controls and DEL: invisible in logs, and NUL ends a path in most system calls.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Returns why `name` cannot be a VM folder name, or undefined when it can.
 * A VM name becomes one path segment under `<source>` and `<remoteDir>`, and deletes are built
 * from it, so anything that could climb out of or reach beside that folder is refused.
 */
export function vmNameProblem(name: string): string | undefined {
  const quoted = JSON.stringify(name);
  if (name === '') return 'VM name is empty';
  if (name === '.' || name === '..') return `VM name ${quoted} names a folder itself, not a VM`;
  if (name.includes('/') || name.includes('\\')) return `VM name ${quoted} contains a path separator ("/" or "\\")`;
  if (CONTROL_CHARS.test(name)) return `VM name ${quoted} contains a NUL or control character`;
  // Windows drops trailing spaces and dots from folder names, so `Bart.` there is the folder
  // `Bart`: the backup host cannot hold such a VM, and acting on it could touch another VM's backups.
  if (name.endsWith(' ') || name.endsWith('.')) {
    return `VM name ${quoted} ends with a space or a dot, which Windows cannot hold in a folder name`;
  }
  return undefined;
}

/** Returns true when `name` is a valid VM folder name (see {@link vmNameProblem}). */
export function isValidVmName(name: string): boolean {
  return vmNameProblem(name) === undefined;
}
