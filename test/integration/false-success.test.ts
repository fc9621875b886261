/**
 * No false success: a source that holds no backup at all, and a VM whose newest backup on a
 * target is older than its `maxAge`, fail the run loudly (exit code, stderr, log, ping) instead
 * of ending in "vmftp success". The built CLI against a real FTP server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startPingServer } from '../support/http.js';
import { readTree } from '../support/fixtures.js';
import { setUpScenario, type Scenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';

const BOUNDED = { timeout: 60_000 };
const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const STAMP = '2012-08-18-154137';

/** Rewrites the scenario's config file through `edit`. */
function editConfig(s: Scenario, edit: (config: Record<string, unknown>) => void): void {
  const config = JSON.parse(readFileSync(s.configPath, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(s.configPath, JSON.stringify(config, null, 2));
}

describe('a source that holds no <VM>/<STAMP> backup fails (exit 2) and says so', () => {
  test('ftp-srv: an empty source folder: exit 2 naming the folder, asking about `source`, failure ping, nothing touched', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, { remote: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
    const monitor = await startPingServer();
    t.after(() => monitor.stop());
    const log = path.join(s.work, 'vmftp.log');
    editConfig(s, (config) => {
      config.notify = { url: `${monitor.url}/hc` };
      config.log = { file: log };
    });
    const before = readTree(s.server.root);

    const run = await s.vmftp();
    assert.equal(run.code, 2, run.stderr);
    assert.ok(run.stderr.includes(`source folder ${s.source} holds no <VM>/<STAMP> backup: it holds no folder`), run.stderr);
    assert.match(run.stderr, /is `source` \(or -f\) right/);
    assert.doesNotMatch(`${run.stdout}${run.stderr}`, /success/);
    assert.match(readFileSync(log, 'utf8'), /FAILED \(exit code 2[^\n]*\n[^\n]*holds no <VM>\/<STAMP> backup/);
    assert.deepEqual(
      monitor.pings.map((ping) => ping.path),
      ['/hc/start', '/hc/fail'],
    );
    assert.match(monitor.pings[1]?.body ?? '', /holds no <VM>\/<STAMP> backup/);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
    assert.deepEqual(readTree(s.server.root), before);
  });

  test('ftp-srv: -f pointing at one VM\'s folder: exit 2, "looks like the folder of one VM", names the parent', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV, {
      local: { [`Bart/${STAMP}`]: { 'disk1.vmdk': 1000 }, 'Bart/2012-08-19-154137': { 'disk1.vmdk': 1000 } },
    });
    const vmFolder = path.join(s.source, 'Bart');

    const run = await s.vmftp('-f', vmFolder, '-S');
    assert.equal(run.code, 2, run.stderr);
    assert.ok(
      run.stderr.includes(`source folder ${vmFolder} holds no <VM>/<STAMP> backup: its folders ${STAMP}, 2012-08-19-154137 are backup stamps`),
      run.stderr,
    );
    assert.match(run.stderr, /looks like the folder of one VM \(Bart\)/);
    assert.ok(run.stderr.includes(`one folder per VM: ${s.source}`), run.stderr);
    assert.equal(s.proxy.connections, 0, 'no connection to the server');
  });

  test('ftp-srv: VM folders without a backup in them (the job wrote nothing since the last -x): exit 2 naming them', BOUNDED, async (t) => {
    const s = await setUpScenario(t, FTP_SRV);
    mkdirSync(path.join(s.source, 'Bart'));
    mkdirSync(path.join(s.source, 'Raoul', STAMP), { recursive: true });

    const run = await s.vmftp();
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /holds no <VM>\/<STAMP> backup: none of its folders \(Bart, Raoul\) holds a yyyy-MM-dd-HHmmss folder with files/);
    assert.match(run.stderr, /Raoul.2012-08-18-154137: backup folder holds no file, ignored/);
  });
});
