/**
 * Deleting one local backup for a bare `-x`, so that it frees what the report says it freed. The
 * scan follows links (a backup folder, a VM folder or a disk image linked from another disk, a
 * Windows junction), so the purge does too, as `rsync -L --remove-source-files` and `rclone move -L`
 * delete the files they sent through the links they followed: deleting only the link would leave
 * the data on the other disk while the report says "purged".
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { changeSinceScan } from '../core/purge.js';
import type { LocalBackup } from '../core/model.js';
import { listBackupFiles } from '../facts/scan.js';

export type LocalPurgeOutcome =
  /** Deleted; `elsewhere` holds the real paths deleted through links (empty when none was followed). */
  | { readonly kind: 'purged'; readonly elsewhere: readonly string[] }
  /** Not touched: its files are no longer the ones the scan saw. */
  | { readonly kind: 'changed'; readonly reason: string };

/**
 * Returns what became of one local backup: it is listed again and deleted only when its files are
 * those the scan saw (same paths, sizes and modification times); then every file, through the
 * links on the way, each linked folder once empty, and the links. Rejects when something cannot
 * be deleted (a file held open, no permission): what was deleted before stays deleted.
 */
export async function purgeLocalBackup(backup: LocalBackup): Promise<LocalPurgeOutcome> {
  const now = await listBackupFiles(backup.dir).catch((error: NodeJS.ErrnoException) => {
    // Gone since the scan (another program deleted it): nothing left to free, and no purge to claim.
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (now === undefined) return { kind: 'changed', reason: 'it (or a file in it) is gone since the scan' };
  const change = changeSinceScan(backup.files, now);
  if (change !== undefined) return { kind: 'changed', reason: `${change}: the targets were judged on the files the scan saw` };

  const elsewhere: string[] = [];
  // A VM folder that is a link puts the whole backup on the other disk; the link itself stays, as a
  // VM folder does. A source that is a link is where the administrator put it: not "elsewhere".
  const vmDir = path.dirname(backup.dir);
  const realVmDir = await fs.realpath(vmDir);
  if (realVmDir !== path.join(await fs.realpath(path.dirname(vmDir)), backup.vm)) elsewhere.push(path.join(realVmDir, backup.stamp));
  await deleteThroughLinks(backup.dir, elsewhere);
  return { kind: 'purged', elsewhere };
}

/** Deletes a file or a folder with all it holds; a link is deleted after what it leads to, whose real path goes to `elsewhere`. */
async function deleteThroughLinks(full: string, elsewhere: string[]): Promise<void> {
  const entry = await fs.lstat(full);
  if (entry.isSymbolicLink()) {
    const real = await fs.realpath(full);
    elsewhere.push(real);
    await deleteThroughLinks(real, elsewhere);
    // Not recursive: only the link (a junction on Windows) goes, never what it leads to a second time.
    await fs.rm(full);
  } else if (entry.isDirectory()) {
    for (const name of await fs.readdir(full)) await deleteThroughLinks(path.join(full, name), elsewhere);
    await fs.rmdir(full);
  } else {
    await fs.rm(full);
  }
}
