/**
 * How the inventory (src/facts/inventory.ts) lists: every folder it reads is listed the way its caller
 * asked, and 'proven' unless asked. STAT ('fast') puts file names on the control connection, where a
 * name holding CR LF can leave a stale reply; the run's own connections, which rename and delete
 * later, must never list that way. What an inventory finds on real servers is in
 * test/integration/inventory.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inventoryVm, takeInventory, takeInventoryOver, type InventoryPool, type InventorySession, type Listing } from '../../src/facts/inventory.js';
import { FtpError } from '../../src/errors.js';
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

/** Returns a session on target nas that lists `tree`, and every folder it was asked for with how. */
function listingSession(tree = TREE): { session: InventorySession; calls: [dir: string, how: Listing][] } {
  const calls: [string, Listing][] = [];
  const session: InventorySession = {
    target: targetConfig({ remoteDir: '/vm' }),
    list: (dir, how = 'proven') => {
      calls.push([dir, how]);
      return Promise.resolve(tree[dir] === undefined ? undefined : [...tree[dir]]);
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

/** TREE with a second VM, Lisa, holding one backup. */
const TWO_VMS: Readonly<Record<string, readonly RemoteEntry[]>> = {
  ...TREE,
  '/vm': [...TREE['/vm']!, { name: 'Lisa', kind: 'dir', size: 0 }],
  '/vm/Lisa': [{ name: STAMP, kind: 'dir', size: 0 }],
  [`/vm/Lisa/${STAMP}`]: [{ name: 'lisa.vmdk', kind: 'file', size: 7 }],
};

/**
 * Returns a pool of `connections` sessions on target nas listing `tree` (each listing takes a few
 * turns of the event loop; `failing` rejects), every folder it was asked for with how, and how many
 * tasks ran at once: the most so far, and now.
 */
function listingPool(tree: typeof TREE, connections: number, failing?: string) {
  const calls: [dir: string, how: Listing][] = [];
  let busy = 0;
  let most = 0;
  const waiting: (() => void)[] = [];
  const target = targetConfig({ remoteDir: '/vm' });
  const session: InventorySession = {
    target,
    list: async (dir, how = 'proven') => {
      calls.push([dir, how]);
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      if (dir === failing) throw new Error(`listing ${dir} failed`);
      return tree[dir] === undefined ? undefined : [...tree[dir]];
    },
  };
  const pool: InventoryPool = {
    target,
    async use(task) {
      while (busy >= connections) await new Promise<void>((resolve) => waiting.push(resolve));
      busy++;
      most = Math.max(most, busy);
      try {
        return await task(session);
      } finally {
        busy--;
        waiting.shift()?.();
      }
    },
  };
  return { pool, calls, most: () => most, busy: () => busy };
}

describe('takeInventoryOver: the same inventory, its VMs side by side on a pool', () => {
  for (const connections of [1, 2, 3]) {
    test(`${connections} connection(s): what takeInventory finds, every folder listed once, 'proven', at most ${connections} at once`, async () => {
      const { pool, calls, most } = listingPool(TWO_VMS, connections);
      const alone = listingSession(TWO_VMS);
      const sequential = await takeInventory(alone.session);

      assert.deepEqual(await takeInventoryOver(pool), sequential);
      assert.deepEqual([...calls].sort(), [...alone.calls].sort());
      assert.ok(calls.every(([, how]) => how === 'proven'));
      // Two VM folders: side by side when the pool gives two connections, never more than it gives.
      assert.equal(most(), Math.min(connections, 2));
    });
  }

  test('a VM that cannot be listed rejects the inventory, once the listings of the others have ended', async () => {
    const { pool, busy } = listingPool(TWO_VMS, 2, `/vm/Lisa/${STAMP}`);
    await assert.rejects(takeInventoryOver(pool), (error: unknown) => {
      assert.match(String(error), /listing \/vm\/Lisa\/2012-08-18-154137 failed/);
      assert.equal(busy(), 0, "Bart's listings had ended");
      return true;
    });
  });
});

describe('a VM folder the server refuses to list is that VM\'s, not the target\'s', () => {
  /** A session on TWO_VMS whose listing of `refused` is answered `reply` (a basic-ftp error translated as FtpSession does). */
  function refusingSession(refused: string, replyCode: number, tree = TWO_VMS): InventorySession {
    const { session } = listingSession(tree);
    return {
      target: session.target,
      list: (dir, how) => {
        if (dir !== refused) return session.list(dir, how);
        const words = `${replyCode} Permission denied.`;
        return Promise.reject(new FtpError(`list ${dir} on nas: server replied ${words}`, replyCode >= 500 ? 'permanent' : 'transient', replyCode, undefined, { cause: new Error(words) }));
      },
    };
  }

  for (const refused of ['/vm/Lisa', `/vm/Lisa/${STAMP}`]) {
    test(`550 to ${refused}: Lisa is unreadable naming that folder and the server's words; Bart is listed as usual`, async () => {
      const inventory = await takeInventory(refusingSession(refused, 550));
      assert.deepEqual(inventory.unreadable, [{ vm: 'Lisa', dir: refused, reason: 'the server replied 550 Permission denied.' }]);
      assert.deepEqual([...new Set(inventory.backups.map((backup) => backup.vm))], ['Bart']);
      assert.deepEqual(inventory.strays, ['README.txt']);
    });
  }

  test('the same on a pool', async () => {
    const session = refusingSession('/vm/Lisa', 550);
    const pool: InventoryPool = { target: session.target, use: (task) => task(session) };
    assert.deepEqual((await takeInventoryOver(pool)).unreadable, [{ vm: 'Lisa', dir: '/vm/Lisa', reason: 'the server replied 550 Permission denied.' }]);
  });

  test('a folder its parent lists that then lists as missing (the CWD refused too) is unreadable', async () => {
    const { [`/vm/Lisa/${STAMP}`]: _gone, ...tree } = TWO_VMS;
    const inventory = await takeInventory(listingSession(tree).session);
    assert.deepEqual(inventory.unreadable, [{ vm: 'Lisa', dir: `/vm/Lisa/${STAMP}`, reason: 'the server lists it in /vm/Lisa but refuses to open it' }]);
  });

  test('a 4xx (try again) still fails the whole listing: the target retries it', async () => {
    await assert.rejects(takeInventory(refusingSession('/vm/Lisa', 450)), /450 Permission denied/);
  });
});
