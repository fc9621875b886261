/**
 * The run lock (src/run/lock.ts), by behaviour: one holder at a time across processes, a lock whose
 * holder is gone is taken over with a message, a release never removes a lock another run holds.
 * Holders in other processes are real node processes taking the same lock (test/support/lock-holder.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ExitCode, LockError, exitCodeOf } from '../../src/errors.js';
import { acquireLock } from '../../src/run/lock.js';
import { tmpDir } from '../support/fixtures.js';
import { requireOrSkip } from '../support/pure-ftpd.js';
import { waitFor } from '../support/wait.js';

const BOUNDED = { timeout: 30_000 };
const HOLDER = fileURLToPath(new URL('../support/lock-holder.ts', import.meta.url));
/** The config file every holder says it runs with (lock-holder.ts). */
const HOLDER_CONFIG = '/etc/vmftp/holder.config.ts';

/** A lock holder in another process: it prints `acquired`, `refused: <message>` or `stale: <message>` lines. */
interface Holder {
  readonly pid: number;
  output(): string;
  /** Ends its stdin: a holder releases the lock and exits 0. */
  release(): void;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<number | null>;
}

/** Starts lock-holder.ts on `file`; `exit` makes it call process.exit(130) right after taking the lock, `forced` too but forced out. */
function startHolder(t: TestContext, file: string, mode: 'hold' | 'exit' | 'forced' = 'hold'): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, file, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  void exited.then(() => clearTimeout(timer));
  t.after(() => {
    child.kill('SIGKILL');
    return exited;
  });
  return { pid: child.pid ?? -1, output: () => output, release: () => child.stdin.end(), kill: (signal) => child.kill(signal), exited };
}

/** Starts a holder and returns it once it holds the lock on `file`. */
async function heldBy(t: TestContext, file: string): Promise<Holder> {
  const holder = startHolder(t, file);
  await waitFor(() => holder.output().includes('acquired'), 'the other process to take the lock');
  return holder;
}

/** Returns the pid of a holder of `file` that was killed with SIGKILL, leaving its lock behind as a crash would. */
async function abandonedLock(t: TestContext, file: string): Promise<number> {
  const holder = await heldBy(t, file);
  holder.kill('SIGKILL');
  await holder.exited;
  return holder.pid;
}

function lockText(file: string): string {
  return readFileSync(file, 'utf8');
}

/** Rewrites fields of the lock file a real holder wrote, as another machine or a reused pid would show it. */
function editLock(file: string, fields: Record<string, unknown>): void {
  writeFileSync(file, JSON.stringify({ ...(JSON.parse(lockText(file)) as Record<string, unknown>), ...fields }));
}

describe('acquireLock', () => {
  test('takes a free lock (creating its folder), and a release frees it for the next run', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'not', 'yet', 'there', 'vmftp.lock');
    const stale: string[] = [];
    const lock = await acquireLock(file, (message) => stale.push(message));
    assert.ok(existsSync(file));
    assert.match(lockText(file), new RegExp(`"pid":${process.pid}\\b`));
    await lock.release();
    assert.ok(!existsSync(file));
    const again = await acquireLock(file, (message) => stale.push(message));
    await again.release();
    assert.deepEqual(stale, [], 'a lock released properly is never "stale"');
    assert.deepEqual(readdirSync(path.dirname(file)), [], 'no draft file is left beside the lock');
  });

  test('a lock held by a live process is refused with LockError (exit 3) naming the file and the holder; the lock stays as it was', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const holder = await heldBy(t, file);
    const held = lockText(file);

    const stale: string[] = [];
    await assert.rejects(acquireLock(file, (message) => stale.push(message)), (error: unknown) => {
      assert.ok(error instanceof LockError, String(error));
      assert.equal(exitCodeOf(error), ExitCode.Locked);
      assert.ok(error.message.startsWith(`another vmftp run holds the lock ${file}: pid ${holder.pid} on ${os.hostname()}, config ${HOLDER_CONFIG}, started `), error.message);
      assert.equal(error.hint, 'wait for it to finish; if no vmftp is running, delete that file');
      return true;
    });
    assert.deepEqual(stale, []);
    assert.equal(lockText(file), held, 'the refused run must not touch the lock');

    holder.release();
    assert.equal(await holder.exited, 0, holder.output());
    assert.ok(!existsSync(file), 'the holder released its own lock');
    await (await acquireLock(file, () => undefined)).release();
  });

  test('of several processes starting at once, exactly one gets the lock; the others are refused', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const holders = Array.from({ length: 4 }, () => startHolder(t, file));
    await waitFor(() => holders.every((holder) => /acquired|refused/.test(holder.output())), 'every process to try the lock', 20_000);

    const winners = holders.filter((holder) => holder.output().includes('acquired'));
    assert.equal(winners.length, 1, holders.map((holder) => holder.output()).join('\n'));
    const [winner] = winners;
    for (const loser of holders.filter((holder) => holder !== winner)) {
      assert.equal(await loser.exited, ExitCode.Locked, loser.output());
      assert.match(loser.output(), new RegExp(`refused: another vmftp run holds the lock .*: pid ${winner?.pid} on `));
    }
    winner?.release();
    assert.equal(await winner?.exited, 0);
    assert.ok(!existsSync(file));
  });

  test('a holder forced out (leaveLocksForNextRun) leaves its lock, marked: the next run takes it over and learns how it ended', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const holder = startHolder(t, file, 'forced');
    assert.equal(await holder.exited, ExitCode.Interrupted, holder.output());
    assert.ok(existsSync(file), 'the forced-out holder left its lock');

    const lock = await acquireLock(file, () => undefined);
    assert.equal(lock.previous?.pid, holder.pid);
    assert.equal(lock.previous.forcedOut, 'stopped by a second SIGTERM before its report was done');
    await lock.release();
  });

  test('the private folders of password files a dead run left are removed, and nothing else its lock names', BOUNDED, async (t) => {
    const work = tmpDir('lock', t);
    const file = path.join(work, 'vmftp.lock');
    await abandonedLock(t, file);
    const secret = path.join(work, 'vmftp-secret-a1B2c3');
    const other = path.join(work, 'backups');
    for (const dir of [secret, other]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'login.cfg'), 'pass x\n', { mode: 0o600 });
    }
    editLock(file, { privateDirs: [secret, other, 'vmftp-secret-relative', path.join(work, 'vmftp-secret-gone')] });

    const lock = await acquireLock(file, () => undefined);
    assert.deepEqual(lock.previous?.removedPrivateDirs, [secret]);
    assert.ok(!existsSync(secret));
    assert.ok(existsSync(path.join(other, 'login.cfg')), 'a folder not named as vmftp names them stays');
    await lock.release();
  });

  test('a run that changes nothing (-S) leaves a dead run\'s lock as it is and holds none itself', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const gone = await abandonedLock(t, file);
    const left = lockText(file);

    const stale: string[] = [];
    const peek = await acquireLock(file, (message) => stale.push(message), { changesNothing: true });
    assert.equal(peek.unreported?.pid, gone);
    assert.equal(peek.previous, undefined);
    assert.deepEqual(stale, []);
    await peek.release();
    assert.equal(lockText(file), left, 'the dead run\'s lock is untouched, for the next backup run');
    const taken = await acquireLock(file, () => undefined);
    assert.equal(taken.previous?.pid, gone);
    await taken.release();
  });

  test('a holder killed without a chance to clean up (SIGKILL) leaves a lock that the next run takes over, saying so', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const gone = await abandonedLock(t, file);
    assert.ok(existsSync(file), 'SIGKILL leaves the lock behind');

    const stale: string[] = [];
    const lock = await acquireLock(file, (message) => stale.push(message));
    assert.equal(stale.length, 1);
    assert.match(stale[0] ?? '', new RegExp(`^lock .*vmftp\\.lock was left by pid ${gone} \\(started .*\\), which is gone: taking it over$`));
    assert.match(lockText(file), new RegExp(`"pid":${process.pid}\\b`));
    await lock.release();
    assert.ok(!existsSync(file));
  });

  test('a process that exits while holding the lock (a signal ending the run) releases it on the way out', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const holder = startHolder(t, file, 'exit');
    assert.equal(await holder.exited, 130, holder.output());
    assert.match(holder.output(), /acquired/);
    assert.ok(!existsSync(file));
  });

  for (const [what, content] of [
    ['empty', ''],
    ['not JSON', 'vmftp was here'],
    ['JSON without a pid', '{"host":"x","startedAt":"2012-08-18T15:41:37.000Z"}'],
  ] as const) {
    test(`an unreadable lock (${what}) is taken over, saying so`, BOUNDED, async (t) => {
      const file = path.join(tmpDir('lock', t), 'vmftp.lock');
      writeFileSync(file, content);
      const stale: string[] = [];
      const lock = await acquireLock(file, (message) => stale.push(message));
      assert.deepEqual(stale, [`lock ${file} is unreadable: taking it over`]);
      await lock.release();
      assert.ok(!existsSync(file));
    });
  }

  test('a lock written on another machine (a shared folder) counts as held: its process cannot be checked from here', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    await abandonedLock(t, file);
    // The holder is gone, but the lock says it ran on another host.
    editLock(file, { host: `not-${os.hostname()}` });

    await assert.rejects(acquireLock(file, () => undefined), (error: unknown) => error instanceof LockError && error.message.includes(`on not-${os.hostname()}`));
    assert.ok(existsSync(file));
  });

  test('a lock whose pid now belongs to another process (started at another time) is taken over', BOUNDED, async (t) => {
    if (!requireOrSkip(t, existsSync('/proc/self/stat'), 'Linux /proc')) return;
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const holder = await heldBy(t, file);
    // The holder is alive, but its recorded start time says the lock was written by an earlier owner of its pid.
    editLock(file, { processStart: '1' });

    const stale: string[] = [];
    const lock = await acquireLock(file, (message) => stale.push(message));
    assert.match(stale[0] ?? '', new RegExp(`was left by pid ${holder.pid} .*which is gone: taking it over`));
    await lock.release();
    holder.release();
    await holder.exited;
  });

  test('a release removes only the lock this run holds, never one another run has taken over since', BOUNDED, async (t) => {
    const file = path.join(tmpDir('lock', t), 'vmftp.lock');
    const lock = await acquireLock(file, () => undefined);
    // Another run decided this one was gone and took the lock over (its own pid and start time).
    editLock(file, { pid: process.pid + 1, startedAt: '2012-08-18T15:41:37.000Z' });
    const theirs = lockText(file);

    await lock.release();
    assert.equal(lockText(file), theirs);
  });
});
