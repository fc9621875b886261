/**
 * One integration scenario: a temp work dir with a local backup tree, a real FTP server (seeded with
 * old backups), the fault proxy in front of it, and a config whose targets point at the proxy.
 *
 *   const s = await setUpScenario(t, kind, {
 *     local: { 'Bart/2012-08-18-154137': { 'disk1.vmdk': 400_000 } },
 *     remote: { 'Bart/2012-07-01-000000': { 'vm.ovf': '<old/>' } },
 *     rules: { cutUpload: { match: 'disk1.vmdk', afterBytes: 150_000 } },
 *   });
 *   const run = await s.vmftp('-x');          // the built CLI, -c <config>, bounded
 *   s.proxy.setRules({});                     // the next run goes through
 *
 * Server and proxy are stopped in t.after; the work dir is removed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { TargetConfig } from '../../src/config/types.js';
import { FtpSession } from '../../src/ftp/session.js';
import { loginTo, runVmftp, startVmftp, writeConfig, type CliResult, type RunningCli } from './cli.js';
import { startFaultProxy, type FaultProxyHandle, type FaultRules } from './fault-proxy.js';
import { copyFixture, makeBackupTree, tmpDir, type TreeSpec } from './fixtures.js';
import { startFtpSrv, type FtpServerHandle } from './ftp-srv.js';
import type { ServerKind } from './servers.js';
import { serverTarget } from './target.js';

/** Long enough for pure-ftpd's ~4 s failed-login delay, short enough that no test hangs. */
const RUN_TIMEOUT_MS = 45_000;

export interface ScenarioOptions {
  readonly local?: TreeSpec;
  /** Seeded under the first target's remoteDir before the run. */
  readonly remote?: TreeSpec;
  readonly rules?: FaultRules;
  /** Config `keep`. */
  readonly keep?: unknown;
  /** The server's password (default: random). */
  readonly serverPassword?: string;
  /** The password the config hands to vmftp (default: the server's). */
  readonly configPassword?: string;
  /** Target name -> remoteDir, all on the same server through the proxy (default `{ nas: '/backups' }`). */
  readonly targets?: Readonly<Record<string, string>>;
  /** Config `vms` (default: every VM to every target). */
  readonly vms?: Record<string, unknown>;
  /** More fields of every target, e.g. `{ retries: 0 }` or `{ maxConnections: 3, retryDelaySeconds: 0.05 }`. */
  readonly targetFields?: Record<string, unknown>;
  /** More top-level config fields, e.g. `{ mail: {...}, notify: {...}, log: {...} }`. */
  readonly config?: Record<string, unknown>;
}

export interface Scenario {
  readonly work: string;
  readonly source: string;
  readonly server: Omit<FtpServerHandle, 'kind'>;
  readonly proxy: FaultProxyHandle;
  /** Local path of the first target's remoteDir on the server's disk. */
  readonly remoteRoot: string;
  readonly configPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly lockFile: string;
  /** Local path of a target's remoteDir on the server's disk. */
  remoteRootOf(target: string): string;
  /** Writes backups under a target's remoteDir on the server's disk, owned by the FTP user. */
  seedRemote(spec: TreeSpec, target?: string): void;
  /** Runs `vmftp -c <config> ...args` to its end. */
  vmftp(...args: string[]): Promise<CliResult>;
  /** Starts `vmftp -c <config> ...args` without waiting. */
  start(...args: string[]): RunningCli;
}

/** Returns a ready scenario for one server kind (see the header). */
export async function setUpScenario(t: TestContext, kind: ServerKind, options: ScenarioOptions = {}): Promise<Scenario> {
  const work = tmpDir(`scenario-${kind.name}`, t);
  const source = path.join(work, 'source');
  mkdirSync(source);
  makeBackupTree(source, options.local ?? {});
  const server = await kind.start({ root: path.join(work, 'ftp'), ...(options.serverPassword === undefined ? {} : { password: options.serverPassword }) });
  t.after(() => server.stop());
  const proxy = await startFaultProxy(server, options.rules ?? {});
  t.after(() => proxy.stop());

  // Under the folder the FTP user may write in (vsftpd's /pub).
  const targetDirs = Object.fromEntries(Object.entries(options.targets ?? { nas: '/backups' }).map(([name, dir]) => [name, `${kind.remoteBase}${dir}`]));
  const firstTarget = Object.keys(targetDirs)[0]!;
  const remoteRootOf = (target: string) => path.join(server.root, ...(targetDirs[target] ?? '/').split('/'));
  const seedRemote = (spec: TreeSpec, target = firstTarget) => {
    makeBackupTree(remoteRootOf(target), spec);
    kind.chown(path.join(server.root, kind.remoteBase));
  };
  if (options.remote !== undefined) seedRemote(options.remote);

  const password = options.configPassword ?? server.password;
  const { configPath, env, lockFile } = await writeConfig(work, {
    source,
    ...(options.keep === undefined ? {} : { keep: options.keep }),
    targets: Object.fromEntries(
      Object.entries(targetDirs).map(([name, remoteDir]) => [
        name,
        { ...loginTo(server, proxy), password, remoteDir, ...options.targetFields },
      ]),
    ),
    ...(options.vms === undefined ? {} : { vms: options.vms }),
    ...(options.config === undefined ? {} : { extra: options.config }),
  });
  const start = (...args: string[]) => {
    // Whatever the test wrote on the server's disk must belong to the FTP user, as uploads would.
    kind.chown(path.join(server.root, kind.remoteBase));
    return startVmftp(['-c', configPath, ...args], { env, timeoutMs: RUN_TIMEOUT_MS });
  };
  return {
    work,
    source,
    server,
    proxy,
    remoteRoot: remoteRootOf(firstTarget),
    configPath,
    env,
    lockFile,
    remoteRootOf,
    seedRemote,
    vmftp: (...args) => start(...args).done,
    start,
  };
}

/** The fixture tree (test/fixtures/VMbackupFolder) and a config sending it straight to ftp-srv: no proxy, for what a run reports. */
export interface FixtureRun {
  readonly work: string;
  readonly server: FtpServerHandle;
  readonly configPath: string;
  readonly lockFile: string;
  /** Runs `vmftp -c <config> ...args` to its end. */
  vmftp(...args: string[]): Promise<CliResult>;
}

/**
 * Returns a fixture run in a temp folder named after `name`: ftp-srv (stopped in t.after) and a
 * config with target `nas` on it, `target` fields over its login and `extra` top-level fields;
 * `env` is added to what the CLI runs with.
 */
export async function setUpFixtureRun(
  t: Pick<TestContext, 'after'>,
  name: string,
  options: { target?: Record<string, unknown>; extra?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {},
): Promise<FixtureRun> {
  const work = tmpDir(name, t);
  const source = copyFixture('VMbackupFolder', path.join(work, 'source'));
  const server = await startFtpSrv({ root: path.join(work, 'ftp') });
  t.after(() => server.stop());
  const written = await writeConfig(work, {
    source,
    targets: { nas: { ...loginTo(server), ...options.target } },
    ...(options.extra === undefined ? {} : { extra: options.extra }),
  });
  const env = { ...written.env, ...options.env };
  return { work, server, configPath: written.configPath, lockFile: written.lockFile, vmftp: (...args) => runVmftp(['-c', written.configPath, ...args], { env }) };
}

/**
 * Returns an FtpSession into the scenario's server through its proxy, as target `nas` at
 * `/backups` (the default target's remoteDir) with `fields` over it; it is closed in t.after.
 */
export async function openSession(t: Pick<TestContext, 'after'>, s: Pick<Scenario, 'proxy' | 'server'>, fields: Partial<TargetConfig> = {}): Promise<FtpSession> {
  const session = await FtpSession.open(serverTarget(s.proxy, s.server, { remoteDir: '/backups', ...fields }));
  t.after(() => session.close());
  return session;
}

/** Commands that change something on the server, from the proxy's log. */
export function serverWrites(proxy: FaultProxyHandle): string[] {
  return proxy.log.filter((line) => /^(STOR|APPE|STOU|MKD|RMD|DELE|RNFR|RNTO|SITE)\b/i.test(line));
}

/**
 * Rewrites the scenario's config file through `edit` (a field the options do not cover, or a broken
 * config); `C` names the fields the test changes, as it expects them in the file.
 */
export function editConfig<C extends object = Record<string, unknown>>(s: Pick<Scenario, 'configPath'>, edit: (config: C) => void): void {
  const config = JSON.parse(readFileSync(s.configPath, 'utf8')) as C;
  edit(config);
  writeFileSync(s.configPath, JSON.stringify(config, null, 2));
}
