import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judgeLinux, judgeWindows, parseGetProcess, type ProcessMark } from '../../src/run/process-identity.js';

const CURL: ProcessMark = { pid: 4242, program: 'curl', startedAt: '2026-11-28T02:00:05.000Z', processStart: '987654' };

describe('a recorded process on Linux: /proc start time and name prove it', () => {
  const table: [string, Parameters<typeof judgeLinux>[1], ReturnType<typeof judgeLinux>][] = [
    ['same name, same start time', { command: 'curl', state: 'S', start: '987654' }, 'running'],
    ['pid free', undefined, 'gone'],
    ['ended, not reaped yet (zombie)', { command: 'curl', state: 'Z', start: '987654' }, 'gone'],
    ['pid reused by another program', { command: 'bash', state: 'S', start: '987654' }, 'gone'],
    ['pid reused by another curl (after a reboot)', { command: 'curl', state: 'R', start: '12' }, 'gone'],
  ];
  for (const [what, stat, presence] of table) test(`${what}: ${presence}`, () => assert.equal(judgeLinux(CURL, stat), presence));

  test('the kernel keeps 15 characters of a name', () => {
    const mark = { ...CURL, program: 'vmftp-nightly-backup' };
    assert.equal(judgeLinux(mark, { command: 'vmftp-nightly-b', state: 'S', start: '987654' }), 'running');
  });

  test('a lock of an older version (no program, no start time): the pid alone proves nothing', () => {
    assert.equal(judgeLinux({ pid: 4242, startedAt: CURL.startedAt }, { command: 'node', state: 'S', start: '5' }), 'unknown');
    assert.equal(judgeLinux({ pid: 4242, startedAt: CURL.startedAt, processStart: '5' }, { command: 'node', state: 'S', start: '5' }), 'running');
  });
});

describe('a recorded process on Windows: Get-Process name and start time within 5 s prove it', () => {
  const at = (iso: string) => new Date(iso);
  const table: [string, Parameters<typeof judgeWindows>[1], ReturnType<typeof judgeWindows>][] = [
    ['same name, started 0.3 s before vmftp recorded it', { name: 'curl', startedAt: at('2026-11-28T02:00:04.700Z') }, 'running'],
    ['the name in another case', { name: 'CURL', startedAt: at('2026-11-28T02:00:05.000Z') }, 'running'],
    ['no such process', 'no such process', 'gone'],
    ['pid reused by another program', { name: 'explorer', startedAt: at('2026-11-28T02:00:05.000Z') }, 'gone'],
    ['pid reused by a curl started an hour later', { name: 'curl', startedAt: at('2026-11-28T03:00:05.000Z') }, 'gone'],
    ['PowerShell could not be asked (wine, a locked-down host)', undefined, 'unknown'],
  ];
  for (const [what, seen, presence] of table) test(`${what}: ${presence}`, () => assert.equal(judgeWindows(CURL, seen), presence));

  test('a lock of an older version (no program): unknown, the lock stays held', () => {
    assert.equal(judgeWindows({ pid: 4242, startedAt: CURL.startedAt }, { name: 'node', startedAt: at(CURL.startedAt) }), 'unknown');
  });

  test('Get-Process output is read as name|start, "none" when the pid is free, anything else as unknown', () => {
    assert.deepEqual(parseGetProcess('curl|2026-11-28T02:00:04.7000000Z\r\n'), { name: 'curl', startedAt: at('2026-11-28T02:00:04.700Z') });
    assert.equal(parseGetProcess('none\r\n'), 'no such process');
    assert.equal(parseGetProcess(''), undefined);
    assert.equal(parseGetProcess('curl|yesterday'), undefined);
  });
});
