/**
 * The facts and decisions that flow through a run, as plain serialisable data.
 * Nothing here reads a file, opens a socket or asks for the time.
 */

/** One file of a backup; `path` is relative to the backup folder, with `/` separators. */
export interface BackupFile {
  readonly path: string;
  readonly size: number;
  /**
   * A local file's modification time (ms since the epoch) when the scan saw it: a file the backup
   * job writes in place at its final size (a preallocated disk image) changes this, not its size.
   */
  readonly modifiedMs?: number;
}

/** A backup folder the backup job left in `<source>/<vm>/<stamp>/`. */
export interface LocalBackup {
  readonly vm: string;
  readonly stamp: string;
  /** Absolute path of `<source>/<vm>/<stamp>`. */
  readonly dir: string;
  readonly files: readonly BackupFile[];
  readonly bytes: number;
}

/**
 * A VM folder, or one of its backup folders, that the scan could not read to the end (no
 * permission, a file gone between the listing and its size, a broken link), or that a target's
 * server refused to list: what is in it is not known whole, so none of it is sent, deleted or
 * purged, and the run fails naming it (core/plan.ts).
 */
export interface UnreadableFolder {
  readonly vm: string;
  /** Absolute path of `<source>/<vm>` or `<source>/<vm>/<stamp>`; on a target `<remoteDir>/<vm>` or `<remoteDir>/<vm>/<stamp>`. */
  readonly dir: string;
  /** The system's or the server's words: `ENOENT: no such file or directory, stat '...'`, `the server replied 550 Permission denied.`. */
  readonly reason: string;
}

/** A backup folder on a target: `<remoteDir>/<vm>/<stamp>` or `<remoteDir>/<vm>/<stamp>.partial`. */
export interface RemoteBackup {
  readonly vm: string;
  readonly stamp: string;
  /** True for an unfinished upload (`<stamp>.partial`). */
  readonly partial: boolean;
  readonly files: readonly BackupFile[];
  readonly bytes: number;
}

/** What one target holds under its `remoteDir`. */
export interface TargetInventory {
  readonly target: string;
  readonly remoteDir: string;
  readonly backups: readonly RemoteBackup[];
  /** Entries that are not `<vm>/<stamp>` folders: reported, never touched. Paths relative to remoteDir. */
  readonly strays: readonly string[];
  /**
   * VMs whose folder (or a backup folder in it) the server refused to list: what the target holds
   * of them is unknown, so they are not uploaded there, deleted there or purged (absent: none).
   */
  readonly unreadable?: readonly UnreadableFolder[];
}

/** A backup (`vm`, `stamp`) bound for a `target`: an upload there that the deadline deferred, or that failed. */
export interface BackupToTarget {
  readonly target: string;
  readonly vm: string;
  readonly stamp: string;
}

/** restic `forget` style policy; a backup is kept if any rule keeps it. */
export interface GfsPolicy {
  readonly last?: number;
  readonly hourly?: number;
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  readonly yearly?: number;
  /** Keep everything newer than the newest stamp minus this duration, e.g. `30d`, `1y2m3d4h`. */
  readonly within?: string;
}

/** A number keeps the N newest (restic's keep-last); an object is a GFS policy. */
export type KeepPolicy = number | GfsPolicy;

/** How old the newest complete backup of a VM on a target may be after a run: a duration (`36h`, `8d`), or false for no check. */
export type MaxAge = string | false;

/** Which targets a VM goes to and, optionally, its own retention, age limit and upload priority. */
export interface VmRoute {
  readonly targets: readonly string[];
  readonly keep?: KeepPolicy;
  readonly maxAge?: MaxAge;
  /** Higher goes first among the uploads of one round (core/order.ts); default 0. */
  readonly priority?: number;
}

/** The part of the configuration the planner needs. */
export interface PlanSettings {
  /** Global retention (config `keep`, default 3). */
  readonly keep: KeepPolicy;
  /** `-n`: overrides every other retention setting when given. */
  readonly keepOverride?: number;
  /** Per-target retention, used when the VM has none of its own. */
  readonly targetKeep: Readonly<Record<string, KeepPolicy | undefined>>;
  /** VM name (or `'*'`) -> route. */
  readonly vms: Readonly<Record<string, VmRoute>>;
  readonly deleteFirst: boolean;
}

/** One file to send; `offset` bytes are already on the server (offset === size: nothing to send, only verify). */
export interface FileTransfer {
  readonly path: string;
  readonly size: number;
  /** The local file's modification time when the scan saw it (BackupFile.modifiedMs). */
  readonly modifiedMs?: number;
  readonly offset: number;
}

export interface UploadAction {
  readonly type: 'upload' | 'resume';
  readonly stamp: string;
  /** Absolute local folder the files are read from. */
  readonly localDir: string;
  readonly files: readonly FileTransfer[];
  /** Bytes still to send (sum of size - offset). */
  readonly bytes: number;
  /** True when `<stamp>` exists remotely but is incomplete: it is removed right before the rename. */
  readonly replacesIncomplete: boolean;
  readonly reason: string;
}

export interface DeleteAction {
  readonly type: 'delete';
  readonly stamp: string;
  /** True: delete `<stamp>.partial`; false: delete the complete backup `<stamp>`. */
  readonly partial: boolean;
  readonly reason: string;
}

export interface KeepAction {
  readonly type: 'keep';
  readonly stamp: string;
  readonly reason: string;
}

export interface SkipAction {
  readonly type: 'skip';
  readonly stamp: string;
  readonly reason: string;
}

export type PlanAction = UploadAction | DeleteAction | KeepAction | SkipAction;

export interface VmPlan {
  readonly vm: string;
  readonly policy: KeepPolicy;
  /** Uploads first, then keeps, skips and deletes; stamps newest first within each kind. */
  readonly actions: readonly PlanAction[];
}

/** One upload of a target, as scheduled: which backup, and the bytes it still sends. */
export interface ScheduledUpload {
  readonly vm: string;
  readonly stamp: string;
  readonly bytes: number;
}

export interface TargetPlan {
  readonly target: string;
  readonly remoteDir: string;
  readonly vms: readonly VmPlan[];
  /** Every upload and resume of `vms`, in the order their transfers start (core/order.ts). */
  readonly order: readonly ScheduledUpload[];
}

/** Something the planner refused to decide, e.g. a local VM that no route maps to a target. */
export interface PlanProblem {
  readonly vm: string;
  /** The target it is about, when it is one target's (a VM folder there that could not be listed). */
  readonly target?: string;
  readonly message: string;
}

/** What a bare `-x` does with one local backup after a fully successful run, and why (core/purge.ts). */
export interface LocalPurge {
  readonly vm: string;
  readonly stamp: string;
  /** Absolute local folder `<source>/<vm>/<stamp>`. */
  readonly dir: string;
  readonly purge: boolean;
  readonly reason: string;
}

/** The whole decision of a run: `--simulate` prints it, the executor runs it. */
export interface Plan {
  readonly deleteFirst: boolean;
  readonly targets: readonly TargetPlan[];
  readonly problems: readonly PlanProblem[];
  /**
   * Set by `--simulate`: what a bare `-x` would purge and leave once this plan ran in full. The run
   * decides again by the same rule on what the targets hold after it (invariant 5).
   */
  readonly purge?: readonly LocalPurge[];
  /** Set by `--simulate`: how long each target's uploads would take, and what a deadline would defer (core/forecast.ts). */
  readonly forecast?: Forecast;
}

/** What the bytes per second of an estimate came from: the `bwlimit` in force, the last run's measured speed. */
export type RateBasis = 'bwlimit' | 'measured';

/** What the last run's uploads to a target moved, and in how long (their wall time). */
export interface MeasuredSpeed {
  readonly bytes: number;
  readonly seconds: number;
  /** When that run started (ISO). */
  readonly measuredAt: string;
  /**
   * How long (s) of `seconds` a bwlimit held the uploads back: more than a moment, and the speed is
   * only a lower bound of the link's (core/link-speed.ts). Absent in a record of an older vmftp: unknown.
   */
  readonly heldSeconds?: number;
}

export interface Estimate {
  /** How long the uploads take from the forecast's start. */
  readonly durationMs: number;
  /** When the last upload ends (ISO). */
  readonly endsAt: string;
  /** What the rates came from: the limit in force, the last run's speed where no limit held, or both. */
  readonly basis: readonly RateBasis[];
  /** Bytes per second when the uploads start. */
  readonly startRate: number;
  /** The other targets that take a part of the run's `bwlimit` while it holds this one back; absent: none. */
  readonly sharedWith?: readonly string[];
  /**
   * Present when `durationMs` is an upper bound: a rate it used is a measured speed that is only
   * a lower bound of the link's. Says why the link may be faster. The deferred backups are then
   * those the deadline may cut; the others end before it.
   */
  readonly atMost?: string;
}

/** A backup that would not be complete by the deadline: it stays `.partial` (or is not started) and resumes next run. */
export interface ForecastDeferred {
  readonly vm: string;
  readonly stamp: string;
  readonly bytes: number;
  /** Bytes of it on the server by the deadline (0: it would not start). */
  readonly sentByDeadline: number;
}

/** One target's forecast. */
export interface TargetForecast {
  readonly target: string;
  /** Bytes the target's uploads send. */
  readonly bytes: number;
  /** Absent when the time is unknown (a moment with neither a limit nor a measured speed): `noEstimate` says why. */
  readonly estimate?: Estimate;
  readonly noEstimate?: string;
  /** The last run's speed, when the estimate used it. */
  readonly measured?: MeasuredSpeed;
  /**
   * With a deadline: the uploads it would leave unfinished, in start order. Also without an
   * estimate when the time became unknown only after the deadline.
   */
  readonly deferred?: readonly ForecastDeferred[];
  /** With a deadline, instead of `deferred`: why which uploads it would cut cannot be judged (their time is unknown). */
  readonly deferredUnknown?: string;
}

/** How long the uploads of a plan would take, from `from` on. */
export interface Forecast {
  /** When the forecast starts the uploads: the moment of `--simulate` (ISO). */
  readonly from: string;
  /** The run's deadline, and which setting gives it. */
  readonly deadline?: { readonly at: string; readonly by: string };
  readonly targets: readonly TargetForecast[];
}

/** What a retention policy decides about a list of stamps. */
export interface RetentionResult {
  /** Stamps to keep, newest first. */
  keep: string[];
  /** Stamps to remove, newest first. */
  remove: string[];
  /** For every input stamp: why it is kept (`"last 1/3"`, `"daily 3/7"`), or the one reason it is removed. */
  reasons: Record<string, string[]>;
}

/** A planned delete the delete phase did not run, and why. */
export interface HeldDelete {
  readonly stamp: string;
  readonly reason: string;
}

/** The deletes of one target and VM that the fresh inventory still supports, and the ones held back. */
export interface ConfirmedDeletes {
  readonly deletes: DeleteAction[];
  readonly held: HeldDelete[];
}
