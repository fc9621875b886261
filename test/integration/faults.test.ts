/**
 * Issue 2's safety guarantees under real faults: the built CLI against ftp-srv and pure-ftpd on
 * 127.0.0.1, with the fault proxy (test/support/fault-proxy.ts) between them cutting connections,
 * answering 552/452/553 and refusing logins. Every failure scenario is judged on the disks
 * (test/support/safety.ts): old backups intact, nothing incomplete under a final name, the local
 * folder not purged, a non-zero exit code and a message naming the cause.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runVmftp, writeConfig } from '../support/cli.js';
import { makeBackupTree, readTree, tmpDir, type TreeSpec } from '../support/fixtures.js';
import { assertSafeFailure, remoteEntries, snapshot } from '../support/safety.js';
import { serverWrites, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { waitFor } from '../support/wait.js';
import { freePort as closedPort } from '../support/ports.js';

const BOUNDED = { timeout: 60_000 };
const STAMP = '2012-08-18-154137';
const OLD_STAMPS = ['2012-05-01-000000', '2012-06-01-000000', '2012-07-01-000000'];
/** Big enough that a cut at CUT_AT lands mid-file, whatever the socket buffers. */
const DISK_BYTES = 400_000;
const CUT_AT = 150_000;

/** Three old complete Bart backups, as an earlier run left them. */
const OLD_BART: TreeSpec = Object.fromEntries(OLD_STAMPS.map((stamp) => [`Bart/${stamp}`, { 'vm.ovf': `<old ${stamp}/>` }]));

interface Report {
  readonly exitCode: number;
  readonly targets: readonly {
    readonly actions: readonly { vm: string; stamp: string; action: string; status: string; bytes: number }[];
  }[];
}

function parseReport(stdout: string): Report {
  return (JSON.parse(stdout) as { report: Report }).report;
}


for (const kind of SERVER_KINDS) {
  describe(`faults against ${kind.name}`, () => {
    test('a connection cut mid-file fails that backup only, purges nothing; the next run resumes it byte-identical', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: {
          [`Bart/${STAMP}`]: { 'disk1.vmdk': DISK_BYTES, 'vm.ovf': '<vm name="Bart"/>' },
          'Raoul/2012-07-13-154137': { 'disk.vmdk': 20_000 },
        },
        remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' }, 'Bart/2012-06-01-000000': { 'vm.ovf': '<older/>' } },
        rules: { cutUpload: { match: 'disk1.vmdk', afterBytes: CUT_AT } },
        // No retry in this run: the next run's resume is what this test shows (fault-suite.test.ts: the same run).
        targetFields: { retries: 0 },
      });
      const before = snapshot(source, remoteRoot);

      const cut = await vmftp('-x');
      assertSafeFailure(cut, before, { source, remoteRoot, code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*disk1\\.vmdk`) });
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), ['2012-06-01-000000', '2012-07-01-000000', `${STAMP}.partial`]);
      assert.match(cut.stdout + cut.stderr, /-x: not run/);
      // One cut costs the transfer it hit, not the rest of the run: Raoul went up over a new connection.
      assert.deepEqual(readTree(path.join(remoteRoot, 'Raoul', '2012-07-13-154137')), readTree(path.join(source, 'Raoul', '2012-07-13-154137')));

      // The server keeps what it received before the cut; let it finish writing before the next night's run.
      const partialDisk = path.join(remoteRoot, 'Bart', `${STAMP}.partial`, 'disk1.vmdk');
      await waitFor(() => existsSync(partialDisk) && statSync(partialDisk).size === CUT_AT, `the server to hold ${CUT_AT} bytes of disk1.vmdk`);

      proxy.setRules({});
      const logStart = proxy.log.length;
      const next = await vmftp('--json');
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(readTree(remoteRoot), { ...readTree(source), 'Bart/2012-06-01-000000/vm.ovf': Buffer.from('<older/>'), 'Bart/2012-07-01-000000/vm.ovf': Buffer.from('<old/>') });
      const resumed = proxy.log.slice(logStart).filter((line) => line.startsWith('APPE'));
      assert.deepEqual(resumed, [`APPE /backups/Bart/${STAMP}.partial/disk1.vmdk`], 'the cut file is resumed with APPE');
      const action = parseReport(next.stdout).targets[0]!.actions.find((candidate) => candidate.vm === 'Bart' && candidate.stamp === STAMP);
      assert.equal(action?.action, 'resume');
      // vm.ovf went up beside disk1.vmdk in the first run (files of a backup upload in parallel).
      assert.equal(action?.bytes, DISK_BYTES - CUT_AT, 'only the bytes after the cut are sent again');
    });

    for (const [code, text] of [
      [552, 'Disk full'],
      [452, 'Insufficient storage space'],
    ] as const) {
      test(`a ${code} reply to the upload keeps all 3 old backups (keep 3), purges nothing; the next run rotates`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
          local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 30_000, 'vm.ovf': '<vm/>' } },
          remote: OLD_BART,
          keep: 3,
          rules: { replyToUpload: { match: 'disk1.vmdk', code, text, afterBytes: 10_000 } },
        });
        const before = snapshot(source, remoteRoot);

        const full = await vmftp('-x');
        assertSafeFailure(full, before, { source, remoteRoot, code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*${code} ${text}`) });
        assert.deepEqual(
          remoteEntries(remoteRoot, 'Bart'),
          [...OLD_STAMPS, `${STAMP}.partial`],
          'the delete phase deletes nothing: the new backup is not on the server',
        );
        assert.ok(!serverWrites(proxy).some((line) => /^(RMD|DELE)/.test(line)), `nothing deleted: ${serverWrites(proxy).join(', ')}`);

        proxy.setRules({});
        const next = await vmftp();
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
        assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', STAMP)), readTree(path.join(source, 'Bart', STAMP)));
      });
    }

    test('a refused login exits 4 naming the target and the 530, and changes nothing', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { source, server, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
        remote: OLD_BART,
        keep: 1,
        serverPassword: 'the-right-password',
        configPassword: 'a-wrong-password',
      });
      const before = snapshot(source, remoteRoot);
      const serverBefore = readTree(server.root);

      const run = await vmftp('-x');
      assertSafeFailure(run, before, { source, remoteRoot, code: 4, cause: /login on nas \(127\.0\.0\.1:\d+\)[^\n]*530/ });
      assert.deepEqual(readTree(server.root), serverBefore, 'nothing changed on the server');
      assert.deepEqual(serverWrites(proxy), []);
      assert.match(run.stderr, /targets\.nas\.user and its password/);
      assert.match(run.stdout, /^nas\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+login refused\s/m, 'the table says what happened: reached, and refused');
    });

    test('a port with no server is tried again (a NAS may be rebooting), then exits 4 naming host:port', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const work = tmpDir(`faults-closed-${kind.name}`, t);
      const source = path.join(work, 'source');
      makeBackupTree(source, { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } });
      const port = await closedPort();
      const { configPath, env } = await writeConfig(work, {
        source,
        targets: { nas: { host: '127.0.0.1', port, user: 'backup', password: 'unused-password', retryDelaySeconds: 0.05 } },
      });
      const before = readTree(source);

      const run = await runVmftp(['-c', configPath, '-x'], { env, timeoutMs: 45_000 });
      assert.equal(run.code, 4, run.stderr);
      assert.match(run.stderr, new RegExp(`nas \\(127\\.0\\.0\\.1:${port}\\)[^\\n]*ECONNREFUSED`));
      // A server that stays away gets two retries, not all `retries`: the scheduled task ends soon. The log counts them so (README: "tried twice more").
      assert.deepEqual(run.stderr.match(/(?<=nas: login failed [^\n]*; )retry \d of \d/g), ['retry 1 of 2', 'retry 2 of 2'], run.stderr);
      assert.deepEqual(readTree(source), before, 'the local backups must not be touched');
    });

    test('a 553 on the first rename fails the backup, leaves no final-named folder; the next run completes', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 30_000, 'vm.ovf': '<vm/>' } },
        rules: { replyToCommand: { command: 'RNTO', code: 553, text: 'Rename refused' } },
      });
      const before = snapshot(source, remoteRoot);

      const refused = await vmftp('-x');
      assertSafeFailure(refused, before, { source, remoteRoot, code: 1, cause: new RegExp(`Bart/${STAMP}[^\\n]*553 Rename refused`) });
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [`${STAMP}.partial`]);
      assert.ok(proxy.log.includes(`RNTO /backups/Bart/${STAMP}`), 'the rename was tried');

      const next = await vmftp();
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(readTree(remoteRoot), readTree(source));
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [STAMP]);
    });

    test('a delete refused halfway (550) leaves no incomplete backup under its final name; the next run finishes it', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const oldest = `Bart/${OLD_STAMPS[0]}`;
      // The server refuses to remove the sub-folder, after its file is gone: the delete stops halfway.
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
        remote: { ...OLD_BART, [oldest]: { 'vm.ovf': '<oldest/>', 'disk/disk1.vmdk': 'oldest disk' } },
        keep: 3,
        rules: { replyToCommand: { command: 'RMD', match: /(^|\/)disk$/, code: 550, text: 'Permission denied' } },
      });
      const before = snapshot(source, remoteRoot);

      const refused = await vmftp('-x');
      assertSafeFailure(refused, before, {
        source,
        remoteRoot,
        code: 1,
        cause: new RegExp(`${oldest}[^\\n]*550 Permission denied`),
        deletedOnPurpose: [oldest],
      });
      assert.ok(proxy.log.includes('DELE disk1.vmdk'), `the delete got halfway: ${proxy.log.join(' | ')}`);
      assert.ok(!remoteEntries(remoteRoot, 'Bart').includes(OLD_STAMPS[0]!), 'a half-deleted backup must not keep its final name');
      assert.deepEqual(readTree(path.join(remoteRoot, 'Bart', STAMP)), readTree(path.join(source, 'Bart', STAMP)));

      const next = await vmftp();
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [...OLD_STAMPS.slice(1), STAMP]);
    });

    test('a stale incomplete final-named folder is re-sent into .partial, then replaced', BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      // The old Python tool uploaded straight into the final name: a cut left a folder missing a file.
      const { source, proxy, remoteRoot, vmftp } = await setUpScenario(t, kind, {
        local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 30_000, 'vm.ovf': '<vm/>' } },
        remote: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
      });

      const run = await vmftp();
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(readTree(remoteRoot), readTree(source));
      assert.deepEqual(remoteEntries(remoteRoot, 'Bart'), [STAMP]);
      const log = proxy.log;
      const lastStor = log.map((line) => line.startsWith(`STOR /backups/Bart/${STAMP}.partial/`)).lastIndexOf(true);
      const staleRemoved = log.indexOf(`RMD /backups/Bart/${STAMP}`);
      const rename = log.indexOf(`RNTO /backups/Bart/${STAMP}`);
      assert.ok(lastStor >= 0, `sent into ${STAMP}.partial: ${log.join(' | ')}`);
      assert.ok(staleRemoved > lastStor, `the stale folder is removed only after the new copy is complete: ${log.join(' | ')}`);
      assert.ok(rename > staleRemoved, `then renamed: ${log.join(' | ')}`);
      // Sent again from the first byte: the summary says re-sent (uploaded 0, resumed 0, re-sent 1), not resumed.
      assert.match(run.stdout, /^nas\s+Bart\s+0\s+0\s+1\s/m);
    });
  });
}

describe('faults without an FTP server behind the port', () => {
  // Implicit TLS cannot read the greeting: the SSH line ends the handshake ("wrong version number"), and one plain look tells.
  for (const [secure, connections] of [[false, 1], ['implicit', 2]] as const) {
    test(`a port where an SSH server answers fails at once (secure: ${String(secure)}), without a login timeout or a retry, exit 4 naming the mix-up`, BOUNDED, async (t) => {
      const work = tmpDir('faults-ssh', t);
      const source = path.join(work, 'source');
      makeBackupTree(source, { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } });
      // What an SFTP-only NAS or port 22 says first: its version line (RFC 4253, 4.2), then it waits for the client's.
      const sockets: net.Socket[] = [];
      const ssh = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
      });
      await new Promise<void>((resolve) => ssh.listen(0, '127.0.0.1', resolve));
      t.after(() => {
        for (const socket of sockets) socket.destroy();
        ssh.close();
      });
      const port = (ssh.address() as net.AddressInfo).port;
      const { configPath, env } = await writeConfig(work, {
        source,
        // Without the check, each of the 3 attempts (2 retries of a server that does not answer) waits this long.
        targets: { nas: { host: '127.0.0.1', port, secure, user: 'backup', password: 'unused-password', timeoutSeconds: 20, retryDelaySeconds: 0.05 } },
      });
      const before = readTree(source);

      const startedAt = Date.now();
      const run = await runVmftp(['-c', configPath], { env, timeoutMs: 45_000 });
      assert.equal(run.code, 4, run.stderr);
      assert.ok(Date.now() - startedAt < 15_000, 'no login timeout was waited for');
      assert.equal(sockets.length, connections, 'not retried: waiting does not turn SSH into FTP');
      assert.match(run.stderr, new RegExp(`nas \\(127\\.0\\.0\\.1:${port}\\)[^\\n]*this is an SSH \\(SFTP\\) server; vmftp speaks FTP/FTPS`));
      assert.match(run.stderr, /set targets\.nas\.port to the server's FTP port/);
      assert.doesNotMatch(run.stderr, /retry \d of/);
      assert.deepEqual(readTree(source), before, 'the local backups must not be touched');
    });
  }
});
