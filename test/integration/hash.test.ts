/**
 * `verify: 'hash'` against proftpd with mod_digest (HASH, XSHA256, XSHA512, XSHA1, XMD5, XCRC) on
 * 127.0.0.1, through the fault proxy: a bit flipped on the way (no size check can see it) is
 * caught before the rename, the server's copy is removed and sent again from byte 0, and the run
 * ends with the backup byte-identical under its final name. The proxy hides FEAT lines to play
 * servers that offer only the older X commands, or no digest at all.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { output, type CliResult } from '../support/cli.js';
import type { FaultRules } from '../support/fault-proxy.js';
import { pseudoRandomBytes, readTree, type TreeSpec } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { assertNoIncompleteFinal, snapshot } from '../support/safety.js';
import { openSession, setUpScenario, type Scenario } from '../support/scenario.js';
import { COMPAT_SERVER_KINDS, SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const STAMP = '2013-01-01-000000';
const DISK = 'disk1.vmdk';
const DISK_BYTES = 300_000;
const NEW_BART: TreeSpec = { [`Bart/${STAMP}`]: { [DISK]: pseudoRandomBytes(DISK_BYTES, 'hash'), 'vm.ovf': '<vm name="Bart"/>' } };
const FAST_RETRIES = { retries: 3, retryDelaySeconds: 0.05 };
/** The byte the proxy flips: in the middle of the disk, so sizes still match. */
const FLIPPED_AT = 123_457;

/** proftpd (mod_digest: HASH, XSHA256 ...) as the scenario server. */
const PROFTPD = COMPAT_SERVER_KINDS.find((kind) => kind.name === 'proftpd')!;

function hashScenario(t: TestContext, rules: FaultRules, verify: 'hash' | 'size' = 'hash', kind = PROFTPD, remote?: TreeSpec): Promise<Scenario> {
  return setUpScenario(t, kind, { local: NEW_BART, rules, keep: 3, targetFields: { ...FAST_RETRIES, verify }, ...(remote === undefined ? {} : { remote }) });
}

/** Exit 0, and the server holds exactly the local backup under its final name. */
function assertUploadedIntact(run: CliResult, s: Scenario): void {
  assert.equal(run.code, 0, output(run));
  assertNoIncompleteFinal(s.remoteRoot, s.source);
  assert.deepEqual(readTree(s.remoteRoot), readTree(s.source));
}

/** Commands of one kind, for one file, from the proxy's log. */
function commandsFor(s: Scenario, verb: RegExp, file = DISK): string[] {
  return s.proxy.log.filter((line) => verb.test(line.split(' ')[0] ?? '') && line.endsWith(`/${file}`));
}

describe('verify: hash against proftpd (mod_digest)', () => {
  test('each file is compared with HASH SHA-256 before the rename', BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const s = await hashScenario(t, {});
    const run = await s.vmftp('-v', 'debug');
    assertUploadedIntact(run, s);
    assert.ok(s.proxy.log.includes('OPTS HASH SHA-256'), s.proxy.log.join('\n'));
    for (const file of [DISK, 'vm.ovf']) {
      const hash = s.proxy.log.indexOf(`HASH /backups/Bart/${STAMP}.partial/${file}`);
      assert.ok(hash >= 0, `HASH of ${file} sent`);
      assert.ok(hash < s.proxy.log.findIndex((line) => line.startsWith('RNTO')), 'compared before the rename');
    }
    assert.match(output(run), /nas: files are verified with HASH \(SHA-256\)/);
  });

  test('a bit flipped on the way is caught: the copy is removed, sent again from byte 0, and the run completes', BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const s = await hashScenario(t, { corruptUpload: { match: DISK, afterBytes: FLIPPED_AT } });
    const run = await s.vmftp();
    assertUploadedIntact(run, s);
    assert.match(output(run), new RegExp(`verify failed: /backups/Bart/${STAMP}\\.partial/${DISK} has SHA-256 [0-9a-f]{64} on the server, [0-9a-f]{64} locally`));
    assert.equal(commandsFor(s, /^DELE$/).length, 1, `the bad copy is removed:\n${s.proxy.log.join("\n")}`);
    assert.equal(commandsFor(s, /^STOR$/).length, 2, 'and sent again from the first byte');
    assert.equal(commandsFor(s, /^APPE$/).length, 0, 'never appended to');
  });

  test('the same flipped bit with verify: size goes unnoticed (why hash exists)', BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const s = await hashScenario(t, { corruptUpload: { match: DISK, afterBytes: FLIPPED_AT } }, 'size');
    const run = await s.vmftp();
    assert.equal(run.code, 0, output(run));
    const remote = readTree(s.remoteRoot)[`Bart/${STAMP}/${DISK}`];
    const local = readTree(s.source)[`Bart/${STAMP}/${DISK}`];
    assert.equal(remote?.length, local?.length);
    assert.notDeepEqual(remote, local);
  });

  test("a file replaced under the same path, size and time: the session asks again on a new connection, past proftpd's per-connection digest cache", BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const s = await setUpScenario(t, PROFTPD, { remote: { [`Bart/${STAMP}`]: { 'vm.ovf': 'aaaa' } } });
    const session = await openSession(t, s);
    const method = await session.remoteHashMethod();
    assert.deepEqual(method, { command: 'HASH', algorithm: 'SHA-256' });
    const remoteFile = `/backups/Bart/${STAMP}/vm.ovf`;
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    assert.equal(await session.remoteHash(remoteFile, method, 4), sha256('aaaa'));

    // A copy sent again behind the server's back, as ncftpput leaves it: same size, same modification time.
    const onDisk = path.join(s.remoteRoot, 'Bart', STAMP, 'vm.ovf');
    const { mtime } = statSync(onDisk);
    writeFileSync(onDisk, 'bbbb');
    utimesSync(onDisk, mtime, mtime);
    const connectionsBefore = s.proxy.connections;
    assert.equal(await session.remoteHash(remoteFile, method, 4), sha256('bbbb'));
    assert.equal(s.proxy.connections, connectionsBefore + 1, 'asked on a new connection');
  });

  test('a stale .partial with a bad byte in the part already sent: resumed, caught, sent again whole', BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const disk = NEW_BART[`Bart/${STAMP}`]![DISK] as Buffer;
    const stale = Buffer.from(disk.subarray(0, DISK_BYTES / 2));
    stale[1000] = (stale[1000] ?? 0) ^ 0x01;
    const s = await hashScenario(t, {}, 'hash', PROFTPD, { [`Bart/${STAMP}.partial`]: { [DISK]: stale } });
    const run = await s.vmftp();
    assertUploadedIntact(run, s);
    assert.equal(commandsFor(s, /^APPE$/).length, 1, 'the stale part was resumed first');
    assert.equal(commandsFor(s, /^DELE$/).length, 1);
    assert.equal(commandsFor(s, /^STOR$/).length, 1, 'then sent again whole');
  });

  for (const [hidden, command, algorithm] of [
    [['HASH'], 'XSHA256', 'SHA-256'],
    [['HASH', 'XSHA256', 'XSHA512', 'XSHA1', 'XSHA'], 'XMD5', 'MD5'],
    [['HASH', 'XSHA256', 'XSHA512', 'XSHA1', 'XSHA', 'XMD5', 'MD5'], 'XCRC', 'CRC32'],
  ] as const) {
    test(`a server offering ${command} and nothing stronger: ${algorithm} catches the flipped bit`, BOUNDED, async (t) => {
      if (!PROFTPD.usable(t)) return;
      const s = await hashScenario(t, { hideFeatures: [...hidden], corruptUpload: { match: DISK, afterBytes: FLIPPED_AT } });
      const run = await s.vmftp();
      assertUploadedIntact(run, s);
      assert.ok(commandsFor(s, new RegExp(`^${command}$`)).length >= 2, `${command} asked for the bad and the good copy`);
      assert.equal(commandsFor(s, /^HASH$/).length, 0);
      assert.match(output(run), new RegExp(`has ${algorithm} [0-9a-f]+ on the server`));
    });
  }

  test('a server refusing HASH for a file (550): checked by size, with a warning naming the file', BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const s = await hashScenario(t, { replyToCommand: { command: 'HASH', match: DISK, code: 550, text: 'File too large to hash' } });
    const run = await s.vmftp();
    assertUploadedIntact(run, s);
    assert.match(output(run), new RegExp(`the server gave no SHA-256 digest of /backups/Bart/${STAMP}\\.partial/${DISK} \\(HASH\\): checked by size only`));
  });

  for (const method of ['curl', 'ncftpput'] as const) {
    test(`-u ${method}: the digest is taken while ${method} reads the file, and catches the flipped bit`, BOUNDED, async (t) => {
      if (!PROFTPD.usable(t) || !requireMethod(t, method)) return;
      const s = await hashScenario(t, { corruptUpload: { match: DISK, afterBytes: FLIPPED_AT } });
      const run = await s.vmftp('-u', method);
      assertUploadedIntact(run, s);
      assert.match(output(run), /verify failed: [^\n]* has SHA-256 /);
    });
  }
});

describe('verify: hash against servers without digests', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: sizes are checked, with one warning, and the run completes`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await hashScenario(t, {}, 'hash', kind);
      const before = snapshot(s.source, s.remoteRoot);
      const run = await s.vmftp();
      assertUploadedIntact(run, s);
      assert.deepEqual(readTree(s.source), before.local);
      assert.equal(output(run).match(/offers no file digest [^\n]*verify 'hash' checks sizes only/g)?.length, 1, output(run));
      assert.ok(!s.proxy.log.some((line) => /^(HASH|XSHA256|XMD5|XCRC)\b/.test(line)));
    });
  }
});

describe('vmftp check with verify: hash', () => {
  test("proftpd: the probe file's digest is compared, and check says with what", BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const s = await hashScenario(t, {});
    const run = await s.vmftp('check');
    assert.equal(run.code, 0, output(run));
    assert.match(output(run), /check nas: OK \([^\n]*compared SHA-256 with HASH/);
    assert.ok(s.proxy.log.some((line) => /^HASH \/backups\/\.vmftp-check-[0-9a-f]{8}\/probe\.txt$/.test(line)), s.proxy.log.join('\n'));
  });

  test('proftpd answering a wrong digest: check fails and says how to go on', BOUNDED, async (t) => {
    if (!PROFTPD.usable(t)) return;
    const wrong = '0'.repeat(64);
    const s = await hashScenario(t, { replyToCommand: { command: 'HASH', code: 213, text: `SHA-256 0-62 ${wrong} probe.txt` } });
    const run = await s.vmftp('check');
    assert.equal(run.code, 4, output(run));
    assert.match(output(run), new RegExp(`HASH of [^\n]*probe\.txt answered ${wrong}, [0-9a-f]{64} expected[^\n]*verify to 'size'`));
  });

  test('ftp-srv (no digests): check passes with a warning that sizes are checked', BOUNDED, async (t) => {
    const s = await hashScenario(t, {}, 'hash', SERVER_KINDS[0]);
    const run = await s.vmftp('check');
    assert.equal(run.code, 0, output(run));
    assert.match(output(run), /check nas: the server offers no file digest[^\n]*sizes only/);
  });
});
