/**
 * Where a run's report goes besides the console, for one test: a ping monitor and an SMTP server
 * with a login, both stopped in t.after, and the config blocks and environment that point a run at
 * them (the SMTP password comes from an environment variable, as an administrator would keep it).
 *
 *   const delivery = await startDelivery(t);
 *   const s = await setUpScenario(t, kind, { config: { log: { file: 'logs/vmftp.log' }, ...delivery.config } });
 *   Object.assign(s.env, delivery.env);
 *   assert.deepEqual(delivery.monitor.pings.map((ping) => ping.path), ['/ping/night/start', '/ping/night/fail']);
 */
import type { TestContext } from 'node:test';
import { randomPassword } from './ftp-srv.js';
import { startPingServer, type PingServerHandle } from './http.js';
import { startSmtpServer, type SmtpServerHandle } from './smtp.js';

/** The variable the mail block names for its password. */
const SMTP_PASSWORD_ENV = 'VMFTP_TEST_SMTP_PASSWORD';

export interface Delivery {
  readonly monitor: PingServerHandle;
  readonly smtp: SmtpServerHandle;
  /** `notify` (pings under /ping/night) and `mail` (from vmftp@backup.lan to ops@backup.lan), for the config. */
  readonly config: { readonly notify: { readonly url: string }; readonly mail: Record<string, unknown> };
  /** The SMTP password in the variable the mail block reads: add it to the run's environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** Returns a started ping monitor and SMTP server (login `smtpUser`, a random password), stopped when the test ends. */
export async function startDelivery(t: Pick<TestContext, 'after'>, smtpUser = 'vmftp'): Promise<Delivery> {
  const monitor = await startPingServer();
  t.after(() => monitor.stop());
  const password = randomPassword();
  const smtp = await startSmtpServer({ user: smtpUser, password });
  t.after(() => smtp.stop());
  return {
    monitor,
    smtp,
    config: {
      notify: { url: `${monitor.url}/ping/night` },
      mail: { from: 'vmftp@backup.lan', to: 'ops@backup.lan', smtp: { host: smtp.host, port: smtp.port, user: smtpUser, password: { env: SMTP_PASSWORD_ENV } } },
    },
    env: { [SMTP_PASSWORD_ENV]: password },
  };
}
