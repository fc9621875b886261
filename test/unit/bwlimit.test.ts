import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatRate, limitOver, limitAt, neverLimits, parseBwLimit, parseRate, type BwTimetable } from '../../src/core/bwlimit.js';

function timetable(spec: string): BwTimetable {
  const parsed = parseBwLimit(spec);
  if ('problem' in parsed) assert.fail(`${spec}: ${parsed.problem}`);
  return parsed.timetable;
}

function problem(spec: string): string {
  const parsed = parseBwLimit(spec);
  if ('timetable' in parsed) assert.fail(`${spec} parsed`);
  return parsed.problem;
}

/** Local time on a given weekday of the week of Sunday 2026-11-29. */
function at(weekday: 'Sun' | 'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat', time: string): Date {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(weekday);
  const [hours, minutes] = time.split(':').map(Number);
  return new Date(2026, 10, 29 + day, hours, minutes, 30);
}

const KiB = 1024;
const MiB = 1024 * 1024;

describe('parseRate: bytes per second as rclone reads sizes', () => {
  // text, bytes per second (undefined: no limit)
  const cases: [string, number | undefined][] = [
    ['10M', 10 * MiB],
    ['512k', 512 * KiB],
    ['512K', 512 * KiB],
    ['1G', 1024 * MiB],
    ['1.5M', 1.5 * MiB],
    ['512', 512 * KiB], // a bare number is KiB in rclone
    ['0.5', 512],
    ['100B', 100],
    ['100b', 100],
    ['10Mi', 10 * MiB],
    ['10MiB', 10 * MiB],
    ['2KiB', 2 * KiB],
    ['off', undefined],
    ['OFF', undefined],
    ['0', undefined], // rclone: 0 means no limit
    ['0k', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${text} -> ${String(expected)}`, () => assert.deepEqual(parseRate(text), { bytesPerSecond: expected }));
  }
  for (const text of ['', '10X', 'M', '10MB', '-5k', '1e3', 'fast', '10 M']) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      const parsed = parseRate(text);
      assert.ok('problem' in parsed, `${text} parsed`);
      assert.match(parsed.problem, /expected a rate like "10M", "512k", "100B" or "off"/);
    });
  }
});

describe('parseBwLimit', () => {
  it('one rate holds all week', () => {
    const parsed = timetable('10M');
    assert.deepEqual(parsed.slots, [{ weekday: 0, minute: 0, bytesPerSecond: 10 * MiB }]);
    assert.equal(limitAt(parsed, at('Wed', '13:37')), 10 * MiB);
  });

  it("rclone's UP:DOWN form: the upload part is the limit", () => {
    assert.equal(limitAt(timetable('10M:100k'), at('Mon', '00:00')), 10 * MiB);
    assert.equal(limitAt(timetable('off:100k'), at('Mon', '00:00')), undefined);
    assert.match(problem('10M:fast'), /"fast" is not a rate/);
    assert.match(problem('10M:1M:1M'), /"10M:1M:1M" is not a rate/);
  });

  it('an entry without a weekday holds every day; entries are separated by spaces or semicolons', () => {
    const spaces = timetable('08:00,512k 19:00,10M 23:00,off');
    assert.equal(spaces.slots.length, 21);
    assert.deepEqual(timetable('08:00,512k;19:00,10M;23:00,off').slots, spaces.slots);
  });

  it('refuses what rclone refuses, naming the entry', () => {
    assert.match(problem('08:00,512k 25:00,off'), /25:00,off: expected a time HH:MM from 00:00 to 23:59, got "25:00"/);
    assert.match(problem('08:00,512k 19:60,off'), /got "19:60"/);
    assert.match(problem('8:00,512k 19:00,off'), /got "8:00"/);
    assert.match(problem('Mun-08:00,1M'), /Mun-08:00,1M: expected a weekday \(Mon, Tuesday, \.\.\.\), got "Mun"/);
    assert.match(problem('08:00 19:00,off'), /"08:00" is not an entry: expected timetable entries like "08:00,512k" or "Mon-08:00,1M"/);
    assert.match(problem('08:00,512k,1M'), /"08:00,512k,1M" is not an entry/);
    assert.match(problem('Mon-Tue-08:00,1M'), /"Mon-Tue-08:00,1M" is not an entry/);
    assert.match(problem('08:00,fast'), /08:00,fast: "fast" is not a rate: expected a rate like/);
    assert.match(problem('   '), /is empty: expected a rate/);
    assert.match(problem('10X'), /^"10X" is not a rate: expected a rate like/);
  });
});

describe('limitAt: the limit in force at a local time', () => {
  const daily = timetable('08:00,512k 19:00,10M 23:00,off');
  // weekday, time, limit in force
  const cases: [Parameters<typeof at>[0], string, number | undefined][] = [
    ['Mon', '07:59', undefined], // still the previous evening's off
    ['Mon', '08:00', 512 * KiB],
    ['Mon', '18:59', 512 * KiB],
    ['Mon', '19:00', 10 * MiB],
    ['Mon', '22:59', 10 * MiB],
    ['Mon', '23:00', undefined],
    ['Sun', '00:00', undefined], // wraps round from Saturday 23:00
    ['Sun', '08:30', 512 * KiB],
  ];
  for (const [weekday, time, expected] of cases) {
    it(`daily table, ${weekday} ${time} -> ${formatRate(expected)}`, () => assert.equal(limitAt(daily, at(weekday, time)), expected));
  }

  const weekly = timetable('Mon-08:00,1M Sat-00:00,off');
  const weeklyCases: [Parameters<typeof at>[0], string, number | undefined][] = [
    ['Sun', '12:00', undefined], // Saturday's off holds until Monday 08:00
    ['Mon', '07:59', undefined],
    ['Mon', '08:00', MiB],
    ['Fri', '23:59', MiB],
    ['Sat', '00:00', undefined],
  ];
  for (const [weekday, time, expected] of weeklyCases) {
    it(`weekday table, ${weekday} ${time} -> ${formatRate(expected)}`, () => assert.equal(limitAt(weekly, at(weekday, time)), expected));
  }

  it('entries in any order mean the same table', () => {
    const shuffled = timetable('Sat-00:00,off Mon-08:00,1M');
    for (const [weekday, time] of weeklyCases) assert.equal(limitAt(shuffled, at(weekday, time)), limitAt(weekly, at(weekday, time)), `${weekday} ${time}`);
  });

  it('of two entries at the same time, the later one written wins (as in rclone)', () => {
    assert.equal(limitAt(timetable('Mon-08:00,1M Mon-08:00,2M'), at('Mon', '09:00')), 2 * MiB);
  });

  it('a day entry overrides the every-day entry before it on that day only', () => {
    const table = timetable('08:00,512k Sat-09:00,off');
    assert.equal(limitAt(table, at('Sat', '08:30')), 512 * KiB);
    assert.equal(limitAt(table, at('Sat', '10:00')), undefined);
    assert.equal(limitAt(table, at('Sun', '07:00')), undefined);
    assert.equal(limitAt(table, at('Sun', '08:00')), 512 * KiB);
  });
});

describe('neverLimits and formatRate', () => {
  it('off and 0 never limit; a timetable with one limited entry does', () => {
    assert.equal(neverLimits(timetable('off')), true);
    assert.equal(neverLimits(timetable('0')), true);
    assert.equal(neverLimits(timetable('08:00,off 19:00,0')), true);
    assert.equal(neverLimits(timetable('08:00,off 19:00,1M')), false);
  });

  it('prints rates as rclone does, with the unit', () => {
    assert.equal(formatRate(512 * KiB), '512 KiB/s');
    assert.equal(formatRate(10 * MiB), '10 MiB/s');
    assert.equal(formatRate(1.5 * MiB), '1.500 MiB/s');
    assert.equal(formatRate(100), '100 B/s');
    assert.equal(formatRate(undefined), 'off');
  });
});

describe('limitOver: a timetable as the forecast reads it', () => {
  it('the limit in force at each time; no timetable is no function', () => {
    const evening = limitOver(timetable('08:00,512k 23:00,off'));
    assert.ok(evening);
    assert.equal(evening(at('Mon', '09:00')), 512 * KiB);
    assert.equal(evening(at('Mon', '23:30')), undefined);
    assert.equal(limitOver(undefined), undefined);
  });
});
