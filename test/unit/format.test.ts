/** Sizes, durations and speeds as everything vmftp prints them: the report table and the progress lines share these. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBytes, formatDuration, formatSpeed, table } from '../../src/report/format.js';

describe('format', () => {
  test('speed: MB/s (10^6 bytes a second) over the time given; "-" when nothing moved or no time passed', () => {
    const cases: [number, number, string][] = [
      [60_000_000, 10_000, '6.0 MB/s'],
      [1000, 300, '0.0 MB/s'],
      [2_500_000, 1000, '2.5 MB/s'],
      [0, 1000, '-'],
      [1000, 0, '-'],
      [1000, -5, '-'],
    ];
    for (const [bytes, ms, expected] of cases) assert.equal(formatSpeed(bytes, ms), expected, `${bytes} B in ${ms} ms`);
  });

  test('sizes in binary units, durations from milliseconds to hours', () => {
    assert.deepEqual([0, 1000, 1024, 60_000_000, 4 * 1024 ** 3].map(formatBytes), ['0 B', '1000 B', '1.0 KiB', '57.2 MiB', '4.0 GiB']);
    assert.deepEqual([850, 12_340, 245_000, 3_720_000].map(formatDuration), ['850 ms', '12.3 s', '4m05s', '1h02m']);
  });

  test('table: columns padded to the widest cell, the last column and trailing blanks left alone', () => {
    assert.equal(table([['a', 'bb', 'c'], ['ccc', 'd', '']]), 'a    bb  c\nccc  d');
  });
});
