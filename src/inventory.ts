import path from 'node:path';
import type { BackupFile, RemoteBackup, TargetInventory } from './core/model.js';
import { isValidVmName, parseBackupFolderName } from './core/stamp.js';
import type { FtpSession } from './ftp/session.js';

/**
 * Returns everything a target holds under its remoteDir: every backup of every
 * VM with its files and sizes, unfinished `.partial` uploads included. A
 * remoteDir that does not exist yet is an empty inventory.
 */
export async function takeInventory(session: FtpSession): Promise<TargetInventory> {
  const { name: target, remoteDir } = session.target;
  const entries = (await session.list(remoteDir)) ?? [];
  const backups: RemoteBackup[] = [];
  const strays: string[] = [];
  for (const entry of entries) {
    if (entry.kind !== 'dir' || !isValidVmName(entry.name)) {
      strays.push(entry.name);
      continue;
    }
    const vm = await inventoryVm(session, entry.name);
    backups.push(...vm.backups);
    strays.push(...vm.strays);
  }
  return { target, remoteDir, backups, strays };
}

/** Returns the backups of one VM on the session's target (and what in its folder is not a backup). */
export async function inventoryVm(
  session: FtpSession,
  vm: string,
): Promise<{ backups: RemoteBackup[]; strays: string[] }> {
  const vmDir = path.posix.join(session.target.remoteDir, vm);
  const backups: RemoteBackup[] = [];
  const strays: string[] = [];
  for (const entry of (await session.list(vmDir)) ?? []) {
    const folder = entry.kind === 'dir' ? parseBackupFolderName(entry.name) : undefined;
    if (folder === undefined) {
      strays.push(`${vm}/${entry.name}`);
      continue;
    }
    const files = await listFiles(session, path.posix.join(vmDir, entry.name), '');
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    backups.push({ vm, stamp: folder.stamp, partial: folder.partial, files, bytes });
  }
  return { backups, strays };
}

async function listFiles(session: FtpSession, dir: string, prefix: string): Promise<BackupFile[]> {
  const files: BackupFile[] = [];
  for (const entry of (await session.list(dir)) ?? []) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.kind === 'dir') files.push(...(await listFiles(session, path.posix.join(dir, entry.name), relative)));
    else if (entry.kind === 'file') files.push({ path: relative, size: entry.size });
  }
  return files;
}
