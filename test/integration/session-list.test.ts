/**
 * Which command FtpSession.list asks a server with (src/ftp/session.ts, #listByBestCommand): a
 * listing that fell back from MLSD because of the folder (a missing one) leaves the connection on
 * its best command; one the server refused for good, while a later command listed the folder, is
 * not asked again. Judged on the commands the proxy saw.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { FtpSession } from '../../src/ftp/session.js';
import type { FaultRules } from '../support/fault-proxy.js';
import { openSession, setUpScenario, type Scenario } from '../support/scenario.js';
import { ALL_SERVER_KINDS, type ServerKind } from '../support/servers.js';
import { BOUNDED } from '../support/wait.js';

const BACKUP = '/backups/Bart/2012-07-01-000000';
/** The command each server lists with when nothing went wrong: MLSD where FEAT names MLST. */
const BEST_COMMAND: Record<ServerKind['name'], string> = { 'ftp-srv': 'LIST -a', 'pure-ftpd': 'MLSD', proftpd: 'MLSD', vsftpd: 'LIST -a' };
const MLSD_SERVERS = ALL_SERVER_KINDS.filter((kind) => BEST_COMMAND[kind.name] === 'MLSD');

async function scenarioWithSession(t: TestContext, kind: ServerKind, rules?: FaultRules): Promise<{ s: Scenario; session: FtpSession }> {
  const s = await setUpScenario(t, kind, { remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } }, ...(rules === undefined ? {} : { rules }) });
  const session = await openSession(t, s, { remoteDir: `${kind.remoteBase}/backups` });
  s.proxy.log.length = 0;
  return { s, session };
}

/** Returns the listing commands the proxy saw for `dir`, without their argument. */
function listingsOf(s: Scenario, dir: string): string[] {
  return s.proxy.log.filter((line) => /^(MLSD|LIST)\b/.test(line) && line.endsWith(` ${dir}`)).map((line) => line.slice(0, -dir.length - 1));
}

describe('FtpSession.list: the command it lists with', () => {
  for (const kind of ALL_SERVER_KINDS) {
    test(`${kind.name}: after the listing of a missing folder, the next folder is listed by ${BEST_COMMAND[kind.name]}`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const { s, session } = await scenarioWithSession(t, kind);
      const backup = `${kind.remoteBase}${BACKUP}`;
      const missing = await session.list(`${kind.remoteBase}/backups/Homer`);
      assert.ok(missing === undefined || missing.length === 0, JSON.stringify(missing));
      assert.deepEqual(await session.list(backup), [{ name: 'vm.ovf', kind: 'file', size: 6 }]);
      assert.deepEqual(listingsOf(s, backup), [BEST_COMMAND[kind.name]], s.proxy.log.join('\n'));
      assert.equal(session.listing?.command, BEST_COMMAND[kind.name]);
    });
  }

  /** A refusal of MLSD, and the commands two listings of a folder then take. */
  const refusals = [
    { code: 500, text: 'Unknown command.', why: 'for good while LIST -a lists the folder: not asked again on that connection', commands: ['MLSD', 'LIST -a', 'LIST -a'] },
    { code: 425, text: "Can't open data connection.", why: '(try again): asked again by the next listing', commands: ['MLSD', 'LIST -a', 'MLSD'] },
  ];
  for (const kind of MLSD_SERVERS) {
    for (const { code, text, why, commands } of refusals) {
      test(`${kind.name}: MLSD refused with ${code} ${why}`, BOUNDED, async (t) => {
        if (!kind.usable(t)) return;
        const { s, session } = await scenarioWithSession(t, kind, { replyToCommand: { command: 'MLSD', code, text } });
        const expected = [{ name: 'vm.ovf', kind: 'file', size: 6 }];
        assert.deepEqual(await session.list(BACKUP), expected);
        assert.deepEqual(await session.list(BACKUP), expected);
        assert.deepEqual(listingsOf(s, BACKUP), commands, s.proxy.log.join('\n'));
      });
    }
  }
});
