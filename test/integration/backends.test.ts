/**
 * The Backend contract, run against every backend (internal, curl, ncftpput)
 * and every real server (ftp-srv in-process; pure-ftpd, proftpd and vsftpd from
 * Debian): the same file on the server's disk, the same error kinds, whichever
 * program moved the bytes. Judged by the server's disk and the fault proxy's
 * command log. The certificate checks of FTPS run on the servers with TLS here
 * (pure-ftpd, proftpd).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import type { Backend, UploadJob } from '../../src/backends/backend.js';
import { Bandwidth, type TransferLimit } from '../../src/backends/bandwidth.js';
import { createCurlBackend } from '../../src/backends/curl.js';
import { createInternalBackend } from '../../src/backends/internal.js';
import { createNcftpputBackend } from '../../src/backends/ncftpput.js';
import type { TargetConfig, UploadMethod } from '../../src/config/types.js';
import { parseBwLimit } from '../../src/core/bwlimit.js';
import { FtpError, LocalFileError, type FtpErrorKind } from '../../src/errors.js';
import { FtpSession } from '../../src/ftp/session.js';
import { Secret } from '../../src/config/secret.js';
import { startFaultProxy, type FaultProxyHandle, type FaultRules } from '../support/fault-proxy.js';
import { pseudoRandomBytes, tmpDir } from '../support/fixtures.js';
import type { FtpServerHandle } from '../support/ftp-srv.js';
import { requireMethod } from '../support/methods.js';
import { makeCertificate, requireProftpd, startProftpd, type Certificate } from '../support/proftpd.js';
import { requirePureFtpd, startPureFtpd } from '../support/pure-ftpd.js';
import { ALL_SERVER_KINDS } from '../support/servers.js';
import { freePort as closedPort } from '../support/ports.js';
import { serverTarget } from '../support/target.js';
import { BOUNDED, waitFor } from '../support/wait.js';

/** A folder name with a space and non-ASCII letters, as VM names on Windows hosts have them; under the server's remoteBase. */
const VM_DIR = '/contract/Bart Ölkers/2012-08-18-154137.partial';

/** A running server, whichever of the four. */
type Server = Omit<FtpServerHandle, 'kind'>;

interface BackendKind {
  readonly method: UploadMethod;
  /** Returns false (skipped) or throws (CI=true) when the program is missing. */
  readonly usable: (t: TestContext) => boolean;
  /** Returns a backend for `target`; the internal one logs in first, so its login errors surface here. */
  readonly create: (target: TargetConfig, options?: { limitRateBytesPerSecond?: number }) => Promise<Backend & { close(): void }>;
}

function programKind(method: 'curl' | 'ncftpput', create: (target: TargetConfig, limit?: number) => Backend): BackendKind {
  return {
    method,
    usable: (t) => requireMethod(t, method),
    create: async (target, options) => ({ ...create(target, options?.limitRateBytesPerSecond), close: () => undefined }),
  };
}

/** vmftp's own limiter at about `bytesPerSecond` (whole KiB/s): slow enough to watch an upload run. */
function rateLimit(bytesPerSecond: number): TransferLimit {
  const parsed = parseBwLimit(`${Math.round(bytesPerSecond / 1024)}k`);
  assert.ok('timetable' in parsed, JSON.stringify(parsed));
  const limit = new Bandwidth(parsed.timetable, {}).forTarget('any');
  assert.ok(limit !== undefined);
  return limit;
}

const BACKENDS: readonly BackendKind[] = [
  {
    method: 'internal',
    usable: () => true,
    create: async (target) => {
      const session = await FtpSession.open(target);
      return { ...createInternalBackend(session), close: () => session.close() };
    },
  },
  programKind('curl', (target, limit) => createCurlBackend(target, limit === undefined ? {} : { limit: rateLimit(limit) })),
  programKind('ncftpput', (target) => createNcftpputBackend(target)),
];

function targetFor(endpoint: { host: string; port: number }, server: Server, overrides: Partial<TargetConfig> = {}): TargetConfig {
  return serverTarget(endpoint, server, { remoteDir: '/contract', ...overrides });
}

/** Returns the rejection of `promise`; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the upload to fail');
}

function assertKind(error: unknown, kind: FtpErrorKind): asserts error is FtpError {
  assert.ok(error instanceof FtpError, `expected FtpError ${kind}, got ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
}

/** Every process's command line, NUL-separated arguments joined with spaces (Linux /proc). */
function commandLines(): { pid: string; cmdline: string }[] {
  const lines: { pid: string; cmdline: string }[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      lines.push({ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`).toString('utf8').split('\0').join(' ') });
    } catch {
      // The process ended between readdir and read.
    }
  }
  return lines;
}

for (const kind of ALL_SERVER_KINDS) {
  for (const backend of BACKENDS) {
    describe(`${backend.method} backend against ${kind.name}`, () => {
      const work = tmpDir(`backends-${backend.method}-${kind.name}`);
      const vmDir = `${kind.remoteBase}${VM_DIR}`;
      let started: Promise<Server> | undefined;
      after(async () => (await started)?.stop());

      /** The server (one per suite, started on first use), or undefined when this test is skipped. */
      async function serverFor(t: TestContext): Promise<Server | undefined> {
        if (!kind.usable(t) || !backend.usable(t)) return undefined;
        // A password curl's config and ncftpput's login file must carry through intact (ftp-srv strips `"`;
        // vsftpd's instance logs in anonymously with a password of its own).
        const password = kind.name === 'ftp-srv' ? `pw \\ ${Date.now()}` : `pw "\\ ${Date.now()}`;
        started ??= kind.start({ root: path.join(work, 'ftp'), password });
        return started;
      }

      async function proxyFor(t: TestContext, server: Server, rules: FaultRules = {}): Promise<FaultProxyHandle> {
        const proxy = await startFaultProxy(server, rules);
        t.after(() => proxy.stop());
        return proxy;
      }

      /** Writes a local file and makes its remote folder (as the executor does); returns the job for it. */
      async function prepare(t: TestContext, target: TargetConfig, server: Server, name: string, size: number): Promise<UploadJob & { data: Buffer; onDisk: string }> {
        const data = pseudoRandomBytes(size, `${backend.method}-${name}`);
        const localPath = path.join(tmpDir('local', t), name);
        writeFileSync(localPath, data);
        const session = await FtpSession.open(targetFor(server, server));
        try {
          await session.ensureDir(vmDir);
        } finally {
          session.close();
        }
        const remotePath = `${vmDir}/${name}`;
        return { localPath, remotePath, offset: 0, size, data, onDisk: path.join(server.root, ...remotePath.split('/')) };
      }

      async function upload(target: TargetConfig, job: UploadJob, options?: { limitRateBytesPerSecond?: number }): Promise<void> {
        const instance = await backend.create(target, options);
        try {
          await instance.upload(job);
        } finally {
          instance.close();
        }
      }

      test('uploads from offset 0 to the exact path, spaces and non-ASCII included, byte-identical', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const proxy = await proxyFor(t, server);
        const target = targetFor(proxy, server);
        const job = await prepare(t, target, server, 'disk 1 é[1] #2;type=a %41.vmdk', 300_000);

        await upload(target, job);
        assert.ok(readFileSync(job.onDisk).equals(job.data), 'the file on the server is the local file');
        assert.deepEqual(
          proxy.log.filter((line) => /^(STOR|APPE|REST)/.test(line)),
          [`STOR ${job.remotePath}`],
          'one STOR of the absolute path, the same command whichever program sends it',
        );
      });

      test('resumes from an offset with APPE: only the rest is sent, the file is byte-identical', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const proxy = await proxyFor(t, server);
        const target = targetFor(proxy, server);
        const job = await prepare(t, target, server, 'resume.vmdk', 300_000);
        const offset = 123_457;
        writeFileSync(job.onDisk, job.data.subarray(0, offset));
        kind.chown(path.dirname(job.onDisk));

        await upload(target, { ...job, offset });
        assert.ok(readFileSync(job.onDisk).equals(job.data), 'prefix kept, rest appended');
        assert.deepEqual(proxy.log.filter((line) => /^(STOR|APPE|REST)/.test(line)), [`APPE ${job.remotePath}`]);
      });

      // vsftpd's test instance logs in anonymously and takes any password (docs/ftp-servers.md): there
      // the login it refuses is a wrong user.
      const wrongLogin =
        kind.name === 'vsftpd'
          ? { what: 'user', fields: { user: 'not-a-user' } }
          : { what: 'password', fields: { password: new Secret('not-the-password') } };
      test(`a wrong ${wrongLogin.what} is an auth error`, BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const target = targetFor(server, server, wrongLogin.fields);
        const job = await prepare(t, target, server, 'auth.vmdk', 1000);
        const error = await rejection(upload(target, job));
        assertKind(error, 'auth');
        assert.match(error.hint ?? '', /targets\.nas\.user and its password/);
        assert.ok(!existsSync(job.onDisk));
      });

      test('no server on the port is a connect error', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const job = await prepare(t, targetFor(server, server), server, 'connect.vmdk', 1000);
        const error = await rejection(upload(targetFor({ host: '127.0.0.1', port: await closedPort() }, server), job));
        assertKind(error, 'connect');
        assert.match(error.message, /nas \(127\.0\.0\.1:\d+\)/);
      });

      test('a 552 reply to the upload is permanent (no retry can help a full disk)', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const proxy = await proxyFor(t, server, { replyToUpload: { match: 'full.vmdk', code: 552, text: 'Disk full', afterBytes: 65_536 } });
        const target = targetFor(proxy, server);
        const job = await prepare(t, target, server, 'full.vmdk', 300_000);
        const error = await rejection(upload(target, job));
        assertKind(error, 'permanent');
        assert.match(error.message, /full\.vmdk/);
      });

      test('a connection cut mid-file is transient; resuming from what the server holds completes it', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const proxy = await proxyFor(t, server, { cutUpload: { match: 'cut.vmdk', afterBytes: 100_000 } });
        const target = targetFor(proxy, server);
        const job = await prepare(t, target, server, 'cut.vmdk', 300_000);
        const error = await rejection(upload(target, job));
        assertKind(error, 'transient');
        // Servers finish writing a cut file a moment after the client saw the cut.
        await waitFor(() => existsSync(job.onDisk) && statSync(job.onDisk).size === 100_000, 'the server to hold the 100000 bytes before the cut', 5000);

        await upload(target, { ...job, offset: 100_000 });
        assert.ok(readFileSync(job.onDisk).equals(job.data));
      });

      test('a stalled transfer times out as transient within timeoutSeconds', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const proxy = await proxyFor(t, server, { stallUpload: { match: 'stall.vmdk', afterBytes: 65_536 } });
        const target = targetFor(proxy, server, { timeoutSeconds: 2 });
        // Bigger than what loopback socket buffers absorb, so the stall is felt while sending.
        const job = await prepare(t, target, server, 'stall.vmdk', 16_000_000);
        const started = Date.now();
        const error = await rejection(upload(target, job));
        assertKind(error, 'transient');
        assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`);
      });

      test('a local file that is not the planned size fails with LocalFileError before anything is sent', BOUNDED, async (t) => {
        const server = await serverFor(t);
        if (!server) return;
        const proxy = await proxyFor(t, server);
        const target = targetFor(proxy, server);
        const job = await prepare(t, target, server, 'growing.vmdk', 1000);
        const error = await rejection(upload(target, { ...job, size: 999 }));
        assert.ok(error instanceof LocalFileError, String(error));
        assert.ok(!proxy.log.some((line) => /^(STOR|APPE)/.test(line)));
      });

      if (backend.method !== 'internal') {
        test('active mode (PORT/EPRT) uploads byte-identical', BOUNDED, async (t) => {
          const server = await serverFor(t);
          if (!server) return;
          const proxy = await proxyFor(t, server);
          const target = targetFor(proxy, server, { activeMode: true });
          const job = await prepare(t, target, server, 'active.vmdk', 200_000);
          await upload(target, job);
          assert.ok(readFileSync(job.onDisk).equals(job.data));
          assert.ok(proxy.log.some((line) => /^(PORT|EPRT) /.test(line)), `no PORT/EPRT in ${proxy.log.join(', ')}`);
          assert.ok(!proxy.log.some((line) => /^(PASV|EPSV)$/.test(line)), 'no passive data connection');
        });

        test('the password is in no process command line while an upload runs; its files are private and removed', BOUNDED, async (t) => {
          if (process.platform !== 'linux') return t.skip('reads /proc');
          const server = await serverFor(t);
          if (!server) return;
          // curl is throttled; ncftpput has no rate limit, so the proxy holds its upload until it times out.
          const rules: FaultRules = backend.method === 'ncftpput' ? { stallUpload: { match: 'secret.vmdk', afterBytes: 65_536 } } : {};
          const proxy = await proxyFor(t, server, rules);
          const target = targetFor(proxy, server, { timeoutSeconds: 3 });
          const job = await prepare(t, target, server, 'secret.vmdk', 600_000);
          // The backend's private folders go under TMPDIR: a folder of this test's own, so the scan sees only them.
          const secretsRoot = tmpDir('secrets', t);
          const savedTmp = process.env.TMPDIR;
          process.env.TMPDIR = secretsRoot;
          t.after(() => (savedTmp === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = savedTmp)));

          const running = upload(target, job, { limitRateBytesPerSecond: 200_000 }).then(
            () => undefined,
            (error: unknown) => error,
          );
          let sawProgram = false;
          let sawPrivateFile = false;
          let done = false;
          void running.then(() => (done = true));
          while (!done) {
            for (const { pid, cmdline } of commandLines()) {
              assert.ok(!cmdline.includes(server.password), `the password is on the command line of pid ${pid}: ${cmdline.replace(server.password, '***')}`);
              if (cmdline.includes(backend.method) && cmdline.includes('secret.vmdk')) sawProgram = true;
            }
            for (const dir of readdirSync(secretsRoot)) {
              const full = path.join(secretsRoot, dir);
              try {
                assert.equal(statSync(full).mode & 0o777, 0o700, `${full} is private`);
                for (const file of readdirSync(full)) {
                  assert.equal(statSync(path.join(full, file)).mode & 0o777, 0o600, `${file} is private`);
                  if (file === 'login.cfg') sawPrivateFile = true;
                }
              } catch (error) {
                // Removed between the listing and the stat: the upload just ended.
                if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
              }
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          const outcome = await running;
          assert.ok(sawProgram, `the scan saw ${backend.method} running`);
          if (backend.method === 'ncftpput') {
            assert.ok(sawPrivateFile, 'the scan saw the 0600 login file');
            assertKind(outcome, 'transient');
          } else {
            assert.equal(outcome, undefined, String(outcome));
            assert.ok(readFileSync(job.onDisk).equals(job.data));
          }
          assert.deepEqual(readdirSync(secretsRoot), [], 'private folders are removed');
        });
      }
    });
  }
}

/** A server that can be started with explicit FTPS and a given certificate. */
interface TlsServerKind {
  readonly name: string;
  readonly usable: (t: TestContext) => boolean;
  start(root: string, certificate: Certificate): Promise<Server>;
}

/**
 * The servers with explicit FTPS here: pure-ftpd and proftpd, each requiring TLS for the login (the
 * password never crosses in clear). Not ftp-srv (the tests do not use its TLS) nor vsftpd (its test
 * instance has none): docs/ftp-servers.md, "What the servers offer".
 */
const TLS_SERVER_KINDS: readonly TlsServerKind[] = [
  {
    name: 'pure-ftpd',
    usable: requirePureFtpd,
    start: async (root, certificate) => {
      // pure-ftpd reads certificate and key from one file; -Y 2: TLS required.
      const combined = path.join(path.dirname(certificate.certFile), 'combined.pem');
      writeFileSync(combined, readFileSync(certificate.certFile, 'utf8') + readFileSync(certificate.keyFile, 'utf8'));
      return startPureFtpd({ root, extraArgs: ['-Y', '2', '-2', combined] });
    },
  },
  { name: 'proftpd', usable: requireProftpd, start: (root, certificate) => startProftpd({ root, tls: 'explicit', certificate }) },
];

for (const kind of TLS_SERVER_KINDS) {
  describe(`explicit FTPS (AUTH TLS) against ${kind.name}`, () => {
    const tlsBackends = BACKENDS.filter((backend) => backend.method !== 'ncftpput'); // ncftpput has no TLS: refused at config time
    for (const backend of tlsBackends) {
      test(`${backend.method}: certificate checks on by default; ca or allowSelfSigned let a self-signed server through`, BOUNDED, async (t) => {
        if (!kind.usable(t) || !backend.usable(t)) return;
        const work = tmpDir(`backends-tls-${backend.method}-${kind.name}`, t);
        const certificate = makeCertificate(path.join(work, 'certs'));
        const certPem = readFileSync(certificate.certFile, 'utf8');
        const server = await kind.start(path.join(work, 'ftp'), certificate);
        t.after(() => server.stop());
        const data = pseudoRandomBytes(200_000, `tls-${backend.method}`);
        const localPath = path.join(work, 'disk 1.vmdk');
        writeFileSync(localPath, data);
        const job = (name: string): UploadJob => ({ localPath, remotePath: `/tls/${name}`, offset: 0, size: data.length });
        const send = async (target: TargetConfig, name: string): Promise<void> => {
          const instance = await backend.create(target);
          try {
            await instance.upload(job(name));
          } finally {
            instance.close();
          }
        };
        const base = targetFor(server, server, { secure: true });
        const setup = await FtpSession.open({ ...base, allowSelfSigned: true });
        await setup.ensureDir('/tls');
        setup.close();

        const refused = await rejection(send(base, 'untrusted.vmdk'));
        // Not retried: waiting does not make a certificate trusted.
        assertKind(refused, 'permanent');
        assert.ok(!existsSync(path.join(server.root, 'tls', 'untrusted.vmdk')));

        await send({ ...base, allowSelfSigned: true }, 'self-signed.vmdk');
        assert.ok(readFileSync(path.join(server.root, 'tls', 'self-signed.vmdk')).equals(data));

        await send({ ...base, ca: certPem }, 'ca.vmdk');
        assert.ok(readFileSync(path.join(server.root, 'tls', 'ca.vmdk')).equals(data));
      });
    }
  });
}
