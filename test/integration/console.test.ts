/**
 * The console is not the run: a reader of stdout that went away (`vmftp -d | head`, a log
 * collector that died) must not stop a backup halfway or end it with a stack trace.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runVmftp } from '../support/cli.js';
import { readTree } from '../support/fixtures.js';
import { setUpScenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';

const BOUNDED = { timeout: 60_000 };
const FTP_SRV = SERVER_KINDS.find((kind) => kind.name === 'ftp-srv')!;
const LOCAL = { 'Bart/2013-01-01-000000': { 'disk1.vmdk': 200_000, 'vm.ovf': '<vm/>' }, 'Raoul/2013-01-02-000000': { 'r.vmdk': 50_000 } };

describe('stdout closed by its reader', () => {
  for (const args of [[], ['-d'], ['-S'], ['--json']]) {
    test(`vmftp ${args.join(' ') || '(backup run)'} ends normally, with no EPIPE stack trace`, BOUNDED, async (t) => {
      const s = await setUpScenario(t, FTP_SRV, { local: LOCAL });
      const run = await runVmftp(['-c', s.configPath, '--no-progress', ...args], { env: s.env, closeStdout: true });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /EPIPE|Error:|at .*\.js:\d+/);
      if (args.length === 0) assert.deepEqual(readTree(s.remoteRoot), readTree(s.source), 'the backup went up all the same');
    });
  }
});
