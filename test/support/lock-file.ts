/**
 * The run lock's file (`vmftp.lock`), as far as the tests read and write it: who holds it, and
 * what it records of the programs and private folders a run may leave behind.
 *
 *   writeLockFile(s.lockFile);                        // held by this test process: alive on this host
 *   writeLockFile(s.lockFile, { pid: gone });          // left by a process that is gone
 *   assert.equal(readLockFile(s.lockFile).pid, running.pid);
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

export interface LockFileJson {
  readonly pid: number;
  readonly host: string;
  /** When the run started (ISO). */
  readonly startedAt: string;
  /** The holder's start time as the system tells it: a pid reused by another process has another. */
  readonly processStart?: string;
  /** Set when the holder was forced out before its report was done: how. */
  readonly forcedOut?: string;
  /** The programs (curl, ncftpput) the holder runs. */
  readonly children?: readonly { pid: number; program: string; startedAt?: string; processStart?: string }[];
  /** The private folders with a password file the holder made. */
  readonly privateDirs?: readonly string[];
}

/** Returns the record in the lock file. */
export function readLockFile(file: string): LockFileJson {
  return JSON.parse(readFileSync(file, 'utf8')) as LockFileJson;
}

/** Writes a lock file held by this test process on this host, started now, with `fields` in place of those. */
export function writeLockFile(file: string, fields: Partial<LockFileJson> = {}): void {
  writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), ...fields }));
}
