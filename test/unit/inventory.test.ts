/**
 * How the inventory (src/facts/inventory.ts) lists: every folder it reads is listed the way its caller
 * asked, and 'proven' unless asked. STAT ('fast') puts file names on the control connection, where a
 * name holding CR LF can leave a stale reply; the run's own connections, which rename and delete
 * later, must never list that way. What an inventory finds on real servers is in
 * test/integration/inventory.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inventoryVm, takeInventory, type InventorySession, type Listing } from '../../src/facts/inventory.js';
import type { RemoteEntry } from '../../src/ftp/session.js';
import { targetConfig } from '../support/target.js';

const STAMP = '2012-08-18-154137';

/** A remoteDir `/vm` holding one backup with a sub-folder, one `.partial` and a stray file. */
const TREE: Readonly<Record<string, readonly RemoteEntry[]>> = {
  '/vm': [
    { name: 'Bart', kind: 'dir', size: 0 },
    { name: 'README.txt', kind: 'file', size: 3 },
  ],
  '/vm/Bart': [
    { name: STAMP, kind: 'dir', size: 0 },
    { name: `${STAMP}.partial`, kind: 'dir', size: 0 },
  ],
  [`/vm/Bart/${STAMP}`]: [
    { name: 'vm.ovf', kind: 'file', size: 5 },
    { name: 'disk', kind: 'dir', size: 0 },
  ],
  [`/vm/Bart/${STAMP}/disk`]: [{ name: 'disk1.vmdk', kind: 'file', size: 20_000 }],
  [`/vm/Bart/${STAMP}.partial`]: [{ name: 'disk1.vmdk', kind: 'file', size: 100 }],
};

/** Returns a session on target nas that lists TREE, and every folder it was asked for with how. */
function listingSession(): { session: InventorySession; calls: [dir: string, how: Listing][] } {
  const calls: [string, Listing][] = [];
  const session: InventorySession = {
    target: targetConfig({ remoteDir: '/vm' }),
    list: (dir, how = 'proven') => {
      calls.push([dir, how]);
      return Promise.resolve(TREE[dir] === undefined ? undefined : [...TREE[dir]]);
    },
  };
  return { session, calls };
}

const EVERY_FOLDER = ['/vm', '/vm/Bart', `/vm/Bart/${STAMP}`, `/vm/Bart/${STAMP}/disk`, `/vm/Bart/${STAMP}.partial`];

describe('takeInventory: how each folder is listed', () => {
  test("unless asked otherwise, every folder is listed 'proven' (MLSD/LIST), never by STAT", async () => {
    const { session, calls } = listingSession();
    const inventory = await takeInventory(session);
    assert.deepEqual(calls, EVERY_FOLDER.map((dir) => [dir, 'proven']));
    assert.deepEqual(inventory.backups.map((backup) => [backup.stamp, backup.partial, backup.bytes]), [
      [STAMP, false, 20_005],
      [STAMP, true, 100],
    ]);
    assert.deepEqual(inventory.strays, ['README.txt']);
  });

  for (const listing of ['fast', 'proven'] as const) {
    test(`asked for '${listing}': every folder, down to the files, is listed '${listing}'`, async () => {
      const { session, calls } = listingSession();
      await takeInventory(session, listing);
      assert.deepEqual(calls, EVERY_FOLDER.map((dir) => [dir, listing]));
    });
  }

  test("inventoryVm lists one VM's folders only, 'proven' unless asked", async () => {
    const { session, calls } = listingSession();
    const bart = await inventoryVm(session, 'Bart');
    assert.deepEqual(calls, EVERY_FOLDER.slice(1).map((dir) => [dir, 'proven']));
    assert.deepEqual(bart.backups.map((backup) => backup.files.map((file) => file.path)), [['vm.ovf', 'disk/disk1.vmdk'], ['disk1.vmdk']]);
  });
});
