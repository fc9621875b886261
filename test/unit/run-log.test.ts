/**
 * The run's log: console lines as before, file lines with timestamp and level,
 * per-run rotation (vmftp.log, .1 … .N), and no secret anywhere.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openLogFile } from '../../src/delivery/logfile.js';
import { createRedactor } from '../../src/delivery/redact.js';
import { openRunLog } from '../../src/delivery/run-log.js';
import { Secret } from '../../src/config/secret.js';
import { tmpDir } from '../support/fixtures.js';

const NOON = () => new Date(2026, 10, 23, 12, 0, 5, 42);

describe('createRedactor', () => {
  test('masks every password, also URL-encoded, longest first; other text is left as it was', () => {
    const redact = createRedactor([new Secret('p@ss word'), new Secret('p@ss word!x'), new Secret('')]);
    assert.equal(redact('530 bad login p@ss word for ftp://u:p%40ss%20word@host'), '530 bad login *** for ftp://u:***@host');
    assert.equal(redact('login p@ss word!x.'), 'login ***.');
    assert.equal(redact('xp@ss wordy'), 'x***y', 'a long password is masked wherever it is');
    assert.equal(redact('nothing here'), 'nothing here');
    assert.equal(createRedactor([])('p@ss word'), 'p@ss word');
  });

  test('a short password is masked where it stands alone, not inside every word', () => {
    const redact = createRedactor([new Secret('y'), new Secret('a.b')]);
    assert.equal(redact('530 password y rejected for ftp://u:y@host; bytes'), '530 password *** rejected for ftp://u:***@host; bytes');
    assert.equal(redact('a.b axb a.bc'), '*** axb a.bc', 'regex characters in a password are taken literally');
  });
});

describe('openRunLog', () => {
  test('the console gets lines as before; the file gets every info line with timestamp and level, even when the console is quiet', async (t) => {
    const dir = tmpDir('runlog', t);
    const file = path.join(dir, 'logs', 'vmftp.log');
    const consoleLines: string[] = [];
    const log = await openRunLog({ level: 'error', console: (line) => consoleLines.push(line), file, keep: 10, now: NOON });
    log.logger.info('nas: Bart/2026-11-23-020000 uploaded and verified');
    log.logger.warn('nas: stray');
    log.logger.error('offsite: cannot connect');
    log.logger.debug('not in the file without -v debug');
    log.record('info', 'summary line 1\nsummary line 2');
    await log.close();
    assert.deepEqual(consoleLines, ['error: offsite: cannot connect\n']);
    const expected = [
      '2026-11-23 12:00:05.042 INFO  nas: Bart/2026-11-23-020000 uploaded and verified',
      '2026-11-23 12:00:05.042 WARN  nas: stray',
      '2026-11-23 12:00:05.042 ERROR offsite: cannot connect',
      '2026-11-23 12:00:05.042 INFO  summary line 1',
      '2026-11-23 12:00:05.042 INFO  summary line 2',
      '',
    ].join('\n');
    assert.equal(readFileSync(file, 'utf8'), expected);
    assert.equal(log.text(), expected, 'the e-mail attaches exactly the file');
    assert.equal(log.file, file);
  });

  test('-v debug puts debug lines in the file too; without log.file the lines are kept for the e-mail only', async () => {
    const log = await openRunLog({ level: 'debug', console: () => undefined, keep: 10, now: NOON });
    log.logger.debug('from byte 0');
    await log.close();
    assert.equal(log.file, undefined);
    assert.equal(log.text(), '2026-11-23 12:00:05.042 DEBUG from byte 0\n');
  });

  test('no password reaches the console, the file or the e-mail text, whatever message carries it', async (t) => {
    const dir = tmpDir('runlog-secret', t);
    const file = path.join(dir, 'vmftp.log');
    const consoleLines: string[] = [];
    const redact = createRedactor([new Secret('hunter2')]);
    const log = await openRunLog({ level: 'info', console: (line) => consoleLines.push(line), file, keep: 10, redact });
    log.logger.error('login on nas: server replied 530 password hunter2 rejected');
    log.record('error', 'summary: hunter2');
    await log.close();
    for (const text of [consoleLines.join(''), readFileSync(file, 'utf8'), log.text()]) {
      assert.ok(!text.includes('hunter2'), text);
      assert.match(text, /password \*\*\* rejected/);
    }
  });

  test('a log file that cannot be written is a warning; the run logs to the console', async (t) => {
    const dir = tmpDir('runlog-bad', t);
    writeFileSync(path.join(dir, 'not-a-folder'), '');
    const consoleLines: string[] = [];
    const log = await openRunLog({ level: 'info', console: (line) => consoleLines.push(line), file: path.join(dir, 'not-a-folder', 'vmftp.log'), keep: 10 });
    await log.openFile('new');
    log.logger.info('still logging');
    await log.close();
    assert.match(consoleLines[0] ?? '', /^warn: log\.file: cannot write .*vmftp\.log \(.*\); this run logs to the console only/);
    assert.equal(consoleLines[1], 'still logging\n');
  });
});

describe('openRunLog: new or appended file', () => {
  test("'append' adds this run's lines, those logged before the file opened first; 'new' rotates; close alone appends", async (t) => {
    const dir = tmpDir('runlog-append', t);
    const file = path.join(dir, 'logs', 'vmftp.log');
    const backup = await openRunLog({ level: 'error', console: () => undefined, file, keep: 3, now: NOON });
    backup.logger.info('backup run started');
    assert.equal(existsSync(file), false, 'nothing on disk before the file is opened');
    await backup.openFile('new');
    backup.logger.info('backup run done');
    await backup.close();
    const peek = await openRunLog({ level: 'error', console: () => undefined, file, keep: 3, now: NOON });
    peek.logger.info('list started');
    await peek.openFile('append');
    await peek.openFile('new');
    await peek.close();
    const refused = await openRunLog({ level: 'error', console: () => undefined, file, keep: 3, now: NOON });
    refused.logger.error('lock held');
    await refused.close();
    assert.deepEqual(readdirSync(path.dirname(file)), ['vmftp.log'], 'only the backup run may rotate, and there was nothing to rotate');
    assert.equal(
      readFileSync(file, 'utf8'),
      ['INFO  backup run started', 'INFO  backup run done', 'INFO  list started', 'ERROR lock held', '']
        .map((line) => (line === '' ? '' : `2026-11-23 12:00:05.042 ${line}`))
        .join('\n'),
    );
    const next = await openRunLog({ level: 'error', console: () => undefined, file, keep: 3, now: NOON });
    await next.openFile('new');
    next.logger.info('next backup');
    await next.close();
    assert.match(readFileSync(`${file}.1`, 'utf8'), /backup run started[\s\S]*lock held/);
    assert.equal(readFileSync(file, 'utf8'), '2026-11-23 12:00:05.042 INFO  next backup\n');
  });
});

describe('openLogFile rotation', () => {
  async function runs(dir: string, count: number, keep: number): Promise<void> {
    for (let run = 1; run <= count; run++) {
      const file = await openLogFile(path.join(dir, 'vmftp.log'), keep);
      file.write(`run ${run}\n`);
      await file.close();
    }
  }

  function contents(dir: string): Record<string, string> {
    return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(path.join(dir, name), 'utf8')]));
  }

  test('each run starts vmftp.log; older runs move to .1, .2 … and the one past keep is dropped', async (t) => {
    const dir = tmpDir('rotate', t);
    await runs(dir, 5, 3);
    assert.deepEqual(contents(dir), { 'vmftp.log': 'run 5\n', 'vmftp.log.1': 'run 4\n', 'vmftp.log.2': 'run 3\n', 'vmftp.log.3': 'run 2\n' });
  });

  test('keep 0: only the current run', async (t) => {
    const dir = tmpDir('rotate0', t);
    await runs(dir, 3, 0);
    assert.deepEqual(contents(dir), { 'vmftp.log': 'run 3\n' });
  });

  test('an empty vmftp.log (a run that wrote nothing) is not rotated into an empty .1', async (t) => {
    const dir = tmpDir('rotate-empty', t);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'vmftp.log'), '');
    await runs(dir, 1, 3);
    assert.deepEqual(contents(dir), { 'vmftp.log': 'run 1\n' });
  });
});
