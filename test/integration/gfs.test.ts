/**
 * GFS retention and one VM to several targets, end to end on real servers:
 * the built CLI must leave on each server exactly what the pure policy keeps.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { addDays, format } from 'date-fns';
import { applyRetention } from '../../src/core/retention.js';
import type { GfsPolicy } from '../../src/core/model.js';
import { loginTo, runVmftp, writeConfig } from '../support/cli.js';
import { makeBackupTree, readTree, tmpDir } from '../support/fixtures.js';
import { startFtpSrv } from '../support/ftp-srv.js';
import { parseReport, parseSimulation } from '../support/report.js';
import { remoteEntries } from '../support/safety.js';
import { SERVER_KINDS } from '../support/servers.js';

const STAMP = 'yyyy-MM-dd-HHmmss';

/** Returns `count` nightly stamps at 03:00 from `first` on. */
function nightlyStamps(first: Date, count: number): string[] {
  return Array.from({ length: count }, (_, day) => format(addDays(first, day), STAMP));
}

const policy: GfsPolicy = { last: 2, daily: 7, weekly: 4, monthly: 6 };

// pure-ftpd only: ftp-srv needs ~50 ms per listing, and this test lists hundreds of folders.
for (const kind of SERVER_KINDS.filter((candidate) => candidate.name === 'pure-ftpd')) {
  describe(`GFS retention against ${kind.name}`, () => {
    test('six months of nightly backups rotate to exactly what the policy keeps, night after night', async (t: TestContext) => {
      if (!kind.usable(t)) return;
      const work = tmpDir(`gfs-${kind.name}`, t);
      const source = path.join(work, 'source');
      const server = await kind.start({ root: path.join(work, 'ftp') });
      t.after(() => server.stop());
      const remoteRoot = path.join(server.root, 'backups');
      const history = nightlyStamps(new Date(2026, 4, 1, 3, 0, 0), 183);
      const [tonight, ...older] = [...history].reverse();
      makeBackupTree(remoteRoot, Object.fromEntries(older.map((stamp) => [`Web/${stamp}`, { 'web.vmdk': `disk of ${stamp}` }])));
      makeBackupTree(source, { [`Web/${tonight}`]: { 'web.vmdk': 4096, 'web.ovf': '<ovf/>' } });
      const { configPath, env } = await writeConfig(work, {
        source,
        keep: policy,
        targets: { nas: loginTo(server) },
      });
      const vmftp = (...args: string[]) => {
        kind.chown(server.root);
        return runVmftp(['-c', configPath, ...args], { env });
      };

      const simulated = await vmftp('-S', '--json');
      assert.equal(simulated.code, 0, simulated.stderr);
      const { plan } = parseSimulation(simulated.stdout);
      const actions = plan.targets[0]!.vms[0]!.actions;
      const upload = actions.find((action) => action.type === 'upload');
      assert.ok(upload !== undefined, 'tonight is uploaded');
      assert.equal(upload.stamp, tonight);
      assert.match(upload.reason, /last 1\/2, daily 1\/7, weekly 1\/4, monthly 1\/6/);
      assert.ok(actions.some((action) => action.type === 'keep' && /monthly \d\/6/.test(action.reason)));

      const expected = applyRetention(history, policy).keep.sort();
      const run = await vmftp();
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(remoteEntries(remoteRoot, 'Web'), expected);
      // Tonight is Friday 2026-10-30: 7 dailies (Oct 24-30, the 2 last among them), 2 more weeklies
      // (Sundays Oct 18 and 11; Sunday Oct 25 is a daily), 5 more monthlies (last night of May-Sep).
      assert.deepEqual(
        expected.filter((stamp) => stamp < '2026-10-24'),
        ['2026-05-31-030000', '2026-06-30-030000', '2026-07-31-030000', '2026-08-31-030000', '2026-09-30-030000', '2026-10-11-030000', '2026-10-18-030000'],
      );
      assert.equal(expected.length, 7 + 2 + 5);
      assert.deepEqual(readTree(path.join(remoteRoot, 'Web', tonight!)), readTree(path.join(source, 'Web', tonight!)));

      // Ten more nights: each run must leave what the policy keeps of what the server had plus the new backup.
      let onServer = expected;
      for (const stamp of nightlyStamps(addDays(new Date(2026, 4, 1, 3, 0, 0), 183), 10)) {
        makeBackupTree(source, { [`Web/${stamp}`]: { 'web.vmdk': 1024 } });
        const night = await vmftp();
        assert.equal(night.code, 0, night.stderr);
        onServer = applyRetention([...onServer, stamp], policy).keep.sort();
        assert.deepEqual(remoteEntries(remoteRoot, 'Web'), onServer, `after the night of ${stamp}`);
      }
    });
  });
}

describe('one VM to several targets', () => {
  test('each target keeps its own retention, and -x purges what every target holds or does not keep', async (t) => {
    const work = tmpDir('multi', t);
    const source = path.join(work, 'source');
    const nas = await startFtpSrv({ root: path.join(work, 'nas') });
    const offsite = await startFtpSrv({ root: path.join(work, 'offsite') });
    t.after(() => Promise.all([nas.stop(), offsite.stop()]));
    const stamps = nightlyStamps(new Date(2026, 0, 30, 3, 0, 0), 5);
    makeBackupTree(source, Object.fromEntries(stamps.map((stamp) => [`Db/${stamp}`, { 'db.vmdk': 2048 }])));
    makeBackupTree(source, { 'Mail/2026-02-01-030000': { 'mail.vmdk': 1024 } });
    const { configPath, env } = await writeConfig(work, {
      source,
      targets: {
        nas: { ...loginTo(nas), keep: 3 },
        offsite: { ...loginTo(offsite), keep: { monthly: 2 } },
      },
      vms: { Db: ['nas', 'offsite'], Mail: 'nas' },
    });

    const run = await runVmftp(['-c', configPath, '--json', '-x'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(remoteEntries(path.join(nas.root, 'backups'), 'Db'), stamps.slice(2));
    // monthly 2: the newest of February and the newest of January.
    assert.deepEqual(remoteEntries(path.join(offsite.root, 'backups'), 'Db'), ['2026-01-31-030000', '2026-02-03-030000']);
    assert.deepEqual(remoteEntries(path.join(offsite.root, 'backups'), 'Mail'), [], 'Mail is routed to nas only');

    const report = parseReport(run.stdout);
    assert.deepEqual(report.targets.map((target) => target.target).sort(), ['nas', 'offsite']);
    // Each Db backup is on nas or offsite and not kept by the other (nas: older than the 3 newest;
    // offsite: not the newest of its month), and the newest is on both: none is wanted anywhere else.
    const purged = (report.afterSuccess?.purged ?? []).map((dir) => path.relative(source, dir).split(path.sep).join('/')).sort();
    assert.deepEqual(purged, [...stamps.map((stamp) => `Db/${stamp}`), 'Mail/2026-02-01-030000']);
    assert.deepEqual(readdirSync(path.join(source, 'Db')), []);
  });
});
