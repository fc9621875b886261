/**
 * A process that takes the run lock, for test/unit/lock.test.ts:
 *
 *   node --import tsx test/support/lock-holder.ts <lock file> hold   # holds it until stdin ends, then releases, exit 0
 *   node --import tsx test/support/lock-holder.ts <lock file> exit   # process.exit(130) while holding it
 *   node --import tsx test/support/lock-holder.ts <lock file> forced # forced out while holding it (the CLI's second signal)
 *
 * It says it runs with the config /etc/vmftp/holder.config.ts. Prints `acquired`, `stale: <message>`
 * (a lock taken over) or `refused: <message>` (exit 3).
 */
import { ExitCode, LockError } from '../../src/errors.js';
import { acquireLock, leaveLocksForNextRun } from '../../src/run/lock.js';

const [file, mode] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: lock-holder.ts <lock file> hold|exit|forced');
try {
  const lock = await acquireLock(file, (message) => console.log(`stale: ${message}`), { configPath: '/etc/vmftp/holder.config.ts' });
  console.log('acquired');
  if (mode === 'forced') leaveLocksForNextRun('stopped by a second SIGTERM before its report was done');
  if (mode === 'exit' || mode === 'forced') process.exit(ExitCode.Interrupted);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void lock.release().then(() => console.log('released'));
  });
} catch (error) {
  if (!(error instanceof LockError)) throw error;
  console.log(`refused: ${error.message}`);
  process.exitCode = ExitCode.Locked;
}
