/**
 * A resolved target (what loadConfig hands the run) for tests that drive FtpSession, the inventory
 * or a backend directly, without a config file; and an inventory in an order tests can compare.
 *
 *   const target = targetConfig({ remoteDir: '/vm' });                 // the config's defaults, host nas.lan
 *   const session = await FtpSession.open(serverTarget(proxy, server)); // a real server, or the proxy in front of it
 *   assert.deepEqual(normalized(await takeInventory(session)), normalized(expected));
 */
import type { TargetConfig } from '../../src/config/types.js';
import type { RemoteBackup, TargetInventory } from '../../src/core/model.js';
import { Secret } from '../../src/config/secret.js';
import type { FtpServerHandle } from './ftp-srv.js';

/** Returns target `nas` with the config's defaults (port 21, 2 connections, 30 s, keepalive after 60 s, 3 retries 2 s apart, verify 'size'). */
export function targetConfig(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name: 'nas',
    host: 'nas.lan',
    port: 21,
    user: 'backup',
    password: new Secret('test-password'),
    remoteDir: '/vm',
    secure: false,
    allowSelfSigned: false,
    maxConnections: 2,
    activeMode: false,
    timeoutSeconds: 30,
    keepaliveSeconds: 60,
    retries: 3,
    retryDelaySeconds: 2,
    verify: 'size',
    ...overrides,
  };
}

/**
 * Returns target `nas` logging into `server` at `endpoint` (the server itself, or a fault proxy in
 * front of it), with a 10 s command timeout: room for pure-ftpd's ~4 s answer to a wrong password,
 * bounded for tests that stall.
 */
export function serverTarget(
  endpoint: { readonly host: string; readonly port: number },
  server: Pick<FtpServerHandle, 'user' | 'password'>,
  overrides: Partial<TargetConfig> = {},
): TargetConfig {
  return targetConfig({
    host: endpoint.host,
    port: endpoint.port,
    user: server.user,
    password: new Secret(server.password),
    timeoutSeconds: 10,
    ...overrides,
  });
}

/** Returns the inventory in a fixed order: listings come in the server's order, which differs between servers and between STAT and MLSD. */
export function normalized(inventory: TargetInventory): TargetInventory {
  const key = (backup: RemoteBackup) => `${backup.vm}\u0000${backup.stamp}\u0000${backup.partial}`;
  return {
    ...inventory,
    backups: [...inventory.backups]
      .map((backup) => ({ ...backup, files: [...backup.files].sort((a, b) => (a.path < b.path ? -1 : 1)) }))
      .sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    strays: [...inventory.strays].sort(),
  };
}
