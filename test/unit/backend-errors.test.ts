/**
 * The exit-status tables of the curl and ncftpput backends, what is read out
 * of each program's output, and the command lines they get: plain data in,
 * plain data out, no program run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CURL_EXIT, curlArgs, curlConfig, curlError, curlFailure, curlSpeedTime, curlUrl, quoteCurlConfig } from '../../src/backends/curl.js';
import { errorOfFailure, kindOfFailure } from '../../src/backends/exit-status.js';
import {
  NCFTPPUT_EXIT,
  lastErrorReply,
  ncftpputArgs,
  ncftpputFailure,
  ncftpputLoginFile,
  ncftpputLoginProblems,
  ncftpputPassiveProblem,
} from '../../src/backends/ncftpput.js';
import type { TargetConfig } from '../../src/config/types.js';
import { ExitCode, FtpError, LocalFileError, exitCodeOf } from '../../src/errors.js';
import { Secret } from '../../src/config/secret.js';
import { targetConfig } from '../support/target.js';

const PASSWORD = 'pw "quoted" \\ back';

function target(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return targetConfig({ password: new Secret(PASSWORD), ...overrides });
}

const JOB = { localPath: '/backups/Bart Ölkers/2012-08-18-154137/disk 1.vmdk', remotePath: '/vm/Bart Ölkers/2012-08-18-154137.partial/disk 1.vmdk', offset: 0, size: 1000 };

describe('curl exit statuses', () => {
  // status, reply code curl printed (or none), kind
  const cases: [number, number | undefined, string][] = [
    [6, undefined, 'connect'],
    [7, undefined, 'connect'],
    [35, undefined, 'connect'],
    // An untrusted certificate does not get better by waiting: not retried, like the internal client's.
    [60, undefined, 'permanent'],
    [64, undefined, 'connect'],
    [67, 530, 'auth'],
    [11, undefined, 'auth'],
    [28, undefined, 'transient'],
    [55, undefined, 'transient'],
    [56, undefined, 'transient'],
    [52, undefined, 'transient'],
    [18, undefined, 'transient'],
    [18, 426, 'transient'],
    [18, 552, 'permanent'],
    [25, undefined, 'permanent'],
    [25, 451, 'transient'],
    [25, 452, 'permanent'],
    [25, 553, 'permanent'],
    [70, undefined, 'permanent'],
    [9, 550, 'permanent'],
    [78, undefined, 'not-found'],
    [23, undefined, 'local'],
    [26, undefined, 'local'],
    [37, undefined, 'local'],
    [48, undefined, 'permanent'],
    [99, undefined, 'permanent'],
  ];
  for (const [status, reply, kind] of cases) {
    test(`exit ${status}${reply === undefined ? '' : ` with reply ${reply}`} is ${kind}`, () => {
      assert.equal(kindOfFailure(CURL_EXIT, status, reply), kind);
    });
  }

  test('every status of man curl EXIT CODES that an FTP upload can meet has its own row', () => {
    const ftpStatuses = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 21, 23, 25, 26, 27, 28, 30, 31, 35, 37, 42, 43, 45, 48, 52, 53, 54, 55, 56, 58, 59, 60, 63, 64, 65, 66, 67, 70, 77, 78, 80, 83, 84, 90, 91];
    assert.deepEqual(ftpStatuses.filter((status) => CURL_EXIT[status] === undefined), []);
  });
});

describe('ncftpput exit statuses', () => {
  const cases: [number, number | undefined, string][] = [
    [1, undefined, 'connect'],
    [1, 530, 'auth'],
    [1, 421, 'connect'],
    [2, undefined, 'connect'],
    [3, undefined, 'transient'],
    [3, 451, 'transient'],
    [3, 552, 'permanent'],
    [3, 553, 'permanent'],
    [4, undefined, 'transient'],
    [5, 550, 'permanent'],
    [6, undefined, 'transient'],
    [7, undefined, 'permanent'],
    [8, undefined, 'permanent'],
    [9, undefined, 'permanent'],
    [10, undefined, 'permanent'],
    [11, undefined, 'permanent'],
    [12, undefined, 'permanent'],
  ];
  for (const [status, reply, kind] of cases) {
    test(`exit ${status}${reply === undefined ? '' : ` with reply ${reply}`} is ${kind}`, () => {
      assert.equal(kindOfFailure(NCFTPPUT_EXIT, status, reply), kind);
    });
  }

  test('every status of man ncftpput DIAGNOSTICS has its own row', () => {
    assert.deepEqual(Object.keys(NCFTPPUT_EXIT).map(Number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});

describe('the errors a failure becomes', () => {
  test('a refused login is an auth FtpError with the hint and exit code 4, like the internal client', () => {
    const failure = curlFailure({ exitCode: 67, signal: undefined, startError: undefined, stderr: 'curl: (67) Access denied: 530' });
    const error = errorOfFailure(CURL_EXIT, failure, target(), JOB);
    assert.ok(error instanceof FtpError);
    assert.equal(error.kind, 'auth');
    assert.equal(error.replyCode, 530);
    assert.equal(error.hint, 'check targets.nas.user and its password');
    assert.equal(exitCodeOf(error), ExitCode.Unreachable);
    assert.match(error.message, /^upload \/vm\/Bart Ölkers\/2012-08-18-154137\.partial\/disk 1\.vmdk on nas \(nas\.lan:21\) with curl failed: the server refused the login, server replied 530 \(curl exit 67: Access denied: 530\)$/);
  });

  test('a full disk seen by ncftpput carries the reply code and text from its log, exit code 1', () => {
    const log = ['2024-01-31 12:00:00  Cmd: STOR /vm/x', '2024-01-31 12:00:00  150: Accepted data connection', '2024-01-31 12:00:01  552: Disk full', '2024-01-31 12:00:01  Cmd: QUIT', '2024-01-31 12:00:01  221: Goodbye.'].join('\n');
    const failure = ncftpputFailure({ exitCode: 3, signal: undefined, startError: undefined, stderr: 'ncftpput /vm/x: could not send file to remote host.\n' }, log);
    const error = errorOfFailure(NCFTPPUT_EXIT, failure, target(), JOB);
    assert.ok(error instanceof FtpError);
    assert.equal(error.kind, 'permanent');
    assert.equal(error.replyCode, 552);
    assert.equal(exitCodeOf(error), ExitCode.PartialFailure);
    assert.match(error.message, /the transfer failed, server replied 552 Disk full \(ncftpput exit 3: ncftpput \/vm\/x: could not send file to remote host\.\)$/);
  });

  test('a local read error is a LocalFileError, not an FTP failure', () => {
    const error = errorOfFailure(CURL_EXIT, { program: 'curl', exitCode: 26, detail: 'Failed to open/read local data' }, target(), JOB);
    assert.ok(error instanceof LocalFileError, String(error));
  });

  test('a program killed by a signal is transient; one that never started says so', () => {
    const killed = errorOfFailure(CURL_EXIT, { program: 'curl', exitCode: undefined, signal: 'SIGKILL' }, target(), JOB);
    assert.ok(killed instanceof FtpError);
    assert.equal(killed.kind, 'transient');
    assert.match(killed.message, /curl was stopped by SIGKILL/);
    const missing = errorOfFailure(CURL_EXIT, { program: 'curl', exitCode: undefined, detail: 'ENOENT' }, target(), JOB);
    assert.match(missing.message, /curl could not be started: ENOENT/);
  });

  test('the password never reaches a message, even if a program printed it', () => {
    const error = errorOfFailure(CURL_EXIT, { program: 'curl', exitCode: 67, detail: `login ${PASSWORD} refused`, reply: { code: 530, text: PASSWORD } }, target(), JOB);
    assert.ok(!error.message.includes(PASSWORD), error.message);
    assert.match(error.message, /login \*\*\* refused/);
  });
  // Windows' curl.exe (Schannel) on a host that cannot reach the CA's CRL/OCSP server. wine has no
  // Schannel curl, so the lines are the ones curl 8 on Windows prints (lib/vtls/schannel.c).
  for (const stderr of [
    'curl: (35) schannel: next InitializeSecurityContext failed: CRYPT_E_NO_REVOCATION_CHECK (0x80092012) - The revocation function was unable to check revocation for the certificate.',
    'curl: (35) schannel: next InitializeSecurityContext failed: Unknown error (0x80092013) - The revocation function was unable to check revocation because the revocation server was offline.',
  ]) {
    test(`curl exit 35 from Schannel's revocation check says what failed and names sslNoRevoke: ${stderr.slice(60, 100)}`, () => {
      const error = curlError({ exitCode: 35, signal: undefined, startError: undefined, stderr }, target({ secure: true }), JOB);
      assert.ok(error instanceof FtpError);
      assert.equal(error.kind, 'permanent', 'waiting does not bring the revocation server within reach');
      assert.equal(exitCodeOf(error), ExitCode.PartialFailure);
      assert.match(error.message, /with curl failed: Windows could not check whether the server's certificate was revoked .*set targets\.nas\.sslNoRevoke: true \(curl --ssl-no-revoke\)/);
      assert.match(error.message, /\(curl exit 35: schannel: /);
    });
  }

  test('curl exit 35 for any other TLS failure stays a failed handshake (connect)', () => {
    const error = curlError({ exitCode: 35, signal: undefined, startError: undefined, stderr: 'curl: (35) OpenSSL SSL_connect: Connection reset by peer' }, target({ secure: true }), JOB);
    assert.ok(error instanceof FtpError);
    assert.equal(error.kind, 'connect');
    assert.match(error.message, /the TLS handshake failed/);
    assert.doesNotMatch(error.message, /sslNoRevoke/);
  });
});

describe("reading the programs' output", () => {
  const curlCases: [string, number | undefined][] = [
    ['curl: (25) Failed FTP upload: 553', 553],
    ['curl: (18) server did not report OK, got 451', 451],
    ['curl: (67) Access denied: 530', 530],
    ['curl: (9) Server denied you to change to the given directory', undefined],
    ["curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server", undefined],
    ['curl: (28) Operation too slow. Less than 1 bytes/sec transferred the last 30 seconds', undefined],
    ['curl: (70) Exceeded storage allocation', undefined],
  ];
  for (const [stderr, code] of curlCases) {
    test(`curl "${stderr}" -> reply ${code ?? 'none'}`, () => {
      const failure = curlFailure({ exitCode: Number(/\((\d+)\)/.exec(stderr)?.[1]), signal: undefined, startError: undefined, stderr: `some progress\n${stderr}\n` });
      assert.equal(failure.reply?.code, code);
      assert.equal(failure.detail, stderr.replace(/^curl: \(\d+\) /, ''));
    });
  }

  test("ncftpput's log: the reply to the failing command, not an earlier refused extra (CLNT 500)", () => {
    const stamp = '2024-01-31 12:00:00  ';
    const cut = [`${stamp}Cmd: CLNT NcFTPPut 3.2.6`, `${stamp}500: Unknown command`, `${stamp}Cmd: STOR /vm/x`, `${stamp}150: Accepted data connection`, `${stamp}Could not read reply from control connection: Connection reset by peer`].join('\n');
    assert.equal(lastErrorReply(cut), undefined);
    const login = [`${stamp}Cmd: USER backup`, `${stamp}331: User backup OK. Password required`, `${stamp}Cmd: PASS xxxxxxxx`, `${stamp}530: Login authentication failed`, `${stamp}Cmd: QUIT`, `${stamp}221: Goodbye.`].join('\n');
    assert.deepEqual(lastErrorReply(login), { code: 530, text: 'Login authentication failed' });
    const multiLine = [`${stamp}Cmd: FEAT`, `${stamp}211: Extensions supported:`, `${stamp}      UTF8`, `${stamp}Cmd: STOR /vm/x`, `${stamp}451: Local error`].join('\n');
    assert.deepEqual(lastErrorReply(multiLine), { code: 451, text: 'Local error' });
  });
});

describe('command lines', () => {
  test('curl: the password is only in the stdin config, quoted per curl config syntax', () => {
    const args = curlArgs(target(), JOB);
    assert.ok(!args.some((arg) => arg.includes('pw')), args.join(' '));
    assert.equal(args[0], '-q', '~/.curlrc is not read');
    assert.deepEqual(args.slice(args.indexOf('--config'), args.indexOf('--config') + 2), ['--config', '-']);
    assert.equal(curlConfig(target()), 'user = "backup:pw \\"quoted\\" \\\\ back"\n');
    assert.equal(quoteCurlConfig('a\tb\nc\rd\ve'), '"a\\tb\\nc\\rd\\ve"');
  });

  test('curl: an absolute, percent-encoded URL; FTPS, certificates, active mode, resume, timeouts and keepalive', () => {
    assert.equal(curlUrl(target(), '/vm/Bart Ölkers/x #1;type=a%.vmdk'), 'ftp://nas.lan:21/%2Fvm/Bart%20%C3%96lkers/x%20%231%3Btype%3Da%25.vmdk');
    assert.equal(curlUrl(target({ secure: 'implicit', port: 990, host: '::1' }), '/a'), 'ftps://[::1]:990/%2Fa');
    const plain = curlArgs(target(), JOB);
    assert.ok(plain.includes('--ftp-pasv') && !plain.includes('--ssl-reqd') && !plain.includes('--insecure') && !plain.includes('--continue-at'));
    // curl's speed reads 0 only ~6 s after the last byte: a stall ends timeoutSeconds (30) after it, not 36 s.
    assert.deepEqual(plain.slice(plain.indexOf('--speed-time'), plain.indexOf('--speed-time') + 4), ['--speed-time', '24', '--speed-limit', '1']);
    const probing = curlArgs(target({ keepaliveSeconds: 45 }), JOB);
    assert.deepEqual(probing.slice(probing.indexOf('--keepalive-time'), probing.indexOf('--keepalive-time') + 2), ['--keepalive-time', '45']);
    const explicit = curlArgs(target({ secure: true, ca: 'PEM' }), { ...JOB, offset: 500 }, { caFile: '/tmp/x/ca.pem' });
    assert.ok(explicit.includes('--ssl-reqd') && !explicit.includes('--insecure'));
    assert.deepEqual(explicit.slice(explicit.indexOf('--cacert'), explicit.indexOf('--cacert') + 2), ['--cacert', '/tmp/x/ca.pem']);
    assert.deepEqual(explicit.slice(explicit.indexOf('--continue-at'), explicit.indexOf('--continue-at') + 2), ['--continue-at', '500']);
    assert.ok(curlArgs(target({ secure: 'implicit', allowSelfSigned: true }), JOB).includes('--insecure'));
    assert.ok(!curlArgs(target({ allowSelfSigned: true }), JOB).includes('--insecure'), 'no TLS, nothing to be insecure about');
    assert.ok(curlArgs(target({ secure: true, sslNoRevoke: true }), JOB).includes('--ssl-no-revoke'));
    assert.ok(!curlArgs(target({ secure: true }), JOB).includes('--ssl-no-revoke'));
    assert.ok(!curlArgs(target({ sslNoRevoke: true }), JOB).includes('--ssl-no-revoke'), 'no TLS, no revocation check');
    const active = curlArgs(target({ activeMode: true }), JOB);
    assert.deepEqual(active.slice(active.indexOf('--ftp-port'), active.indexOf('--ftp-port') + 2), ['--ftp-port', '-']);
    assert.equal(curlArgs(target(), JOB).at(-1), 'ftp://nas.lan:21/%2Fvm/Bart%20%C3%96lkers/2012-08-18-154137.partial/disk%201.vmdk');
  });

  test('curl: --speed-time is timeoutSeconds less the ~6 s curl takes to see a stall, at least 1 s', () => {
    assert.deepEqual([1, 2, 6.5, 7, 8, 10.2, 30, 120].map(curlSpeedTime), [1, 1, 1, 1, 2, 5, 24, 114]);
  });

  test('ncftpput: -f file for the login; -C (STOR) from 0, -c -A (APPE) from an offset; -s; one dial', () => {
    const files = { loginFile: '/tmp/p/login.cfg', logFile: '/tmp/p/ncftpput.log' };
    const fresh = ncftpputArgs(target(), JOB, files);
    assert.ok(!fresh.some((arg) => arg.includes('pw')), fresh.join(' '));
    assert.deepEqual(fresh.slice(0, 2), ['-f', '/tmp/p/login.cfg']);
    assert.deepEqual(fresh.slice(-3), ['-C', JOB.localPath, JOB.remotePath]);
    assert.ok(fresh.includes('-s') && fresh.includes('-F') && !fresh.includes('-z'));
    assert.deepEqual(fresh.slice(fresh.indexOf('-r'), fresh.indexOf('-r') + 2), ['-r', '1']);
    const resume = ncftpputArgs(target({ activeMode: true }), { ...JOB, offset: 10 }, files);
    assert.deepEqual(resume.slice(-4), ['-c', '-A', 'nas.lan', JOB.remotePath]);
    assert.ok(resume.includes('-E'));
    assert.equal(ncftpputLoginFile(target()), `host nas.lan\nuser backup\npass ${PASSWORD}\n`);
  });

  test("ncftpput: a login its -f file cannot carry is named by field", () => {
    assert.deepEqual(ncftpputLoginProblems(target()), []);
    assert.deepEqual(ncftpputLoginProblems(target({ password: new Secret('a\nb') })), [
      "targets.nas.password: contains a line break, which ncftpput's login file cannot hold",
    ]);
    assert.match(ncftpputLoginProblems(target({ password: new Secret('é'.repeat(61)) }))[0] ?? '', /targets\.nas\.password: longer than the 121 bytes/);
    assert.deepEqual(ncftpputLoginProblems(target({ password: new Secret('a'.repeat(121)) })), []);
  });
});

describe('ncftpput and a PASV reply naming another address', () => {
  const pasv = (announced: string, used: string) => ({ command: 'PASV' as const, announced, used });
  test('a private address the control host is not in: ncftpput uses the control host, as vmftp does', () => {
    for (const announced of ['10.255.255.1', '192.168.1.20', '172.16.0.5', '172.31.9.9']) {
      assert.equal(ncftpputPassiveProblem(target(), pasv(announced, '203.0.113.7')), undefined, announced);
    }
    assert.equal(ncftpputPassiveProblem(target(), pasv('10.0.0.5', '127.0.0.1')), undefined);
  });
  test('a public address, or a private one in the control host\'s own network: ncftpput would go there', () => {
    assert.match(ncftpputPassiveProblem(target(), pasv('192.0.2.1', '127.0.0.1')) ?? '', /names 192\.0\.2\.1, not 127\.0\.0\.1/);
    assert.match(ncftpputPassiveProblem(target(), pasv('10.0.0.5', '10.8.0.1')) ?? '', /ncftpput would open its data connection to 10\.0\.0\.5/);
    assert.match(ncftpputPassiveProblem(target(), pasv('172.32.0.1', '127.0.0.1')) ?? '', /172\.32\.0\.1/);
  });
  test('EPSV, a PASV naming the control host, active mode, or nothing known yet: no problem', () => {
    assert.equal(ncftpputPassiveProblem(target(), { command: 'EPSV' }), undefined);
    assert.equal(ncftpputPassiveProblem(target(), pasv('127.0.0.1', '127.0.0.1')), undefined);
    assert.equal(ncftpputPassiveProblem(target({ activeMode: true }), pasv('192.0.2.1', '127.0.0.1')), undefined);
    assert.equal(ncftpputPassiveProblem(target(), undefined), undefined);
  });
});
