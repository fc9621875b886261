/**
 * FTPS end to end: the built CLI against proftpd with mod_tls on 127.0.0.1 (TLS required on
 * control and data connections), explicit (`secure: true`) and implicit (`secure: 'implicit'`),
 * with `-u internal` and `-u curl`. The server's certificate is self-signed, made by the test for
 * CN and SAN 127.0.0.1:
 * - by default vmftp refuses it (exit 4), names the target, says how to fix it (allowSelfSigned
 *   or ca) and changes nothing on the server; it does not retry (the targets have
 *   retryDelaySeconds: 0 so a retry costs no time, and the TLS log counts the handshakes);
 * - `allowSelfSigned: true` uploads;
 * - `ca: <the certificate>` uploads with certificate checks on; a `ca` that did not sign it is refused.
 * Every upload is judged on the server's disk (byte for byte) and on proftpd's TLS log (the
 * control and the data connections really were TLS). -u ncftpput with secure is a config error
 * (exit 2, nothing changed: ncftpput has no TLS).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Client } from 'basic-ftp';
import { loginTo, runVmftp, writeConfig, type CliResult } from '../support/cli.js';
import { copyFixture, makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { makeCertificate, requireProftpd, startProftpd, type Certificate, type ProftpdHandle } from '../support/proftpd.js';
import { chownToFtpUser } from '../support/pure-ftpd.js';
import { assertSafeFailure, snapshot } from '../support/safety.js';
import { BOUNDED } from '../support/wait.js';

const RUN_TIMEOUT_MS = 45_000;
const METHODS = ['internal', 'curl'] as const;
type Method = (typeof METHODS)[number];
const MODES = [
  { tls: 'explicit', secure: true },
  { tls: 'implicit', secure: 'implicit' },
] as const;
const OLD_BACKUP = { 'Bart/2011-01-01-000000': { 'old.txt': 'an old backup, not to be touched' } };

function usable(t: TestContext, method: Method): boolean {
  return requireProftpd(t) && requireMethod(t, method);
}

/** Counts the TLS handshakes in proftpd's TLS log: control connections and data connections. */
function handshakes(log: string): { control: number; data: number } {
  return {
    control: (log.match(/TLSv1\.[23] connection accepted/g) ?? []).length,
    data: (log.match(/TLSv1\.[23] data connection accepted/g) ?? []).length,
  };
}

/** Resolves with what the server sends in the first `ms` to a client that does not speak TLS. */
function plaintextGreeting(port: number, ms = 500): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, ms);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', done);
    sock.on('close', done);
  });
}

for (const mode of MODES) {
  describe(`FTPS (${mode.tls}) against proftpd`, () => {
    let server: ProftpdHandle | undefined;
    let certificate: Certificate;
    let otherCa: Certificate;
    const work = tmpDir(`ftps-${mode.tls}`);

    before(async () => {
      // Without proftpd the tests skip (or fail under CI) one by one in usable().
      if (!requireProftpd({ skip: () => undefined })) return;
      certificate = makeCertificate(path.join(work, 'certs'), 'server');
      otherCa = makeCertificate(path.join(work, 'certs'), 'other');
      server = await startProftpd({ root: path.join(work, 'ftp'), tls: mode.tls, certificate });
    });
    after(() => server?.stop());

    /** A fresh source tree (the fixture) and remoteDir for one test; `vmftp()` runs the CLI with `target` fields added. */
    async function setUp(t: TestContext, method: Method, target: Record<string, unknown>, suffix = '') {
      assert.ok(server, 'proftpd did not start');
      const srv = server;
      const name = t.name.replace(/\W+/g, '-').slice(0, 40);
      const dir = tmpDir(`ftps-${mode.tls}-${method}`, t);
      const source = copyFixture('VMbackupFolder', path.join(dir, 'source'));
      const remoteDir = `/${method}-${name}${suffix}`;
      const remoteRoot = path.join(srv.root, remoteDir);
      makeBackupTree(remoteRoot, OLD_BACKUP);
      chownToFtpUser(srv.root);
      const { configPath, env } = await writeConfig(dir, {
        source,
        keep: 5,
        targets: {
          nas: { ...loginTo(srv), remoteDir, secure: mode.secure, retryDelaySeconds: 0, ...target },
        },
      });
      const vmftp = (...args: string[]): Promise<CliResult> =>
        runVmftp(['-c', configPath, '-u', method, ...args], { env, timeoutMs: RUN_TIMEOUT_MS });
      return { srv, source, remoteRoot, vmftp };
    }

    test('the server speaks only TLS: a plaintext client gets no login', BOUNDED, async (t) => {
      if (!usable(t, 'internal') || !server) return;
      if (mode.tls === 'implicit') {
        assert.doesNotMatch(await plaintextGreeting(server.port), /^220/m, 'an implicit FTPS port must not greet in plaintext');
        return;
      }
      const client = new Client(10_000);
      try {
        await assert.rejects(client.access({ host: server.host, port: server.port, user: server.user, password: server.password }), /550 SSL\/TLS required/);
      } finally {
        client.close();
      }
    });

    test('a refused certificate is not retried: it cannot get better by waiting', BOUNDED, async (t) => {
      if (!usable(t, 'internal')) return;
      const { srv, vmftp } = await setUp(t, 'internal', {});
      const attempts = () => (srv.tlsLog().match(/starting (SSL\/)?TLS handshake/g) ?? []).length;
      const attemptsBefore = attempts();
      const run = await vmftp();
      assert.equal(run.code, 4, `${run.stdout}\n${run.stderr}`);
      assert.equal(attempts() - attemptsBefore, 1, `TLS handshakes tried (retries: 3 by default):\n${run.stderr}`);
    });

    test('-u ncftpput is refused as a config error (exit 2): ncftpput has no TLS, the password would go in clear', BOUNDED, async (t) => {
      if (!usable(t, 'internal')) return;
      const { srv, source, remoteRoot } = await setUp(t, 'internal', { allowSelfSigned: true });
      const beforeRun = snapshot(source, remoteRoot);
      const configPath = path.join(path.dirname(source), 'vmftp.config.json');
      const run = await runVmftp(['-c', configPath, '-u', 'ncftpput'], { env: { VMFTP_TEST_PASSWORD_NAS: srv.password }, timeoutMs: RUN_TIMEOUT_MS });
      assertSafeFailure(run, beforeRun, { code: 2, cause: /targets\.nas\.secure.*ncftpput/ });
    });

    for (const method of METHODS) {
      test(`-u ${method}: a self-signed certificate is refused by default (exit 4, how to fix it, nothing changed)`, BOUNDED, async (t) => {
        if (!usable(t, method)) return;
        const { srv, source, remoteRoot, vmftp } = await setUp(t, method, {});
        const beforeRun = snapshot(source, remoteRoot);
        const serverBefore = readTree(srv.root);

        const run = await vmftp('-x');
        const output = `${run.stdout}\n${run.stderr}`;
        assertSafeFailure(run, beforeRun, { code: 4, cause: /nas/ });
        assert.match(output, new RegExp(`127\\.0\\.0\\.1:${srv.port}`), 'the message names the server');
        assert.match(output, /certificate/i, 'the message says the certificate is the problem');
        assert.deepEqual(readTree(srv.root), serverBefore, 'nothing changed on the server');
        assert.match(output, /allowSelfSigned/, `the message says how to accept a self-signed certificate:\n${output}`);
        assert.match(output, /\bca\b/, `the message says how to trust the certificate (ca):\n${output}`);
      });

      test(`-u ${method}: allowSelfSigned: true uploads, byte-identical, over TLS`, BOUNDED, async (t) => {
        if (!usable(t, method)) return;
        const { srv, source, remoteRoot, vmftp } = await setUp(t, method, { allowSelfSigned: true });
        const tlsBefore = handshakes(srv.tlsLog());

        const run = await vmftp();
        assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
        assert.deepEqual(readTree(remoteRoot), { ...readTree(source), ...readOldBackup() });
        const tlsAfter = handshakes(srv.tlsLog());
        assert.ok(tlsAfter.control > tlsBefore.control, `vmftp's control connections were TLS:\n${srv.tlsLog()}`);
        assert.ok(tlsAfter.data >= tlsBefore.data + 2, `vmftp's data connections (one per file) were TLS:\n${srv.tlsLog()}`);
      });

      test(`-u ${method}: ca: <the certificate> uploads with certificate checks on; another ca is refused`, BOUNDED, async (t) => {
        if (!usable(t, method)) return;
        const wrong = await setUp(t, method, { ca: otherCa.certFile }, '-wrong-ca');
        const wrongBefore = snapshot(wrong.source, wrong.remoteRoot);
        const refused = await wrong.vmftp();
        assertSafeFailure(refused, wrongBefore, { code: 4, cause: /certificate/i });

        const { srv, source, remoteRoot, vmftp } = await setUp(t, method, { ca: certificate.certFile });
        const tlsBefore = handshakes(srv.tlsLog());
        const run = await vmftp();
        assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
        assert.deepEqual(readTree(remoteRoot), { ...readTree(source), ...readOldBackup() });
        assert.ok(handshakes(srv.tlsLog()).control > tlsBefore.control, 'the control connections were TLS');
      });
    }
  });
}

/** The seeded old backup as readTree() shows it under remoteRoot. */
function readOldBackup(): Record<string, Buffer> {
  return Object.fromEntries(
    Object.entries(OLD_BACKUP).flatMap(([dir, files]) => Object.entries(files).map(([file, text]) => [`${dir}/${file}`, Buffer.from(text)])),
  );
}
