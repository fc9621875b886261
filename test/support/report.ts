/**
 * The `--json` result of a backup run, as far as the tests read it (that JSON is vmftp's contract
 * with the scripts that read it, so the tests spell it out here instead of importing src's types).
 *
 *   const report = parseReport((await s.vmftp('--json')).stdout);
 *   const action = report.targets[0]!.actions.find((candidate) => candidate.stamp === STAMP);
 */

export interface ActionJson {
  readonly vm: string;
  readonly stamp: string;
  readonly action: string;
  readonly status: string;
  readonly bytes: number;
  readonly startedAt?: string;
}

export interface ReportJson {
  readonly exitCode: number;
  readonly durationMs: number;
  readonly afterSuccess?: { readonly kind: string; readonly purged?: readonly string[]; readonly exitCode?: number };
  readonly previousRun?: { readonly pid: number; readonly programs: readonly { pid: number; program: string; state: string }[] };
  readonly targets: readonly { readonly target: string; readonly actions: readonly ActionJson[] }[];
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
