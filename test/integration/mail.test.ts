/**
 * `-m`: the built CLI e-mails its report to a real SMTP server on 127.0.0.1
 * (npm smtp-server, login required), after good runs and, above all, after
 * failed ones. No password (FTP or SMTP) may be found anywhere in a message.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { startFaultProxy } from '../support/fault-proxy.js';
import { randomPassword } from '../support/ftp-srv.js';
import { writeLockFile } from '../support/lock-file.js';
import { parseReport } from '../support/report.js';
import { editConfig, setUpFixtureRun } from '../support/scenario.js';
import { startSmtpServer, type ReceivedMail } from '../support/smtp.js';
import { BOUNDED } from '../support/wait.js';

const SMTP_USER = 'vmftp-mailer';

/** Every text a reader could see in a message: raw MIME, decoded text and HTML, decoded attachments. */
function everyText(mail: ReceivedMail): string {
  const attachments = mail.parsed.attachments.map((attachment) => attachment.content.toString('utf8'));
  return [mail.raw, mail.parsed.subject ?? '', mail.parsed.text ?? '', String(mail.parsed.html), ...attachments].join('\n');
}

async function setUp(t: TestContext, options: { ftpPassword?: string; mail?: Record<string, unknown>; smtpPassword?: string } = {}) {
  const smtpPassword = randomPassword();
  const smtp = await startSmtpServer({ user: SMTP_USER, password: smtpPassword });
  t.after(() => smtp.stop());
  const mail = {
    from: 'vmftp@backup.lan',
    to: ['ops@backup.lan', 'admin@backup.lan'],
    smtp: { host: smtp.host, port: smtp.port, user: SMTP_USER, password: { env: 'VMFTP_TEST_SMTP_PASSWORD' } },
    ...options.mail,
  };
  const run = await setUpFixtureRun(t, 'mail', {
    ...(options.ftpPassword === undefined ? {} : { target: { password: options.ftpPassword } }),
    extra: { mail, log: { file: 'logs/vmftp.log' } },
    env: { VMFTP_TEST_SMTP_PASSWORD: options.smtpPassword ?? smtpPassword },
  });
  const ftpPassword = options.ftpPassword ?? run.server.password;
  return { ...run, smtp, smtpPassword, ftpPassword, logFile: path.join(run.work, 'logs', 'vmftp.log') };
}

describe('-m e-mails the report', () => {
  test('after a good run: OK subject with the totals, the summary table in the body, the run log attached', BOUNDED, async (t) => {
    const s = await setUp(t);
    const run = await s.vmftp('-m');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(s.smtp.messages.length, 1, 'exactly one e-mail');
    const [mail] = s.smtp.messages as [ReceivedMail];

    assert.equal(mail.parsed.subject, 'vmftp: OK — 3 uploaded');
    assert.equal(mail.from, 'vmftp@backup.lan');
    assert.deepEqual([...mail.to].sort(), ['admin@backup.lan', 'ops@backup.lan']);
    assert.deepEqual(s.smtp.logins, [SMTP_USER]);

    const body = mail.parsed.text ?? '';
    assert.match(body, /vmftp on .+: success/);
    assert.match(body, /target\s+VM\s+uploaded\s+resumed\s+re-sent\s+deleted\s+kept\s+skipped\s+failed\s+bytes\s+time\s+speed/);
    assert.match(body, /nas\s+Bart\s+2\s+0\s+0\s+0\s+0\s+0\s+0\s/);
    assert.match(body, /nas\s+Raoul\s+1\s+0\s+0\s+0\s+0\s+0\s+0\s/);
    assert.match(String(mail.parsed.html), /<pre[^>]*>[\s\S]*nas\s+Bart/);

    assert.equal(mail.parsed.attachments.length, 1);
    const [log] = mail.parsed.attachments;
    assert.equal(log?.filename, 'vmftp.log');
    const attached = log?.content.toString('utf8') ?? '';
    assert.match(attached, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO  vmftp backup run started/m);
    assert.match(attached, /INFO  nas: Raoul\/2012-07-13-154137 uploaded and verified/);
    assert.match(attached, /vmftp on .+: success: 3 uploaded/, 'the summary is in the log too');
    assert.equal(attached, readFileSync(s.logFile, 'utf8').slice(0, attached.length), 'the attachment is the log file of this run');

    const all = everyText(mail);
    assert.ok(!all.includes(s.ftpPassword), 'the FTP password is not in the e-mail');
    assert.ok(!all.includes(s.smtpPassword), 'the SMTP password is not in the e-mail');
    assert.match(readFileSync(s.logFile, 'utf8'), /mail: report sent to ops@backup\.lan,admin@backup\.lan/);
  });

  test('-S -m mails the plan (a way to test the mail settings that changes nothing); -d -m mails nothing', BOUNDED, async (t) => {
    const s = await setUp(t);
    const simulated = await s.vmftp('-S', '-m');
    assert.equal(simulated.code, 0, simulated.stderr);
    const [mail] = s.smtp.messages as [ReceivedMail];
    assert.equal(mail.parsed.subject, 'vmftp: OK — simulation, nothing changed: 3 to upload');
    assert.match(mail.parsed.text ?? '', /Plan — nothing has been changed/);
    assert.ok(!existsSync(path.join(s.server.root, 'backups')), 'nothing was uploaded');

    const listed = await s.vmftp('-d', '-m');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /warn: -m: no e-mail for -d/);
    assert.equal(s.smtp.messages.length, 1);
  });

  test('after a run whose target refused the login: FAILED subject (subjectOnError), exit code 4 kept', BOUNDED, async (t) => {
    const wrong = randomPassword();
    const s = await setUp(t, { ftpPassword: wrong, mail: { subject: 'Nightly backups', subjectOnError: 'BACKUP PROBLEM' } });
    const run = await s.vmftp('-m');
    assert.equal(run.code, 4, run.stderr);
    assert.equal(s.smtp.messages.length, 1, 'a failed run is mailed too');
    const [mail] = s.smtp.messages as [ReceivedMail];
    // Reached, and refused: "unreachable" would send the administrator to the network instead of the password.
    assert.equal(mail.parsed.subject, 'BACKUP PROBLEM — nas login refused');
    assert.match(mail.parsed.text ?? '', /FAILED \(exit code 4: a target could not be reached or refused the login\)/);
    assert.match(mail.parsed.text ?? '', /nas\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+login refused/);
    assert.match(mail.parsed.attachments[0]?.content.toString('utf8') ?? '', /ERROR nas: login on nas/);
    assert.ok(!everyText(mail).includes(wrong), 'the (wrong) FTP password is not in the e-mail');
  });

  test('after a run stopped before any target (lock held): FAILED with the reason, exit code 3 kept', BOUNDED, async (t) => {
    const s = await setUp(t);
    // A live process (this test runner) on this host holds the lock.
    writeLockFile(s.lockFile);
    const run = await s.vmftp('-m');
    assert.equal(run.code, 3, run.stderr);
    const [mail] = s.smtp.messages as [ReceivedMail];
    assert.ok(mail, 'mailed although nothing ran');
    assert.match(mail.parsed.subject ?? '', /^vmftp: FAILED — another vmftp run holds the lock /);
    assert.match(mail.parsed.text ?? '', /wait for it to finish/);
  });

  test('--json -x <command>: stdout stays one JSON document; the command\'s output goes to stderr, the log and the e-mail', BOUNDED, async (t) => {
    const s = await setUp(t);
    const command = `"${process.execPath}" -e "console.log('said-on-stdout'); console.error('said-on-stderr')"`;
    const run = await s.vmftp('--json', '-m', '-x', command);
    assert.equal(run.code, 0, run.stderr);
    const report = parseReport(run.stdout);
    assert.deepEqual(report.afterSuccess, { kind: 'command', command, exitCode: 0 });
    const [mail] = s.smtp.messages as [ReceivedMail];
    const attached = mail.parsed.attachments[0]?.content.toString('utf8') ?? '';
    for (const marker of ['said-on-stdout', 'said-on-stderr']) {
      assert.match(run.stderr, new RegExp(`^-x: ${marker}$`, 'm'));
      assert.match(readFileSync(s.logFile, 'utf8'), new RegExp(`INFO  -x: ${marker}$`, 'm'));
      assert.match(attached, new RegExp(`INFO  -x: ${marker}$`, 'm'));
    }
  });

  test('a server that echoes the password in an error: it is masked in the log, console, report and e-mail', BOUNDED, async (t) => {
    const s = await setUp(t);
    const proxy = await startFaultProxy(s.server, {
      replyToCommand: { command: 'PASS', code: 530, text: `Login incorrect for backup/${s.server.password}` },
    });
    t.after(() => proxy.stop());
    editConfig<{ targets: { nas: { port: number } } }>(s, (config) => {
      config.targets.nas.port = proxy.port;
    });

    const run = await s.vmftp('-m', '--json');
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /Login incorrect for backup\/\*\*\*/, 'the message is kept, the password masked');
    const [mail] = s.smtp.messages as [ReceivedMail];
    for (const [where, text] of [
      ['stdout (--json)', run.stdout],
      ['stderr', run.stderr],
      ['log file', readFileSync(s.logFile, 'utf8')],
      ['e-mail', everyText(mail)],
    ] as const) {
      assert.ok(!text.includes(s.server.password), `the FTP password is in the ${where}`);
    }
    assert.match(everyText(mail), /Login incorrect for backup\/\*\*\*/);
  });

  test('an SMTP server that refuses the login: the error is logged, the exit code stays 0 (the backups are fine)', BOUNDED, async (t) => {
    const s = await setUp(t, { smtpPassword: 'not-the-smtp-password' });
    const run = await s.vmftp('-m');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(s.smtp.messages.length, 0);
    assert.match(run.stderr, /error: mail: sending the report to ops@backup\.lan,admin@backup\.lan through 127\.0\.0\.1:\d+ failed: .*Invalid/);
    assert.match(run.stderr, /check mail\.smtp .*exit code stays 0/);
    assert.match(readFileSync(s.logFile, 'utf8'), /ERROR mail: sending the report/);
    assert.ok(!run.stderr.includes('not-the-smtp-password'));
  });
});

describe('-m without a mail block', () => {
  test('is a config error (exit 2) naming mail, and nothing is uploaded', BOUNDED, async (t) => {
    const { server, vmftp } = await setUpFixtureRun(t, 'mail-missing');
    const run = await vmftp('-m');
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /mail: missing/);
    assert.match(run.stderr, /add mail: \{ from, to, smtp: \{ host \} \}/);
    assert.ok(!existsSync(path.join(server.root, 'backups')), 'nothing was uploaded');
  });
});
