/**
 * The four things every failure scenario of the integration suites must show (docs/design.md "Safety
 * invariants"), judged on the server's disk and the local disk, never on what vmftp says:
 *
 *   const before = snapshot(source, remoteRoot);
 *   const run = await vmftp('-x');
 *   assertSafeFailure(run, before, { code: 1, cause: /552/ });    // before knows its two trees
 *
 * 1. old backups intact: every final-named folder that was on the server before is still there,
 *    byte for byte (pass `deletedOnPurpose` for the ones the scenario deletes by design);
 * 2. nothing incomplete under a final name: every final-named folder on the server now is either
 *    byte-identical to the local backup of that name, or was there before, unchanged;
 * 3. the local folder is not purged: the local tree is byte-identical to before;
 * 4. the exit code is the expected non-zero one and stdout+stderr name the cause.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CliResult } from './cli.js';
import { readTree } from './fixtures.js';

/** Shaped like a stamp (`yyyy-MM-dd-HHmmss`), valid or not: anything vmftp might take for a final name. */
const FINAL_NAME = /^\d{4}-\d{2}-\d{2}-\d{6}$/;

/** `<VM>/<STAMP>` -> the files of that folder (relative path -> bytes). */
export type FinalFolders = Map<string, Record<string, Buffer>>;

/** Returns every `<VM>/<final name>` folder under remoteRoot (empty ones included) with its files. */
export function finalFolders(remoteRoot: string): FinalFolders {
  const folders: FinalFolders = new Map();
  if (!existsSync(remoteRoot)) return folders;
  for (const vm of readdirSync(remoteRoot).sort()) {
    const vmDir = path.join(remoteRoot, vm);
    if (!statSync(vmDir).isDirectory()) continue;
    for (const name of readdirSync(vmDir).sort()) {
      const dir = path.join(vmDir, name);
      if (FINAL_NAME.test(name) && statSync(dir).isDirectory()) folders.set(`${vm}/${name}`, readTree(dir));
    }
  }
  return folders;
}

/** Returns the sorted entry names of `<remoteRoot>/<vm>`, or [] when that folder does not exist. */
export function remoteEntries(remoteRoot: string, vm: string): string[] {
  const dir = path.join(remoteRoot, vm);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export interface Snapshot {
  readonly source: string;
  readonly remoteRoot: string;
  readonly local: Record<string, Buffer>;
  readonly remote: FinalFolders;
}

/** Returns what the scenario starts from: the whole local tree and the final-named remote folders. */
export function snapshot(source: string, remoteRoot: string): Snapshot {
  return { source, remoteRoot, local: readTree(source), remote: finalFolders(remoteRoot) };
}

/** Asserts that every final-named folder on the server is complete: identical to its local backup, or unchanged since `before`. */
export function assertNoIncompleteFinal(remoteRoot: string, source: string, before: FinalFolders = new Map()): void {
  for (const [name, files] of finalFolders(remoteRoot)) {
    const previous = before.get(name);
    if (previous !== undefined && sameFiles(previous, files)) continue;
    const localDir = path.join(source, ...name.split('/'));
    const was = previous === undefined ? 'was not there before' : 'changed since before the run';
    assert.ok(existsSync(localDir), `${name} is on the server under a final name, ${was}, and has no local backup: incomplete`);
    assert.ok(sameFiles(files, readTree(localDir)), `${name} is on the server under a final name, ${was}, and differs from the local backup`);
  }
}

function sameFiles(a: Record<string, Buffer>, b: Record<string, Buffer>): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => b[name] !== undefined && a[name]!.equals(b[name]!));
}

/** Asserts the four things of a failure scenario (see the header). */
export function assertSafeFailure(
  run: CliResult,
  before: Snapshot,
  expected: {
    readonly code: number;
    /** Must match stdout + stderr. */
    readonly cause: RegExp;
    /** `<VM>/<STAMP>` folders the scenario deletes by design (--delete-first). */
    readonly deletedOnPurpose?: readonly string[];
  },
): void {
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, expected.code, `exit code\n${output}`);
  assert.match(output, expected.cause);
  const after = finalFolders(before.remoteRoot);
  for (const [name, files] of before.remote) {
    if (expected.deletedOnPurpose?.includes(name)) continue;
    const now = after.get(name);
    assert.ok(now !== undefined, `old backup ${name} is gone from the server`);
    assert.ok(sameFiles(now, files), `old backup ${name} changed on the server`);
  }
  assertNoIncompleteFinal(before.remoteRoot, before.source, before.remote);
  assert.deepEqual(readTree(before.source), before.local, 'the local backups must not be touched after a failure');
}
