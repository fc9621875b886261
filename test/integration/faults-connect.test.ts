/**
 * Fault class: the target cannot be reached, or refuses the login (invariant 8's second half: exit 4
 * naming the target, host:port and the server's reply, nothing changed there). A refused login, a
 * port with no server, a port where an SSH server answers, and a server that never greets. The
 * built CLI against ftp-srv and pure-ftpd on 127.0.0.1 (with the fault proxy), or a bare socket.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { markerCommand, output, runVmftp, writeConfig } from '../support/cli.js';
import { NEW_BART, OLD_BART, STAMP } from '../support/faults.js';
import { makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import { freePort as closedPort } from '../support/ports.js';
import { assertSafeFailure, snapshot } from '../support/safety.js';
import { editConfig, serverWrites, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;

for (const kind of SERVER_KINDS) {
  describe(`connect faults against ${kind.name}`, () => {
    test('a refused login (wrong credentials) exits 4 naming the target and the 530, and changes nothing', BOUNDED, async (t) => {
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
      assertSafeFailure(run, before, { code: 4, cause: /login on nas \(127\.0\.0\.1:\d+\)[^\n]*530/ });
      assert.deepEqual(readTree(server.root), serverBefore, 'nothing changed on the server');
      assert.deepEqual(serverWrites(proxy), []);
      assert.match(run.stderr, /targets\.nas\.user and its password/);
      assert.match(run.stdout, /^nas\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+login refused\s/m, 'the table says what happened: reached, and refused');
    });
  });
}

describe('connect faults: no FTP server behind the port', () => {
  test('ftp-srv: a port with no server is tried again (a NAS may be rebooting), then exits 4 naming host:port; nothing purged, no -x command run', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { local: NEW_BART, remote: OLD_BART, keep: 1 });
    const local = readTree(s.source);
    const remote = readTree(s.server.root);
    const port = await closedPort();
    editConfig(s, (config) => {
      const nas = (config.targets as Record<string, Record<string, unknown>>).nas!;
      nas.port = port;
      nas.retryDelaySeconds = 0.05;
    });

    const purge = await s.vmftp('-x');
    assert.equal(purge.code, 4, output(purge));
    assert.match(purge.stderr, new RegExp(`nas \\(127\\.0\\.0\\.1:${port}\\)[^\\n]*ECONNREFUSED`));
    // A server that stays away gets two retries, not all `retries`: the scheduled task ends soon. The log counts them so (README: "tried twice more").
    assert.deepEqual(purge.stderr.match(/(?<=nas: login failed [^\n]*; )retry \d of \d/g), ['retry 1 of 2', 'retry 2 of 2'], purge.stderr);
    assert.deepEqual(readTree(s.source), local, 'the local backups must not be touched');
    assert.deepEqual(readTree(s.server.root), remote);

    const marker = path.join(s.work, 'x-command-ran');
    const command = await s.vmftp('-x', markerCommand(marker));
    assert.equal(command.code, 4, output(command));
    assert.match(command.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.deepEqual(readTree(s.source), local);
    assert.deepEqual(readTree(s.server.root), remote);
    assert.ok(!existsSync(marker));
  });

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

  test('a server that accepts but never greets: the login times out (timeoutSeconds 1), exit 4 naming host:port, nothing touched', BOUNDED, async (t) => {
    const silent = net.createServer((socket) => socket.on('error', () => undefined));
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const port = (silent.address() as net.AddressInfo).port;
    const work = tmpDir('faults-silent', t);
    const source = path.join(work, 'source');
    makeBackupTree(source, NEW_BART);
    const { configPath, env } = await writeConfig(work, {
      source,
      targets: { nas: { host: '127.0.0.1', port, user: 'backup', password: 'unused-password', timeoutSeconds: 1 } },
    });
    const before = readTree(source);

    const run = await runVmftp(['-c', configPath, '-x'], { env, timeoutMs: 30_000 });
    assert.equal(run.code, 4, output(run));
    assert.match(run.stderr, new RegExp(`nas \\(127\\.0\\.0\\.1:${port}\\)[^\\n]*[Tt]imeout`));
    assert.deepEqual(readTree(source), before, 'the local backups must not be touched');
  });
});
