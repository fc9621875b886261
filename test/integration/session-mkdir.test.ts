/**
 * FtpSession.ensureDir against real servers (src/ftp/session.ts): folders are made by absolute path,
 * one MKD when the parent is there (the nightly case), one MKD per folder from the top when it is
 * not; an existing folder is found by CWD; a folder the server will not make is the server's error.
 * Judged on the server's disk and on the commands the proxy saw.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FtpError } from '../../src/errors.js';
import { FtpSession } from '../../src/ftp/session.js';
import type { FaultRules } from '../support/fault-proxy.js';
import { openSession, setUpScenario, type Scenario } from '../support/scenario.js';
import { SERVER_KINDS, type ServerKind } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const STAMP = '2012-08-18-154137';
const OLD = { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } };
/** Servers whose MKD makes missing parents too and answers 257 for a folder that exists (ftp-srv: a recursive mkdir). */
const MAKES_PARENTS = new Set(['ftp-srv']);

async function scenarioWithSession(t: TestContext, kind: ServerKind, rules?: FaultRules): Promise<{ s: Scenario; session: FtpSession }> {
  const s = await setUpScenario(t, kind, { remote: OLD, ...(rules === undefined ? {} : { rules }) });
  const session = await openSession(t, s);
  s.proxy.log.length = 0;
  return { s, session };
}

function isFolder(s: Scenario, remote: string): boolean {
  const local = path.join(s.server.root, ...remote.split('/'));
  return existsSync(local) && statSync(local).isDirectory();
}

describe('FtpSession.ensureDir', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: a folder whose parent exists takes one MKD of its whole path`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind);
      await session.ensureDir(`/backups/Bart/${STAMP}.partial`);
      assert.ok(isFolder(s, `/backups/Bart/${STAMP}.partial`));
      assert.deepEqual(s.proxy.log, [`MKD /backups/Bart/${STAMP}.partial`]);
    });

    test(`${kind.name}: missing parents are made, one MKD per folder from the top where the server does not make them itself`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind);
      const dir = `/backups/Homer/${STAMP}.partial/disk`;
      await session.ensureDir(dir);
      assert.ok(isFolder(s, dir));
      const fromTheTop = [`MKD ${dir}`, 'MKD /backups', 'MKD /backups/Homer', `MKD /backups/Homer/${STAMP}.partial`, `MKD ${dir}`];
      assert.deepEqual(s.proxy.log.filter((line) => line.startsWith('MKD')), MAKES_PARENTS.has(kind.name) ? [`MKD ${dir}`] : fromTheTop);
    });

    test(`${kind.name}: an existing folder is left as it is (found by CWD where MKD refuses it); the working directory is / again`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind);
      await session.ensureDir('/backups/Bart/2012-07-01-000000');
      const found = ['MKD /backups/Bart/2012-07-01-000000', 'CWD /backups/Bart/2012-07-01-000000', 'CWD /'];
      assert.deepEqual(s.proxy.log, MAKES_PARENTS.has(kind.name) ? found.slice(0, 1) : found);
      assert.ok(existsSync(path.join(s.remoteRoot, 'Bart', '2012-07-01-000000', 'vm.ovf')));
    });

    test(`${kind.name}: a folder the server will not make rejects with its reply to the MKD`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind, { replyToCommand: { command: 'MKD', code: 550, text: 'Permission denied', times: 10 } });
      const dir = `/backups/Bart/${STAMP}.partial`;
      await assert.rejects(session.ensureDir(dir), (error: unknown) => {
        assert.ok(error instanceof FtpError);
        assert.equal(error.replyCode, 550);
        assert.equal(error.kind, 'permanent');
        assert.match(error.message, /^create folder \/backups\/Bart\/2012-08-18-154137\.partial on nas .*: server replied 550 Permission denied$/);
        return true;
      });
      assert.ok(!isFolder(s, dir));
    });
  }
});
