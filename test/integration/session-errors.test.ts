/**
 * Error translation through the internal client (src/ftp/session.ts) against real servers: what a
 * real server or socket does becomes an FtpError of the right kind, reply code and exit code (the
 * kind decides retries; the exit code what the scheduled task sees). Replies the servers would
 * not give on demand come from the fault proxy, as real replies on a real control connection.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExitCode, FtpError, exitCodeOf, type FtpErrorKind } from '../../src/errors.js';
import { FtpSession } from '../../src/ftp/session.js';
import { Secret } from '../../src/config/secret.js';
import { freePort as closedPort } from '../support/ports.js';
import { openSession, setUpScenario, type Scenario } from '../support/scenario.js';
import { SERVER_KINDS } from '../support/servers.js';
import { serverTarget } from '../support/target.js';
import { BOUNDED } from '../support/wait.js';

const STAMP = '2012-08-18-154137';
const FILE = `/backups/Bart/${STAMP}/vm.ovf`;

/** Returns what `promise` rejected with, asserting it is an FtpError of `kind`, `replyCode` and exit code. */
async function ftpFailure(promise: Promise<unknown>, kind: FtpErrorKind, replyCode: number | undefined, exitCode: ExitCode): Promise<FtpError> {
  let failure: unknown;
  await promise.then(
    () => assert.fail(`expected an FtpError of kind ${kind}, but it succeeded`),
    (error: unknown) => (failure = error),
  );
  assert.ok(failure instanceof FtpError, `expected an FtpError, got ${String(failure)}`);
  assert.deepEqual([failure.kind, failure.replyCode, exitCodeOf(failure)], [kind, replyCode, exitCode], failure.message);
  return failure;
}

async function scenario(t: Parameters<typeof setUpScenario>[0], kind: (typeof SERVER_KINDS)[number]): Promise<Scenario> {
  return setUpScenario(t, kind, { remote: { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } } });
}

describe('FtpSession: real failures -> error kinds', () => {
  for (const kind of SERVER_KINDS) {
    test(`${kind.name}: a wrong password is auth (530, exit 4), naming the target and the fields to check`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await scenario(t, kind);
      const error = await ftpFailure(
        FtpSession.open(serverTarget(s.proxy, s.server, { password: new Secret('not-the-password') })),
        'auth',
        530,
        ExitCode.Unreachable,
      );
      assert.match(error.message, new RegExp(`^login on nas \\(127\\.0\\.0\\.1:${s.proxy.port}\\): server replied 530`));
      assert.equal(error.hint, 'check targets.nas.user and its password');
    });

    test(`${kind.name}: a closed port is connect (exit 4), and a 421 before the login is connect too, not a transfer hiccup`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await scenario(t, kind);
      const port = await closedPort();
      const refused = await ftpFailure(FtpSession.open(serverTarget({ host: '127.0.0.1', port }, s.server)), 'connect', undefined, ExitCode.Unreachable);
      assert.equal(refused.message, `cannot connect to nas (127.0.0.1:${port}): ECONNREFUSED`);

      s.proxy.setRules({ refuseConnectionNumber: s.proxy.connections + 1 });
      const busy = await ftpFailure(FtpSession.open(serverTarget(s.proxy, s.server)), 'connect', 421, ExitCode.Unreachable);
      assert.match(busy.message, /421/);
    });

    test(`${kind.name}: the server's own 550 for a missing file is permanent; the session stays usable`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await scenario(t, kind);
      const session = await openSession(t, s);
      const missing = `/backups/Bart/${STAMP}/no-such-file`;
      const deleted = await ftpFailure(session.removeFile(missing), 'permanent', 550, ExitCode.PartialFailure);
      assert.match(deleted.message, new RegExp(`^delete ${missing} on nas \\(127\\.0\\.0\\.1:\\d+\\): server replied 550`));
      await ftpFailure(session.rename(missing, `${missing}-2`), 'permanent', 550, ExitCode.PartialFailure);
      assert.equal(await session.size(FILE), 5);
    });

    test(`${kind.name}: a 4xx reply is transient, 452 and 550 permanent, 530 auth, by the reply code alone`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await scenario(t, kind);
      const session = await openSession(t, s);
      // One code of each kind through a real connection; every code is in test/unit/ftp-errors.test.ts.
      const replies: [code: number, text: string, kind: FtpErrorKind][] = [
        [421, 'Service not available, closing control connection', 'transient'],
        [452, 'Insufficient storage space', 'permanent'],
        [550, 'Login incorrect, it says, but the code says 550', 'permanent'],
        [530, 'Not logged in', 'auth'],
      ];
      for (const [code, text, expected] of replies) {
        s.proxy.setRules({ replyToCommand: { command: 'SIZE', code, text } });
        const error = await ftpFailure(session.size(FILE), expected, code, expected === 'auth' ? ExitCode.Unreachable : ExitCode.PartialFailure);
        assert.equal(error.message, `size ${FILE} on nas (127.0.0.1:${s.proxy.port}): server replied ${code} ${text}`);
        // The reply came from the proxy: the same session (reconnecting if it must) reads the real size again.
        s.proxy.setRules({});
        assert.equal(await session.size(FILE), 5, `after ${code}`);
      }
    });

    test(`${kind.name}: a server that stops answering is transient (a timeout), and the next command reconnects`, BOUNDED, async (t) => {
      if (!kind.usable(t)) return;
      const s = await scenario(t, kind);
      const session = await openSession(t, s, { timeoutSeconds: 1 });
      s.proxy.setRules({ stallCommand: { command: 'SIZE' } });
      const connections = s.proxy.connections;
      const error = await ftpFailure(session.size(FILE), 'transient', undefined, ExitCode.PartialFailure);
      assert.match(error.message, /^size .* failed: .*[Tt]imeout/);
      s.proxy.setRules({});
      assert.equal(await session.size(FILE), 5);
      assert.equal(s.proxy.connections, connections + 1, 'a new control connection after the timeout');
    });
  }
});
