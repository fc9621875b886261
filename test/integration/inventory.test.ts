/**
 * The inventory (src/facts/inventory.ts) of a real server's tree, checked against what the test put on
 * the server's disk: every `<VM>/<STAMP>` and `<STAMP>.partial` folder with its files and sizes,
 * everything else a stray; a missing remoteDir is an empty inventory; listing never writes.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TargetInventory } from '../../src/core/model.js';
import { inventoryVm, listBackupFiles, takeInventory, takeInventoryOver, type Listing } from '../../src/facts/inventory.js';
import { createLogger } from '../../src/delivery/log.js';
import { SessionPool } from '../../src/ftp/pool.js';
import { readTree, type TreeSpec } from '../support/fixtures.js';
import { chownToFtpUser } from '../support/pure-ftpd.js';
import { openSession, serverWrites, setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { normalized } from '../support/target.js';
import { BOUNDED } from '../support/wait.js';

const OLD = '2012-07-01-000000';
const STAMP = '2012-08-18-154137';
const PARTIAL = '2012-09-01-000000';
const EMPTY = '2012-10-01-000000';
const LISTINGS: readonly Listing[] = ['proven', 'fast'];

const REMOTE: TreeSpec = {
  [`Bart/${OLD}`]: { 'vm.ovf': '<old/>' },
  [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>', 'disk/disk1.vmdk': 20_000, 'disk/deeper/disk2.vmdk': 300 },
  [`Bart/${PARTIAL}.partial`]: { 'disk/disk1.vmdk': 1234 },
  [`Bart/${EMPTY}`]: {},
  [`web 01/${STAMP}`]: { 'ünïcødé.txt': 'x' },
  // Not backups: reported as strays, never read into a backup.
  '.': { 'README.txt': 'a file in remoteDir' },
  Bart: { notes: 'a file in the VM folder' },
  'Bart/2012-08-18': { 'x.txt': 'a date, not a stamp' },
  'Bart/2012-13-40-999999': { 'x.txt': 'no such date' },
  'Bart/2012-13-40-999999.partial': { 'x.txt': 'no such date, partial' },
  [`Bart/${STAMP}.partial.old`]: { 'x.txt': 'not a partial' },
  [`Bart./${STAMP}`]: { 'x.txt': 'not a VM name (Windows would store it as Bart)' },
  Raoul: { [STAMP]: 'a file named like a stamp, not a folder' },
};

/** What REMOTE holds under remoteDir, as an inventory. */
const EXPECTED: TargetInventory = {
  target: 'nas',
  remoteDir: '/backups',
  backups: [
    { vm: 'Bart', stamp: OLD, partial: false, files: [{ path: 'vm.ovf', size: 6 }], bytes: 6 },
    {
      vm: 'Bart',
      stamp: STAMP,
      partial: false,
      files: [
        { path: 'disk/deeper/disk2.vmdk', size: 300 },
        { path: 'disk/disk1.vmdk', size: 20_000 },
        { path: 'vm.ovf', size: 5 },
      ],
      bytes: 20_305,
    },
    { vm: 'Bart', stamp: PARTIAL, partial: true, files: [{ path: 'disk/disk1.vmdk', size: 1234 }], bytes: 1234 },
    { vm: 'Bart', stamp: EMPTY, partial: false, files: [], bytes: 0 },
    { vm: 'web 01', stamp: STAMP, partial: false, files: [{ path: 'ünïcødé.txt', size: 1 }], bytes: 1 },
  ],
  strays: [
    'Bart.',
    'Bart/2012-08-18',
    'Bart/2012-13-40-999999',
    'Bart/2012-13-40-999999.partial',
    `Bart/${STAMP}.partial.old`,
    'Bart/notes',
    'README.txt',
    `Raoul/${STAMP}`,
  ],
};

describe('takeInventory and inventoryVm on a real server', () => {
  for (const kind of SERVER_KINDS) {
    for (const listing of LISTINGS) {
      test(`${kind.name} (${listing}): every backup with its files and sizes, partial ones marked, the rest strays; nothing written`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const s = await setUpScenario(t, kind, { remote: REMOTE });
        const before = readTree(s.server.root);
        const session = await openSession(t, s);

        assert.deepEqual(normalized(await takeInventory(session, listing)), normalized(EXPECTED));

        const bart = await inventoryVm(session, 'Bart', listing);
        assert.deepEqual(
          normalized({ ...EXPECTED, backups: bart.backups, strays: bart.strays }),
          normalized({ ...EXPECTED, backups: EXPECTED.backups.filter((backup) => backup.vm === 'Bart'), strays: EXPECTED.strays.filter((stray) => stray.startsWith('Bart/')) }),
        );
        assert.deepEqual(await inventoryVm(session, 'Homer', listing), { backups: [], strays: [] }, 'a VM with no folder has nothing');

        assert.deepEqual(serverWrites(s.proxy), [], 'an inventory only lists');
        assert.deepEqual(readTree(s.server.root), before);
      });
    }

    test(`${kind.name}: over a pool of 2 connections the inventory is the same, its VMs listed on both; listBackupFiles lists one backup's files`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { remote: REMOTE });
      const first = await openSession(t, s, { maxConnections: 2 });
      const pool = new SessionPool(first.target, first, createLogger('error', () => undefined));
      t.after(() => pool.close());

      assert.deepEqual(normalized(await takeInventoryOver(pool)), normalized(EXPECTED));
      assert.equal(s.proxy.connections, 2, 'the VM folders were listed on a second connection too');

      const bart = EXPECTED.backups.find((backup) => backup.vm === 'Bart' && backup.stamp === STAMP)!;
      const files = await pool.use((session) => listBackupFiles(session, `/backups/Bart/${STAMP}`));
      assert.deepEqual([...files].sort((a, b) => (a.path < b.path ? -1 : 1)), bart.files);
      assert.deepEqual(await pool.use((session) => listBackupFiles(session, '/backups/Bart/not-there')), [], 'a missing folder has no files');
      assert.deepEqual(serverWrites(s.proxy), [], 'an inventory only lists');
    });

    test(`${kind.name}: a remoteDir that does not exist yet, and an empty one, are empty inventories`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await setUpScenario(t, kind, { remote: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
      mkdirSync(path.join(s.server.root, 'empty'));
      chownToFtpUser(s.server.root);

      for (const listing of LISTINGS) {
        const missing = await takeInventory(await openSession(t, s, { remoteDir: '/not/there/yet' }), listing);
        assert.deepEqual(missing, { target: 'nas', remoteDir: '/not/there/yet', backups: [], strays: [] }, listing);
        const empty = await takeInventory(await openSession(t, s, { remoteDir: '/empty' }), listing);
        assert.deepEqual(empty, { target: 'nas', remoteDir: '/empty', backups: [], strays: [] }, listing);
      }
      assert.deepEqual(serverWrites(s.proxy), [], 'not even the missing remoteDir is created by an inventory');
    });
  }
});
