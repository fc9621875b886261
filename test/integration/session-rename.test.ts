/**
 * FtpSession.renameReplacing against real servers (src/ftp/session.ts): servers refuse to rename a
 * folder onto an existing name, each with its own code (pure-ftpd 451 "Directory not empty", others
 * 550 or 553). The session deletes what blocks the name only when it is really there, and says so
 * (true), so the executor can name that unplanned delete in the report; a refusal with nothing in
 * the way stays the server's error and deletes nothing.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { FtpError } from '../../src/errors.js';
import { FtpSession } from '../../src/ftp/session.js';
import { readTree } from '../support/fixtures.js';
import type { FaultRules } from '../support/fault-proxy.js';
import { openSession, setUpScenario, type Scenario } from '../support/scenario.js';
import { SERVER_KINDS, type ServerKind } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const STAMP = '2012-08-18-154137';
const PARTIAL = `/backups/Bart/${STAMP}.partial`;
const FINAL = `/backups/Bart/${STAMP}`;

async function scenarioWithSession(t: TestContext, kind: ServerKind, remote: Record<string, Record<string, string>>, rules?: FaultRules): Promise<{ s: Scenario; session: FtpSession }> {
  const s = await setUpScenario(t, kind, { remote, ...(rules === undefined ? {} : { rules }) });
  return { s, session: await openSession(t, s) };
}

/** The commands that remove something on the server, from the proxy's log. */
function deletes(s: Scenario): string[] {
  return s.proxy.log.filter((line) => /^(RMD|DELE) /.test(line));
}

describe('FtpSession.renameReplacing', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: a folder in the way is deleted, then the rename done: true`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind, {
        [`Bart/${STAMP}.partial`]: { 'vm.ovf': '<new/>' },
        [`Bart/${STAMP}`]: { 'vm.ovf': '<old/>', 'notes.txt': 'old' },
      });
      assert.equal(await session.renameReplacing(PARTIAL, FINAL), true);
      assert.deepEqual(readTree(s.remoteRoot), { [`Bart/${STAMP}/vm.ovf`]: Buffer.from('<new/>') });
      assert.equal(s.proxy.log.filter((line) => line === `RNTO ${FINAL}`).length, 2, 'refused once, then done');
    });

    test(`${kind.name}: a free name is a plain rename: false, nothing deleted`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind, { [`Bart/${STAMP}.partial`]: { 'vm.ovf': '<new/>' } });
      assert.equal(await session.renameReplacing(PARTIAL, FINAL), false);
      assert.deepEqual(readTree(s.remoteRoot), { [`Bart/${STAMP}/vm.ovf`]: Buffer.from('<new/>') });
      assert.deepEqual(deletes(s), []);
    });

    test(`${kind.name}: a refusal with nothing in the way is the server's error (553), and nothing is deleted`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind, { [`Bart/${STAMP}.partial`]: { 'vm.ovf': '<new/>' } }, {
        replyToCommand: { command: 'RNTO', code: 553, text: 'Rename refused' },
      });
      await assert.rejects(session.renameReplacing(PARTIAL, FINAL), (error: unknown) => error instanceof FtpError && error.replyCode === 553 && error.kind === 'permanent');
      assert.deepEqual(readTree(s.remoteRoot), { [`Bart/${STAMP}.partial/vm.ovf`]: Buffer.from('<new/>') });
      assert.deepEqual(deletes(s), []);
    });
  }
});
