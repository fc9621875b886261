/**
 * `--bwlimit` and config `bwlimit` through the built CLI against pure-ftpd on 127.0.0.1: every
 * upload method holds the limit (a wide lower bound on the upload's time, a correctness check that
 * the limit applies, not a speed goal), the run's limit is shared by all targets together, a
 * target's own limit holds, -S shows the limit in force, and a cut upload still resumes with APPE
 * under a limit. How a timetable change applies mid-file is shown on a virtual clock in
 * test/unit/bandwidth.test.ts: a CLI test would have to wait for a minute boundary of the wall clock.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { output, type CliResult } from '../support/cli.js';
import { pseudoRandomBytes, readTree } from '../support/fixtures.js';
import { requireMethod } from '../support/methods.js';
import { parseReport, parseSimulation } from '../support/report.js';
import { setUpScenario, type Scenario, type ScenarioOptions } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const STAMP = '2013-01-01-000000';
const METHODS = ['internal', 'curl', 'ncftpput'] as const;
type Method = (typeof METHODS)[number];

const PURE_FTPD = SERVER_KINDS.find((kind) => kind.name === 'pure-ftpd');
if (PURE_FTPD === undefined) throw new Error('SERVER_KINDS has no pure-ftpd');
const SERVER = PURE_FTPD;

function usable(t: TestContext, method: Method): boolean {
  return SERVER.usable(t) && requireMethod(t, method);
}

interface UploadTiming {
  readonly target: string;
  readonly startedMs: number;
  readonly endedMs: number;
}

/** The uploads of a `--json` report, with when each began and ended. */
function uploadTimings(run: CliResult): UploadTiming[] {
  return parseReport(run.stdout).targets.flatMap(({ target, actions }) =>
    actions
      .filter((action) => ['upload', 'resume', 'resend'].includes(action.action))
      .map((action) => {
        assert.equal(action.status, 'done', `${target}: ${JSON.stringify(action)}`);
        const startedMs = Date.parse(action.startedAt ?? '');
        return { target, startedMs, endedMs: startedMs + action.durationMs };
      }),
  );
}

/** Milliseconds from the first upload's start to the last one's end. */
function uploadSpanMs(timings: readonly UploadTiming[]): number {
  assert.ok(timings.length > 0, 'the run uploaded something');
  return Math.max(...timings.map((timing) => timing.endedMs)) - Math.min(...timings.map((timing) => timing.startedMs));
}

/** A scenario with one new backup of Bart holding `bytes` of random data in disk.vmdk. */
async function scenario(t: TestContext, bytes: number, options: ScenarioOptions = {}): Promise<{ s: Scenario; disk: Buffer }> {
  const disk = pseudoRandomBytes(bytes, 'bwlimit');
  const s = await setUpScenario(t, SERVER, { local: { [`Bart/${STAMP}`]: { 'disk.vmdk': disk } }, ...options });
  return { s, disk };
}

function assertUploaded(s: Scenario, disk: Buffer, target = 'nas'): void {
  const remote = readTree(s.remoteRootOf(target));
  assert.ok(remote[`Bart/${STAMP}/disk.vmdk`]?.equals(disk), `${target}: Bart/${STAMP}/disk.vmdk is on the server, byte-identical`);
}

describe('--bwlimit: every upload method holds the limit', () => {
  for (const method of METHODS) {
    test(`-u ${method}: a 2 MB file at --bwlimit 512k takes at least 3 s (3.8 s at the limit)`, BOUNDED, async (t) => {
      if (!usable(t, method)) return;
      const { s, disk } = await scenario(t, 2_000_000);
      const run = await s.vmftp('-u', method, '--bwlimit', '512k', '--json');
      assert.equal(run.code, 0, output(run));
      assertUploaded(s, disk);
      const span = uploadSpanMs(uploadTimings(run));
      assert.ok(span >= 3000, `the upload took ${span} ms: the limit did not hold`);
    });
  }
});

describe('bwlimit in the config', () => {
  test('the run-wide bwlimit is one limit for two targets uploading side by side', BOUNDED, async (t) => {
    if (!usable(t, 'internal')) return;
    // 1 MB to each target at once: 2 MB through one 512 KiB/s limit (3.8 s); two limits would take 1.9 s.
    const { s, disk } = await scenario(t, 1_000_000, { targets: { nas: '/a', offsite: '/b' }, config: { bwlimit: '512k' } });
    const run = await s.vmftp('--json');
    assert.equal(run.code, 0, output(run));
    assertUploaded(s, disk, 'nas');
    assertUploaded(s, disk, 'offsite');
    const timings = uploadTimings(run);
    assert.deepEqual(timings.map((timing) => timing.target).sort(), ['nas', 'offsite']);
    const [first, second] = timings;
    assert.ok(first && second && first.startedMs < second.endedMs && second.startedMs < first.endedMs, 'the two targets uploaded side by side');
    const span = uploadSpanMs(timings);
    assert.ok(span >= 3000, `both uploads together took ${span} ms: the limit was not shared`);
  });

  test("a target's own bwlimit holds for its uploads; --bwlimit off lifts only the run-wide one", BOUNDED, async (t) => {
    if (!usable(t, 'internal')) return;
    const { s, disk } = await scenario(t, 1_000_000, { config: { bwlimit: '10M' }, targetFields: { bwlimit: '256k' } });
    const run = await s.vmftp('--bwlimit', 'off', '--json');
    assert.equal(run.code, 0, output(run));
    assertUploaded(s, disk);
    const span = uploadSpanMs(uploadTimings(run));
    assert.ok(span >= 3000, `1 MB at the target's 256 KiB/s took ${span} ms (3.8 s at the limit)`);
  });

  test('-S shows the limits in force now, for each target, and where they were set', BOUNDED, async (t) => {
    if (!usable(t, 'internal')) return;
    // The same rate all day, so the test does not depend on the time it runs at.
    const { s } = await scenario(t, 1000, { config: { bwlimit: '00:00,1M 12:00,1M' }, targetFields: { bwlimit: '512k' } });
    const plan = await s.vmftp('-S');
    assert.equal(plan.code, 0, output(plan));
    assert.match(plan.stdout, /target nas \(\/backups\)\n {2}bandwidth limit: 512 KiB\/s now \(targets\.nas\.bwlimit "512k"\), 1 MiB\/s now \(bwlimit "00:00,1M 12:00,1M"\)/);
    const json = await s.vmftp('-S', '--json', '--bwlimit', '2M');
    assert.equal(json.code, 0, output(json));
    assert.deepEqual(parseSimulation(json.stdout).bandwidth, {
      nas: '512 KiB/s now (targets.nas.bwlimit "512k"), 2 MiB/s now (bwlimit "2M")',
    });
  });

  test('a bwlimit that cannot be read is a config error (exit 2) naming the field; the server is not contacted', BOUNDED, async (t) => {
    if (!usable(t, 'internal')) return;
    const { s } = await scenario(t, 1000, { targetFields: { bwlimit: '08:00,512k 25:00,off' } });
    const bad = await s.vmftp();
    assert.equal(bad.code, 2, output(bad));
    assert.match(output(bad), /targets\.nas\.bwlimit: 25:00,off: expected a time HH:MM from 00:00 to 23:59, got "25:00"/);
    const flag = await s.vmftp('--bwlimit', '10X');
    assert.equal(flag.code, 2, output(flag));
    assert.match(output(flag), /--bwlimit: "10X" is not a rate: expected a rate like "10M", "512k", "100B" or "off"/);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
  });
});

describe('--bwlimit: a cut upload still resumes', () => {
  for (const method of METHODS) {
    test(`-u ${method}: a connection cut mid-file under --bwlimit 1M is resumed with APPE; the file is whole`, BOUNDED, async (t) => {
      if (!usable(t, method)) return;
      const { s, disk } = await scenario(t, 1_500_000, {
        rules: { cutUpload: { match: 'disk.vmdk', afterBytes: 600_000 } },
        targetFields: { retries: 3, retryDelaySeconds: 0.05 },
      });
      const run = await s.vmftp('-u', method, '--bwlimit', '1M');
      assert.equal(run.code, 0, output(run));
      assertUploaded(s, disk);
      const uploads = s.proxy.log.filter((line) => /^(STOR|APPE) /.test(line));
      assert.deepEqual(uploads, [`STOR /backups/Bart/${STAMP}.partial/disk.vmdk`, `APPE /backups/Bart/${STAMP}.partial/disk.vmdk`]);
    });
  }
});
