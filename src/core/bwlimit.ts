/**
 * `bwlimit`: a bandwidth limit or a weekly timetable of limits, written as rclone writes them
 * (fs/bwtimetable.go, fs/sizesuffix.go) so an administrator's rclone spelling means the same here:
 * `10M`, `512k`, `off`, `"08:00,512k 19:00,10M 23:00,off"`, `"Mon-08:00,1M Sat-00:00,off"`.
 * Pure: the time a limit is asked for is a parameter.
 */

/** One entry of a timetable: from this weekday and minute on, this limit (until the next entry). */
export interface BwSlot {
  /** 0 Sunday … 6 Saturday, as Date.getDay() and Go's time.Weekday count. */
  readonly weekday: number;
  /** Minutes since midnight, local time. */
  readonly minute: number;
  /** Bytes per second the uploads may use; undefined: no limit. */
  readonly bytesPerSecond: number | undefined;
}

/** A parsed `bwlimit`: its entries in week order (a single limit is one entry, Sunday 00:00). */
export interface BwTimetable {
  /** The text as written, for messages and the plan. */
  readonly spec: string;
  readonly slots: readonly BwSlot[];
}

const MINUTES_PER_DAY = 24 * 60;

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const WEEKDAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

/** rclone's size suffixes are binary: k is KiB, M is MiB, G is GiB (fs/sizesuffix.go). */
const MULTIPLIERS: Readonly<Record<string, number>> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };

const ENTRY_FORMS = 'expected timetable entries like "08:00,512k" or "Mon-08:00,1M", separated by spaces or ";"';

const RATE_FORMS = 'expected a rate like "10M", "512k", "100B" or "off" (bytes per second; k, M, G are KiB, MiB, GiB; a bare number is KiB)';

/** Returns the bytes per second of one rate as rclone's SizeSuffix reads it (undefined: no limit), or a problem. */
export function parseRate(text: string): { bytesPerSecond: number | undefined } | { problem: string } {
  if (text === '') return { problem: `an empty rate: ${RATE_FORMS}` };
  if (text.toLowerCase() === 'off') return { bytesPerSecond: undefined };
  let number = text;
  let multiplier: number | undefined;
  const last = text.at(-1) ?? '';
  if (/[0-9.]/.test(last)) multiplier = MULTIPLIERS.k;
  else if (/b/i.test(last)) {
    // "10MiB" is MiB; "100B" is bytes; "10MB" is refused, as rclone refuses it.
    const binary = /^(.*)([kmgtpe])ib$/i.exec(text);
    [number, multiplier] = binary === null ? [text.slice(0, -1), 1] : [binary[1] ?? '', MULTIPLIERS[(binary[2] ?? '').toLowerCase()]];
  } else {
    const match = /^(.*?)([kmgtpe])i?$/i.exec(text);
    if (match !== null) [number, multiplier] = [match[1] ?? '', MULTIPLIERS[(match[2] ?? '').toLowerCase()]];
  }
  if (multiplier === undefined || !/^(?:\d+\.?\d*|\.\d+)$/.test(number)) return { problem: `"${text}" is not a rate: ${RATE_FORMS}` };
  const bytes = Math.floor(Number(number) * multiplier);
  // rclone: 0 is no limit ("the default is 0 which means to not limit bandwidth").
  return { bytesPerSecond: bytes > 0 ? bytes : undefined };
}

/** Returns the upload rate of rclone's `UP` or `UP:DOWN` form: vmftp only uploads, so DOWN is checked and not used. */
function parseUploadRate(text: string): { bytesPerSecond: number | undefined } | { problem: string } {
  const [up = '', down, ...extra] = text.split(':');
  if (extra.length > 0) return { problem: `"${text}" is not a rate: ${RATE_FORMS}, or "UP:DOWN"` };
  const downProblem = down === undefined ? undefined : parseRate(down);
  if (downProblem !== undefined && 'problem' in downProblem) return downProblem;
  return parseRate(up);
}

/** Returns minutes since midnight of `HH:MM` (00:00 to 23:59), or a problem. */
function parseTime(text: string): number | string {
  const match = /^(\d\d):(\d\d)$/.exec(text);
  if (match === null) return `expected a time HH:MM from 00:00 to 23:59, got "${text}"`;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours > 23 || minutes > 59) return `expected a time HH:MM from 00:00 to 23:59, got "${text}"`;
  return hours * 60 + minutes;
}

function parseWeekday(text: string): number | string {
  const lower = text.toLowerCase();
  const index = Math.max(WEEKDAYS.indexOf(lower as (typeof WEEKDAYS)[number]), WEEKDAY_NAMES.indexOf(lower as (typeof WEEKDAY_NAMES)[number]));
  return index === -1 ? `expected a weekday (Mon, Tuesday, ...), got "${text}"` : index;
}

/** Returns the slots of one `[WEEKDAY-]HH:MM,RATE` entry (an entry without a weekday holds every day), or a problem. */
function parseEntry(entry: string): BwSlot[] | string {
  const parts = entry.split(',');
  if (parts.length !== 2) return `"${entry}" is not an entry: ${ENTRY_FORMS}`;
  const [when = '', rateText = ''] = parts;
  const rate = parseUploadRate(rateText);
  if ('problem' in rate) return `${entry}: ${rate.problem}`;
  const dash = when.split('-');
  if (dash.length > 2) return `"${entry}" is not an entry: ${ENTRY_FORMS}`;
  const minute = parseTime(dash.at(-1) ?? '');
  if (typeof minute === 'string') return `${entry}: ${minute}`;
  if (dash.length === 1) return WEEKDAYS.map((_, weekday) => ({ weekday, minute, bytesPerSecond: rate.bytesPerSecond }));
  const weekday = parseWeekday(dash[0] ?? '');
  if (typeof weekday === 'string') return `${entry}: ${weekday}`;
  return [{ weekday, minute, bytesPerSecond: rate.bytesPerSecond }];
}

const weekMinute = (slot: BwSlot): number => slot.weekday * MINUTES_PER_DAY + slot.minute;

/**
 * Returns the timetable `spec` describes, or the problem with it. One rate alone (no space, no
 * comma) holds all week; otherwise entries `[WEEKDAY-]HH:MM,RATE` separated by spaces or `;`,
 * in any order (kept in week order; of two entries at the same time the later one written wins,
 * as in rclone).
 */
export function parseBwLimit(spec: string): { timetable: BwTimetable } | { problem: string } {
  const text = spec.trim();
  if (text === '') return { problem: `is empty: ${RATE_FORMS}, or a timetable like "08:00,512k 19:00,10M 23:00,off"` };
  if (!/[ ;,]/.test(text)) {
    const rate = parseUploadRate(text);
    if ('problem' in rate) return rate;
    return { timetable: { spec: text, slots: [{ weekday: 0, minute: 0, bytesPerSecond: rate.bytesPerSecond }] } };
  }
  const slots: BwSlot[] = [];
  for (const entry of text.split(/[ ;]+/).filter((part) => part !== '')) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') return { problem: parsed };
    slots.push(...parsed);
  }
  // Array.prototype.sort is stable: entries at the same time keep their written order.
  slots.sort((a, b) => weekMinute(a) - weekMinute(b));
  return { timetable: { spec: text, slots } };
}

/**
 * Returns the bytes per second in force at `at` (local time), undefined for no limit: the last
 * entry at or before that weekday and minute, else (early in the week) the week's last entry,
 * which holds until the first one comes round.
 */
export function limitAt(timetable: BwTimetable, at: Date): number | undefined {
  const now = at.getDay() * MINUTES_PER_DAY + at.getHours() * 60 + at.getMinutes();
  let inForce = timetable.slots.at(-1);
  for (const slot of timetable.slots) {
    if (weekMinute(slot) > now) break;
    inForce = slot;
  }
  return inForce?.bytesPerSecond;
}

/** Returns true when the timetable never limits anything (`off`, `0`, or only such entries). */
export function neverLimits(timetable: BwTimetable): boolean {
  return timetable.slots.every((slot) => slot.bytesPerSecond === undefined);
}

/** Returns a rate as rclone prints it, with the unit: `512 KiB/s`, `1.500 MiB/s`, `off`. */
export function formatRate(bytesPerSecond: number | undefined): string {
  if (bytesPerSecond === undefined) return 'off';
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s', 'TiB/s', 'PiB/s', 'EiB/s'];
  let scaled = bytesPerSecond;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(scaled) ? String(scaled) : scaled.toFixed(3)} ${units[unit]}`;
}

/** Returns the bytes per second a timetable allows at a time (undefined: no limit then), or undefined when there is no timetable. */
export function limitOver(timetable: BwTimetable | undefined): ((at: Date) => number | undefined) | undefined {
  return timetable === undefined ? undefined : (at) => limitAt(timetable, at);
}
