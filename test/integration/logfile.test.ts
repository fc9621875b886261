/**
 * `log.file`: every run of the built CLI writes its own log, with timestamps
 * and levels, and rotates the older ones like the original's
 * RotatingFileHandler: vmftp.log is the last run, vmftp.log.1 … .N the ones before. A log file
 * that cannot be written (a full disk) is said when it happens, so the e-mail tells it too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { CliResult } from '../support/cli.js';
import { startDelivery } from '../support/delivery.js';
import { editConfig, setUpFixtureRun, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { bounded, waitFor } from '../support/wait.js';

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (ERROR|WARN |INFO |DEBUG) /;

async function setUp(t: TestContext, log: Record<string, unknown>) {
  const { work, server, vmftp } = await setUpFixtureRun(t, 'logfile', { extra: { log } });
  return { logDir: path.join(work, 'var', 'log'), server, vmftp };
}

/** The log files in `dir`, oldest rotation last: vmftp.log, vmftp.log.1, vmftp.log.2, ... */
function logFiles(dir: string): string[] {
  return readdirSync(dir).sort((a, b) => Number(a.split('.')[2] ?? 0) - Number(b.split('.')[2] ?? 0));
}

describe('log.file', () => {
  test('a full disk under the log: the run goes on (exit 0), and the warning is in the e-mail\'s attached log, not only on a console nobody reads', bounded(120), async (t) => {
    const delivery = await startDelivery(t);
    const { work, vmftp } = await setUpFixtureRun(t, 'logfile-full', { extra: { log: { file: 'var/log/vmftp.log' }, mail: delivery.config.mail }, env: delivery.env });
    const logDir = path.join(work, 'var', 'log');
    mkdirSync(logDir, { recursive: true });
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', logDir]).status !== 0) return t.skip('mount -t tmpfs needs root');
    let run: CliResult;
    try {
      assert.throws(() => writeFileSync(path.join(logDir, 'filler'), Buffer.alloc(16 * 1024)), /ENOSPC/);
      run = await vmftp('-m');
    } finally {
      spawnSync('umount', [logDir]);
    }
    assert.equal(run.code, 0, run.stderr);
    const said = /WARN  log\.file: writing failed: .*vmftp\.log: ENOSPC: no space left on device, write; the log file misses this run's lines from here on/;
    const [mail] = delivery.smtp.messages;
    assert.match(mail?.parsed.subject ?? '', /^vmftp: OK — /);
    assert.match(mail?.parsed.attachments[0]?.content.toString() ?? '', said);
    assert.match(run.stderr, /warn: log\.file: writing failed: /);
  });

  test('a run writes timestamped, levelled lines and the summary, relative to the config file, even under -v error', bounded(120), async (t) => {
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

  test('12 backup runs leave vmftp.log and the 10 backup runs before it (log.keep default), newest first', bounded(120), async (t) => {
    const { logDir, vmftp } = await setUp(t, { file: 'var/log/vmftp.log' });
    for (let run = 0; run < 12; run++) {
      const result = await vmftp();
      assert.equal(result.code, 0, result.stderr);
    }
    const files = logFiles(logDir);
    assert.deepEqual(files, ['vmftp.log', ...Array.from({ length: 10 }, (_, index) => `vmftp.log.${index + 1}`)]);
    assert.ok(!existsSync(path.join(logDir, 'vmftp.log.11')));
    const firstLines = files.map((file) => readFileSync(path.join(logDir, file), 'utf8').split('\n')[0] ?? '');
    for (const line of firstLines) assert.match(line, /INFO  vmftp backup run started/, 'one backup run per file');
    const stamps = firstLines.map((line) => line.slice(0, 23));
    assert.deepEqual([...stamps].sort().reverse(), stamps, 'vmftp.log is the newest, vmftp.log.10 the oldest');
  });

  test('log.keep: 2 keeps two older logs; 0 keeps none', bounded(120), async (t) => {
    const two = await setUp(t, { file: 'var/log/vmftp.log', keep: 2 });
    for (let run = 0; run < 4; run++) assert.equal((await two.vmftp()).code, 0);
    assert.deepEqual(logFiles(two.logDir), ['vmftp.log', 'vmftp.log.1', 'vmftp.log.2']);

    const none = await setUp(t, { file: 'var/log/vmftp.log', keep: 0 });
    for (let run = 0; run < 3; run++) assert.equal((await none.vmftp()).code, 0);
    assert.deepEqual(logFiles(none.logDir), ['vmftp.log']);
    assert.equal(readFileSync(path.join(none.logDir, 'vmftp.log'), 'utf8').match(/ started /g)?.length, 1, 'only the last run');
  });
});

describe('log.file belongs to the backup runs', () => {
  test('during a backup, eleven -d, a -S, a second run and check add to vmftp.log and rotate nothing; the next backup run rotates it', bounded(120), async (t) => {
    const stamp = '2012-08-18-154137';
    const s = await setUpScenario(t, SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!, {
      local: { [`Bart/${stamp}`]: { 'disk1.vmdk': 200_000 } },
      rules: { stallUpload: { match: 'disk1.vmdk', afterBytes: 50_000 } },
      // The stalled upload must stay stalled while the other runs come and go.
      targetFields: { timeoutSeconds: 600 },
    });
    editConfig(s, (config) => {
      config.log = { file: 'logs/vmftp.log', keep: 2 };
    });
    const logDir = path.join(s.work, 'logs');
    const log = () => readFileSync(path.join(logDir, 'vmftp.log'), 'utf8');

    const backup = s.start();
    t.after(() => backup.kill('SIGKILL'));
    const partial = path.join(s.remoteRoot, 'Bart', `${stamp}.partial`, 'disk1.vmdk');
    await waitFor(() => existsSync(partial) && statSync(partial).size === 50_000, 'the upload to stall', 15_000);

    for (let peek = 0; peek < 11; peek++) assert.equal((await s.vmftp('-d')).code, 0);
    assert.equal((await s.vmftp('-S')).code, 3, '-S takes the lock too');
    assert.equal((await s.vmftp()).code, 3);
    const beforeCheck = log();
    assert.equal((await s.vmftp('check')).code, 0);
    assert.equal(log(), beforeCheck, 'check writes no log');

    backup.kill('SIGTERM');
    assert.equal((await backup.done).code, 130);
    assert.deepEqual(readdirSync(logDir), ['vmftp.log'], 'nothing rotated');
    const night = log();
    assert.match(night.split('\n')[0] ?? '', /INFO  vmftp backup run started/, "vmftp.log is still the backup run's log");
    assert.equal(night.match(/INFO  vmftp list \(-d\) started/g)?.length, 11);
    assert.equal(night.match(/ERROR another vmftp run holds the lock/g)?.length, 2, 'the refused -S and run are there');
    assert.match(night, /FAILED \(exit code 130: interrupted\)/, "and the backup run's own end");

    s.proxy.setRules({});
    assert.equal((await s.vmftp()).code, 0);
    assert.deepEqual(readdirSync(logDir).sort(), ['vmftp.log', 'vmftp.log.1']);
    assert.equal(readFileSync(path.join(logDir, 'vmftp.log.1'), 'utf8'), night, 'the last night moved up whole');
    assert.match(log().split('\n')[0] ?? '', /INFO  vmftp backup run started/);
    assert.match(log(), /: success: /);
  });
});
