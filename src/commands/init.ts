/**
 * `vmftp init`: writes a commented starter `vmftp.config.ts` that loads as it
 * is once its password variable is set, so setting up is editing, not typing.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, ExitCode } from '../errors.js';

/** The environment variable the starter config reads the FTP password from. */
export const STARTER_PASSWORD_ENV = 'VMFTP_NAS_PASSWORD';

/** Returns the starter config's text; `windows` picks the example paths. */
export function starterConfig(windows: boolean): string {
  const source = windows ? String.raw`C:\\VirtualMachinesBackUps` : '/var/backups/vm';
  return `// vmftp.config.ts, written by \`vmftp init\`. Edit it, then run \`vmftp check\` to test every target.
// Every field, its type and its default: README.md, "Config reference". Relative paths start at this file's folder.
// Flags typed on the command line (-f, -n, -u, --delete-first) win over this file.
import { defineConfig } from 'vmftp';

export default defineConfig({
  // Where your backup job (VMExplorer...) writes <VM>/<yyyy-MM-dd-HHmmss>/ folders. Or pass -f <folder>.
  source: '${source}',

  // Backups to keep per VM on each server (-n overrides it). A number keeps the N newest;
  // { daily: 7, weekly: 4, monthly: 12 } keeps a GFS history, as restic forget does.
  keep: 3,
  // A VM whose newest backup on a server is older than this after a run fails it (default '8d'; '36h' for a nightly job).
  maxAge: '8d',

  targets: {
    nas: {
      host: 'nas.lan',
      // port: 21,
      user: 'backup',
      // Never write the password here: set the environment variable ${STARTER_PASSWORD_ENV} for the account
      // that runs vmftp, or use { file: 'secrets/nas-password.txt' } (chmod 600).
      password: { env: '${STARTER_PASSWORD_ENV}' },
      // Absolute folder on the server; backups go to <remoteDir>/<VM>/<stamp>.
      remoteDir: '/vm',
      // secure: true,          // explicit FTPS (AUTH TLS); 'implicit' for port 990
      // maxConnections: 2,     // many servers refuse a 3rd connection with 421
    },
  },

  // Which VM goes where; without vms every VM goes to every target.
  // vms: { Bart: 'nas', Raoul: { targets: ['nas'], keep: 5 }, '*': 'nas' },

  // A log per backup run: vmftp.log is the last one (-d and -S add to it), vmftp.log.1 ... .10 the ones before.
  log: { file: 'logs/vmftp.log', keep: 10 },

  // The report by e-mail, sent when vmftp runs with -m (also, and above all, after a failed run).
  // mail: {
  //   from: 'vmftp@example.lan',
  //   to: 'ops@example.lan',
  //   smtp: { host: 'mail.example.lan', port: 587, user: 'vmftp', password: { env: 'VMFTP_SMTP_PASSWORD' } },
  // },

  // Pings for a monitoring service (healthchecks.io style: url/start, url, url/fail).
  // notify: { url: 'https://hc-ping.com/your-check-uuid' },
});
`;
}

/**
 * Returns the absolute path written. Refuses (ConfigError, exit 2) to
 * replace an existing file unless `force`.
 */
export async function writeStarterConfig(file: string, force: boolean, windows = process.platform === 'win32'): Promise<string> {
  const target = path.resolve(file);
  try {
    // 'wx' fails when the file exists, in the same step as the write: no window for a race.
    await writeFile(target, starterConfig(windows), { flag: force ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new ConfigError(`init: ${target} exists; nothing was written`, [], 'edit that file, or pass --force to replace it with a new starter config');
    }
    throw new ConfigError(`init: cannot write ${target} (${code ?? (error as Error).message})`, [], 'check the folder exists and is writable');
  }
  return target;
}

/** `vmftp init [file] [--force]`: writes the starter config, says what to do next; returns the exit code. */
export async function initCommand(file: string, force: boolean): Promise<ExitCode> {
  const written = await writeStarterConfig(file, force);
  process.stdout.write(
    `wrote ${written}\n` +
      `next: set ${STARTER_PASSWORD_ENV} for the account that runs vmftp, edit source, host, user and remoteDir,\n` +
      `      then run: vmftp check -c "${written}"\n`,
  );
  return ExitCode.Ok;
}
