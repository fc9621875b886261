/**
 * `log.file`: every run of the built CLI writes its own log, with timestamps
 * and levels, and rotates the older ones like the original's
 * RotatingFileHandler: vmftp.log is the last run, vmftp.log.1 … .N the ones before.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { runVmftp, writeConfig } from '../support/cli.js';
import { copyFixture, tmpDir } from '../support/fixtures.js';
import { startFtpSrv } from '../support/ftp-srv.js';

const BOUNDED = { timeout: 120_000 };
const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (ERROR|WARN |INFO |DEBUG) /;

async function setUp(t: TestContext, log: Record<string, unknown>) {
  const work = tmpDir('logfile', t);
  const source = copyFixture('VMbackupFolder', path.join(work, 'source'));
  const server = await startFtpSrv({ root: path.join(work, 'ftp') });
  t.after(() => server.stop());
  const { configPath, env } = await writeConfig(work, {
    source,
    targets: { nas: { host: server.host, port: server.port, user: server.user, password: server.password } },
    extra: { log },
  });
  const logDir = path.join(work, 'var', 'log');
  return { logDir, server, vmftp: (...args: string[]) => runVmftp(['-c', configPath, ...args], { env }) };
}

/** The log files in `dir`, oldest rotation last: vmftp.log, vmftp.log.1, vmftp.log.2, ... */
function logFiles(dir: string): string[] {
  return readdirSync(dir).sort((a, b) => Number(a.split('.')[2] ?? 0) - Number(b.split('.')[2] ?? 0));
}

describe('log.file', () => {
  test('a run writes timestamped, levelled lines and the summary, relative to the config file, even under -v error', BOUNDED, async (t) => {
    const { logDir, vmftp } = await setUp(t, { file: 'var/log/vmftp.log' });
    const run = await vmftp('-v', 'error');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', '-v error keeps the console quiet');
    const text = readFileSync(path.join(logDir, 'vmftp.log'), 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.ok(lines.every((line) => LINE.test(line)), `every line has a timestamp and a level:\n${text}`);
    assert.match(lines[0] ?? '', /INFO  vmftp backup run started with config .*vmftp\.config\.json/);
    assert.match(text, /INFO  nas: Bart\/2012-08-18-154137 uploaded and verified/);
    assert.match(text, /INFO  vmftp on .+: success: 3 uploaded/);
    assert.match(text, /INFO  nas\s+Raoul\s+1\s+0\s+0\s+0\s+0\s+0\s/);
  });

  test('12 runs leave vmftp.log and the 10 runs before it (log.keep default), newest first', BOUNDED, async (t) => {
    const { logDir, vmftp } = await setUp(t, { file: 'var/log/vmftp.log' });
    for (let run = 0; run < 12; run++) {
      const result = await vmftp(run === 0 ? '-d' : '-S');
      assert.equal(result.code, 0, result.stderr);
    }
    const files = logFiles(logDir);
    assert.deepEqual(files, ['vmftp.log', ...Array.from({ length: 10 }, (_, index) => `vmftp.log.${index + 1}`)]);
    assert.ok(!existsSync(path.join(logDir, 'vmftp.log.11')));
    const firstLines = files.map((file) => readFileSync(path.join(logDir, file), 'utf8').split('\n')[0] ?? '');
    for (const line of firstLines) assert.match(line, /INFO  vmftp simulation \(-S\) started/, 'one run per file; the -d of run 1 was rotated out');
    const stamps = firstLines.map((line) => line.slice(0, 23));
    assert.deepEqual([...stamps].sort().reverse(), stamps, 'vmftp.log is the newest, vmftp.log.10 the oldest');
  });

  test('log.keep: 2 keeps two older logs; 0 keeps none', BOUNDED, async (t) => {
    const two = await setUp(t, { file: 'var/log/vmftp.log', keep: 2 });
    for (let run = 0; run < 4; run++) assert.equal((await two.vmftp('-S')).code, 0);
    assert.deepEqual(logFiles(two.logDir), ['vmftp.log', 'vmftp.log.1', 'vmftp.log.2']);

    const none = await setUp(t, { file: 'var/log/vmftp.log', keep: 0 });
    for (let run = 0; run < 3; run++) assert.equal((await none.vmftp('-S')).code, 0);
    assert.deepEqual(logFiles(none.logDir), ['vmftp.log']);
    assert.equal(readFileSync(path.join(none.logDir, 'vmftp.log'), 'utf8').match(/ started /g)?.length, 1, 'only the last run');
  });
});
