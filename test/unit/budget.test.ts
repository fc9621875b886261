import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionBudget } from '../../src/ftp/budget.js';

/** A budget over named connections that records which ones it closed. */
function budget(limit: number): { readonly budget: ConnectionBudget<string>; readonly closed: string[] } {
  const closed: string[] = [];
  return { budget: new ConnectionBudget<string>(limit, (name) => closed.push(name), () => new Error('budget closed')), closed };
}

/** Returns whether `promise` has settled once the microtasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('ConnectionBudget: at most `limit` connections, sessions and lent slots together', () => {
  test('the adopted connection counts: with limit 2 one more may be opened, the third caller waits for an idle one', async () => {
    const { budget: b } = budget(2);
    b.adopt('inventory');
    assert.equal(await b.connection(), 'inventory');
    assert.equal(await b.connection(), undefined, 'a token to open a second connection');
    assert.equal(b.held, 2);
    const third = b.connection();
    assert.equal(await settled(third), false, 'no token and nothing idle: it waits');
    b.keep('inventory');
    assert.equal(await third, 'inventory');
    assert.equal(b.held, 2);
  });

  test('a slot takes the token of an idle connection, which is closed: the server counts it too', async () => {
    const { budget: b, closed } = budget(2);
    b.adopt('a');
    await b.slot();
    assert.deepEqual(closed, [], 'a free token is taken first');
    await b.slot();
    assert.deepEqual(closed, ['a']);
    assert.equal(b.held, 2);
    assert.equal(b.idle, 0);
  });

  test('a slot waits while every token is busy, and goes on when one is released', async () => {
    const { budget: b } = budget(1);
    await b.slot();
    const second = b.slot();
    assert.equal(await settled(second), false);
    b.release();
    await second;
    assert.equal(b.held, 1);
  });

  test('a connection given back while a slot waits is closed for it', async () => {
    const { budget: b, closed } = budget(1);
    assert.equal(await b.connection(), undefined);
    const slot = b.slot();
    assert.equal(await settled(slot), false);
    b.keep('session');
    await slot;
    assert.deepEqual(closed, ['session']);
    assert.equal(b.held, 1);
  });

  test('a token released after a failed open lets a waiting caller open one', async () => {
    const { budget: b } = budget(1);
    assert.equal(await b.connection(), undefined);
    const waiting = b.connection();
    assert.equal(await settled(waiting), false);
    b.release();
    assert.equal(await waiting, undefined);
  });
});

describe('ConnectionBudget: a refused connection makes the limit the number the server allowed', () => {
  test('refused with two others open: the limit becomes 2, the same whether the refused one was a session or a slot', async () => {
    for (const take of ['connection', 'slot'] as const) {
      const { budget: b } = budget(3);
      b.adopt('a');
      assert.equal(await b.connection(), 'a');
      await b.slot();
      if (take === 'connection') assert.equal(await b.connection(), undefined);
      else await b.slot();
      assert.equal(b.refused(), 2, take);
      assert.equal(b.limit, 2, take);
      b.release();
      assert.equal(b.held, 2, take);
      const next = take === 'connection' ? b.connection() : b.slot();
      assert.equal(await settled(next), false, `${take}: two are open, so a third waits`);
      b.release();
      await next;
    }
  });

  test('refused with no other open: 0, and the limit stays (the refusal is a failure, not a limit)', async () => {
    const { budget: b } = budget(2);
    assert.equal(await b.connection(), undefined);
    assert.equal(b.refused(), 0);
    assert.equal(b.limit, 2);
  });
});

describe('ConnectionBudget: closing', () => {
  test('idle connections close at once, waits reject, a busy connection closes when it comes back', async () => {
    const { budget: b, closed } = budget(2);
    b.adopt('a');
    b.adopt('b');
    assert.equal(await b.connection(), 'b');
    await b.slot();
    const waiting = b.connection();
    assert.equal(await settled(waiting), false);
    assert.equal(b.closed, false);
    b.close();
    assert.equal(b.closed, true);
    assert.deepEqual(closed, ['a']);
    await assert.rejects(waiting, /budget closed/);
    await assert.rejects(b.slot(), /budget closed/);
    b.keep('b');
    assert.deepEqual(closed, ['a', 'b']);
    b.release();
    assert.equal(b.held, 0);
  });
});

describe('ConnectionBudget: whatever the order of calls, the tokens out never pass the limit and add up', () => {
  test('200 random sessions and slots, some refused, all given back', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const { budget: b } = budget(4);
    b.adopt('first');
    let opened = 1;
    let busyMost = 0;
    let busy = 0;
    const work = Array.from({ length: 200 }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
      const useSlot = random() < 0.5;
      let connection: string | undefined;
      if (useSlot) await b.slot();
      else connection = (await b.connection()) ?? `c${opened++}`;
      busy++;
      busyMost = Math.max(busyMost, busy);
      assert.ok(b.held <= 4, `held ${b.held} of limit 4`);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
      busy--;
      // Every 50th caller meets a refusal: the server allows the others, so the limit may fall.
      if (index % 50 === 49) b.refused();
      if (connection === undefined || index % 7 === 0) b.release();
      else b.keep(connection);
    });
    await Promise.all(work);
    assert.ok(busyMost >= 2, 'calls overlapped');
    assert.ok(b.limit >= 1 && b.limit <= 4);
    assert.equal(b.held, b.idle, 'every token still out belongs to an idle connection');
  });
});
