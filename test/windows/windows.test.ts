/**
 * The Windows lane: vmftp as a Windows backup host runs it — the Windows build of Node and the
 * standalone vmftp-win-x64.exe under wine (test/support/wine.ts) — against the Linux FTP, SMTP
 * servers and the fault proxy on 127.0.0.1. Windows paths (C:\ and Z:\ drive letters), cmd.exe for
 * `-x "<command>"`, Windows file sharing for the log file, and Windows' process table for the lock.
 *
 * One wine prefix for the whole file (its first start takes ~10 s, later ones ~2 s); every test
 * batches its runs. What wine cannot show (Task Scheduler itself, the SYSTEM account, Schannel
 * curl.exe) is in the README, "Windows"; the curl exit-35 mapping has a unit test.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { currentExecutable, packageVersion } from '../../scripts/sea.js';
import { CLI } from '../support/cli.js';
import { makeBackupTree, readTree, stampHoursAgo, tmpDir, type TreeSpec } from '../support/fixtures.js';
import { randomPassword } from '../support/ftp-srv.js';
import { requirePureFtpd } from '../support/pure-ftpd.js';
import { setUpScenario, type Scenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { startSmtpServer, type SmtpServerHandle } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { requireWine, startWindowsHost, wineUnavailableReason, type WindowsHost } from '../support/wine.js';

const pureFtpd = SERVER_KINDS.find((kind) => kind.name === 'pure-ftpd')!;
/** Last night's backups: recent enough for the default maxAge, which these runs keep. */
const LAST_NIGHT = stampHoursAgo(13);
const LAST_NIGHT_LATER = stampHoursAgo(12.75);

let host: WindowsHost | undefined;
before(async () => {
  if (wineUnavailableReason() === undefined) host = await startWindowsHost();
}, { timeout: 180_000 });
after(() => host?.stop());

/** Returns the Windows host, or undefined when the test was skipped (fails under CI=true instead). */
function windowsHost(t: TestContext): WindowsHost | undefined {
  if (!requireWine(t) || !requirePureFtpd(t)) return undefined;
  assert.ok(host !== undefined, 'the Windows host did not start (see the before hook)');
  return host;
}

function output(run: { stdout: string; stderr: string }): string {
  return `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

/**
 * A config folder on the prefix's C: drive, as an administrator sets one up (`C:\vmftp <n>`: with a
 * space), with `vmftp.config.ts` importing defineConfig from 'vmftp', relative `source` and
 * `log.file`, and the scenario's server through its proxy. Returns the folder and the config's
 * Windows path.
 */
function configOnDriveC(
  windows: WindowsHost,
  s: Scenario,
  options: { local: TreeSpec; keep: number; mail?: SmtpServerHandle & { user: string } },
  t: TestContext,
): { home: string; config: string } {
  const home = path.join(windows.driveC, `vmftp ${path.basename(s.work)}`);
  t.after(() => rmSync(home, { recursive: true, force: true }));
  makeBackupTree(path.join(home, 'Sauvegardes VM'), options.local);
  const mail =
    options.mail === undefined
      ? ''
      : `  mail: { from: 'vmftp@backup.lan', to: 'ops@backup.lan',
    smtp: { host: '127.0.0.1', port: ${options.mail.port}, user: '${options.mail.user}', password: { env: 'VMFTP_SMTP_PASSWORD' } } },\n`;
  writeFileSync(
    path.join(home, 'vmftp.config.ts'),
    `import { defineConfig } from 'vmftp';

export default defineConfig({
  source: 'Sauvegardes VM',
  keep: ${options.keep},
  targets: {
    nas: { host: '127.0.0.1', port: ${s.proxy.port}, user: '${s.server.user}', password: { env: 'VMFTP_NAS_PASSWORD' }, remoteDir: '/backups', retries: 0 },
  },
  log: { file: 'logs\\\\vmftp.log', keep: 3 },
${mail}});
`,
  );
  return { home, config: windows.win(path.join(home, 'vmftp.config.ts')) };
}

describe('Windows (wine): the built CLI with Windows Node', () => {
  test('a night run from C:\\Windows\\System32 (a SYSTEM task): -c on drive C:, names with spaces and accents, cmd.exe -x, e-mail, log rotation, a log held open', { timeout: 300_000 }, async (t) => {
    const windows = windowsHost(t);
    if (windows === undefined) return;
    const s = await setUpScenario(t, pureFtpd, {
      remote: {
        'Bart Simpson/2012-07-01-000000': { 'vm.ovf': '<old 1/>' },
        'Bart Simpson/2012-07-02-000000': { 'vm.ovf': '<old 2/>' },
      },
    });
    const smtpUser = 'vmftp';
    const smtpPassword = randomPassword();
    const smtp = await startSmtpServer({ user: smtpUser, password: smtpPassword });
    t.after(() => smtp.stop());
    const local: TreeSpec = {
      [`Bart Simpson/${LAST_NIGHT}`]: { 'disque 1 é.vmdk': 300_000, 'vm.ovf': '<vm/>' },
      [`Zoé Müller/${LAST_NIGHT_LATER}`]: { 'système.vhdx': 200_000 },
    };
    const { home, config } = configOnDriveC(windows, s, { local, keep: 2, mail: { ...smtp, user: smtpUser } }, t);
    const system32 = path.join(windows.driveC, 'windows', 'system32');
    const env = { VMFTP_NAS_PASSWORD: s.server.password, VMFTP_SMTP_PASSWORD: smtpPassword };
    const afterFile = path.join(home, 'after job.txt');

    // Task Scheduler starts a SYSTEM task in System32: the config must come with -c; paths in it stay relative to it.
    const first = await windows.vmftp(['-c', config, '-m', '-x', `echo vmftp done on %COMPUTERNAME%> "${windows.win(afterFile)}"`], {
      cwd: system32,
      env,
    });
    assert.equal(first.code, 0, output(first));
    const remote = readTree(s.remoteRoot);
    const sent = readTree(path.join(home, 'Sauvegardes VM'));
    for (const [file, bytes] of Object.entries(sent)) assert.ok(remote[file]?.equals(bytes), `${file} on the server\n${output(first)}`);
    assert.ok(remote['Bart Simpson/2012-07-02-000000/vm.ovf'] !== undefined, 'the newer old backup is kept (keep 2)');
    assert.ok(!existsSync(path.join(s.remoteRoot, 'Bart Simpson', '2012-07-01-000000')), 'the oldest backup is deleted');
    assert.deepEqual(Object.keys(remote).filter((file) => file.includes('.partial')), []);
    // cmd.exe ran the command: %COMPUTERNAME% was expanded.
    assert.match(readFileSync(afterFile, 'utf8'), /^vmftp done on (?!%COMPUTERNAME%)\S+/);
    assert.equal(smtp.messages.length, 1);
    assert.match(smtp.messages[0]!.parsed.subject ?? '', /^vmftp: OK — 2 uploaded, 1 deleted/);
    const logs = path.join(home, 'logs');
    const firstLog = readFileSync(path.join(logs, 'vmftp.log'), 'utf8');
    assert.match(firstLog, /Zoé Müller/);
    assert.ok(!existsSync(path.join(logs, 'vmftp.lock')), 'the lock is released');

    // No config in the folder a SYSTEM task starts in: the message says where it looked and to pass -c.
    const lost = await windows.vmftp([], { cwd: system32, env });
    assert.equal(lost.code, 2, output(lost));
    assert.match(lost.stderr, /No vmftp config found in C:\\windows\\system32/i);
    assert.match(lost.stderr, /Pass -c <file> with the config file's full path/);

    // The next run rotates the log: vmftp.log is this run's, vmftp.log.1 the first run's.
    const second = await windows.vmftp(['-c', config], { cwd: system32, env });
    assert.equal(second.code, 0, output(second));
    assert.equal(readFileSync(path.join(logs, 'vmftp.log.1'), 'utf8'), firstLog);
    const secondLog = readFileSync(path.join(logs, 'vmftp.log'), 'utf8');
    assert.notEqual(secondLog, firstLog);

    // Another program holds vmftp.log open without sharing it (an antivirus scan): Windows refuses to
    // rename it. The run neither fails nor loses its log: it writes beside it and says so.
    const holder = path.join(home, 'hold.js');
    const held = path.join(home, 'held');
    writeFileSync(
      holder,
      `const fs = require('fs');
// 0x10000000 is libuv's UV_FS_O_EXLOCK: share mode 0, as a scanner that locks the file opens it.
const fd = fs.openSync(process.argv[2], fs.constants.O_RDONLY | 0x10000000);
fs.writeFileSync(process.argv[3], 'held');
setTimeout(() => fs.closeSync(fd), 60000);
`,
    );
    const holding = windows.start(windows.nodeExe, [windows.win(holder), windows.win(path.join(logs, 'vmftp.log')), windows.win(held)]);
    t.after(() => holding.kill('SIGKILL'));
    await waitFor(() => existsSync(held), 'the other program to open vmftp.log', 60_000);
    const third = await windows.vmftp(['-c', config, '-m'], { cwd: system32, env });
    holding.kill('SIGKILL');
    await holding.done;
    assert.equal(third.code, 0, output(third));
    assert.match(third.stderr, /vmftp\.log is in use by another program \(EBUSY\) and could not be rotated, so this run logs to .*vmftp\.log\.\d{4}-\d\d-\d\d-\d{6}/);
    assert.equal(readFileSync(path.join(logs, 'vmftp.log'), 'utf8'), secondLog, 'the held log is left as it was');
    const aside = readdirSync(logs).filter((name) => /^vmftp\.log\.\d{4}-/.test(name));
    assert.equal(aside.length, 1, readdirSync(logs).join(', '));
    const thirdLog = readFileSync(path.join(logs, aside[0]!), 'utf8');
    assert.match(thirdLog, /is in use by another program/);
    assert.match(thirdLog, /success/);
    assert.match(smtp.messages[1]?.parsed.subject ?? '', /^vmftp: OK/);
  });

  test('resume after a cut connection, then -x purges the local backups that are complete', { timeout: 300_000 }, async (t) => {
    const windows = windowsHost(t);
    if (windows === undefined) return;
    const s = await setUpScenario(t, pureFtpd, {
      local: { [`Homer/${LAST_NIGHT}`]: { 'disk.vmdk': 600_000 } },
      rules: { cutUpload: { match: 'disk.vmdk', afterBytes: 250_000 } },
      targetFields: { retries: 0 },
    });
    const config = windows.win(s.configPath);
    const cut = await windows.vmftp(['-c', config, '-x'], { env: s.env });
    assert.equal(cut.code, 1, output(cut));
    assert.ok(existsSync(path.join(s.source, 'Homer', LAST_NIGHT)), 'not purged after a failure');
    assert.ok(!existsSync(path.join(s.remoteRoot, 'Homer', LAST_NIGHT)), 'nothing incomplete under the final name');
    const partial = readTree(path.join(s.remoteRoot, 'Homer', `${LAST_NIGHT}.partial`))['disk.vmdk'];
    assert.ok(partial !== undefined && partial.length > 0 && partial.length < 600_000, `a part of disk.vmdk stays (${partial?.length})`);

    s.proxy.setRules({});
    const local = readTree(s.source);
    const resumed = await windows.vmftp(['-c', config, '-x'], { env: s.env });
    assert.equal(resumed.code, 0, output(resumed));
    assert.ok(s.proxy.log.some((line) => line.startsWith('APPE ')), 'the second run appends to the part on the server');
    assert.ok(readTree(s.remoteRoot)[`Homer/${LAST_NIGHT}/disk.vmdk`]?.equals(local[`Homer/${LAST_NIGHT}/disk.vmdk`]!));
    assert.ok(!existsSync(path.join(s.source, 'Homer', LAST_NIGHT)), '-x purged the uploaded backup');
  });

  test('a run killed in the middle (End task) leaves its lock: the next run takes it over and reports it', { timeout: 300_000 }, async (t) => {
    const windows = windowsHost(t);
    if (windows === undefined) return;
    const s = await setUpScenario(t, pureFtpd, {
      local: { [`Lisa/${LAST_NIGHT}`]: { 'disk.vmdk': 400_000 } },
      rules: { stallUpload: { match: 'disk.vmdk', afterBytes: 100_000 } },
    });
    const config = windows.win(s.configPath);
    const killed = windows.start(windows.nodeExe, [windows.win(CLI), '-c', config], { env: s.env });
    await waitFor(() => existsSync(s.lockFile) && s.proxy.log.some((line) => line.startsWith('STOR ')), 'the run to hold the lock and upload', 90_000);
    // SIGKILL to the wine process is TerminateProcess: no handler runs, the lock stays.
    killed.kill('SIGKILL');
    await killed.done;
    assert.ok(existsSync(s.lockFile), 'the killed run left its lock');

    s.proxy.setRules({});
    const next = await windows.vmftp(['-c', config], { env: s.env });
    assert.equal(next.code, 0, output(next));
    assert.match(next.stderr, /which is gone: taking it over/);
    assert.match(`${next.stdout}\n${next.stderr}`, /the previous run \(pid \d+, started .*\) ended without a report/);
    assert.ok(readTree(s.remoteRoot)[`Lisa/${LAST_NIGHT}/disk.vmdk`]?.equals(readTree(s.source)[`Lisa/${LAST_NIGHT}/disk.vmdk`]!));
    assert.ok(!existsSync(s.lockFile));
  });
});

describe('standalone executables', () => {
  test('vmftp-win-x64.exe (under wine): --version, init, and a rotation with a vmftp.config.ts', { timeout: 600_000 }, async (t) => {
    const windows = windowsHost(t);
    if (windows === undefined) return;
    const exe = await currentExecutable('win-x64');
    const version = await windows.start(exe, ['--version']).done;
    assert.equal(version.code, 0, output(version));
    assert.equal(version.stdout.trim(), await packageVersion());

    const s = await setUpScenario(t, pureFtpd, { remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } } });
    const starter = path.join(s.work, 'starter', 'vmftp.config.ts');
    mkdirSync(path.dirname(starter));
    const init = await windows.start(exe, ['init', windows.win(starter)]).done;
    assert.equal(init.code, 0, output(init));
    assert.match(readFileSync(starter, 'utf8'), /import \{ defineConfig \} from 'vmftp';[\s\S]*source: 'C:\\\\VirtualMachinesBackUps'/);

    const { home, config } = configOnDriveC(windows, s, { local: { [`Bart/${LAST_NIGHT}`]: { 'disk.vmdk': 300_000 } }, keep: 1 }, t);
    const run = await windows.start(exe, ['-c', config], { env: { VMFTP_NAS_PASSWORD: s.server.password } }).done;
    assert.equal(run.code, 0, output(run));
    assert.deepEqual(Object.keys(readTree(s.remoteRoot)), [`Bart/${LAST_NIGHT}/disk.vmdk`]);
    assert.ok(readTree(s.remoteRoot)[`Bart/${LAST_NIGHT}/disk.vmdk`]?.equals(readTree(path.join(home, 'Sauvegardes VM'))[`Bart/${LAST_NIGHT}/disk.vmdk`]!));
    assert.match(readFileSync(path.join(home, 'logs', 'vmftp.log'), 'utf8'), /success/);
  });

  test('vmftp-linux-x64: --version, and a rotation with a vmftp.config.ts from another folder', { timeout: 600_000 }, async (t) => {
    if (!requirePureFtpd(t)) return;
    const exe = await currentExecutable('linux-x64');
    const s = await setUpScenario(t, pureFtpd, { remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } } });
    const home = tmpDir('linux-exe', t);
    makeBackupTree(path.join(home, 'backups'), { [`Bart/${LAST_NIGHT}`]: { 'disk.vmdk': 300_000 } });
    writeFileSync(
      path.join(home, 'vmftp.config.ts'),
      `import { defineConfig } from 'vmftp';
export default defineConfig({
  source: 'backups',
  keep: 1,
  targets: { nas: { host: '127.0.0.1', port: ${s.proxy.port}, user: '${s.server.user}', password: { env: 'VMFTP_NAS_PASSWORD' }, remoteDir: '/backups' } },
});
`,
    );
    const { execa } = await import('execa');
    const version = await execa(exe, ['--version'], { reject: false });
    assert.equal(version.stdout.trim(), await packageVersion());
    const run = await execa(exe, ['-c', path.join(home, 'vmftp.config.ts')], {
      cwd: s.work,
      env: { VMFTP_NAS_PASSWORD: s.server.password, NO_COLOR: '1' },
      reject: false,
      timeout: 120_000,
    });
    assert.equal(run.exitCode, 0, output({ stdout: run.stdout, stderr: run.stderr }));
    assert.deepEqual(Object.keys(readTree(s.remoteRoot)), [`Bart/${LAST_NIGHT}/disk.vmdk`]);
  });
});
