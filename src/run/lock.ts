import { promises as fs, lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { format } from 'date-fns/format';
import { PRIVATE_DIR_PREFIX } from '../backends/secret-files.js';
import { ConfigError, LockError } from '../errors.js';
import { markProcess, presenceOf, type ProgramMark } from './process-identity.js';

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
  /** The owner's program (`node`, or the packaged executable's name), for the Windows check (run/process-identity.ts). */
  readonly program?: string;
  /** When the owner process started (ISO), for the Windows check. */
  readonly processStartedAt?: string;
  /** The curl/ncftpput programs running for this run right now: a run that dies leaves them to the next one. */
  readonly children?: readonly ProgramMark[];
  /** Set when the run was forced out before its report was done (see leaveLocksForNextRun): how. */
  readonly forcedOut?: string;
  /** The private folders holding a password file for a running ncftpput (backends/secret-files.ts). */
  readonly privateDirs?: readonly string[];
}

/** A run that died without a report (kill -9, "End task", a power cut): found by the next run in the lock it left. */
export interface AbandonedRun {
  readonly pid: number;
  readonly host: string;
  /** When it started (ISO). */
  readonly startedAt: string;
  /** Set when it was forced out before its report was done (a second signal, the grace after the first ran out): how. */
  readonly forcedOut?: string;
  /**
   * The programs it was running when it died: 'ended' by this run (proven to be its own), 'gone'
   * (had ended by themselves), 'unknown' (the pid runs, but this system cannot tell whether it is
   * still that program: left alone, see run/process-identity.ts).
   */
  readonly programs: readonly { readonly pid: number; readonly program: string; readonly state: 'ended' | 'gone' | 'unknown' }[];
  /** The private folders with a password file that it left, removed by this run. */
  readonly removedPrivateDirs?: readonly string[];
}

export interface HeldLock {
  /** Set when this run took over the lock of a run that ended without a report. */
  readonly previous?: AbandonedRun;
  /**
   * Set instead with `changesNothing` (`-S`): a run that ended without a report holds the lock,
   * and it stays as it is, for the next backup run to take over, report and clean up after. This
   * run then holds no lock (it changes nothing), and its programs were not looked at.
   */
  readonly unreported?: AbandonedRun;
  /**
   * Writes a program this run started into the lock, so that the next run can end it should this
   * one die without a chance to; returns the function that takes it out again when it ended.
   */
  recordChild(pid: number, program: string): () => void;
  /** The same for a private folder holding a password file: the next run removes it. */
  recordPrivateDir(dir: string): () => void;
  /** Removes the lock file if this run still owns it. */
  release(): Promise<void>;
}

/** What leaves each lock this process holds in place, marked, instead of removing it at exit. */
const leftOnForcedExit = new Set<(forcedOut: string) => void>();

/**
 * Leaves every lock this process holds for the next run, marked with `forcedOut` (how the run
 * was forced out), instead of removing it on exit: a run that exits before its report was done
 * (a second signal, the grace after the first one ran out) is then reported by the next run as
 * one that ended without a report, like a killed one.
 */
export function leaveLocksForNextRun(forcedOut: string): void {
  for (const leave of leftOnForcedExit) leave(forcedOut);
}

/**
 * Returns the held lock of this run. Rejects with LockError naming the holder
 * (pid, host, config file, start time) when another live vmftp holds it; a
 * lock left by a process that is gone is taken over and `onStale` says so,
 * unless `changesNothing`: such a run (`-S`) must not consume the next
 * backup run's report of it (see HeldLock.unreported), and its own lock is
 * never left for the next run to report (leaveLocksForNextRun). Rejects with a
 * ConfigError (exit 2) naming the file when the lock cannot be created at all.
 */
export async function acquireLock(
  file: string,
  onStale: (message: string) => void,
  run: { configPath?: string; changesNothing?: boolean } = {},
): Promise<HeldLock> {
  const self = markProcess(process.pid, path.basename(process.execPath).replace(/\.exe$/i, ''), new Date(Date.now() - process.uptime() * 1000));
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    ...(run.configPath === undefined ? {} : { configPath: run.configPath }),
    ...(self.processStart === undefined ? {} : { processStart: self.processStart }),
    program: self.program,
    processStartedAt: self.startedAt,
  };
  // Written aside and hard-linked into place, so a reader never sees a half-written lock.
  const draft = `${file}.${process.pid}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(draft, JSON.stringify(owner));
  } catch (error) {
    throw unwritableLock(file, error);
  }
  let previous: AbandonedRun | undefined;
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.link(draft, file);
        // A run stopped by a signal exits without unwinding: the lock still goes with the process.
        const releaseOnExit = () => releaseLockSync(file, owner);
        process.once('exit', releaseOnExit);
        const children = new Map<number, ProgramMark>();
        const privateDirs = new Set<string>();
        let released = false;
        const current = (): LockOwner => ({ ...owner, children: [...children.values()], privateDirs: [...privateDirs] });
        const rewrite = () => {
          if (!released) rewriteLock(file, current());
        };
        // Also after release: the run's report (summary, log, ping, e-mail) comes after the lock is
        // released, and a run forced out while sending it has not told anyone either.
        const leave = (forcedOut: string) => {
          process.removeListener('exit', releaseOnExit);
          const mark: LockOwner = { ...current(), forcedOut };
          if (released) writeMarkIfFree(file, mark);
          else rewriteLock(file, mark);
          released = true;
        };
        if (run.changesNothing !== true) leftOnForcedExit.add(leave);
        return {
          ...(previous === undefined ? {} : { previous }),
          recordChild(pid, program) {
            children.set(pid, markProcess(pid, program, new Date()));
            rewrite();
            return () => {
              if (children.delete(pid)) rewrite();
            };
          },
          recordPrivateDir(dir) {
            privateDirs.add(dir);
            rewrite();
            return () => {
              if (privateDirs.delete(dir)) rewrite();
            };
          },
          release: async () => {
            released = true;
            process.removeListener('exit', releaseOnExit);
            releaseLockSync(file, owner);
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritableLock(file, error);
      }
      const holder = await readOwner(file);
      if (holder !== undefined && isAlive(holder)) {
        throw new LockError(
          `another vmftp run holds the lock ${file}: pid ${holder.pid} on ${holder.host}, config ${holder.configPath ?? '(not recorded)'}, started ${localTime(holder.startedAt)}`,
          'wait for it to finish; if no vmftp is running, delete that file',
        );
      }
      if (holder !== undefined && run.changesNothing === true) {
        return {
          unreported: {
            pid: holder.pid,
            host: holder.host,
            startedAt: holder.startedAt,
            ...(holder.forcedOut === undefined ? {} : { forcedOut: holder.forcedOut }),
            programs: [],
          },
          recordChild: () => () => undefined,
          recordPrivateDir: () => () => undefined,
          release: async () => undefined,
        };
      }
      onStale(
        holder === undefined
          ? `lock ${file} is unreadable: taking it over`
          : `lock ${file} was left by pid ${holder.pid} (started ${holder.startedAt}), which is gone: taking it over`,
      );
      if (holder !== undefined) previous = endAbandonedRun(holder);
      await fs.rm(file, { force: true });
    }
    throw new LockError(`could not take the lock ${file}: another run took it at the same moment`);
  } finally {
    await fs.rm(draft, { force: true });
  }
}

/**
 * Returns the error for a lock this account cannot create (a folder without write permission, a
 * file where its folder should be, a full disk, a file system without hard links): a setting or
 * the machine to fix, found before anything was touched.
 */
function unwritableLock(file: string, error: unknown): ConfigError {
  return new ConfigError(
    `cannot create the lock file ${file} (${(error as Error).message}): nothing was sent or deleted`,
    [],
    'let the account that runs vmftp write to that folder, or set `lockFile` to a file in one it can write (without `lockFile` the lock sits next to `log.file`, else in the temp folder)',
  );
}

/** Returns what the dead owner left: each program it was running is ended when it is proven to be that program. */
function endAbandonedRun(holder: LockOwner): AbandonedRun {
  const programs = (holder.children ?? []).map((child) => {
    const presence = presenceOf(child);
    if (presence !== 'running') return { pid: child.pid, program: child.program, state: presence };
    try {
      // An orphaned upload: it holds a connection of the server and writes into a .partial this run resumes.
      process.kill(child.pid, 'SIGTERM');
      return { pid: child.pid, program: child.program, state: 'ended' as const };
    } catch {
      return { pid: child.pid, program: child.program, state: 'gone' as const };
    }
  });
  const removedPrivateDirs = (holder.privateDirs ?? []).filter(removePrivateDir);
  return {
    pid: holder.pid,
    host: holder.host,
    startedAt: holder.startedAt,
    ...(holder.forcedOut === undefined ? {} : { forcedOut: holder.forcedOut }),
    programs,
    ...(removedPrivateDirs.length === 0 ? {} : { removedPrivateDirs }),
  };
}

/**
 * Returns true when it removed `dir`, a private folder of a dead run's password file. Only a
 * folder named as secret-files.ts names them is touched: the lock is a file anyone with access
 * to the folder could edit, and it must not make vmftp delete anything else.
 */
function removePrivateDir(dir: string): boolean {
  if (!path.isAbsolute(dir) || !path.basename(dir).startsWith(PRIVATE_DIR_PREFIX)) return false;
  try {
    if (!lstatSync(dir).isDirectory()) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces the lock's content in one step (written aside, renamed over it): a reader sees the
 * old or the new record, never half of one. A failure only costs the record of a program.
 */
function rewriteLock(file: string, owner: LockOwner): void {
  const draft = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(draft, JSON.stringify(owner));
    renameSync(draft, file);
  } catch {
    rmSync(draft, { force: true });
  }
}

/** Writes `mark` as the lock unless a lock is there (another run took it since this one released it). */
function writeMarkIfFree(file: string, mark: LockOwner): void {
  try {
    writeFileSync(file, JSON.stringify(mark), { flag: 'wx' });
  } catch {
    // Another run holds the lock now: it is running, so nobody is left without news of this one.
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
      ...(typeof parsed.program === 'string' ? { program: parsed.program } : {}),
      ...(typeof parsed.processStartedAt === 'string' ? { processStartedAt: parsed.processStartedAt } : {}),
      children: Array.isArray(parsed.children) ? parsed.children.filter(isProcessMark) : [],
      privateDirs: Array.isArray(parsed.privateDirs) ? parsed.privateDirs.filter((dir): dir is string => typeof dir === 'string') : [],
      ...(typeof parsed.forcedOut === 'string' ? { forcedOut: parsed.forcedOut } : {}),
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

function isProcessMark(value: unknown): value is ProgramMark {
  const mark = value as Partial<ProgramMark> | null;
  return typeof mark?.pid === 'number' && typeof mark.program === 'string' && typeof mark.startedAt === 'string';
}

function isAlive(owner: LockOwner): boolean {
  // A lock from another machine (a shared folder) cannot be checked from here: treat it as held.
  if (owner.host !== os.hostname()) return true;
  const presence = presenceOf({
    pid: owner.pid,
    // Locks of older versions have no program: its name is then not compared.
    ...(owner.program === undefined ? {} : { program: owner.program }),
    startedAt: owner.processStartedAt ?? owner.startedAt,
    ...(owner.processStart === undefined ? {} : { processStart: owner.processStart }),
  });
  // Where the system cannot tell (no /proc, no PowerShell), a live pid keeps the lock: the safe side.
  return presence !== 'gone';
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
