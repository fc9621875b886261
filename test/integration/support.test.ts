/**
 * Self-tests of the test infrastructure (test/support): real servers (ftp-srv, pure-ftpd) on
 * 127.0.0.1, the fault proxy in front of each, the fixtures. Client: basic-ftp.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Client, FTPError, enterPassiveModeIPv4 } from 'basic-ftp';
import { startFaultProxy, type FaultProxyHandle, type FaultRules } from '../support/fault-proxy.js';
import { copyFixture, makeBackupTree, pseudoRandomBytes, readTree, tmpDir } from '../support/fixtures.js';
import { startFtpSrv, type FtpServerHandle, type FtpServerKind } from '../support/ftp-srv.js';
import { pureFtpdAvailable, requireOrSkip, requirePureFtpd, startPureFtpd } from '../support/pure-ftpd.js';
import { bounded } from '../support/wait.js';

async function connect(target: { host: string; port: number }, server: FtpServerHandle, timeoutMs = 5000, password = server.password): Promise<Client> {
  const client = new Client(timeoutMs);
  try {
    await client.access({ host: target.host, port: target.port, user: server.user, password });
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

function put(client: Client, data: Buffer, name: string) {
  return client.uploadFrom(Readable.from([data]), name);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error, `rejected with a non-Error: ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Size of a remote file through a fresh direct connection, polled until it equals `expected` (max 3 s). */
async function remoteSizeEventually(server: FtpServerHandle, name: string, expected: number): Promise<number> {
  const client = await connect(server, server);
  try {
    let size = -1;
    for (const deadline = Date.now() + 3000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      size = await client.size(name).catch(() => -1);
      if (size === expected) break;
    }
    return size;
  } finally {
    client.close();
  }
}

const KINDS: FtpServerKind[] = ['ftp-srv', 'pure-ftpd'];

for (const kind of KINDS) {
  describe(`${kind}`, () => {
    let server: FtpServerHandle | undefined;
    after(() => server?.stop());
    const root = tmpDir(`support-${kind}`);

    before(async () => {
      if (kind === 'pure-ftpd' && !pureFtpdAvailable()) return; // each test skips (or fails under CI)
      server = kind === 'ftp-srv' ? await startFtpSrv({ root }) : await startPureFtpd({ root });
    });

    /** The server, or undefined when this test was skipped. */
    const need = (t: TestContext): FtpServerHandle | undefined => {
      if (kind === 'pure-ftpd' && !requirePureFtpd(t)) return undefined;
      assert.ok(server, 'server did not start');
      return server;
    };
    /** A proxy in front of the server for this test, stopped after it. */
    const proxyFor = async (t: TestContext, srv: FtpServerHandle, rules: FaultRules): Promise<FaultProxyHandle> => {
      const proxy = await startFaultProxy(srv, rules);
      t.after(() => proxy.stop());
      return proxy;
    };

    test('upload, list, size and download a backup tree', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      assert.equal(srv.kind, kind);
      assert.equal(srv.host, '127.0.0.1');
      const data = pseudoRandomBytes(200_000, 'roundtrip');
      const client = await connect(srv, srv);
      t.after(() => client.close());
      await client.ensureDir('/roundtrip/Bart/2012-08-18-154137');
      await put(client, data, 'disk1.vmdk');
      await put(client, Buffer.from('hello\n'), 'vm.ovf');
      assert.equal(await client.size('disk1.vmdk'), 200_000);
      const names = (await client.list()).map((f) => `${f.name}:${f.size}`).sort();
      assert.deepEqual(names, ['disk1.vmdk:200000', 'vm.ovf:6']);
      const chunks: Buffer[] = [];
      const { Writable } = await import('node:stream');
      await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }), 'disk1.vmdk');
      assert.ok(Buffer.concat(chunks).equals(data));
      const local = readTree(path.join(srv.root, 'roundtrip'));
      assert.deepEqual(Object.keys(local), ['Bart/2012-08-18-154137/disk1.vmdk', 'Bart/2012-08-18-154137/vm.ovf']);
      assert.ok(local['Bart/2012-08-18-154137/disk1.vmdk']?.equals(data));
    });

    test('wrong password is rejected with 530', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      // pure-ftpd delays every failed login by ~3.5-4 s (hard-coded anti brute force): allow for it.
      const err = await rejection(connect(srv, srv, 15_000, 'wrong-password'));
      assert.ok(err instanceof FTPError, String(err));
      assert.equal(err.code, 530);
    });

    test('cutUpload: client errors, remote file is cut at afterBytes, the next try succeeds', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { cutUpload: { match: 'cut.bin', afterBytes: 100_000 } });
      const data = pseudoRandomBytes(300_000, 'cut');
      const c1 = await connect(proxy, srv);
      t.after(() => c1.close());
      await c1.ensureDir('/cut');
      await put(c1, Buffer.from('small'), 'other.bin'); // no match: untouched
      const err = await rejection(put(c1, data, 'cut.bin'));
      assert.ok(!(err instanceof FTPError), `expected a connection error, got ${String(err)}`);
      t.diagnostic(`basic-ftp on cut: ${err.message.split('\n')[0]} (code ${(err as NodeJS.ErrnoException).code})`);
      assert.ok(c1.closed, 'client is closed after a cut');
      assert.equal(await remoteSizeEventually(srv, '/cut/cut.bin', 100_000), 100_000);

      const c2 = await connect(proxy, srv);
      t.after(() => c2.close());
      await put(c2, data, '/cut/cut.bin'); // times: 1 -> this one goes through
      assert.equal(await c2.size('/cut/cut.bin'), 300_000);
      assert.ok(readTree(path.join(srv.root, 'cut'))['cut.bin']?.equals(data));
      assert.ok(proxy.log.includes('STOR cut.bin'));
      assert.ok(proxy.log.includes('EPSV'), 'basic-ftp tries EPSV first');
    });

    test('cutUpload through PASV (227 rewritten)', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { cutUpload: { match: /pasv\.bin$/, afterBytes: 1000 } });
      const client = await connect(proxy, srv);
      t.after(() => client.close());
      client.prepareTransfer = enterPassiveModeIPv4;
      await client.ensureDir('/pasv');
      await rejection(put(client, pseudoRandomBytes(50_000, 'pasv'), 'pasv.bin'));
      assert.equal(await remoteSizeEventually(srv, '/pasv/pasv.bin', 1000), 1000);
      assert.ok(proxy.log.includes('PASV') && !proxy.log.includes('EPSV'));
    });

    test('replyToUpload 552 after N bytes: FTPError 552, partial file, client still usable', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { replyToUpload: { match: 'full.bin', code: 552, text: 'Disk full', afterBytes: 50_000 } });
      const data = pseudoRandomBytes(200_000, 'full');
      const client = await connect(proxy, srv);
      t.after(() => client.close());
      await client.ensureDir('/full');
      const err = await rejection(put(client, data, 'full.bin'));
      assert.ok(err instanceof FTPError, String(err));
      assert.equal(err.code, 552);
      assert.match(err.message, /Disk full/);
      assert.equal(client.closed, false);
      assert.equal(await client.size('full.bin'), 50_000); // server kept what it got
      await put(client, data, 'full.bin'); // times exhausted: same client, same session
      assert.equal(await client.size('full.bin'), 200_000);
      assert.deepEqual((await client.list()).map((f) => f.name), ['full.bin']);
    });

    test('replyToUpload 452 before the first byte', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { replyToUpload: { code: 452, text: 'Insufficient storage space' } });
      const client = await connect(proxy, srv);
      t.after(() => client.close());
      await client.ensureDir('/r452');
      const err = await rejection(put(client, pseudoRandomBytes(10_000, '452'), 'a.bin'));
      assert.ok(err instanceof FTPError && err.code === 452, String(err));
      await put(client, Buffer.from('ok'), 'b.bin');
      assert.equal(await client.size('b.bin'), 2);
    });

    test('replyToCommand 553 on RNTO', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { replyToCommand: { command: 'RNTO', code: 553, text: 'Rename refused' } });
      const client = await connect(proxy, srv);
      t.after(() => client.close());
      await client.ensureDir('/rnto');
      await put(client, Buffer.from('x'), 'a.txt');
      const err = await rejection(client.rename('a.txt', 'b.txt'));
      assert.ok(err instanceof FTPError && err.code === 553, String(err));
      assert.deepEqual((await client.list()).map((f) => f.name), ['a.txt']);
      await client.rename('a.txt', 'b.txt');
      assert.deepEqual((await client.list()).map((f) => f.name), ['b.txt']);
    });

    test('replyToCommand 550 on DELE of a matching file only', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, {
        replyToCommand: [{ command: 'dele', match: 'keep.txt', code: 550, text: 'Permission denied', times: 5 }],
      });
      const client = await connect(proxy, srv);
      t.after(() => client.close());
      await client.ensureDir('/dele');
      await put(client, Buffer.from('1'), 'keep.txt');
      await put(client, Buffer.from('2'), 'other.txt');
      const err = await rejection(client.remove('keep.txt'));
      assert.ok(err instanceof FTPError && err.code === 550, String(err));
      await client.remove('other.txt');
      assert.deepEqual((await client.list()).map((f) => f.name), ['keep.txt']);
    });

    test('refuseConnectionNumber: the 2nd connection gets 421', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { refuseConnectionNumber: 2 });
      const c1 = await connect(proxy, srv);
      t.after(() => c1.close());
      const err = await rejection(connect(proxy, srv));
      assert.ok(err instanceof FTPError && err.code === 421, String(err));
      const c3 = await connect(proxy, srv);
      t.after(() => c3.close());
      await c1.pwd();
      await c3.pwd();
      assert.equal(proxy.connections, 3);
    });

    test('stallUpload: a client with a 1 s timeout fails', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { stallUpload: { match: 'slow.bin', afterBytes: 10_000 } });
      const client = await connect(proxy, srv, 1000);
      t.after(() => client.close());
      await client.ensureDir('/stall');
      const started = Date.now();
      const err = await rejection(put(client, pseudoRandomBytes(100_000, 'slow'), 'slow.bin'));
      const elapsed = Date.now() - started;
      t.diagnostic(`basic-ftp on stall: ${err.message.split('\n')[0]} after ${elapsed} ms`);
      assert.match(err.message, /Timeout/);
      assert.ok(elapsed < 5000, `took ${elapsed} ms`);
      await proxy.stop();
    });

    test('roundTripMs: every command waits a round trip, and an upload arrives whole through the delayed data connection', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await proxyFor(t, srv, { roundTripMs: 200 });
      const client = await connect(proxy, srv);
      t.after(() => client.close());
      const started = Date.now();
      await client.pwd();
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 200, `PWD answered after ${elapsed} ms through a 200 ms round trip`);
      const data = pseudoRandomBytes(300_000, 'round-trip');
      await put(client, data, 'delayed.bin');
      assert.equal(await client.size('delayed.bin'), data.length);
      assert.ok(readTree(srv.root)['delayed.bin']?.equals(data), 'the delayed upload differs from what was sent');
    });

    test('proxy log masks the password; stop() closes everything', bounded(20), async (t) => {
      const srv = need(t);
      if (!srv) return;
      const proxy = await startFaultProxy(srv, {});
      const client = await connect(proxy, srv);
      await client.pwd();
      assert.ok(proxy.log.includes('PASS ****'));
      assert.ok(!proxy.log.join('\n').includes(srv.password));
      await proxy.stop();
      await assert.rejects(client.pwd()); // the proxy closed the client's connection
      client.close();
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect({ host: proxy.host, port: proxy.port });
        s.on('connect', () => (s.destroy(), resolve('connected')));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
      assert.equal(refused, 'ECONNREFUSED');
    });
  });
}

describe('fixtures', () => {
  test('makeBackupTree / readTree round trip, deterministic random content', (t) => {
    const a = tmpDir('fx-a', t);
    const b = tmpDir('fx-b', t);
    const spec = {
      'Bart/2012-08-18-154137': { 'disk1.vmdk': 1001, 'sub/notes.txt': 'hi', 'raw.bin': Buffer.from([1, 2, 3]) },
      'Raoul/2012-07-13-154137': {},
    };
    assert.deepEqual(makeBackupTree(a, spec), [
      'Bart/2012-08-18-154137/disk1.vmdk',
      'Bart/2012-08-18-154137/sub/notes.txt',
      'Bart/2012-08-18-154137/raw.bin',
    ]);
    makeBackupTree(b, spec);
    const tree = readTree(a);
    assert.deepEqual(Object.keys(tree), [
      'Bart/2012-08-18-154137/disk1.vmdk',
      'Bart/2012-08-18-154137/raw.bin',
      'Bart/2012-08-18-154137/sub/notes.txt',
    ]);
    assert.equal(tree['Bart/2012-08-18-154137/disk1.vmdk']?.length, 1001);
    assert.deepEqual(readTree(b), tree);
    assert.ok(existsSync(path.join(a, 'Raoul/2012-07-13-154137')));
    assert.ok(!pseudoRandomBytes(64, 'x').equals(pseudoRandomBytes(64, 'y')));
    assert.throws(() => makeBackupTree(a, { '../escape': { f: 'x' } }), /relative/);
  });

  test('copyFixture VMbackupFolder', (t) => {
    const dir = copyFixture('VMbackupFolder', tmpDir('fx-vm', t));
    assert.deepEqual(Object.keys(readTree(dir)), [
      'Bart/2000-08-28-154138/sample.txt',
      'Bart/2012-08-18-154137/sample.txt',
      'Raoul/2012-07-13-154137/samplefile.txt',
    ]);
  });

  test('requireOrSkip: skips outside CI, fails under CI=true', () => {
    const saved = process.env.CI;
    try {
      const skipped: string[] = [];
      const fake = { skip: (m?: string) => void skipped.push(m ?? '') };
      delete process.env.CI;
      assert.equal(requireOrSkip(fake, true, 'x'), true);
      assert.equal(requireOrSkip(fake, false, 'curl'), false);
      assert.match(skipped[0] ?? '', /curl/);
      process.env.CI = 'true';
      assert.throws(() => requireOrSkip(fake, false, 'curl'), /CI=true.*curl/);
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });
});
