import { promises as fs, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { format } from 'date-fns/format';
import { LockError } from './errors.js';

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** The config file the owner runs with: the refusal names it, as a lock can be shared by configs that share a log file. */
  readonly configPath?: string;
  /**
   * Linux: the owner's start time in clock ticks since boot (/proc/<pid>/stat). After a crash and a
   * reboot the pid may belong to another process; a different start time tells them apart.
   */
  readonly processStart?: string;
}

export interface HeldLock {
  /** Removes the lock file if this run still owns it. */
  release(): Promise<void>;
}

/**
 * Returns the held lock of this run. Rejects with LockError naming the holder
 * (pid, host, config file, start time) when another live vmftp holds it; a
 * lock left by a process that is gone is taken over and `onStale` says so.
 */
export async function acquireLock(file: string, onStale: (message: string) => void, run: { configPath?: string } = {}): Promise<HeldLock> {
  const start = processStart(process.pid);
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    ...(run.configPath === undefined ? {} : { configPath: run.configPath }),
    ...(start === undefined ? {} : { processStart: start }),
  };
  await fs.mkdir(path.dirname(file), { recursive: true });
  // Written aside and hard-linked into place, so a reader never sees a half-written lock.
  const draft = `${file}.${process.pid}.tmp`;
  await fs.writeFile(draft, JSON.stringify(owner));
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.link(draft, file);
        // A run stopped by a signal exits without unwinding: the lock still goes with the process.
        const releaseOnExit = () => releaseLockSync(file, owner);
        process.once('exit', releaseOnExit);
        return {
          release: async () => {
            process.removeListener('exit', releaseOnExit);
            releaseLockSync(file, owner);
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readOwner(file);
      if (holder !== undefined && isAlive(holder)) {
        throw new LockError(
          `another vmftp run holds the lock ${file}: pid ${holder.pid} on ${holder.host}, config ${holder.configPath ?? '(not recorded)'}, started ${localTime(holder.startedAt)}`,
          'wait for it to finish; if no vmftp is running, delete that file',
        );
      }
      onStale(
        holder === undefined
          ? `lock ${file} is unreadable: taking it over`
          : `lock ${file} was left by pid ${holder.pid} (started ${holder.startedAt}), which is gone: taking it over`,
      );
      await fs.rm(file, { force: true });
    }
    throw new LockError(`could not take the lock ${file}: another run took it at the same moment`);
  } finally {
    await fs.rm(draft, { force: true });
  }
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  return parseOwner(await fs.readFile(file, 'utf8').catch(() => ''));
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.startedAt !== 'string') return undefined;
    return {
      pid: parsed.pid,
      host: parsed.host,
      startedAt: parsed.startedAt,
      ...(typeof parsed.configPath === 'string' ? { configPath: parsed.configPath } : {}),
      ...(typeof parsed.processStart === 'string' ? { processStart: parsed.processStart } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Returns an ISO time as the local time an administrator reads in the log's timestamps; text that is no time as it is. */
function localTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : format(time, 'yyyy-MM-dd HH:mm:ss');
}

function isAlive(owner: LockOwner): boolean {
  // A lock from another machine (a shared folder) cannot be checked from here: treat it as held.
  if (owner.host !== os.hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = owner.processStart === undefined ? undefined : processStart(owner.pid);
  return start === undefined || start === owner.processStart;
}

/** Returns the start time of process `pid` in clock ticks since boot (Linux), or undefined where /proc cannot tell. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command name, is in parentheses and may hold spaces: count from the last ')'.
    // What follows starts at field 3; starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function releaseLockSync(file: string, owner: LockOwner): void {
  let holder: LockOwner | undefined;
  try {
    holder = parseOwner(readFileSync(file, 'utf8'));
  } catch {
    return;
  }
  if (holder?.pid === owner.pid && holder.startedAt === owner.startedAt) rmSync(file, { force: true });
}
