import { promises as fs, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import type { BackupFile, LocalBackup, UnreadableFolder } from '../core/model.js';
import { isStamp, vmNameProblem } from '../core/stamp.js';
import { ConfigError } from '../errors.js';

export interface ScanResult {
  readonly backups: LocalBackup[];
  /** Folders that could not be read to the end: the other VMs still go up, and the plan fails the run naming these. */
  readonly unreadable: UnreadableFolder[];
  /** Things under the source that are not backups: never uploaded, deleted or purged. */
  readonly warnings: string[];
  /** Names of the folders right under the source (the VM folders, when `source` is right). */
  readonly folders: string[];
}

/**
 * Returns the backups under `source` (`<source>/<VM>/<STAMP>/...`) with every
 * file's relative path and size, a warning for everything else found there, and the folders
 * that could not be read (only the source itself failing rejects).
 */
export async function scanSource(source: string): Promise<ScanResult> {
  const vmEntries = await readDir(source).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(
      `source folder ${source} cannot be read: ${error.code ?? error.message}`,
      [],
      'check `source` in the config or the -f folder',
    );
  });
  const backups: LocalBackup[] = [];
  const unreadable: UnreadableFolder[] = [];
  const warnings: string[] = [];
  const folders: string[] = [];
  for (const vmEntry of vmEntries) {
    const vmPath = path.join(source, vmEntry.name);
    const vmIsFolder = await isFolder(vmEntry, vmPath).catch((error: Error) => {
      unreadable.push({ vm: vmEntry.name, dir: vmPath, reason: error.message });
      return undefined;
    });
    if (vmIsFolder === undefined) continue;
    if (!vmIsFolder) {
      warnings.push(`${vmPath}: not a VM folder, ignored`);
      continue;
    }
    folders.push(vmEntry.name);
    const problem = vmNameProblem(vmEntry.name);
    if (problem !== undefined) {
      warnings.push(`${vmPath}: ${problem}, ignored`);
      continue;
    }
    const stampEntries = await readDir(vmPath).catch((error: Error) => {
      unreadable.push({ vm: vmEntry.name, dir: vmPath, reason: error.message });
      return [];
    });
    for (const stampEntry of stampEntries) {
      const dir = path.join(vmPath, stampEntry.name);
      const stampIsFolder = isStamp(stampEntry.name)
        ? await isFolder(stampEntry, dir).catch((error: Error) => {
            unreadable.push({ vm: vmEntry.name, dir, reason: error.message });
            return undefined;
          })
        : false;
      if (stampIsFolder === undefined) continue;
      if (!stampIsFolder) {
        warnings.push(`${dir}: not a backup folder (expected yyyy-MM-dd-HHmmss), ignored`);
        continue;
      }
      const files = await listBackupFiles(dir).catch((error: Error) => {
        unreadable.push({ vm: vmEntry.name, dir, reason: error.message });
        return undefined;
      });
      if (files === undefined) continue;
      if (files.length === 0) {
        // An empty folder is more likely a job still starting than a backup; counting it would rotate out a real one.
        warnings.push(`${dir}: backup folder holds no file, ignored`);
        continue;
      }
      const bytes = files.reduce((sum, file) => sum + file.size, 0);
      backups.push({ vm: vmEntry.name, stamp: stampEntry.name, dir, files, bytes });
    }
  }
  return { backups, unreadable, warnings, folders };
}

/**
 * Returns the error for a source that holds no backup at all: nothing to upload is never a
 * success, it is a wrong `source` (another drive, `-f` at one VM's folder) or a backup job that
 * wrote nothing. Folders named like stamps right under the source mean it is one VM's folder.
 */
export function noBackupError(source: string, scan: ScanResult): ConfigError {
  const stamps = scan.folders.filter(isStamp);
  if (stamps.length > 0) {
    const shown = stamps.slice(0, 3).join(', ') + (stamps.length > 3 ? ', ...' : '');
    const are = stamps.length === 1 ? `folder ${shown} is a backup stamp` : `folders ${shown} are backup stamps`;
    return new ConfigError(
      `source folder ${source} holds no <VM>/<STAMP> backup: its ${are}, so it looks like the folder of one VM (${path.basename(source)}), not the folder of all VMs; nothing was sent or deleted`,
      [],
      `is \`source\` (or -f) right? Point it at the folder that holds one folder per VM: ${path.dirname(source)}`,
    );
  }
  const what =
    scan.folders.length === 0
      ? 'it holds no folder'
      : `none of its folders (${scan.folders.slice(0, 5).join(', ')}${scan.folders.length > 5 ? ', ...' : ''}) holds a yyyy-MM-dd-HHmmss folder with files`;
  return new ConfigError(
    `source folder ${source} holds no <VM>/<STAMP> backup: ${what}; nothing was sent or deleted`,
    [],
    'is `source` (or -f) right (drive, folder)? The backup job writes <source>/<VM>/<yyyy-MM-dd-HHmmss>/; if it is right, the backup job wrote nothing (or -x purged what it wrote since)',
  );
}

async function readDir(dir: string): Promise<Dirent[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Returns what an entry is once a link is followed: a backup job (or an administrator) may link a
 * disk image, a backup or a whole VM folder from another disk, and a Windows junction is a link
 * too. Rejects when the link leads nowhere.
 */
async function followed(entry: Dirent, full: string): Promise<Dirent | Stats> {
  return entry.isSymbolicLink() ? fs.stat(full) : entry;
}

/** Returns true when the entry is a folder, a linked one included; rejects as `followed` does. */
async function isFolder(entry: Dirent, full: string): Promise<boolean> {
  return (await followed(entry, full)).isDirectory();
}

/** Returns every file of a backup folder, links followed, as the scan lists it: `-x` lists a backup again right before it deletes it. */
export function listBackupFiles(dir: string): Promise<BackupFile[]> {
  return listFiles(dir, '');
}

async function listFiles(dir: string, prefix: string): Promise<BackupFile[]> {
  const files: BackupFile[] = [];
  for (const entry of await readDir(dir)) {
    const full = path.join(dir, entry.name);
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    const stats = await followed(entry, full);
    if (stats.isDirectory()) files.push(...(await listFiles(full, relative)));
    else if (stats.isFile()) {
      const { size, mtimeMs } = await fs.stat(full);
      files.push({ path: relative, size, modifiedMs: mtimeMs });
    }
  }
  return files;
}
