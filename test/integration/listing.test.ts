/**
 * Listing folders with `STAT <dir>` (src/ftp/listing.ts, FtpSession.list 'fast', used by -d): on
 * every server kind, a tree of awkward names reads the same through STAT as through MLSD/LIST, the
 * inventory plans the same run, and a missing folder is never an empty one.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TargetConfig } from '../../src/config/types.js';
import type { PlanSettings } from '../../src/core/model.js';
import { planRun } from '../../src/core/plan.js';
import { FtpSession } from '../../src/ftp/session.js';
import { takeInventory } from '../../src/facts/inventory.js';
import { scanSource } from '../../src/facts/scan.js';
import type { CliResult } from '../support/cli.js';
import { makeBackupTree, tmpDir, type TreeSpec } from '../support/fixtures.js';
import { startFaultProxy, type FaultRules } from '../support/fault-proxy.js';
import { chownToFtpUser } from '../support/pure-ftpd.js';
import { parseDisplay, type DisplayJson } from '../support/report.js';
import { setUpScenario, type Scenario } from '../support/scenario.js';
import { COMPAT_SERVER_KINDS, SERVER_KINDS } from '../support/servers.js';
import { normalized, serverTarget } from '../support/target.js';
import { bounded } from '../support/wait.js';

const OLDER = '2024-04-01-013000';
const STAMP = '2024-05-01-013000';
const NEWER = '2024-06-01-013000';

/** VM folder names: those with a space, a glob character or a leading '-' are listed by MLSD/LIST, the rest by STAT. */
const VM_NAMES = ['Bart', 'ünïcødé-日本', '#hash', 'semi;colon', 'per%cent', '[brackets]', '{braces}', '211 x', '-dash', ' lead', 'inner space', 'tilde~'];
/** File names inside every backup (a STAT-listed folder when the VM name allows it). */
const FILE_NAMES = [
  ' lead', 'inner space', 'trail ', 'ünïcødé-日本', '#hash', 'semi;colon', 'per%cent', '[brackets]', '{braces}',
  '211 x', '213 End.', '-dash', 'star*', 'q?', 'tilde~', 'a -> b', 'Nov 23 12:00 x', 'sub dir/inner file',
];
const BACKUP: Record<string, number> = Object.fromEntries(FILE_NAMES.map((name, index) => [name, 1 + index * 7]));
const BACKUP_BYTES = Object.values(BACKUP).reduce((sum, size) => sum + size, 0);

/** STAT refused as by a server that has none: every listing goes through MLSD/LIST. */
const NO_STAT: FaultRules = { replyToCommand: { command: 'STAT', code: 502, text: 'Command not implemented.' } };

/** Returns what a `-d --json` run that succeeded printed. */
function displayed(run: CliResult): DisplayJson {
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
  return parseDisplay(run.stdout);
}

const statCommands = (s: Scenario) => s.proxy.log.filter((line) => /^STAT /.test(line));
const plainListings = (s: Scenario) => s.proxy.log.filter((line) => /^(MLSD|LIST)\b/.test(line));

/** Runs `args` once as it is (STAT allowed) and once with STAT refused; returns both outputs and what each sent. */
async function bothWays(s: Scenario, args: string[]): Promise<{ stat: CliResult; plain: CliResult; statLog: string[]; plainLog: string[] }> {
  s.proxy.setRules({});
  const from = s.proxy.log.length;
  const stat = await s.vmftp(...args);
  const statLog = s.proxy.log.slice(from);
  s.proxy.setRules(NO_STAT);
  const middle = s.proxy.log.length;
  const plain = await s.vmftp(...args);
  const plainLog = s.proxy.log.slice(middle);
  s.proxy.setRules({});
  return { stat, plain, statLog, plainLog };
}

function remoteTree(): TreeSpec {
  const tree: TreeSpec = {};
  for (const vm of VM_NAMES) {
    tree[`${vm}/${OLDER}`] = { 'vm.ovf': `<old ${vm}/>` };
    tree[`${vm}/${STAMP}`] = BACKUP;
  }
  tree[`Bart/${NEWER}.partial`] = { ' lead': 3 };
  tree['Bart/notes'] = { 'readme.txt': 'not a backup' };
  return tree;
}

function localTree(...stamps: string[]): TreeSpec {
  return Object.fromEntries(VM_NAMES.flatMap((vm) => stamps.map((stamp) => [`${vm}/${stamp}`, BACKUP])));
}

/** Symlinks a server may show as links (pure-ftpd) or follow (ftp-srv): both paths must agree either way. */
function addSymlinks(s: Scenario): void {
  symlinkSync('Bart', path.join(s.remoteRoot, 'link-vm'));
  symlinkSync(' lead', path.join(s.remoteRoot, 'Bart', STAMP, 'link-file'));
  mkdirSync(path.join(s.remoteRoot, 'empty-vm'));
  chownToFtpUser(s.server.root);
}

/** Target `nas` at the proxy in front of the scenario's server; a failure is not retried. */
function targetOf(s: Pick<Scenario, 'server'> & { proxy: { host: string; port: number } }, remoteDir = '/backups'): TargetConfig {
  return serverTarget(s.proxy, s.server, { remoteDir, retries: 0, retryDelaySeconds: 1 });
}

describe('listing with STAT', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: -d shows exactly the tree, the same with STAT as with MLSD/LIST only`, bounded(90), async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { local: localTree(STAMP), remote: remoteTree() });
      addSymlinks(s);

      const { stat, plain, statLog, plainLog } = await bothWays(s, ['-d', '--json']);
      const shown = displayed(stat);
      assert.deepEqual(shown, displayed(plain));

      // STAT did the work where it may, and was refused in the second run.
      assert.ok(statLog.some((line) => line === `STAT /backups/Bart/${STAMP}`), statLog.join(' | '));
      assert.ok(statLog.filter((line) => /^(MLSD|LIST)\b/.test(line)).length < plainLog.filter((line) => /^(MLSD|LIST)\b/.test(line)).length);

      const target = shown.targets[0]!;
      for (const vm of VM_NAMES) {
        const backups = target.vms.find((entry) => entry.vm === vm)?.backups ?? [];
        const current = backups.find((backup) => backup.stamp === STAMP);
        const links = vm === 'Bart' && kind.name === 'ftp-srv' ? 1 : 0; // ftp-srv follows the link to ' lead'
        assert.deepEqual(current, { stamp: STAMP, files: FILE_NAMES.length + links, bytes: BACKUP_BYTES + links, state: 'complete' }, vm);
        assert.deepEqual(backups.find((backup) => backup.stamp === OLDER)?.files, 1, vm);
      }
      const bart = target.vms.find((entry) => entry.vm === 'Bart')?.backups ?? [];
      assert.deepEqual(bart.find((backup) => backup.stamp === NEWER), { stamp: NEWER, files: 1, bytes: 3, state: 'partial' });
      assert.ok(target.strays.includes('Bart/notes'), target.strays.join(', '));
    });

    test(`${kind.name}: an inventory taken with STAT is the one MLSD/LIST gives, and plans the same run`, bounded(90), async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { local: localTree(STAMP, NEWER), remote: remoteTree(), keep: 2 });
      addSymlinks(s);
      const fastSession = await FtpSession.open(targetOf(s));
      t.after(() => fastSession.close());
      const provenSession = await FtpSession.open(targetOf(s));
      t.after(() => provenSession.close());

      const from = s.proxy.log.length;
      const fast = await takeInventory(fastSession, 'fast');
      assert.ok(s.proxy.log.slice(from).filter((line) => line.startsWith('STAT ')).length > VM_NAMES.length, 'STAT listed most folders');
      const proven = await takeInventory(provenSession, 'proven');
      assert.deepEqual(normalized(fast), normalized(proven));

      const local = (await scanSource(s.source)).backups;
      const settings: PlanSettings = { keep: 2, targetKeep: {}, vms: { '*': { targets: ['nas'] } }, deleteFirst: false };
      const planned = planRun({ local, inventories: [fast], settings });
      assert.deepEqual(planned, planRun({ local, inventories: [proven], settings }));
      // The plan does something: upload NEWER (resume Bart's .partial), keep STAMP, delete OLDER, for every VM.
      for (const vm of VM_NAMES) {
        const actions = planned.targets[0]!.vms.find((entry) => entry.vm === vm)?.actions ?? [];
        const typeOf = (stamp: string) => actions.filter((action) => action.stamp === stamp).map((action) => action.type).sort();
        assert.ok(typeOf(NEWER).some((type) => type === 'upload' || type === 'resume'), `${vm}: ${JSON.stringify(actions)}`);
        assert.deepEqual(typeOf(STAMP), ['keep'], vm);
        assert.deepEqual(typeOf(OLDER), ['delete'], vm);
      }

      // The CLI's --simulate shows the plan the run makes: both list with MLSD/LIST only.
      const before = s.proxy.log.length;
      const simulated = await s.vmftp('-S', '--json');
      assert.equal(simulated.code, 0, simulated.stderr);
      assert.ok(!s.proxy.log.slice(before).some((line) => line.startsWith('STAT')), s.proxy.log.slice(before).join(' | '));
    });

    test(`${kind.name}: a folder of 1,000 files (a STAT reply over basic-ftp's 64 KiB) is listed whole`, bounded(90), async (t) => {
      if (!kind.usable(t)) return;
      const many = Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`disk-with-a-long-file-name-${String(index).padStart(4, '0')}.vmdk`, 1 + (index % 50)]));
      const bytes = Object.values(many).reduce((sum, size) => sum + size, 0);
      const s = await setUpScenario(t, kind, {
        local: { [`Big/${STAMP}`]: many },
        remote: { [`Big/${STAMP}`]: many, [`Small/${STAMP}`]: { 'vm.ovf': '<vm/>' } },
      });

      const { stat, plain } = await bothWays(s, ['-d', '--json']);
      const shown = displayed(stat);
      assert.deepEqual(shown, displayed(plain));
      const big = shown.targets[0]!.vms.find((entry) => entry.vm === 'Big')?.backups[0];
      assert.deepEqual(big, { stamp: STAMP, files: 1000, bytes, state: 'complete' });
      assert.equal(shown.targets[0]!.vms.find((entry) => entry.vm === 'Small')?.backups[0]?.files, 1);
    });

    test(`${kind.name}: once STAT is trusted, a missing folder is still undefined and an empty one []`, bounded(90), async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { remote: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 1000, 'vm.ovf': '<vm/>' } } });
      mkdirSync(path.join(s.remoteRoot, 'empty'));
      chownToFtpUser(s.server.root);
      const session = await FtpSession.open(targetOf(s));
      t.after(() => session.close());
      const backup = [
        { name: 'disk1.vmdk', kind: 'file', size: 1000 },
        { name: 'vm.ovf', kind: 'file', size: 5 },
      ];
      const sorted = <T extends { name: string }>(entries: T[] | undefined) => entries?.sort((a, b) => (a.name < b.name ? -1 : 1));

      // Checked against MLSD/LIST until a listing with a file in it matched.
      assert.deepEqual((await session.list('/backups', 'fast'))?.map((entry) => entry.name).sort(), ['Bart', 'empty']);
      assert.deepEqual(sorted(await session.list(`/backups/Bart/${STAMP}`, 'fast')), backup);
      const checked = s.proxy.log.length;
      assert.deepEqual(sorted(await session.list(`/backups/Bart/${STAMP}`, 'fast')), backup);
      assert.deepEqual(s.proxy.log.slice(checked), [`STAT /backups/Bart/${STAMP}`], 'trusted: STAT alone');

      assert.deepEqual(await session.list('/backups/empty', 'fast'), []);
      assert.equal(await session.list('/backups/missing', 'fast'), undefined);
      assert.equal(await session.list(`/backups/missing/${STAMP}`, 'fast'), undefined);
      // A path STAT would glob or split is never sent to STAT.
      const before = statCommands(s).length;
      assert.equal(await session.list('/backups/Ba*', 'fast'), undefined);
      assert.equal(await session.list('/backups/Bart x', 'fast'), undefined);
      assert.equal(statCommands(s).length, before);
      assert.ok(plainListings(s).length > 0);
    });
  }
});

describe('listing with STAT on more C servers (proftpd answers 212 with indented lines, vsftpd lists with LIST)', () => {
  for (const kind of COMPAT_SERVER_KINDS) {
    test(`${kind.name}: the inventory taken with STAT is the one MLSD/LIST gives; missing stays missing, empty stays empty`, bounded(90), async (t) => {
      if (!kind.usable(t)) return;
      const work = tmpDir(`listing-${kind.name}`, t);
      const server = await kind.start({ root: path.join(work, 'ftp') });
      t.after(() => server.stop());
      const remoteDir = `${kind.remoteBase}/backups`;
      const remoteRoot = path.join(server.root, ...remoteDir.split('/'));
      makeBackupTree(remoteRoot, remoteTree());
      symlinkSync('Bart', path.join(remoteRoot, 'link-vm'));
      symlinkSync(' lead', path.join(remoteRoot, 'Bart', STAMP, 'link-file'));
      mkdirSync(path.join(remoteRoot, 'empty-vm'));
      kind.chown(path.join(server.root, kind.remoteBase));
      const proxy = await startFaultProxy(server);
      t.after(() => proxy.stop());
      const fastSession = await FtpSession.open(targetOf({ server, proxy }, remoteDir));
      t.after(() => fastSession.close());
      const provenSession = await FtpSession.open(targetOf({ server, proxy: server }, remoteDir));
      t.after(() => provenSession.close());

      const fast = await takeInventory(fastSession, 'fast');
      // Once trusted, STAT alone lists a backup folder (one whose path it may be given).
      const folder = `${remoteDir}/semi;colon/${STAMP}`;
      assert.deepEqual(proxy.log.filter((line) => line.endsWith(` ${folder}`)), [`STAT ${folder}`], proxy.log.join(' | '));
      const proven = await takeInventory(provenSession, 'proven');
      assert.deepEqual(normalized(fast), normalized(proven));
      assert.ok(proven.backups.some((backup) => backup.vm === 'ünïcødé-日本' && backup.stamp === STAMP && backup.files.length === FILE_NAMES.length));

      // STAT is trusted by now (a backup folder with files matched): what it says of other folders.
      assert.deepEqual(await fastSession.list(`${remoteDir}/empty-vm`, 'fast'), []);
      // A missing folder gets MLSD/LIST's answer: undefined on proftpd; vsftpd's LIST of a missing
      // folder is an empty listing with 226, which that path cannot tell from an empty folder.
      for (const missing of [`${remoteDir}/missing`, `${remoteDir}/missing/${STAMP}`]) {
        const plain = await provenSession.list(missing);
        assert.deepEqual(plain, kind.name === 'vsftpd' ? [] : undefined, missing);
        assert.deepEqual(await fastSession.list(missing, 'fast'), plain, missing);
      }
      // vsftpd answers STAT of a file with that file alone: never taken for a folder.
      assert.deepEqual(await fastSession.list(`${remoteDir}/Bart/${OLDER}/vm.ovf`, 'fast'), await provenSession.list(`${remoteDir}/Bart/${OLDER}/vm.ovf`));
    });
  }
});
