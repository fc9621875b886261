import type { LocalBackup, RemoteBackup, UnreadableFolder } from '../core/model.js';
import { compareStamps } from '../core/stamp.js';
import type { ResolvedConfig } from '../config/types.js';
import { isCompleteOn } from '../core/plan.js';
import type { Logger } from '../delivery/log.js';
import { connectTargets } from '../run/run.js';

export interface DisplayedBackup {
  readonly stamp: string;
  readonly files: number;
  readonly bytes: number;
  /** partial: an unfinished `.partial` upload; incomplete: files missing or of another size than the local copy. */
  readonly state: 'complete' | 'incomplete' | 'partial';
}

export interface DisplayedTarget {
  readonly target: string;
  readonly remoteDir: string;
  readonly error?: string;
  /** Set with `error` when the server refused the login. */
  readonly loginRefused?: true;
  readonly vms: readonly { readonly vm: string; readonly backups: readonly DisplayedBackup[] }[];
  readonly strays: readonly string[];
  /** VM folders the server refused to list: what the target holds of those VMs is unknown (absent: none). */
  readonly unreadable?: readonly UnreadableFolder[];
}

/** Returns every configured target's backups per VM, oldest first, judged against the local copies in `local`. */
export async function displayTargets(
  config: ResolvedConfig,
  local: readonly LocalBackup[],
  log: Logger,
): Promise<DisplayedTarget[]> {
  const names = Object.keys(config.targets);
  // STAT may list here: these connections only list, and are closed right after.
  const connected = await connectTargets(config, names, log, 'fast');
  for (const session of connected.sessions.values()) session.close();
  return names.map((name) => {
    const remoteDir = config.targets[name]!.remoteDir;
    const failure = connected.failures.find((outcome) => outcome.target === name);
    const inventory = connected.inventories.find((candidate) => candidate.target === name);
    if (failure?.error !== undefined || inventory === undefined) {
      return { target: name, remoteDir, error: failure?.error ?? 'no inventory', ...(failure?.loginRefused === true ? { loginRefused: true } : {}), vms: [], strays: [] };
    }
    const vmNames = [...new Set(inventory.backups.map((backup) => backup.vm))].sort();
    const vms = vmNames.map((vm) => ({
      vm,
      backups: inventory.backups
        .filter((backup) => backup.vm === vm)
        .sort((a, b) => compareStamps(a.stamp, b.stamp))
        .map((backup) => displayed(backup, local)),
    }));
    return { target: name, remoteDir, vms, strays: inventory.strays, ...(inventory.unreadable === undefined ? {} : { unreadable: inventory.unreadable }) };
  });
}

function displayed(backup: RemoteBackup, local: readonly LocalBackup[]): DisplayedBackup {
  const twin = local.find((candidate) => candidate.vm === backup.vm && candidate.stamp === backup.stamp);
  const state = backup.partial ? 'partial' : isCompleteOn(backup, twin) ? 'complete' : 'incomplete';
  return { stamp: backup.stamp, files: backup.files.length, bytes: backup.bytes, state };
}
