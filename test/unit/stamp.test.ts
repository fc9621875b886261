import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  PARTIAL_SUFFIX,
  compareStamps,
  isStamp,
  isValidVmName,
  parseBackupFolderName,
  parseStamp,
  vmNameProblem,
} from '../../src/core/stamp.js';

describe('parseStamp / isStamp', () => {
  const table: [name: string, isStamp: boolean][] = [
    ['2012-08-18-154137', true],
    ['2012-02-29-000000', true], // 2012 is a leap year
    ['1999-12-31-235959', true],
    ['2012-13-40-999999', false], // month 13, day 40, hour 99
    ['2012-02-30-000000', false], // February 30 would roll over to March 1
    ['2013-02-29-120000', false], // 2013 is not a leap year
    ['2012-08-18-246000', false], // hour 24
    ['2012-08-18-156000', false], // minute 60
    ['2012-08-18-154160', false], // second 60
    ['2012-08-18', false], // a date, not a stamp
    ['2012-8-18-154137', false], // date-fns accepts it; the round trip does not
    ['2012-08-18-154137 ', false],
    [' 2012-08-18-154137', false],
    ['2012-08-18T154137', false],
    ['2012-08-18-154137.partial', false],
    ['12012-08-18-154137', false],
    ['notes', false],
    ['', false],
  ];
  for (const [name, expected] of table) {
    it(`${JSON.stringify(name)} ${expected ? 'is' : 'is not'} a stamp`, () => {
      assert.equal(isStamp(name), expected);
      assert.equal(parseStamp(name) !== undefined, expected);
    });
  }

  it('reads the stamp as local wall-clock time', () => {
    const date = parseStamp('2012-08-18-154137');
    assert.ok(date);
    assert.deepEqual(
      [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()],
      [2012, 8, 18, 15, 41, 37],
    );
  });
});

describe('compareStamps', () => {
  it('sorts oldest first, and newest first with the arguments swapped', () => {
    const stamps = ['2012-08-18-154137', '2011-12-31-235959', '2012-08-18-154136', '2012-01-01-000000'];
    assert.deepEqual([...stamps].sort(compareStamps), [
      '2011-12-31-235959',
      '2012-01-01-000000',
      '2012-08-18-154136',
      '2012-08-18-154137',
    ]);
    assert.deepEqual([...stamps].sort((a, b) => compareStamps(b, a)), [
      '2012-08-18-154137',
      '2012-08-18-154136',
      '2012-01-01-000000',
      '2011-12-31-235959',
    ]);
  });

  it('agrees with the parsed times', () => {
    const table: [string, string, number][] = [
      ['2012-08-18-154137', '2012-08-18-154137', 0],
      ['2012-08-18-154137', '2012-08-19-000000', -1],
      ['2013-01-01-000000', '2012-12-31-235959', 1],
    ];
    for (const [a, b, sign] of table) {
      assert.equal(Math.sign(compareStamps(a, b)), sign, `${a} vs ${b}`);
      assert.equal(Math.sign(parseStamp(a)!.getTime() - parseStamp(b)!.getTime()), sign, `${a} vs ${b} parsed`);
    }
  });
});

describe('parseBackupFolderName', () => {
  const table: [name: string, expected: { stamp: string; partial: boolean } | undefined][] = [
    ['2012-08-18-154137', { stamp: '2012-08-18-154137', partial: false }],
    [`2012-08-18-154137${PARTIAL_SUFFIX}`, { stamp: '2012-08-18-154137', partial: true }],
    ['2012-08-18-154137.partial.partial', undefined],
    ['2012-13-40-999999.partial', undefined],
    ['.partial', undefined],
    ['2012-08-18-154137.part', undefined],
    ['2012-08-18', undefined],
    ['notes', undefined],
  ];
  for (const [name, expected] of table) {
    it(`${JSON.stringify(name)} -> ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseBackupFolderName(name), expected);
    });
  }

  it('uses ".partial" as the suffix', () => {
    assert.equal(PARTIAL_SUFFIX, '.partial');
  });
});

describe('VM names', () => {
  const table: [name: string, problem: RegExp | undefined][] = [
    ['Bart', undefined],
    ['Raoul Server 2008', undefined],
    ['vm-01_test.local', undefined],
    ['Élodie', undefined],
    ['', /empty/],
    ['.', /names a folder itself/],
    ['..', /names a folder itself/],
    ['a/b', /path separator/],
    ['../etc', /path separator/],
    ['a\\b', /path separator/],
    ['/', /path separator/],
    ['a\u0000b', /control character/],
    ['tab\there', /control character/],
    ['line\nbreak', /control character/],
    ['del\u007f', /control character/],
    ['Bart.', /ends with a space or a dot/],
    ['Bart ', /ends with a space or a dot/],
    ['...', /ends with a space or a dot/],
  ];
  for (const [name, problem] of table) {
    it(`${JSON.stringify(name)} is ${problem === undefined ? 'valid' : 'rejected'}`, () => {
      const found = vmNameProblem(name);
      assert.equal(isValidVmName(name), problem === undefined);
      if (problem === undefined) assert.equal(found, undefined);
      else assert.match(found ?? '', problem);
    });
  }

  it('quotes the name so an invisible character shows in the message', () => {
    assert.equal(vmNameProblem('a\nb'), 'VM name "a\\nb" contains a NUL or control character');
  });
});
