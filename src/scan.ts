import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import type { BackupFile, LocalBackup } from './core/model.js';
import { isStamp, vmNameProblem } from './core/stamp.js';
import { ConfigError } from './errors.js';

export interface ScanResult {
  readonly backups: LocalBackup[];
  /** Things under the source that are not backups: never uploaded, deleted or purged. */
  readonly warnings: string[];
}

/**
 * Returns the backups under `source` (`<source>/<VM>/<STAMP>/...`) with every
 * file's relative path and size, and a warning for everything else found there.
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
  const warnings: string[] = [];
  for (const vmEntry of vmEntries) {
    const vmPath = path.join(source, vmEntry.name);
    if (!vmEntry.isDirectory()) {
      warnings.push(`${vmPath}: not a VM folder, ignored`);
      continue;
    }
    const problem = vmNameProblem(vmEntry.name);
    if (problem !== undefined) {
      warnings.push(`${vmPath}: ${problem}, ignored`);
      continue;
    }
    for (const stampEntry of await readDir(vmPath)) {
      const dir = path.join(vmPath, stampEntry.name);
      if (!stampEntry.isDirectory() || !isStamp(stampEntry.name)) {
        warnings.push(`${dir}: not a backup folder (expected yyyy-MM-dd-HHmmss), ignored`);
        continue;
      }
      const files = await listFiles(dir, '');
      if (files.length === 0) {
        // An empty folder is more likely a job still starting than a backup; counting it would rotate out a real one.
        warnings.push(`${dir}: backup folder holds no file, ignored`);
        continue;
      }
      const bytes = files.reduce((sum, file) => sum + file.size, 0);
      backups.push({ vm: vmEntry.name, stamp: stampEntry.name, dir, files, bytes });
    }
  }
  return { backups, warnings };
}

async function readDir(dir: string): Promise<Dirent[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function listFiles(dir: string, prefix: string): Promise<BackupFile[]> {
  const files: BackupFile[] = [];
  for (const entry of await readDir(dir)) {
    const full = path.join(dir, entry.name);
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    // Links are followed: a backup job may link a disk image from elsewhere.
    const stats = entry.isSymbolicLink() ? await fs.stat(full) : entry;
    if (stats.isDirectory()) files.push(...(await listFiles(full, relative)));
    else if (stats.isFile()) files.push({ path: relative, size: (await fs.stat(full)).size });
  }
  return files;
}
