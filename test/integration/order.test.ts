/**
 * The order uploads start in (docs/design.md "The pipeline", step 3 and 4), end to end: the built
 * CLI's `-S`, `--json` and a real run over one connection, read from the commands the server got
 * (the fault proxy's log).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { parseSimulation } from '../support/report.js';
import { setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { bounded } from '../support/wait.js';

const PURE_FTPD = SERVER_KINDS.find((kind) => kind.name === 'pure-ftpd')!;

/** Each backup has a stamp of its own, so that a bare `<stamp>.partial` in a MKD names it too. */
const BACKUPS = {
  'Bart/2026-11-19-020000': { 'disk.vmdk': 2500, 'vm.ovf': 500 },
  'Bart/2026-11-18-020000': { 'disk.vmdk': 2500, 'vm.ovf': 500 },
  'Homer/2026-11-19-021000': { 'disk.vmdk': 1000 },
  'Homer/2026-11-18-021000': { 'disk.vmdk': 1000 },
  'Big/2026-11-19-022000': { 'disk.vmdk': 200_000 },
  'Mail/2026-11-19-023000': { 'disk.vmdk': 2000 },
};
/** Newest of every VM first (Mail by its priority, then fewer bytes first), then the older ones. */
const EXPECTED = [
  'Mail/2026-11-19-023000',
  'Homer/2026-11-19-021000',
  'Bart/2026-11-19-020000',
  'Big/2026-11-19-022000',
  'Homer/2026-11-18-021000',
  'Bart/2026-11-18-020000',
];
const OLD_BART = 'Bart/2026-11-01-020000';

/**
 * Returns the `<vm>/<stamp>` each line is about, consecutive repeats once; lines about no backup (the
 * MKD of a VM's folder before its `.partial`'s) are left out.
 */
function backupsInTurn(lines: readonly string[]): string[] {
  const byStamp = new Map(Object.keys(BACKUPS).map((backup) => [backup.split('/')[1], backup]));
  const named = lines
    .map((line) => byStamp.get(/(\d{4}-\d\d-\d\d-\d{6})\.partial/.exec(line)?.[1] ?? ''))
    .filter((backup): backup is string => backup !== undefined);
  return named.filter((backup, index) => backup !== named[index - 1]);
}

describe('the order uploads start in', () => {
  test('newest of every VM first, priority ahead, small before huge, then older backups; deletes after: -S, --json and the server agree', bounded(90), async (t: TestContext) => {
    if (!PURE_FTPD.usable(t)) return;
    const s = await setUpScenario(t, PURE_FTPD, {
      local: BACKUPS,
      remote: { [OLD_BART]: { 'disk.vmdk': 'old' } },
      keep: 2,
      targetFields: { maxConnections: 1 },
      vms: { Mail: { targets: ['nas'], priority: 5 }, '*': 'nas' },
    });

    const json = await s.vmftp('-S', '--json');
    assert.equal(json.code, 0, json.stderr);
    const { plan } = parseSimulation(json.stdout);
    assert.deepEqual(plan.targets[0]?.order.map((upload) => `${upload.vm}/${upload.stamp}`), EXPECTED);
    assert.deepEqual(plan.targets[0]?.order[3], { vm: 'Big', stamp: '2026-11-19-022000', bytes: 200_000 });

    const text = await s.vmftp('-S');
    assert.equal(text.code, 0, text.stderr);
    const listed = text.stdout.slice(text.stdout.indexOf('uploads start in this order, deletes after them:'));
    assert.deepEqual(
      [...listed.matchAll(/^ +\d+\. +(\S+) +(\S+) +/gm)].map((match) => `${match[1]}/${match[2]}`),
      EXPECTED,
      text.stdout,
    );

    const logStart = s.proxy.log.length;
    const run = await s.vmftp();
    assert.equal(run.code, 0, run.stderr);
    const commands = s.proxy.log.slice(logStart);
    const stores = commands.filter((line) => /^STOR /.test(line));
    assert.equal(stores.length, 8, commands.join('\n'));
    assert.deepEqual(backupsInTurn(stores), EXPECTED, stores.join('\n'));
    // A backup's .partial is made when its turn comes: after the one before it started sending.
    assert.deepEqual(backupsInTurn(commands.filter((line) => /^(MKD|STOR) /.test(line))), EXPECTED, commands.join('\n'));
    const lastStore = commands.lastIndexOf(stores[stores.length - 1] ?? '');
    const retire = commands.findIndex((line) => line === `RNFR /backups/${OLD_BART}`);
    assert.ok(retire > lastStore, `the delete of ${OLD_BART} comes after every upload:\n${commands.join('\n')}`);
  });
});
