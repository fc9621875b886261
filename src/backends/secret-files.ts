/**
 * Files that hold a password for a child program (ncftpput's `-f` login file)
 * or its private working files (a CA bundle, a debug log). They live in a
 * fresh folder only this user can open (0700, files 0600) and are removed
 * when the task ends, whatever the outcome, and when the process exits or is
 * stopped with SIGINT/SIGTERM/SIGHUP while the task still runs. A process that
 * dies without a chance to (kill -9, End task, a power cut) leaves the folder
 * in its lock's record, and the next run removes it (run/lock.ts).
 */
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildRecord } from './programs.js';

/** The start of every private folder's name: the next run removes only folders named so (run/lock.ts). */
export const PRIVATE_DIR_PREFIX = 'vmftp-secret-';

/** Folders of tasks still running; removed synchronously if the process ends under them. */
const live = new Set<string>();
let hooked = false;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeLive(): void {
  for (const dir of live) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort on the way out; the folder is private to this user either way.
    }
    live.delete(dir);
  }
}

/**
 * Registers the exit and signal hooks once. A signal listener would cancel
 * Node's default "terminate" action, so when ours is the only listener it
 * re-raises the signal after cleaning up; when the CLI has its own handler
 * (which calls process.exit), the 'exit' hook does the cleaning.
 */
function hookProcessEnd(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', removeLive);
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      removeLive();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** A private folder for the files of one program run. */
export interface PrivateDir {
  readonly path: string;
  /** Returns the path of `name` in the folder, written with `content` and mode 0600. */
  writeFile(name: string, content: string): Promise<string>;
  /** Returns the path `name` would have in the folder (for files the program writes, such as a log). */
  file(name: string): string;
}

/**
 * Returns what `task` returns, after it ran with a fresh private folder that is
 * removed afterwards in every case (success, failure, Ctrl-C, SIGTERM), and
 * kept in `record` meanwhile (kill -9: the next run removes it).
 */
export async function withPrivateDir<T>(task: (dir: PrivateDir) => Promise<T>, record?: Pick<ChildRecord, 'recordPrivateDir'>): Promise<T> {
  hookProcessEnd();
  // mkdtemp creates the folder with mode 0700 on POSIX; on Windows the temp folder is per user.
  // Synchronous, so no signal can land between creating the folder and registering it for removal.
  const dir = mkdtempSync(path.join(os.tmpdir(), PRIVATE_DIR_PREFIX));
  live.add(dir);
  const forget = record?.recordPrivateDir(dir);
  const file = (name: string): string => {
    if (path.basename(name) !== name) throw new Error(`private file name must be a plain name: ${name}`);
    return path.join(dir, name);
  };
  const privateDir: PrivateDir = {
    path: dir,
    file,
    async writeFile(name: string, content: string): Promise<string> {
      const target = file(name);
      // flag 'wx': never follow or reuse something that is already there.
      await fs.writeFile(target, content, { mode: 0o600, flag: 'wx' });
      return target;
    },
  };
  try {
    return await task(privateDir);
  } finally {
    live.delete(dir);
    await fs.rm(dir, { recursive: true, force: true });
    forget?.();
  }
}
