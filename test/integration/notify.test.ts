/**
 * `notify`: the built CLI pings a loopback HTTP server (the monitoring
 * service) at start, success and failure; a ping that fails is a warning,
 * never a failed run.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { randomPassword } from '../support/ftp-srv.js';
import { startPingServer } from '../support/http.js';
import { setUpFixtureRun } from '../support/scenario.js';
import { BOUNDED } from '../support/wait.js';

async function setUp(t: TestContext, notify: (base: string) => Record<string, unknown>, ftpPassword?: string) {
  const monitor = await startPingServer();
  t.after(() => monitor.stop());
  const { server, vmftp } = await setUpFixtureRun(t, 'notify', {
    ...(ftpPassword === undefined ? {} : { target: { password: ftpPassword } }),
    extra: { notify: notify(monitor.url) },
  });
  return { monitor, server, vmftp };
}

describe('notify pings, healthchecks style', () => {
  test('a good run pings url/start, then url with the summary', BOUNDED, async (t) => {
    const { monitor, vmftp } = await setUp(t, (base) => ({ url: `${base}/ping/abc-123` }));
    const run = await vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      monitor.pings.map((ping) => `${ping.method} ${ping.path}`),
      ['POST /ping/abc-123/start', 'POST /ping/abc-123'],
    );
    assert.match(monitor.pings[1]?.body ?? '', /: success/);
    assert.match(monitor.pings[1]?.body ?? '', /nas\s+Bart\s+2\s/);
  });

  test('a run whose target refuses the login pings url/fail; exit code 4 stays', BOUNDED, async (t) => {
    const wrong = randomPassword();
    const { monitor, vmftp } = await setUp(t, (base) => ({ url: `${base}/ping/abc-123/` }), wrong);
    const run = await vmftp();
    assert.equal(run.code, 4, run.stderr);
    assert.deepEqual(
      monitor.pings.map((ping) => ping.path),
      ['/ping/abc-123/start', '/ping/abc-123/fail'],
    );
    assert.match(monitor.pings[1]?.body ?? '', /FAILED \(exit code 4/);
    assert.ok(!monitor.pings.some((ping) => ping.body.includes(wrong)), 'no password in a ping');
  });

  test('start, success and failure URLs of their own, with GET', BOUNDED, async (t) => {
    const { monitor, vmftp } = await setUp(t, (base) => ({ start: `${base}/begin`, success: `${base}/ok?run=1`, method: 'GET' }));
    const run = await vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      monitor.pings.map((ping) => `${ping.method} ${ping.path} ${ping.body.length}`),
      ['GET /begin 0', 'GET /ok?run=1 0'],
    );
  });

  test('-S and -d ping nothing: they are not backups', BOUNDED, async (t) => {
    const { monitor, vmftp } = await setUp(t, (base) => ({ url: `${base}/ping/x` }));
    assert.equal((await vmftp('-S')).code, 0);
    assert.equal((await vmftp('-d')).code, 0);
    assert.deepEqual(monitor.pings, []);
  });

  test('a monitor answering 500 is a warning naming the URL; the run succeeds', BOUNDED, async (t) => {
    const { monitor, vmftp } = await setUp(t, (base) => ({ url: `${base}/ping/broken` }));
    monitor.status = 500;
    const run = await vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /warn: notify: start ping to http:\/\/127\.0\.0\.1:\d+\/ping\/broken\/start answered 500/);
    assert.match(run.stderr, /warn: notify: success ping to .* answered 500/);
    assert.match(run.stdout, /vmftp success/);
  });

  test('a monitor that is down is a warning; the run succeeds', BOUNDED, async (t) => {
    const { monitor, vmftp } = await setUp(t, (base) => ({ url: `${base}/ping/gone`, timeoutSeconds: 5 }));
    await monitor.stop();
    const run = await vmftp();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /warn: notify: start ping to .* failed: ECONNREFUSED; the run goes on/);
    assert.match(run.stdout, /vmftp success/);
  });
});
