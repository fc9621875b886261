/**
 * The `--json` documents vmftp prints, as far as the tests read them: a backup run's report, a
 * `-S` plan, a `-d` listing, `check`'s results and a failure (that JSON is vmftp's contract with
 * the scripts that read it, so the tests spell it out here instead of importing src's types).
 *
 *   const report = parseReport((await s.vmftp('--json')).stdout);
 *   const action = report.targets[0]!.actions.find((candidate) => candidate.stamp === STAMP);
 *   assert.deepEqual(actionKinds(report), ['keep'], 'the second run only keeps');
 *   const { plan } = parseSimulation((await s.vmftp('-S', '--json')).stdout);
 */

export interface ActionJson {
  readonly vm: string;
  readonly stamp: string;
  readonly action: string;
  readonly status: string;
  readonly bytes: number;
  readonly durationMs: number;
  readonly startedAt?: string;
  readonly detail: string;
}

/** A VM whose newest complete backup on a target is older than its maxAge. */
export interface TooOldJson {
  readonly target: string;
  readonly vm: string;
  readonly newest?: string;
  /** A newer backup the deadline deferred, itself older than the limit. */
  readonly deferred?: string;
  /** A newer backup whose upload failed this run. */
  readonly failed?: string;
  readonly maxAge: string;
  readonly message: string;
}

/** A VM that would be older than its maxAge on a target but for a deferred backup within it: not a failure. */
export interface AwaitingDeferredJson extends TooOldJson {
  readonly deferred: string;
}

/** A backup the deadline deferred, with how much of it the server holds. */
export interface DeferredJson {
  readonly target: string;
  readonly vm: string;
  readonly stamp: string;
  readonly bytes: number;
  readonly onServer?: number;
}

/** A VM the planner left out (no route, a folder not read or not listed), and why. */
export interface ProblemJson {
  readonly vm: string;
  readonly target?: string;
  readonly message: string;
}

export interface ReportJson {
  readonly exitCode: number;
  readonly durationMs: number;
  readonly problems?: readonly ProblemJson[];
  readonly afterSuccess?: {
    readonly kind: string;
    readonly purged?: readonly string[];
    /** The purged backups links concerned: where a linked VM folder put the data deleted, and the data links led to that stays. */
    readonly links?: readonly { readonly dir: string; readonly deletedAt?: string; readonly dataKept: readonly string[] }[];
    /** The local backups a bare -x left, each with why. */
    readonly left?: readonly { readonly dir: string; readonly reason: string }[];
    /** The local backups a bare -x was to purge but could not delete. */
    readonly failed?: readonly { readonly dir: string; readonly reason: string }[];
    readonly command?: string;
    readonly exitCode?: number;
    readonly reason?: string;
  };
  readonly previousRun?: {
    readonly pid: number;
    readonly programs: readonly { pid: number; program: string; state: string }[];
    readonly removedPrivateDirs?: readonly string[];
  };
  readonly tooOld?: readonly TooOldJson[];
  readonly awaitingDeferred?: readonly AwaitingDeferredJson[];
  readonly windowClosed?: { readonly at: string; readonly by: string; readonly deferred: readonly DeferredJson[] };
  readonly targets: readonly { readonly target: string; readonly error?: string; readonly actions: readonly ActionJson[] }[];
}

export interface RunJson {
  readonly report: ReportJson;
  readonly totals: { readonly durationMs: number; readonly bytes: number };
}

/** Returns the report and totals of `vmftp --json`'s stdout. */
export function parseRunJson(stdout: string): RunJson {
  return JSON.parse(stdout) as RunJson;
}

/** Returns the report of `vmftp --json`'s stdout. */
export function parseReport(stdout: string): ReportJson {
  return parseRunJson(stdout).report;
}

/** Returns the kinds of action the report holds (upload, keep, delete ...), each once, in the order they first come. */
export function actionKinds(report: ReportJson): string[] {
  return [...new Set(report.targets.flatMap((target) => target.actions.map((action) => action.action)))];
}

/** One target's share of `-S`'s time forecast. */
export interface TargetForecastJson {
  readonly bytes: number;
  readonly estimate?: {
    readonly durationMs: number;
    readonly basis: readonly string[];
    /** Bytes per second when the uploads start. */
    readonly startRate: number;
    /** The other targets sharing the run's bwlimit; absent: none. */
    readonly sharedWith?: readonly string[];
    /** Present when durationMs is an upper bound (a measured speed that is only a lower bound of the link's): why. */
    readonly atMost?: string;
  };
  readonly noEstimate?: string;
  readonly measured?: { readonly bytes: number };
  readonly deferred?: readonly { readonly vm: string; readonly stamp: string; readonly sentByDeadline: number }[];
  /** With a deadline and no time for the target: why its deferrals cannot be judged (instead of `deferred`). */
  readonly deferredUnknown?: string;
}

/** `-S`'s forecast of how long the uploads take, and what a deadline would defer. */
export interface ForecastJson {
  readonly deadline?: { readonly at: string; readonly by: string };
  readonly targets: readonly TargetForecastJson[];
}

export interface PlanJson {
  readonly targets: readonly {
    readonly vms: readonly { readonly vm: string; readonly actions: readonly { type: string; stamp: string; reason: string }[] }[];
    /** The uploads in the order they start. */
    readonly order: readonly { vm: string; stamp: string; bytes: number }[];
  }[];
  /** What `-x` would do with each local backup, and why. */
  readonly purge: readonly { dir: string; vm: string; stamp: string; purge: boolean; reason: string }[];
  readonly problems: readonly ProblemJson[];
  readonly forecast?: ForecastJson;
}

export interface SimulationJson {
  readonly plan: PlanJson;
  readonly warnings: readonly string[];
  /** Per target, the bandwidth limit and where it comes from; absent without any. */
  readonly bandwidth?: Readonly<Record<string, string>>;
}

/** Returns the plan of `vmftp -S --json`'s stdout. */
export function parseSimulation(stdout: string): SimulationJson {
  return JSON.parse(stdout) as SimulationJson;
}

export interface DisplayJson {
  readonly targets: readonly {
    readonly target: string;
    readonly vms: readonly { vm: string; backups: readonly { stamp: string; files: number; bytes: number; state: string }[] }[];
    readonly strays: readonly string[];
  }[];
}

/** Returns what `vmftp -d --json` printed: the backups on every target. */
export function parseDisplay(stdout: string): DisplayJson {
  return JSON.parse(stdout) as DisplayJson;
}

export interface CheckJson {
  readonly targets: readonly {
    readonly target: string;
    readonly ok: boolean;
    readonly passed: readonly string[];
    readonly failure?: string;
    readonly loginRefused?: true;
    /** What the server offers and what vmftp does about it, by topic (listing, sizes, data ...). */
    readonly server?: Readonly<Record<string, string>>;
  }[];
}

/** Returns the results of `vmftp check --json`. */
export function parseCheck(stdout: string): CheckJson {
  return JSON.parse(stdout) as CheckJson;
}

export interface FailureJson {
  readonly error: { readonly message: string; readonly problems: readonly string[]; readonly hint?: string; readonly exitCode: number };
}

/** Returns the error object `--json` prints on stdout when a run cannot start or ends in an error. */
export function parseFailure(stdout: string): FailureJson {
  return JSON.parse(stdout) as FailureJson;
}
