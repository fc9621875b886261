/**
 * The forecast of `-S`, through the built CLI against a real server: the time unknown before any
 * run (and, with a deadline, its deferrals said to be unjudgeable), an estimate at the speed a real
 * run measured after one, a speed the bwlimit held back (or an old record's) as a lower bound of
 * the link's, said as such, and a broken record of speeds said as such; the run's bwlimit shared by two targets; with a deadline, the backups it would defer
 * and how much of each would be on the server by then, uploads side by side as the run sends them,
 * the same backups a run under the same limit and deadline defers.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { makeBackupTree } from '../support/fixtures.js';
import { parseRunJson, parseSimulation, type ForecastJson } from '../support/report.js';
import { setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;

function forecastOf(stdout: string): ForecastJson {
  const { plan } = parseSimulation(stdout);
  assert.ok(plan.forecast, 'plan.forecast in --json');
  return plan.forecast;
}

describe('-S forecasts how long the uploads take', () => {
  test('time unknown before any run; after a real run, at the speed it measured; --json carries it', BOUNDED, async (t: TestContext) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { 'Bart/2026-11-27-020000': { 'disk.vmdk': 3_000_000, 'vm.ovf': 2000 }, 'Homer/2026-11-27-020000': { 'disk.vmdk': 1_000_000 } },
    });
    const record = path.join(path.dirname(s.lockFile), 'vmftp.speeds.json');

    const before = await s.vmftp('-S');
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /^ {2}forecast: 3\.8 MiB, time unknown: no bwlimit, and no run has measured the speed to nas yet \(the first run that uploads there measures it\)$/m, before.stdout);
    const beforeJson = await s.vmftp('-S', '--json');
    const fresh = forecastOf(beforeJson.stdout).targets[0];
    assert.equal(fresh?.estimate, undefined);
    assert.equal(fresh?.bytes, 4_002_000);
    assert.match(fresh?.noEstimate ?? '', /^time unknown: /);
    assert.equal(fresh?.deferred, undefined);

    // A deadline cannot be judged without a time: -S says so, not that every upload ends before it.
    const withDeadline = await s.vmftp('-S', '--max-duration', '1h');
    assert.match(withDeadline.stdout, /^ {2}deadline \S+( \S+)* \(--max-duration 1h\): which backups the deadline would defer on nas cannot be judged: the time of its uploads is unknown$/m, withDeadline.stdout);
    const unjudged = forecastOf((await s.vmftp('-S', '--json', '--max-duration', '1h')).stdout).targets[0];
    assert.equal(unjudged?.deferred, undefined);
    assert.match(unjudged?.deferredUnknown ?? '', /cannot be judged/);
    assert.ok(!existsSync(record), '-S writes no record');

    const run = await s.vmftp('--json');
    assert.equal(run.code, 0, run.stderr);
    const sent = parseRunJson(run.stdout).totals.bytes;
    const kept = JSON.parse(readFileSync(record, 'utf8')) as { version: number; targets: Record<string, { bytes: number; seconds: number; heldSeconds?: number }> };
    assert.equal(kept.targets.nas?.bytes, sent, 'the record holds the bytes the run sent');
    assert.equal(kept.targets.nas?.heldSeconds, 0, 'no bwlimit held it back');
    assert.ok((kept.targets.nas?.seconds ?? 0) > 0);

    makeBackupTree(s.source, { 'Bart/2026-11-28-020000': { 'disk.vmdk': 5_000_000 } });
    const after = await s.vmftp('-S', '--json');
    assert.equal(after.code, 0, after.stderr);
    const target = forecastOf(after.stdout).targets[0];
    assert.deepEqual(target?.measured?.bytes, sent);
    assert.deepEqual(target?.estimate?.basis, ['measured']);
    const rate = sent / (kept.targets.nas?.seconds ?? 1);
    assert.equal(target?.bytes, 5_000_000);
    assert.ok(Math.abs((target?.estimate?.durationMs ?? 0) - (5_000_000 / rate) * 1000) <= 1, `${target?.estimate?.durationMs} ms at ${rate} B/s`);

    const text = await s.vmftp('-S');
    assert.match(text.stdout, /^ {2}forecast: 4\.8 MiB in about .+, done around \d\d:\d\d \(at \d+\.\d MB\/s, the link's speed measured by the run of \d\d:\d\d\)$/m, text.stdout);
  });

  test('a broken record of speeds means no estimate, said as such; -S still exits 0', BOUNDED, async (t: TestContext) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { 'Bart/2026-11-27-020000': { 'disk.vmdk': 1000 } } });
    const record = path.join(path.dirname(s.lockFile), 'vmftp.speeds.json');
    writeFileSync(record, '{"version":1,"targets":{"nas":');
    const simulated = await s.vmftp('-S');
    assert.equal(simulated.code, 0, simulated.stderr);
    assert.match(simulated.stdout, /forecast: 1000 B, time unknown: no bwlimit, and the record of measured speeds .*vmftp\.speeds\.json is not a speed record/);
    assert.match(simulated.stderr, /no upload time estimate from the last run: .*vmftp\.speeds\.json is not a speed record/);

    const run = await s.vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.ok('nas' in (JSON.parse(readFileSync(record, 'utf8')) as { targets: object }).targets, 'the next run writes it anew');
  });

  test('a speed the bwlimit held back is a lower bound: it leaves a faster speed of the link in place, and -S says where each figure comes from', BOUNDED, async (t: TestContext) => {
    const s = await setUpScenario(t, FTP_SRV, { local: { 'Bart/2026-11-27-020000': { 'disk.vmdk': 1_500_000 } } });
    const record = path.join(path.dirname(s.lockFile), 'vmftp.speeds.json');
    const link = { version: 1, targets: { nas: { bytes: 5_000_000, seconds: 1, measuredAt: '2026-11-26T03:00:00.000Z', heldSeconds: 0 } } };
    writeFileSync(record, JSON.stringify(link));

    // Loopback is far faster than 1 MiB/s: the limiter holds the upload back nearly all its time.
    const limited = await s.vmftp('--bwlimit', '1M');
    assert.equal(limited.code, 0, limited.stderr);
    assert.match(
      `${limited.stdout}${limited.stderr}`,
      /nas: this run's upload speed is not kept for -S: the bwlimit held its uploads back \d+% of their time, so the link may be faster than it, and the speed kept from the run of 2026-11-26T03:00:00\.000Z is faster/,
    );
    assert.deepEqual(JSON.parse(readFileSync(record, 'utf8')), link, 'the record of the link is what it was');

    makeBackupTree(s.source, { 'Bart/2026-11-28-020000': { 'disk.vmdk': 5_000_000 } });
    const free = forecastOf((await s.vmftp('-S', '--json')).stdout).targets[0];
    assert.deepEqual(free?.estimate?.basis, ['measured']);
    assert.equal(free?.estimate?.durationMs, 1000);
    assert.equal(free?.estimate?.atMost, undefined, "the link's own speed");
    const underLimit = forecastOf((await s.vmftp('-S', '--json', '--bwlimit', '1M')).stdout).targets[0];
    assert.deepEqual(underLimit?.estimate?.basis, ['bwlimit']);
    assert.equal(underLimit?.estimate?.durationMs, Math.round((5_000_000 / (1024 * 1024)) * 1000));

    // A record of an older vmftp does not say whether a limit held it: its speed is one the link reaches at least.
    const { heldSeconds: _, ...old } = link.targets.nas;
    writeFileSync(record, JSON.stringify({ version: 1, targets: { nas: old } }));
    const fromOld = forecastOf((await s.vmftp('-S', '--json')).stdout).targets[0];
    assert.equal(fromOld?.estimate?.durationMs, 1000);
    assert.match(fromOld?.estimate?.atMost ?? '', /^the link may be faster: the record, written by an older vmftp, does not say whether a bwlimit held the uploads back$/);
    assert.match((await s.vmftp('-S')).stdout, /^ {2}forecast: 4\.8 MiB in at most 1\.0 s, done by \S+( \S+)* \(at 5\.0 MB\/s, measured by the run of .+; the link may be faster: the record, written by an older vmftp, /m);

    // With no faster record, a run under the limit keeps its speed, with how long the limit held it back.
    writeFileSync(record, JSON.stringify({ version: 1, targets: {} }));
    const next = await s.vmftp('--bwlimit', '1M');
    assert.equal(next.code, 0, next.stderr);
    const kept = (JSON.parse(readFileSync(record, 'utf8')) as { targets: Record<string, { seconds: number; heldSeconds?: number }> }).targets.nas;
    assert.ok((kept?.heldSeconds ?? 0) > (kept?.seconds ?? 0) / 2, `held ${kept?.heldSeconds} s of ${kept?.seconds} s`);
    makeBackupTree(s.source, { 'Bart/2026-11-29-020000': { 'disk.vmdk': 1_000_000 } });
    const text = (await s.vmftp('-S')).stdout;
    assert.match(text, /^ {2}forecast: .+ in at most .+ \(at \d+\.\d MB\/s, measured by the run of \d\d:\d\d; the link may be faster: the bwlimit held its uploads back \d+% of their time\)$/m, text);
  });

  test("two targets share the run's --bwlimit: each at half of it, and the text says with which; a lower bound of one's speed does not give the other more", BOUNDED, async (t: TestContext) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { 'Bart/2026-11-27-020000': { 'disk.vmdk': 2_000_000 } },
      targets: { nas: '/nas', offsite: '/offsite' },
    });
    const simulated = await s.vmftp('-S', '--json', '--bwlimit', '1M');
    assert.equal(simulated.code, 0, simulated.stderr);
    const [nas, offsite] = forecastOf(simulated.stdout).targets;
    assert.equal(nas?.estimate?.startRate, 512 * 1024);
    assert.equal(offsite?.estimate?.startRate, 512 * 1024);
    assert.deepEqual([nas?.estimate?.sharedWith, offsite?.estimate?.sharedWith], [['offsite'], ['nas']]);
    assert.equal(nas?.estimate?.durationMs, Math.round((2_000_000 / (512 * 1024)) * 1000));

    const text = await s.vmftp('-S', '--bwlimit', '1M');
    assert.match(text.stdout, /^ {2}forecast: .+ \(at the bwlimit shared with offsite, 0\.5 MB\/s at the start\)$/m, text.stdout);

    // nas measured 100 kB/s while a bwlimit held it back: its link may take its whole half, so offsite is not given the rest.
    const record = path.join(path.dirname(s.lockFile), 'vmftp.speeds.json');
    writeFileSync(record, JSON.stringify({ version: 1, targets: { nas: { bytes: 1_000_000, seconds: 10, measuredAt: '2026-11-26T03:00:00.000Z', heldSeconds: 9 } } }));
    const [heldNas, sharing] = forecastOf((await s.vmftp('-S', '--json', '--bwlimit', '1M')).stdout).targets;
    assert.equal(heldNas?.estimate?.durationMs, 20_000, 'nas at its lower bound');
    assert.match(heldNas?.estimate?.atMost ?? '', /^the link may be faster: the bwlimit held its uploads back 90% of their time$/);
    assert.equal(sharing?.estimate?.durationMs, Math.round((2_000_000 / (512 * 1024)) * 1000), 'offsite at its half, not what nas would leave it');
    assert.match(sharing?.estimate?.atMost ?? '', /^the time assumes nas takes its whole part of the bwlimit/);
    const lowerBound = (await s.vmftp('-S', '--bwlimit', '1M')).stdout;
    assert.match(lowerBound, /^ {2}forecast: 1\.9 MiB in at most .+ \(at 0\.1 MB\/s, measured by the run of .+; the link may be faster: the bwlimit held its uploads back 90% of their time\)$/m, lowerBound);
    assert.match(lowerBound, /^ {2}forecast: 1\.9 MiB in at most .+ \(at the bwlimit shared with nas, 0\.5 MB\/s at the start; the time assumes nas takes its whole part of the bwlimit/m, lowerBound);
  });

  test('with --max-duration, -S lists the backups the deadline would defer and what each has sent by then', BOUNDED, async (t: TestContext) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { 'Bart/2026-11-27-020000': { 'disk.vmdk': 3000 }, 'Homer/2026-11-27-020000': { 'disk.vmdk': 4000 } },
      // One file at a time: Bart's, then Homer's.
      targetFields: { maxConnections: 1 },
    });
    // 1000 B/s: Bart's 3000 bytes go first (fewer bytes first in a round), Homer's start at 3 s and have 2000 bytes up at 5 s.
    const record = path.join(path.dirname(s.lockFile), 'vmftp.speeds.json');
    writeFileSync(record, JSON.stringify({ version: 1, targets: { nas: { bytes: 1000, seconds: 1, measuredAt: new Date().toISOString(), heldSeconds: 0 } } }));

    const simulated = await s.vmftp('-S', '--json', '--max-duration', '5s');
    assert.equal(simulated.code, 0, simulated.stderr);
    const forecast = forecastOf(simulated.stdout);
    assert.equal(forecast.deadline?.by, '--max-duration 5s');
    const deferred = forecast.targets[0]?.deferred ?? [];
    assert.deepEqual(deferred.map((upload) => `${upload.vm}/${upload.stamp}`), ['Homer/2026-11-27-020000']);
    assert.ok(Math.abs((deferred[0]?.sentByDeadline ?? 0) - 2000) <= 50, `sent by the deadline: ${deferred[0]?.sentByDeadline}`);

    const text = await s.vmftp('-S', '--max-duration', '5s');
    assert.match(text.stdout, /deadline \d\d:\d\d(:\d\d)? \(--max-duration 5s\) would defer 1 backup, resumed by the next run:/, text.stdout);
    assert.match(text.stdout, /^ {4}Homer +2026-11-27-020000 /m, text.stdout);
    assert.ok(existsSync(path.join(s.source, 'Homer', '2026-11-27-020000')), '-S changes nothing');
  });

  test('uploads side by side, as the run sends them: -S defers the backups a run under the same bwlimit and deadline defers', BOUNDED, async (t: TestContext) => {
    // Two connections: Bart's and Homer's 40 kB go at once, half of 10 KiB/s each, and end after 7.8 s; Lisa's start
    // then. A 6 s deadline cuts all three (one after the other, Bart's would end at 3.9 s and only two be deferred).
    const files = { 'disk.vmdk': 40_000 };
    const s = await setUpScenario(t, FTP_SRV, {
      local: { 'Bart/2026-11-27-020000': files, 'Homer/2026-11-27-020000': files, 'Lisa/2026-11-27-020000': files },
    });
    const limits = ['--bwlimit', '10k', '--max-duration', '6s'];
    const simulated = await s.vmftp('-S', '--json', ...limits);
    assert.equal(simulated.code, 0, simulated.stderr);
    const forecast = forecastOf(simulated.stdout).targets[0];
    assert.equal(forecast?.estimate?.durationMs, Math.round((120_000 / 10_240) * 1000));
    const forecastDeferred = (forecast?.deferred ?? []).map((upload) => `${upload.vm}:${upload.sentByDeadline > 0 ? 'started' : 'not started'}`);
    assert.deepEqual(forecastDeferred, ['Bart:started', 'Homer:started', 'Lisa:not started']);

    const run = await s.vmftp('--json', ...limits);
    assert.equal(run.code, 5, run.stderr);
    // The same backups; how far each got depends on how long the run took to start its uploads on this machine.
    const runDeferred = (parseRunJson(run.stdout).report.windowClosed?.deferred ?? []).map((upload) => upload.vm);
    assert.deepEqual(runDeferred.sort(), (forecast?.deferred ?? []).map((upload) => upload.vm));
  });
});
