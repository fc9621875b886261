/**
 * The order a target's uploads start in: the newest backup of every VM first, then each VM's
 * second newest, and so on, so that a VM with a long queue of backups (or one huge backup) cannot
 * hold the others back; `priority` moves a VM ahead within each of these rounds. Pure.
 */
import type { ScheduledUpload, UploadAction } from './model.js';
import { compareStamps } from './stamp.js';

/** The uploads of one VM on one target, with the VM's priority (higher goes first). */
export interface VmUploads {
  readonly vm: string;
  readonly priority: number;
  readonly uploads: readonly Pick<UploadAction, 'stamp' | 'bytes'>[];
}

interface Ranked extends ScheduledUpload {
  /** 0 for the VM's newest upload, 1 for its second newest... */
  readonly round: number;
  readonly priority: number;
}

/**
 * Returns every upload of `vms` in the order its transfers start: by round (each VM's newest
 * upload is round 0, its second newest round 1...), then by priority, highest first, then by
 * bytes to send, fewest first (a small backup that can be safe in minutes does not wait behind a
 * large one of the same round), then by VM name (a stable order whatever the locale).
 */
export function orderUploads(vms: readonly VmUploads[]): ScheduledUpload[] {
  const ranked: Ranked[] = vms.flatMap(({ vm, priority, uploads }) =>
    [...uploads]
      .sort((a, b) => compareStamps(b.stamp, a.stamp))
      .map((upload, round) => ({ vm, stamp: upload.stamp, bytes: upload.bytes, round, priority })),
  );
  ranked.sort(
    (a, b) => a.round - b.round || b.priority - a.priority || a.bytes - b.bytes || (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0),
  );
  return ranked.map(({ vm, stamp, bytes }) => ({ vm, stamp, bytes }));
}
