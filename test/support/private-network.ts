/**
 * A network of the test's own (Linux, as root): the test runs again, alone, inside `unshare -n`,
 * with a private loopback that the kernel's connection tracking, nftables and tc work on without
 * touching anything else on the machine. Servers and the CLI the test starts there share that
 * loopback; the file system is the same, so the test checks both disks as usual.
 *
 *   test('...', async (t) => {
 *     if (!requirePureFtpd(t) || !(await inPrivateNetwork(t, import.meta.url))) return;
 *     const router = forgetIdleConnections(3);   // a router that forgets connections idle for 3 s
 *     limitRate('8mbit');                        // a slow link: uploads outlast the idle timeout
 *     ...start the server, run the CLI...
 *     assert.ok(router.dropped() > 0);
 *   });
 *
 * Outside the namespace, inPrivateNetwork() runs this one test (a top-level `test`, found by its
 * name) in a child `node --test` inside a new namespace, fails with the child's output unless
 * exactly that test passed there, and returns false; inside, it returns true. The helpers that
 * change the network refuse to run outside a private namespace.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { requireOrSkip } from './pure-ftpd.js';

/** Set for the child test process that runs inside the namespace: the namespace it was started from. */
const INSIDE = 'VMFTP_TEST_PRIVATE_NETWORK';
/** Long enough for a test of a few slow uploads and their timeouts. */
const CHILD_TIMEOUT_MS = 180_000;
const TABLE = 'vmftp_router';

/** Why a private network cannot be made here, or undefined when it can. */
function unavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'private networks need Linux';
  if (process.getuid?.() !== 0) return 'unshare -n, nft and tc need root';
  for (const program of ['unshare', 'ip', 'nft', 'tc', 'sysctl']) {
    if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) return `${program} is missing (run scripts/ensure-test-deps.sh as root)`;
  }
  return undefined;
}

/** Returns this process's network namespace (`net:[4026531833]`). */
function networkNamespace(): string {
  return readlinkSync('/proc/self/ns/net');
}

/** True when this is the child test process, in a network namespace other than the one it was started from. */
function isPrivateNetwork(): boolean {
  const parent = process.env[INSIDE];
  return parent !== undefined && parent !== networkNamespace();
}

function assertPrivateNetwork(): void {
  if (!isPrivateNetwork()) {
    throw new Error('refusing to change the network outside a private namespace: call inPrivateNetwork(t, import.meta.url) first');
  }
}

/**
 * Returns true inside the private network. Outside, runs this test there (see the header) and
 * returns false; skips it (fails under CI=true) where no private network can be made.
 */
export async function inPrivateNetwork(t: TestContext, testFileUrl: string): Promise<boolean> {
  if (process.env[INSIDE] !== undefined) {
    assert.ok(isPrivateNetwork(), `${INSIDE} is set, but this process shares the network it was started from`);
    return true;
  }
  const reason = unavailableReason();
  if (!requireOrSkip(t, reason === undefined, `private network: ${reason ?? ''}`)) return false;
  const pattern = `^${t.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  const child = spawn(
    'unshare',
    ['-n', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, '--import', 'tsx', '--test', '--test-reporter=tap',
      `--test-name-pattern=${pattern}`, fileURLToPath(testFileUrl)],
    { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  // A pattern that matched nothing also exits 0: only "this one test passed" counts.
  const passedAlone = /^# pass 1$/m.test(output) && /^# fail 0$/m.test(output) && /^# cancelled 0$/m.test(output);
  assert.ok(code === 0 && passedAlone, `the test failed inside its private network (exit ${code}):\n${output}`);
  // The child's own notes (its figures) show under this test; TAP's totals do not.
  for (const [, note] of output.matchAll(/^# (?!Subtest: |(?:tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) )(.*)$/gm)) t.diagnostic(note ?? '');
  return false;
}

/** Returns the child's environment: marked as inside, and a test runner of its own (not a file of this run's). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [INSIDE]: networkNamespace() };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/** The idle timeout's traces, read from the namespace's nftables counters. */
export interface ForgetfulRouter {
  /** Packets dropped because their connection had been forgotten. */
  dropped(): number;
  /** Bytes of every TCP packet that went through (headers included, both directions). */
  tcpBytes(): number;
}

function run(program: string, args: string[]): string {
  const result = spawnSync(program, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.error?.message}`);
  return result.stdout;
}

function counter(name: string, field: 'packets' | 'bytes'): number {
  const listing = JSON.parse(run('nft', ['-j', 'list', 'counter', 'ip', TABLE, name])) as { nftables: { counter?: Record<string, number> }[] };
  const value = listing.nftables.find((entry) => entry.counter !== undefined)?.counter?.[field];
  if (value === undefined) throw new Error(`nft counter ${name} not found`);
  return value;
}

/**
 * Makes the private network behave like a home router or firewall that forgets a TCP connection
 * idle for `seconds` (docs/ftp-servers.md, "Behaviours the code works around"): its tracking entry expires, and every later
 * packet of it is dropped without a reset, both ways.
 */
export function forgetIdleConnections(seconds: number): ForgetfulRouter {
  assertPrivateNetwork();
  // The ct rule loads connection tracking, whose sysctls only exist from then on.
  run('nft', ['add', 'table', 'ip', TABLE]);
  run('nft', ['add', 'counter', 'ip', TABLE, 'forgotten']);
  run('nft', ['add', 'counter', 'ip', TABLE, 'traffic']);
  run('nft', ['add', 'chain', 'ip', TABLE, 'out', '{ type filter hook output priority 0; }']);
  run('nft', ['add', 'rule', 'ip', TABLE, 'out', 'meta', 'l4proto', 'tcp', 'counter', 'name', 'traffic']);
  run('nft', ['add', 'rule', 'ip', TABLE, 'out', 'ct', 'state', 'invalid', 'counter', 'name', 'forgotten', 'drop']);
  run('sysctl', ['-q', '-w', `net.netfilter.nf_conntrack_tcp_timeout_established=${seconds}`]);
  // A packet of a forgotten connection must not start a new entry mid-stream, as a router's would not.
  run('sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0']);
  return { dropped: () => counter('forgotten', 'packets'), tcpBytes: () => counter('traffic', 'bytes') };
}

/** Makes the private loopback a link of `rate` (tc syntax: '8mbit'), so uploads take their time. */
export function limitRate(rate: string): void {
  assertPrivateNetwork();
  // Loopback's 64 KiB packets exceed the bucket and stall the link: a real link's MTU.
  run('ip', ['link', 'set', 'lo', 'mtu', '1500']);
  run('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '500ms']);
}

/**
 * Sets this namespace's TCP keepalive idle time and probe interval: what a program gets that turns
 * keepalive on without times of its own (ncftpput). Both: after a probe the kernel waits the
 * interval (75 s by default) before it looks again, whatever the idle time.
 */
export function setSystemKeepaliveSeconds(seconds: number): void {
  assertPrivateNetwork();
  run('sysctl', ['-q', '-w', `net.ipv4.tcp_keepalive_time=${seconds}`, `net.ipv4.tcp_keepalive_intvl=${seconds}`]);
}
