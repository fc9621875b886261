/**
 * Deleting one local backup for a bare `-x`, with `rm -rf`'s rule for links: the path to the backup
 * is resolved as the system resolves it (a source or VM folder that is a link, a Windows junction
 * putting a VM's backups on another disk, leads to where the backups lie, and they are deleted
 * there), but at and below the stamp folder a link is removed as a link and never followed. A link
 * inside a backup may lead anywhere (to `/`, to a VM's live storage): `-x` must never delete data
 * outside the backup's own tree. `rsync -L --remove-source-files` and `rclone move -L` do the same:
 * they unlink the name they sent (rsync's sender `do_unlink(fname)`, rclone's local
 * `Object.Remove` -> `os.Remove(o.path)`), which for a link is the link, not what it leads to.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { changeSinceScan } from '../core/purge.js';
import type { LocalBackup } from '../core/model.js';
import { listBackupFiles } from '../facts/scan.js';

export type LocalPurgeOutcome =
  | {
      readonly kind: 'purged';
      /** The real path of the folder deleted when a VM folder that is a link put it elsewhere. */
      readonly deletedAt?: string;
      /** The real paths of the data the links removed (the stamp folder or entries in it) led to: not deleted, still on the disk. */
      readonly dataKept: readonly string[];
    }
  /** Not touched: its files are no longer the ones the scan saw. */
  | { readonly kind: 'changed'; readonly reason: string };

/**
 * Returns what became of one local backup: it is listed again and deleted only when its files are
 * those the scan saw (same paths, sizes and modification times); then its tree goes, each link in
 * it (or the stamp folder itself, when a link) removed as a link. Rejects when something cannot be
 * deleted (a file held open, no permission): what was deleted before stays deleted.
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

  // A VM folder that is a link puts the whole backup on the other disk; the link itself stays, as a
  // VM folder does. A source that is a link is where the administrator put it: not "elsewhere". A
  // stamp folder that is a link is only removed: nothing is deleted where it leads.
  const vmDir = path.dirname(backup.dir);
  const realVmDir = await fs.realpath(vmDir);
  const movedByVmLink = realVmDir !== path.join(await fs.realpath(path.dirname(vmDir)), backup.vm);
  const stampIsLink = (await fs.lstat(backup.dir)).isSymbolicLink();
  const dataKept: string[] = [];
  await deleteTree(backup.dir, dataKept);
  return movedByVmLink && !stampIsLink ? { kind: 'purged', deletedAt: path.join(realVmDir, backup.stamp), dataKept } : { kind: 'purged', dataKept };
}

/**
 * Deletes a file or a folder with all it holds, as `rm -rf` does: a link is removed, never
 * followed; the real path of what it led to goes to `dataKept`. Whatever the folder holds goes,
 * listed by the scan or not (an empty folder, a fifo): the re-check proved its files are the
 * scanned ones, and nothing here leaves the folder's own tree.
 */
async function deleteTree(full: string, dataKept: string[]): Promise<void> {
  const entry = await fs.lstat(full);
  if (entry.isSymbolicLink()) {
    // A link leading nowhere keeps no data; the scan would have refused it, but it may be new.
    const real = await fs.realpath(full).catch(() => undefined);
    if (real !== undefined) dataKept.push(real);
    // Not recursive: only the link (a junction on Windows) goes.
    await fs.rm(full);
  } else if (entry.isDirectory()) {
    for (const name of await fs.readdir(full)) await deleteTree(path.join(full, name), dataKept);
    await fs.rmdir(full);
  } else {
    await fs.rm(full);
  }
}
