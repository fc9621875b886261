/**
 * The CLI conventions a new user relies on: --version, `vmftp help <command>`,
 * each command's --help listing its options, a missing config pointing at
 * `vmftp init`, and the README's "Before the first night" steps, run as
 * written against the config `vmftp init` writes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runVmftp } from '../support/cli.js';
import { makeBackupTree, readTree, stampHoursAgo, tmpDir } from '../support/fixtures.js';
import { randomPassword, startFtpSrv } from '../support/ftp-srv.js';
import { startSmtpServer, type ReceivedMail } from '../support/smtp.js';
import { bounded } from '../support/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('CLI conventions', () => {
  test('-V and --version print the package version', bounded(90), async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['-V', '--version']) {
      const run = await runVmftp([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${version}\n`);
    }
    // dist/cli.js, the command's path before dist/vmftp.cjs: a scheduled task that names it still runs.
    const earlierPath = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--version'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(earlierPath.status, 0, earlierPath.stderr);
    assert.equal(earlierPath.stdout, `${version}\n`);
  });

  test('vmftp help check and vmftp check --help list the options check takes', bounded(90), async () => {
    const help = await runVmftp(['help', 'check']);
    assert.equal(help.code, 0, help.stderr);
    for (const option of ['-c, --config <path>', '-v, --verbosity <level>', '--json']) assert.ok(help.stdout.includes(option), help.stdout);
    assert.ok(!help.stdout.includes('--simulate'), 'only the options check takes');
    const flag = await runVmftp(['check', '--help']);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal(flag.stdout, help.stdout);
    const main = await runVmftp(['help']);
    assert.match(main.stdout, /^ {2}help \[command\]/m);
  });

  test('no config found: exit 2, pointing at vmftp init', bounded(90), async (t) => {
    const empty = tmpDir('no-config', t);
    const run = await runVmftp([], { cwd: empty });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`No vmftp config found in ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(run.stderr, /→ Pass -c <file> .*, or write a starter .*vmftp\.config\.ts with "vmftp init"/);
  });
});

/** Returns the README's "Before the first night" block, line by line. */
function firstNightSteps(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /### Before the first night\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block !== undefined, 'README has a "Before the first night" sh block');
  return block.trimEnd().split('\n');
}

/** Returns `text` with `from` replaced by `to` (or by what `to` makes of it); fails when `from` is not there (the starter config changed). */
function edit(text: string, from: string | RegExp, to: string | ((match: string) => string)): string {
  const edited = text.replace(from, (match) => (typeof to === 'string' ? to : to(match)));
  assert.notEqual(edited, text, `the starter config no longer holds ${String(from)}`);
  return edited;
}

describe("README's first night, as written", () => {
  test('init, edit, check, -S, -m: every step works with the config vmftp init writes', bounded(90), async (t) => {
    const work = tmpDir('first-night', t);
    // Last night's backups, as on a real first night: the sample tree's are from 2012, far older than maxAge.
    const source = path.join(work, 'backups');
    makeBackupTree(source, {
      [`Bart/${stampHoursAgo(26)}`]: { 'sample.txt': 'Bart\n' },
      [`Bart/${stampHoursAgo(2)}`]: { 'sample.txt': 'Bart\n', 'disk/disk1.vmdk': 20_000 },
      [`Raoul/${stampHoursAgo(3)}`]: { 'samplefile.txt': 'Raoul\n' },
    });
    // A user of its own, so the edit of the starter's user: 'backup' is a real one.
    const server = await startFtpSrv({ root: path.join(work, 'ftp'), user: 'nightly' });
    t.after(() => server.stop());
    const smtpPassword = randomPassword();
    const smtp = await startSmtpServer({ user: 'vmftp', password: smtpPassword });
    t.after(() => smtp.stop());
    const env = { VMFTP_NAS_PASSWORD: server.password, VMFTP_SMTP_PASSWORD: smtpPassword };
    const config = path.join(work, 'vmftp.config.ts');

    const ran: string[] = [];
    for (const line of firstNightSteps()) {
      const command = line.split('#')[0]!.trim();
      if (command === '') {
        if (/^# edit /.test(line)) {
          // What the comment tells the administrator to change, done as they would, in the file init wrote.
          for (const field of ['source', 'host', 'port', 'user', 'remoteDir', 'uncomment mail']) assert.ok(line.includes(field), `the edit step names ${field}`);
          let text = readFileSync(config, 'utf8');
          text = edit(text, "source: '/var/backups/vm'", `source: ${JSON.stringify(source)}`);
          text = edit(text, "host: 'nas.lan'", `host: '${server.host}'`);
          text = edit(text, '// port: 21,', `port: ${server.port},`);
          text = edit(text, "user: 'backup'", `user: '${server.user}'`);
          text = edit(text, /^ {2}\/\/ mail: \{[\s\S]*?^ {2}\/\/ \},$/m, (block) => block.replace(/^ {2}\/\/ /gm, '  '));
          text = edit(text, "host: 'mail.example.lan', port: 587", `host: '${smtp.host}', port: ${smtp.port}`);
          writeFileSync(config, text);
        }
        continue;
      }
      const [program, ...args] = command.split(/\s+/);
      assert.equal(program, 'vmftp', line);
      const run = await runVmftp(args, { cwd: work, env });
      assert.equal(run.code, 0, `${command}:\n${run.stdout}\n${run.stderr}`);
      ran.push(command);
      if (command === 'vmftp init') assert.ok(existsSync(config));
      if (command === 'vmftp check') assert.match(run.stdout, /all 1 target OK/);
      if (command === 'vmftp -S') {
        assert.match(run.stdout, /Plan — nothing has been changed/);
        // check created remoteDir, as the first upload would have.
        assert.deepEqual(readdirSync(path.join(server.root, 'vm')), [], '-S uploads nothing');
      }
    }
    assert.deepEqual(ran, ['vmftp init', 'vmftp check', 'vmftp -S', 'vmftp -m']);
    assert.deepEqual(readTree(path.join(server.root, 'vm')), readTree(source), 'the first night sent every backup');
    assert.equal((smtp.messages as ReceivedMail[]).map((mail) => mail.parsed.subject).join(), 'vmftp: OK — 3 uploaded');
    assert.match(readFileSync(path.join(work, 'logs', 'vmftp.log'), 'utf8'), /vmftp on .+: success: 3 uploaded/);
  });
});
