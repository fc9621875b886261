/**
 * What the fault suites (test/integration/faults-*.test.ts) and the invariant suite share: a night
 * with one new Bart backup and three old ones on the server (keep 3), and the checks after it.
 *
 *   const s = await setUpNight(t, kind, { rules, targetFields: FAST_RETRIES });  // NEW_BART, OLD_BART, keep 3
 *   const before = snapshot(s.source, s.remoteRoot);
 *   assertRecovered(await s.vmftp(), s, before);              // a transient fault, retried in the same run
 *   await assertFollowUp(s, () => expectedAfterRotation(s));  // the next night ends as retention expects
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { existsSync, statSync } from 'node:fs';
import { output, type CliResult } from './cli.js';
import { readTree, type TreeSpec } from './fixtures.js';
import { assertNoIncompleteFinal, type Snapshot } from './safety.js';
import { setUpScenario, type Scenario, type ScenarioOptions } from './scenario.js';
import type { ServerKind } from './servers.js';
import { waitFor } from './wait.js';

/** Tonight's backup. */
export const STAMP = '2012-08-18-154137';
export const OLD_STAMPS = ['2012-05-01-000000', '2012-06-01-000000', '2012-07-01-000000'];
/** Three old complete Bart backups, as earlier runs left them. */
export const OLD_BART: TreeSpec = Object.fromEntries(OLD_STAMPS.map((stamp) => [`Bart/${stamp}`, { 'vm.ovf': `<old ${stamp}/>` }]));
export const DISK = 'disk1.vmdk';
/** Big enough that a cut or a stall at 100 000 bytes lands mid-file, whatever the socket buffers. */
export const DISK_BYTES = 400_000;
export const NEW_BART: TreeSpec = { [`Bart/${STAMP}`]: { [DISK]: DISK_BYTES, 'vm.ovf': '<vm name="Bart"/>' } };
/** Retries a test can wait for: 50 ms, then 100, 200. */
export const FAST_RETRIES = { retries: 3, retryDelaySeconds: 0.05 };

/** Returns a scenario of tonight's run: NEW_BART to send, OLD_BART on the server, keep 3; `options` adds the fault. */
export function setUpNight(t: TestContext, kind: ServerKind, options: ScenarioOptions = {}): Promise<Scenario> {
  return setUpScenario(t, kind, { local: NEW_BART, remote: OLD_BART, keep: 3, ...options });
}

/** The upload commands (STOR/APPE) the proxy saw for one file name. */
export function uploadsOf(s: Scenario, name: string): string[] {
  return s.proxy.log.filter((line) => /^(STOR|APPE) /.test(line) && line.endsWith(`/${name}`));
}

/** Returns the remote tree retention expects with keep 3: the two newest old Bart backups and every local backup. */
export function expectedAfterRotation(s: Scenario): Record<string, Buffer> {
  const kept = Object.fromEntries(OLD_STAMPS.slice(1).map((stamp) => [`Bart/${stamp}/vm.ovf`, Buffer.from(`<old ${stamp}/>`)]));
  return { ...kept, ...readTree(s.source) };
}

/** A clean follow-up run (the proxy's faults off) exits 0 and leaves exactly `expected` on the server. */
export async function assertFollowUp(s: Scenario, expected: () => Record<string, Buffer>): Promise<void> {
  s.proxy.setRules({});
  const next = await s.vmftp();
  assert.equal(next.code, 0, output(next));
  assert.deepEqual(readTree(s.remoteRoot), expected(), 'the follow-up run leaves exactly the tree retention expects');
}

/** The run recovered by itself: exit 0, old kept backups intact, the new backup byte-identical under its final name. */
export function assertRecovered(run: CliResult, s: Scenario, before: Snapshot): void {
  assert.equal(run.code, 0, output(run));
  assertNoIncompleteFinal(s.remoteRoot, s.source, before.remote);
  assert.deepEqual(readTree(s.remoteRoot), expectedAfterRotation(s));
  assert.deepEqual(readTree(s.source), before.local, 'no -x: the local backups stay');
}

/** Waits until the server's disk holds `bytes` bytes of a file that the proxy stalls. */
export function stalledAt(file: string, bytes: number): Promise<void> {
  return waitFor(() => existsSync(file) && statSync(file).size === bytes, `${file} to reach ${bytes} bytes on the server`, 15_000);
}
