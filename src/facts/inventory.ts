import path from 'node:path';
import type { BackupFile, RemoteBackup, TargetInventory, UnreadableFolder } from '../core/model.js';
import { isValidVmName, parseBackupFolderName } from '../core/stamp.js';
import type { TargetConfig } from '../config/types.js';
import { FtpError } from '../errors.js';
import type { FtpSession, RemoteEntry } from '../ftp/session.js';

/**
 * How an inventory lists folders: 'fast' may use STAT on the control connection (checked against
 * MLSD/LIST first, see FtpSession.list); 'proven' always uses MLSD/LIST. 'fast' only on a connection
 * that will never change anything: STAT puts file names on the control connection, and a name
 * holding CR LF can leave a stale reply there that would answer a later command.
 */
export type Listing = 'fast' | 'proven';

/** What an inventory needs of a session: which target it is on, and listing a folder there. */
export type InventorySession = Pick<FtpSession, 'target' | 'list'>;

/**
 * What a parallel inventory needs of a target's connections: the target, and a session of it for one
 * task at a time (SessionPool.use).
 */
export interface InventoryPool {
  readonly target: TargetConfig;
  use<T>(task: (session: InventorySession) => Promise<T>): Promise<T>;
}

/**
 * Returns everything a target holds under its remoteDir: every backup of every
 * VM with its files and sizes, unfinished `.partial` uploads included, and the VM
 * folders the server refused to list (`unreadable`). A remoteDir that does not
 * exist yet is an empty inventory.
 */
export async function takeInventory(session: InventorySession, listing: Listing = 'proven'): Promise<TargetInventory> {
  const entries = (await session.list(session.target.remoteDir, listing)) ?? [];
  const vms = new Map<string, VmInventory | UnreadableFolder>();
  // One connection does one task at a time: the VMs one after the other.
  for (const vm of vmFolders(entries)) vms.set(vm, await inventoryVmOrRefusal(session, vm, listing));
  return inventoryOf(session.target, entries, vms);
}

/**
 * Returns what takeInventory returns, its VMs listed side by side on as many of `pool`'s connections
 * as it gives, 'proven' (these connections rename and delete). For the listings during and after a
 * run, when the pool's connections are open; rejects with the first failure once every listing ended.
 */
export async function takeInventoryOver(pool: InventoryPool): Promise<TargetInventory> {
  const entries = (await pool.use((session) => session.list(pool.target.remoteDir))) ?? [];
  const names = vmFolders(entries);
  const settled = await Promise.allSettled(names.map((vm) => pool.use((session) => inventoryVmOrRefusal(session, vm))));
  const vms = new Map<string, VmInventory | UnreadableFolder>();
  for (const [index, result] of settled.entries()) {
    if (result.status === 'rejected') throw result.reason;
    vms.set(names[index]!, result.value);
  }
  return inventoryOf(pool.target, entries, vms);
}

/** The backups in one VM's folder, and what in it is not a backup. */
interface VmInventory {
  readonly backups: RemoteBackup[];
  readonly strays: string[];
}

function isVmFolder(entry: RemoteEntry): boolean {
  return entry.kind === 'dir' && isValidVmName(entry.name);
}

function vmFolders(entries: readonly RemoteEntry[]): string[] {
  return entries.filter(isVmFolder).map((entry) => entry.name);
}

/**
 * Returns the inventory of a remoteDir listed as `entries`, whose VM folders hold `vms` (or could
 * not be listed); anything else there is a stray.
 */
function inventoryOf(target: TargetConfig, entries: readonly RemoteEntry[], vms: ReadonlyMap<string, VmInventory | UnreadableFolder>): TargetInventory {
  const backups: RemoteBackup[] = [];
  const strays: string[] = [];
  const unreadable: UnreadableFolder[] = [];
  for (const entry of entries) {
    const vm = isVmFolder(entry) ? vms.get(entry.name) : undefined;
    if (vm === undefined) strays.push(entry.name);
    else if ('reason' in vm) unreadable.push(vm);
    else {
      backups.push(...vm.backups);
      strays.push(...vm.strays);
    }
  }
  return { target: target.name, remoteDir: target.remoteDir, backups, strays, ...(unreadable.length === 0 ? {} : { unreadable }) };
}

/**
 * A folder that a listing of its parent showed and that the server then refused to list (a 5xx
 * reply, e.g. 550 for a folder without read permission) or answered as missing: what it holds is unknown.
 */
class FolderRefused extends FtpError {
  constructor(
    readonly dir: string,
    /** The server's words. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`list ${dir}: ${reason}`, 'permanent', undefined, undefined, options);
  }
}

/** Returns the entries of `dir`, a folder its parent's listing showed; a refusal to list it rejects with a FolderRefused. */
async function listShownFolder(session: InventorySession, dir: string, listing: Listing): Promise<RemoteEntry[]> {
  let entries: RemoteEntry[] | undefined;
  try {
    entries = await session.list(dir, listing);
  } catch (error) {
    // A reply of the server's own about this folder; a lost connection or a 4xx is the target's (retried there).
    if (error instanceof FtpError && error.kind !== 'auth' && error.replyCode !== undefined && error.replyCode >= 500) {
      const words = error.cause instanceof Error ? error.cause.message : error.message;
      throw new FolderRefused(dir, `the server replied ${words}`, { cause: error });
    }
    throw error;
  }
  // The CWD that tells a missing folder from a failing one was refused too (pure-ftpd on a folder without permission).
  if (entries === undefined) throw new FolderRefused(dir, `the server lists it in ${path.posix.dirname(dir)} but refuses to open it`);
  return entries;
}

/**
 * Returns what inventoryVm returns, or, when the server refuses to list the VM's folder or one of
 * its backup folders, that folder and the server's words: that VM's problem, not the target's.
 */
async function inventoryVmOrRefusal(session: InventorySession, vm: string, listing: Listing = 'proven'): Promise<VmInventory | UnreadableFolder> {
  try {
    return await vmInventory(session, vm, listing, 'refused');
  } catch (error) {
    if (error instanceof FolderRefused) return { vm, dir: error.dir, reason: error.reason };
    throw error;
  }
}

/**
 * Returns the backups of one VM on the session's target (and what in its folder is not a backup);
 * a VM without a folder there has none. Rejects with a FolderRefused when the server refuses to
 * list one of its folders.
 */
export function inventoryVm(session: InventorySession, vm: string, listing: Listing = 'proven'): Promise<VmInventory> {
  return vmInventory(session, vm, listing, 'empty');
}

/** Returns what inventoryVm returns; `whenMissing`: what a VM folder that lists as missing counts as. */
async function vmInventory(session: InventorySession, vm: string, listing: Listing, whenMissing: WhenMissing): Promise<VmInventory> {
  const vmDir = path.posix.join(session.target.remoteDir, vm);
  const backups: RemoteBackup[] = [];
  const strays: string[] = [];
  for (const entry of await listFolder(session, vmDir, listing, whenMissing)) {
    const folder = entry.kind === 'dir' ? parseBackupFolderName(entry.name) : undefined;
    if (folder === undefined) {
      strays.push(`${vm}/${entry.name}`);
      continue;
    }
    const files = await listFiles(session, path.posix.join(vmDir, entry.name), '', listing, 'refused');
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    backups.push({ vm, stamp: folder.stamp, partial: folder.partial, files, bytes });
  }
  return { backups, strays };
}

/**
 * Returns every file under `dir` (a backup folder) with its size as the server lists it, paths
 * relative to `dir` with `/`; an empty list when `dir` does not exist. MLSD/LIST only: the upload's
 * verify reads sizes from it, on a connection that goes on to rename.
 */
export function listBackupFiles(session: InventorySession, dir: string): Promise<BackupFile[]> {
  return listFiles(session, dir, '', 'proven', 'empty');
}

/**
 * What a folder the server answers as missing counts as: 'empty' (it may not exist: a VM folder not
 * made yet, the upload's verify), or 'refused' (its parent's listing showed it, so it exists).
 */
type WhenMissing = 'empty' | 'refused';

/** Returns the entries of `dir`; one that lists as missing is empty or refused as `whenMissing` says. */
async function listFolder(session: InventorySession, dir: string, listing: Listing, whenMissing: WhenMissing): Promise<RemoteEntry[]> {
  return whenMissing === 'refused' ? listShownFolder(session, dir, listing) : ((await session.list(dir, listing)) ?? []);
}

async function listFiles(session: InventorySession, dir: string, prefix: string, listing: Listing, whenMissing: WhenMissing): Promise<BackupFile[]> {
  const files: BackupFile[] = [];
  for (const entry of await listFolder(session, dir, listing, whenMissing)) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.kind === 'dir') files.push(...(await listFiles(session, path.posix.join(dir, entry.name), relative, listing, whenMissing)));
    else if (entry.kind === 'file') files.push({ path: relative, size: entry.size });
  }
  return files;
}
