/**
 * A multi-hour upload behind a router that forgets idle connections. The tests
 * with a router run in a network of their own (test/support/private-network.ts): the kernel's
 * connection tracking forgets a connection idle for 3 s and drops its later packets without a
 * reset, as a home router or a firewall does after 5-60 minutes; the link is 8 Mbit/s, so a 6 MB
 * file takes ~6 s while the control connection says nothing. pure-ftpd and the built CLI run in
 * that network. (A userspace proxy cannot show this: it never sees TCP keepalive probes.)
 *
 * - `keepaliveSeconds` reaches the kernel socket, plain and after the TLS upgrade (read with ss).
 * - Keepalive probes keep the control connection through the upload (internal client:
 *   setKeepAlive on the control socket; curl: --keepalive-time; ncftpput turns keepalive on with
 *   the system's times only, so the system's are lowered): no packet is dropped, the run is clean.
 * - Without them in time (keepaliveSeconds above the upload's length, like the system's 2 hours),
 *   the router drops the server's final reply; vmftp finds the whole file on the server by its
 *   size on a new connection and does not send it again (counted on the wire), with retries: 0;
 *   with verify 'hash' (proftpd) the digest is read again from the local file and compared.
 *   curl waits 60 s for that reply before it gives up (exit 28), hence its test's length.
 *
 * After each: the old backup intact, the new one byte-identical under its final name, no
 * `.partial` left, the local folder untouched, and a second run sends nothing and changes nothing. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { loginTo, output, runVmftp, writeConfig, type CliResult } from '../support/cli.js';
import { makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { forgetIdleConnections, inPrivateNetwork, limitRate, setSystemKeepaliveSeconds, type ForgetfulRouter } from '../support/private-network.js';
import { requireProftpd, startProftpd } from '../support/proftpd.js';
import { chownToFtpUser, requireOrSkip, requirePureFtpd, startPureFtpd } from '../support/pure-ftpd.js';
import { remoteEntries } from '../support/safety.js';
import { findProgram } from '../../src/backends/programs.js';
import { FtpSession } from '../../src/ftp/session.js';
import { serverTarget } from '../support/target.js';
import { bounded } from '../support/wait.js';

const IDLE_SECONDS = 3;
const LINK = '8mbit';
const DISK_BYTES = 6_000_000;
const STAMP = '2012-08-18-154137';
const OLD_STAMP = '2012-07-01-000000';
/** Long enough for a slow upload and a lost reply's timeout, short enough that no test hangs. */
const RUN_TIMEOUT_MS = 120_000;

interface RouterRun {
  readonly router: ForgetfulRouter;
  readonly run: CliResult;
  /** TCP bytes of the first run (headers included). */
  readonly bytes: number;
}

/**
 * Returns the first run of `vmftp -u <method>` through a forgetful router on a slow link, after
 * checking everything the header promises about that run and a second one.
 */
async function uploadThroughForgetfulRouter(
  t: TestContext,
  method: 'internal' | 'curl' | 'ncftpput',
  fields: Record<string, unknown>,
  /** The server: pure-ftpd (SIZE, MLSD) unless a test needs proftpd's digests. */
  startServer: typeof startPureFtpd | typeof startProftpd = startPureFtpd,
): Promise<RouterRun> {
  const router = forgetIdleConnections(IDLE_SECONDS);
  limitRate(LINK);
  const work = tmpDir(`idle-router-${method}`, t);
  const source = path.join(work, 'source');
  mkdirSync(source);
  makeBackupTree(source, { [`Bart/${STAMP}`]: { 'disk1.vmdk': DISK_BYTES, 'vm.ovf': '<vm name="Bart"/>' } });
  const server = await startServer({ root: path.join(work, 'ftp') });
  t.after(() => server.stop());
  const remoteRoot = path.join(server.root, 'backups');
  makeBackupTree(remoteRoot, { [`Bart/${OLD_STAMP}`]: { 'vm.ovf': '<old/>' } });
  chownToFtpUser(server.root);
  const { configPath, env } = await writeConfig(work, {
    source,
    targets: { nas: { ...loginTo(server), ...fields } },
  });
  const vmftp = () => runVmftp(['-c', configPath, '-u', method], { env, timeoutMs: RUN_TIMEOUT_MS });
  const localBefore = readTree(source);

  const before = router.tcpBytes();
  const run = await vmftp();
  const bytes = router.tcpBytes() - before;
  t.diagnostic(`-u ${method}: ${bytes} TCP bytes for ${DISK_BYTES} bytes of file, ${router.dropped()} packets of forgotten connections dropped`);
  assert.equal(run.code, 0, output(run));
  assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [OLD_STAMP, STAMP], 'both backups under their final names, no .partial');
  assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', OLD_STAMP)), { 'vm.ovf': Buffer.from('<old/>') }, 'the old backup is intact');
  assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', STAMP)), readTree(path.join(source, 'Bart', STAMP)), 'byte-identical copy');
  assert.deepEqual(readTree(source), localBefore, 'no -x: the local backups stay');

  const remoteAfter = readTree(remoteRoot);
  const secondFrom = router.tcpBytes();
  const second = await vmftp();
  assert.equal(second.code, 0, output(second));
  assert.ok(router.tcpBytes() - secondFrom < DISK_BYTES / 10, 'the second run sends no file again');
  assert.deepEqual(readTree(remoteRoot), remoteAfter, 'the second run changes nothing');
  return { router, run, bytes };
}

/** The run lost nothing to the router: no packet dropped, no retry, no lost reply, and the file sent once. */
function assertUntouchedByRouter({ router, run, bytes }: RouterRun): void {
  assert.equal(router.dropped(), 0, `the router forgot a connection:\n${output(run)}`);
  assert.doesNotMatch(output(run), /retry|did not confirm|timeout/i);
  assert.ok(bytes > DISK_BYTES && bytes < DISK_BYTES * 1.5, `the file went over the link once (${bytes} TCP bytes for ${DISK_BYTES})`);
}

/** The router dropped the final reply; vmftp found the whole file by its size and did not send it again. */
function assertRecoveredBySize(t: TestContext, { router, run, bytes }: RouterRun): void {
  assert.ok(router.dropped() > 0, 'the router forgot the idle control connection');
  const warning = /^.*disk1\.vmdk: the server did not confirm the upload .*holds all 6000000 bytes: not sent again.*$/m.exec(output(run));
  assert.ok(warning !== null, output(run));
  t.diagnostic(warning[0]);
  assert.ok(bytes > DISK_BYTES && bytes < DISK_BYTES * 1.5, `the file went over the link once (${bytes} TCP bytes for ${DISK_BYTES})`);
}

/** Returns the seconds until the kernel's next keepalive probe on the connection to `port`, from `ss -o`. */
function keepaliveTimerSeconds(port: number): number {
  const ss = spawnSync('ss', ['-tnoH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  const timer = /timer:\(keepalive,(?:(\d+)min)?(?:([\d.]+)sec)?(?:(\d+)ms)?,/.exec(ss.stdout);
  assert.ok(timer !== null, `no keepalive timer on the connection to port ${port}: ${ss.stdout}${ss.stderr}`);
  return Number(timer[1] ?? 0) * 60 + Number(timer[2] ?? 0) + Number(timer[3] ?? 0) / 1000;
}

test('keepaliveSeconds reaches the kernel socket of the control connection, plain and after the TLS upgrade', bounded(200), async (t) => {
  if (!requireOrSkip(t, findProgram('ss') !== undefined, 'ss (iproute2)') || !requireProftpd(t)) return;
  for (const secure of [false, true]) {
    const server = await startProftpd({ root: tmpDir('keepalive-ss', t), ...(secure ? { tls: 'explicit' as const } : {}) });
    t.after(() => server.stop());
    const target = serverTarget(server, server, { remoteDir: '/', secure, allowSelfSigned: true, keepaliveSeconds: 45 });
    const session = await FtpSession.open(target);
    try {
      await session.list('/');
      // basic-ftp alone leaves the system's 2 hours; 45 s here is the setting at work.
      const seconds = keepaliveTimerSeconds(server.port);
      assert.ok(seconds > 0 && seconds <= 45, `${secure ? 'FTPS' : 'FTP'}: next probe in ${seconds} s, expected at most 45`);
    } finally {
      session.close();
    }
  }
});

test('internal client: keepalive probes keep the control connection through an upload longer than the router\'s idle timeout', bounded(200), async (t) => {
  if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  assertUntouchedByRouter(await uploadThroughForgetfulRouter(t, 'internal', { keepaliveSeconds: 1, timeoutSeconds: 4, retries: 0 }));
});

test('internal client without keepalive in time: the lost final reply is recovered by the size on a new connection, nothing sent twice', bounded(200), async (t) => {
  if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  assertRecoveredBySize(t, await uploadThroughForgetfulRouter(t, 'internal', { keepaliveSeconds: 3600, timeoutSeconds: 4, retries: 0 }));
});

test('internal client with verify \'hash\' on proftpd, without keepalive in time: the file found whole by its size is checked by its digest too', bounded(200), async (t) => {
  if (!requireProftpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  const fields = { keepaliveSeconds: 3600, timeoutSeconds: 4, retries: 0, verify: 'hash' };
  const recovered = await uploadThroughForgetfulRouter(t, 'internal', fields, startProftpd);
  assertRecoveredBySize(t, recovered);
  assert.doesNotMatch(output(recovered.run), /offers no file digest|gave no .* digest|checked by size only/, 'the digest was compared');
});

test('-u curl: --keepalive-time keeps the control connection through an upload longer than the router\'s idle timeout', bounded(200), async (t) => {
  if (!requireMethod(t, 'curl')) return;
  if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  assertUntouchedByRouter(await uploadThroughForgetfulRouter(t, 'curl', { keepaliveSeconds: 1, timeoutSeconds: 4, retries: 0 }));
});

test('-u ncftpput with the system\'s keepalive time lowered keeps the control connection', bounded(200), async (t) => {
  if (!requireMethod(t, 'ncftpput')) return;
  if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  // ncftpput sets SO_KEEPALIVE without an idle time of its own: the system's applies (2 hours by default).
  setSystemKeepaliveSeconds(1);
  // keepaliveSeconds keeps vmftp's own connections (listing, size, rename) alive meanwhile.
  assertUntouchedByRouter(await uploadThroughForgetfulRouter(t, 'ncftpput', { keepaliveSeconds: 1, timeoutSeconds: 4, retries: 0 }));
});

test('-u ncftpput with the system\'s keepalive time: the lost final reply is recovered by the size, nothing sent twice', bounded(200), async (t) => {
  if (!requireMethod(t, 'ncftpput')) return;
  if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  assertRecoveredBySize(t, await uploadThroughForgetfulRouter(t, 'ncftpput', { keepaliveSeconds: 3600, timeoutSeconds: 4, retries: 0 }));
});

test('-u curl without keepalive in time: the lost final reply is recovered by the size, nothing sent twice', bounded(200), async (t) => {
  if (!requireMethod(t, 'curl')) return;
  if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
  assertRecoveredBySize(t, await uploadThroughForgetfulRouter(t, 'curl', { keepaliveSeconds: 3600, timeoutSeconds: 4, retries: 0 }));
});
