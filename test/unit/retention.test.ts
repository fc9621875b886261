import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addDays, format } from 'date-fns';
import type { KeepPolicy } from '../../src/core/model.js';
import {
  applyRetention,
  describePolicy,
  parseWithinDuration,
  policyKeepsNothing,
} from '../../src/core/retention.js';
import { STAMP_FORMAT, compareStamps } from '../../src/core/stamp.js';

/** `2014-09-01 10:20:30` (restic's test notation) -> `2014-09-01-102030`. */
function stamp(time: string): string {
  return time.replace(' ', '-').replace(/:/g, '');
}

const newestFirst = (stamps: readonly string[]): string[] => [...stamps].sort((a, b) => compareStamps(b, a));

describe('a number N keeps the N newest', () => {
  // The original tool's test: nine backups, keep the five newest.
  const nine = [
    '2012-08-10-020000',
    '2012-08-11-020000',
    '2012-08-12-020000',
    '2012-08-13-020000',
    '2012-08-14-020000',
    '2012-08-15-020000',
    '2012-08-16-020000',
    '2012-08-17-020000',
    '2012-08-18-020000',
  ];

  it('keeps 5 out of 9, newest first, and deletes the 4 oldest', () => {
    const result = applyRetention(nine, 5);
    assert.deepEqual(result.keep, [
      '2012-08-18-020000',
      '2012-08-17-020000',
      '2012-08-16-020000',
      '2012-08-15-020000',
      '2012-08-14-020000',
    ]);
    assert.deepEqual(result.remove, ['2012-08-13-020000', '2012-08-12-020000', '2012-08-11-020000', '2012-08-10-020000']);
    assert.deepEqual(result.reasons['2012-08-18-020000'], ['last 1/5']);
    assert.deepEqual(result.reasons['2012-08-14-020000'], ['last 5/5']);
    assert.deepEqual(result.reasons['2012-08-10-020000'], ['older than the 5 newest']);
  });

  const table: [name: string, stamps: string[], n: number, keep: string[], remove: string[]][] = [
    ['no backups', [], 3, [], []],
    ['fewer than N', ['2012-08-10-020000', '2012-08-11-020000'], 3, ['2012-08-11-020000', '2012-08-10-020000'], []],
    ['input order does not matter', ['2012-08-11-020000', '2012-08-13-020000', '2012-08-12-020000'], 2,
      ['2012-08-13-020000', '2012-08-12-020000'], ['2012-08-11-020000']],
    ['duplicates count once', ['2012-08-11-020000', '2012-08-11-020000', '2012-08-12-020000'], 2,
      ['2012-08-12-020000', '2012-08-11-020000'], []],
    ['N = 1', ['2012-08-11-020000', '2012-08-12-020000'], 1, ['2012-08-12-020000'], ['2012-08-11-020000']],
    ['N = 0 still keeps the newest', ['2012-08-11-020000', '2012-08-12-020000'], 0, ['2012-08-12-020000'], ['2012-08-11-020000']],
  ];
  for (const [name, stamps, n, keep, remove] of table) {
    it(name, () => {
      const result = applyRetention(stamps, n);
      assert.deepEqual(result.keep, keep);
      assert.deepEqual(result.remove, remove);
      assert.deepEqual(Object.keys(result.reasons).sort(), [...new Set(stamps)].sort());
    });
  }

  it('says why the newest is kept when the policy keeps nothing', () => {
    const result = applyRetention(['2012-08-11-020000', '2012-08-12-020000'], 0);
    assert.deepEqual(result.reasons, {
      '2012-08-12-020000': ['newest backup: every VM keeps at least one'],
      '2012-08-11-020000': ['the policy keeps nothing: only the newest backup is kept'],
    });
    const gfs = applyRetention(['2012-08-11-020000', '2012-08-12-020000'], { daily: 0, within: '0d' });
    assert.deepEqual(gfs.keep, ['2012-08-12-020000']);
  });

  it('says "older than the newest" for N = 1', () => {
    assert.deepEqual(applyRetention(['2012-08-11-020000', '2012-08-12-020000'], 1).reasons['2012-08-11-020000'], [
      'older than the newest',
    ]);
  });

  it('refuses what is not a stamp, and a policy validation rejects', () => {
    assert.throws(() => applyRetention(['2012-08-11-020000', 'notes'], 3), /not a backup stamp: "notes"/);
    assert.throws(() => applyRetention([], -1), /invalid retention policy: last must be a whole number/);
    assert.throws(() => applyRetention([], { daily: 2.5 }), /daily must be a whole number/);
    assert.throws(() => applyRetention([], { within: '30 days' }), /within must be a duration/);
  });
});

describe('GFS policy: restic documentation examples', () => {
  // "Suppose you have only made one backup every Sunday for 12 weeks" ... forget --keep-daily 4.
  const sundays = [
    '2019-09-01 11:00:00', '2019-09-08 11:00:00', '2019-09-15 11:00:00', '2019-09-22 11:00:00',
    '2019-09-29 11:00:00', '2019-10-06 11:00:00', '2019-10-13 11:00:00', '2019-10-20 11:00:00',
    '2019-10-27 11:00:00', '2019-11-03 11:00:00', '2019-11-10 11:00:00', '2019-11-17 11:00:00',
  ].map(stamp);

  it('--keep-daily 4 keeps the last four Sundays and removes the other 8', () => {
    const result = applyRetention(sundays, { daily: 4 });
    assert.deepEqual(result.keep, ['2019-11-17-110000', '2019-11-10-110000', '2019-11-03-110000', '2019-10-27-110000']);
    assert.equal(result.remove.length, 8);
    assert.deepEqual(result.reasons['2019-11-03-110000'], ['daily 3/4']);
    assert.deepEqual(result.reasons['2019-09-01-110000'], ['not kept by any rule (daily 4)']);
  });

  it('one backup a day for 100 years: daily 7, weekly 5, monthly 12, yearly 75 keeps 7 + 4 + 11 + 74', () => {
    // Ends on a Sunday, so the 7 dailies are one ISO week and include 1 weekly, as the docs assume.
    const last = new Date(2024, 11, 29, 12, 0, 0);
    const first = new Date(1925, 0, 1, 12, 0, 0);
    const stamps: string[] = [];
    for (let day = first; day <= last; day = addDays(day, 1)) stamps.push(format(day, STAMP_FORMAT));
    const result = applyRetention(stamps, { daily: 7, weekly: 5, monthly: 12, yearly: 75 });

    const onlyBy = (rule: string): string[] =>
      result.keep.filter((s) => result.reasons[s]!.every((reason) => reason.startsWith(`${rule} `)));
    assert.equal(result.keep.filter((s) => result.reasons[s]!.some((r) => r.startsWith('daily '))).length, 7);
    assert.deepEqual(onlyBy('weekly'), ['2024-12-22-120000', '2024-12-15-120000', '2024-12-08-120000', '2024-12-01-120000']);
    assert.equal(onlyBy('monthly').length, 11);
    assert.equal(onlyBy('yearly').length, 74);
    assert.equal(result.keep.length, 7 + 4 + 11 + 74);
    assert.deepEqual(result.reasons['2024-12-29-120000'], ['daily 1/7', 'weekly 1/5', 'monthly 1/12', 'yearly 1/75']);
    assert.deepEqual(result.reasons['1950-12-31-120000'], ['yearly 75/75']);
    assert.equal(result.keep.at(-1), '1950-12-31-120000');
    assert.equal(result.keep.length + result.remove.length, stamps.length);
  });
});

describe('GFS policy: restic golden results (internal/data/testdata/policy_keep_snapshots_N)', () => {
  // restic's TestApplyPolicy input. Its sub-second and exact duplicates collapse into one stamp here;
  // bucket rules only ever keep the newest of a bucket, so the kept stamps are the same.
  const input = [
    '2014-09-01 10:20:30', '2014-09-02 10:20:30', '2014-09-05 10:20:30', '2014-09-06 10:20:30',
    '2014-09-08 10:20:30', '2014-09-09 10:20:30', '2014-09-10 10:20:30', '2014-09-11 10:20:30',
    '2014-09-20 10:20:30', '2014-09-22 10:20:30', '2014-08-08 10:20:30', '2014-08-10 10:20:30',
    '2014-08-12 10:20:30', '2014-08-13 10:20:30', '2014-08-13 10:20:30', '2014-08-15 10:20:30',
    '2014-08-18 10:20:30', '2014-08-20 10:20:30', '2014-08-21 10:20:30', '2014-08-22 10:20:30',
    '2014-10-01 10:20:30', '2014-10-02 10:20:30', '2014-10-05 10:20:30', '2014-10-06 10:20:30',
    '2014-10-08 10:20:30', '2014-10-09 10:20:30', '2014-10-10 10:20:30', '2014-10-11 10:20:30',
    '2014-10-20 10:20:30', '2014-10-22 10:20:30', '2014-11-08 10:20:30', '2014-11-10 10:20:30',
    '2014-11-12 10:20:30', '2014-11-13 10:20:30', '2014-11-13 10:20:30', '2014-11-15 10:20:30',
    '2014-11-18 10:20:30', '2014-11-20 10:20:30', '2014-11-21 10:20:30', '2014-11-22 10:20:30',
    '2015-09-01 10:20:30', '2015-09-02 10:20:30', '2015-09-05 10:20:30', '2015-09-06 10:20:30',
    '2015-09-08 10:20:30', '2015-09-09 10:20:30', '2015-09-10 10:20:30', '2015-09-11 10:20:30',
    '2015-09-20 10:20:30', '2015-09-22 10:20:30', '2015-08-08 10:20:30', '2015-08-10 10:20:30',
    '2015-08-12 10:20:30', '2015-08-13 10:20:30', '2015-08-13 10:20:30', '2015-08-15 10:20:30',
    '2015-08-18 10:20:30', '2015-08-20 10:20:30', '2015-08-21 10:20:30', '2015-08-22 10:20:30',
    '2015-10-01 10:20:30', '2015-10-02 10:20:30', '2015-10-05 10:20:30', '2015-10-06 10:20:30',
    '2015-10-08 10:20:30', '2015-10-09 10:20:30', '2015-10-10 10:20:30', '2015-10-11 10:20:30',
    '2015-10-20 10:20:30', '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-10-22 10:20:30',
    '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-11-08 10:20:30', '2015-11-10 10:20:30',
    '2015-11-12 10:20:30', '2015-11-13 10:20:30', '2015-11-13 10:20:30', '2015-11-15 10:20:30',
    '2015-11-18 10:20:30', '2015-11-20 10:20:30', '2015-11-21 10:20:30', '2015-11-22 10:20:30',
    '2016-01-01 01:02:03', '2016-01-01 01:03:03', '2016-01-01 07:08:03', '2016-01-03 07:02:03',
    '2016-01-04 10:23:03', '2016-01-04 11:23:03', '2016-01-04 12:23:03', '2016-01-04 12:24:03',
    '2016-01-04 12:28:03', '2016-01-04 12:30:03', '2016-01-04 16:23:03', '2016-01-05 09:02:03',
    '2016-01-06 08:02:03', '2016-01-07 10:02:03', '2016-01-08 20:02:03', '2016-01-09 21:02:03',
    '2016-01-12 21:02:03', '2016-01-12 21:08:03', '2016-01-18 12:02:03',
  ].map(stamp);

  const golden: [file: number, policy: KeepPolicy, keep: Record<string, string[]>][] = [
    [7, { daily: 10 }, {
      '2016-01-18 12:02:03': ['daily 1/10'], '2016-01-12 21:08:03': ['daily 2/10'],
      '2016-01-09 21:02:03': ['daily 3/10'], '2016-01-08 20:02:03': ['daily 4/10'],
      '2016-01-07 10:02:03': ['daily 5/10'], '2016-01-06 08:02:03': ['daily 6/10'],
      '2016-01-05 09:02:03': ['daily 7/10'], '2016-01-04 16:23:03': ['daily 8/10'],
      '2016-01-03 07:02:03': ['daily 9/10'], '2016-01-01 07:08:03': ['daily 10/10'],
    }],
    [15, { daily: 2, weekly: 2, monthly: 6 }, {
      '2016-01-18 12:02:03': ['daily 1/2', 'weekly 1/2', 'monthly 1/6'],
      '2016-01-12 21:08:03': ['daily 2/2', 'weekly 2/2'],
      '2015-11-22 10:20:30': ['monthly 2/6'], '2015-10-22 10:20:30': ['monthly 3/6'],
      '2015-09-22 10:20:30': ['monthly 4/6'], '2015-08-22 10:20:30': ['monthly 5/6'],
      '2014-11-22 10:20:30': ['monthly 6/6'],
    }],
    // Three years hold backups and the count has room left: the oldest backup is kept too.
    [16, { yearly: 10 }, {
      '2016-01-18 12:02:03': ['yearly 1/10'], '2015-11-22 10:20:30': ['yearly 2/10'],
      '2014-11-22 10:20:30': ['yearly 3/10'], '2014-08-08 10:20:30': ['oldest yearly 4/10'],
    }],
    [27, { within: '13d23h' }, Object.fromEntries([
      '2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-12 21:02:03', '2016-01-09 21:02:03',
      '2016-01-08 20:02:03', '2016-01-07 10:02:03', '2016-01-06 08:02:03', '2016-01-05 09:02:03',
      '2016-01-04 16:23:03',
    ].map((time) => [time, ['within 13d23h']]))],
  ];
  for (const [file, policy, expected] of golden) {
    it(`policy_keep_snapshots_${file}: ${describePolicy(policy)}`, () => {
      const result = applyRetention(input, policy);
      const want = Object.fromEntries(Object.entries(expected).map(([time, why]) => [stamp(time), why]));
      assert.deepEqual(result.keep, newestFirst(Object.keys(want)));
      assert.deepEqual(Object.fromEntries(result.keep.map((s) => [s, result.reasons[s]])), want);
    });
  }

  it('policy_keep_snapshots_5: hourly 20 keeps down to 2015-11-13 10:20', () => {
    const result = applyRetention(input, { hourly: 20 });
    assert.equal(result.keep.length, 20);
    assert.deepEqual(result.keep.slice(7, 11), ['2016-01-04-162303', '2016-01-04-123003', '2016-01-04-112303', '2016-01-04-102303']);
    assert.equal(result.keep.at(-1), '2015-11-13-102030');
    assert.deepEqual(result.reasons['2015-11-13-102030'], ['hourly 20/20']);
  });

  it('policy_keep_snapshots_29: within 1y2m3d3h keeps everything after 2014-11-15 09:02:03', () => {
    const result = applyRetention(input, { within: '1y2m3d3h' });
    assert.equal(result.keep.at(-1), '2014-11-15-102030');
    assert.equal(result.remove[0], '2014-11-13-102030');
    assert.deepEqual(result.keep, newestFirst([...new Set(input)].filter((s) => s >= '2014-11-15-102030')));
  });
});

describe('GFS policy: rules in detail', () => {
  it('the oldest backup is kept by a rule with room even when its bucket is already kept', () => {
    const stamps = ['2024-01-02-100000', '2024-01-01-100000', '2024-01-01-090000'];
    assert.deepEqual(applyRetention(stamps, { daily: 7 }).reasons, {
      '2024-01-02-100000': ['daily 1/7'],
      '2024-01-01-100000': ['daily 2/7'],
      '2024-01-01-090000': ['oldest daily 3/7'],
    });
    // No room left: the oldest goes.
    assert.deepEqual(applyRetention(stamps, { daily: 2 }).remove, ['2024-01-01-090000']);
  });

  it('weeks are ISO weeks: 2021-01-03 is in week 53 of 2020, 2021-01-04 starts week 1 of 2021', () => {
    const stamps = ['2021-01-04-120000', '2021-01-03-120000', '2020-12-31-120000', '2020-12-28-120000', '2020-12-27-120000'];
    const result = applyRetention(stamps, { weekly: 3 });
    assert.deepEqual(result.keep, ['2021-01-04-120000', '2021-01-03-120000', '2020-12-27-120000']);
  });

  it('last, hourly, monthly and yearly buckets, with reasons in restic order', () => {
    const stamps = ['2024-03-01-101500', '2024-03-01-100500', '2024-03-01-090000', '2024-02-15-120000', '2023-12-31-230000'];
    const result = applyRetention(stamps, { last: 1, hourly: 2, monthly: 2, yearly: 2 });
    assert.deepEqual(result.reasons, {
      '2024-03-01-101500': ['last 1/1', 'hourly 1/2', 'monthly 1/2', 'yearly 1/2'],
      '2024-03-01-100500': ['not kept by any rule (last 1, hourly 2, monthly 2, yearly 2)'],
      '2024-03-01-090000': ['hourly 2/2'],
      '2024-02-15-120000': ['monthly 2/2'],
      '2023-12-31-230000': ['yearly 2/2'],
    });
  });

  it('within rolls months over like restic (Go AddDate), not clamping like date-fns', () => {
    // 2016-03-31 minus 1 month is "2016-02-31", which Go normalises to 2016-03-02.
    const stamps = ['2016-03-31-120000', '2016-03-02-130000', '2016-03-02-110000', '2016-03-01-120000'];
    const result = applyRetention(stamps, { within: '1m' });
    assert.deepEqual(result.keep, ['2016-03-31-120000', '2016-03-02-130000']);
    assert.deepEqual(result.reasons['2016-03-31-120000'], ['within 1m']);
    assert.deepEqual(result.reasons['2016-03-02-110000'], ['not kept by any rule (within 1m)']);
  });

  it('within is measured from the newest backup, not from today, and is exclusive', () => {
    const stamps = ['2020-01-31-000000', '2020-01-01-000001', '2020-01-01-000000'];
    assert.deepEqual(applyRetention(stamps, { within: '30d' }).keep, ['2020-01-31-000000', '2020-01-01-000001']);
    assert.deepEqual(applyRetention(stamps, { within: '30d1h' }).keep, stamps);
  });

  it('a huge within keeps everything', () => {
    assert.deepEqual(applyRetention(['2020-01-01-000000', '1990-01-01-000000'], { within: '99999999y' }).keep, [
      '2020-01-01-000000',
      '1990-01-01-000000',
    ]);
  });
});

describe('parseWithinDuration', () => {
  const table: [string, ReturnType<typeof parseWithinDuration>][] = [
    ['30d', { years: 0, months: 0, days: 30, hours: 0 }],
    ['1y2m3d4h', { years: 1, months: 2, days: 3, hours: 4 }],
    ['1y1d1m', { years: 1, months: 1, days: 1, hours: 0 }],
    [' 12h ', { years: 0, months: 0, days: 0, hours: 12 }],
    ['0d', { years: 0, months: 0, days: 0, hours: 0 }],
    ['', undefined],
    ['d', undefined],
    ['30', undefined],
    ['30 d', undefined],
    ['30days', undefined],
    ['1w', undefined],
    ['-1d', undefined],
    ['1.5d', undefined],
    ['1d1d', undefined],
  ];
  for (const [text, expected] of table) {
    it(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseWithinDuration(text), expected);
    });
  }
});

describe('describePolicy and policyKeepsNothing', () => {
  const table: [KeepPolicy, string, boolean][] = [
    [3, '3 newest', false],
    [1, '1 newest', false],
    [0, 'nothing', true],
    [{ last: 2, daily: 7, weekly: 4 }, 'last 2, daily 7, weekly 4', false],
    [{ hourly: 24, monthly: 12, yearly: 5, within: '1y2m' }, 'hourly 24, monthly 12, yearly 5, within 1y2m', false],
    [{ within: '30d' }, 'within 30d', false],
    [{ within: '0d', daily: 0 }, 'nothing', true],
    [{}, 'nothing', true],
    [{ within: 'soon' }, 'within soon', true],
  ];
  for (const [policy, description, keepsNothing] of table) {
    it(`${JSON.stringify(policy)} -> "${description}"`, () => {
      assert.equal(describePolicy(policy), description);
      assert.equal(policyKeepsNothing(policy), keepsNothing);
    });
  }
});

describe('properties over pseudo-random backup sets', () => {
  /** mulberry32: a tiny seeded generator, so every run tests the same cases. */
  function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const start = new Date(2019, 0, 1).getTime();
  const span = 3 * 365 * 24 * 3600 * 1000;
  const withins = ['12h', '3d', '30d', '1m', '2m15d', '1y'];

  function randomCase(random: () => number): { stamps: string[]; policy: KeepPolicy } {
    const count = Math.floor(random() * 60);
    // Mostly spread over three years, sometimes crowded into one week to fill hour and day buckets.
    const width = random() < 0.3 ? 7 * 24 * 3600 * 1000 : span;
    const stamps = Array.from({ length: count }, () => format(new Date(start + Math.floor(random() * width)), STAMP_FORMAT));
    if (count > 0 && random() < 0.3) stamps.push(stamps[0]!);
    const pick = (max: number): number | undefined => (random() < 0.5 ? undefined : Math.floor(random() * (max + 1)));
    const policy: KeepPolicy =
      random() < 0.3
        ? Math.floor(random() * 8)
        : {
            last: pick(5),
            hourly: pick(6),
            daily: pick(10),
            weekly: pick(6),
            monthly: pick(12),
            yearly: pick(3),
            within: random() < 0.3 ? withins[Math.floor(random() * withins.length)] : undefined,
          };
    return { stamps, policy };
  }

  const cases = Array.from({ length: 300 }, (_, i) => randomCase(prng(1000 + i)));

  it('keep and remove split the deduplicated input, newest first, with a reason for each', () => {
    for (const { stamps, policy } of cases) {
      const unique = [...new Set(stamps)];
      const result = applyRetention(stamps, policy);
      assert.deepEqual([...result.keep, ...result.remove].sort(), unique.sort());
      assert.deepEqual(result.keep, newestFirst(result.keep));
      assert.deepEqual(result.remove, newestFirst(result.remove));
      assert.deepEqual(Object.keys(result.reasons).sort(), unique.sort());
      for (const s of unique) assert.ok((result.reasons[s] ?? []).length > 0, `${s} has a reason`);
      for (const s of result.remove) assert.equal(result.reasons[s]!.length, 1);
    }
  });

  it('never empties a non-empty set, and always keeps the newest', () => {
    for (const { stamps, policy } of cases) {
      if (stamps.length === 0) continue;
      const result = applyRetention(stamps, policy);
      assert.equal(result.keep[0], newestFirst(stamps)[0], JSON.stringify(policy));
    }
  });

  it('is deterministic and independent of input order', () => {
    for (const [i, { stamps, policy }] of cases.entries()) {
      const shuffled = [...stamps];
      const random = prng(i);
      for (let j = shuffled.length - 1; j > 0; j--) {
        const k = Math.floor(random() * (j + 1));
        [shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!];
      }
      assert.deepEqual(applyRetention(shuffled, policy), applyRetention(stamps, policy));
    }
  });

  it('is idempotent: applying the policy to what it keeps removes nothing', () => {
    for (const { stamps, policy } of cases) {
      const kept = applyRetention(stamps, policy).keep;
      assert.deepEqual(applyRetention(kept, policy).remove, [], JSON.stringify({ policy, kept }));
    }
  });

  it('count rules alone keep at most the sum of their counts; a number N keeps min(N, n)', () => {
    for (const { stamps, policy } of cases) {
      const result = applyRetention(stamps, policy);
      const n = new Set(stamps).size;
      if (typeof policy === 'number') {
        assert.equal(result.keep.length, Math.min(Math.max(policy, 1), n));
      } else if (policy.within === undefined && !policyKeepsNothing(policy)) {
        const sum = (policy.last ?? 0) + (policy.hourly ?? 0) + (policy.daily ?? 0) + (policy.weekly ?? 0) +
          (policy.monthly ?? 0) + (policy.yearly ?? 0);
        assert.ok(result.keep.length <= sum, JSON.stringify(policy));
      }
    }
  });
});
