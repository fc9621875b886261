/**
 * `npm run demo`: the whole nightly job against a real FTP server on
 * 127.0.0.1 (ftp-srv, in-process), on a copy of the fixture tree. Two runs:
 * the first uploads, the second (after a newer backup appears) rotates with -n 2.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'date-fns';
import { startFtpSrv } from '../test/support/ftp-srv.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(projectRoot, 'dist', 'vmftp.cjs');
const password = 'demo-password';

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'vmftp-demo-'));
  const source = path.join(work, 'VMbackupFolder');
  const ftpRoot = path.join(work, 'ftp-root');
  await fs.cp(path.join(projectRoot, 'test', 'fixtures', 'VMbackupFolder'), source, { recursive: true });
  await fs.mkdir(ftpRoot);
  const server = await startFtpSrv({ root: ftpRoot, user: 'backup', password });
  try {
    const configPath = path.join(work, 'vmftp.config.json');
    const config = {
      source,
      keep: 3,
      lockFile: path.join(work, 'vmftp.lock'),
      targets: {
        demo: {
          host: server.host,
          port: server.port,
          user: server.user,
          password: { env: 'VMFTP_DEMO_PASSWORD' },
          remoteDir: '/backups',
        },
      },
      vms: { '*': 'demo' },
      // The sample tree's backups are from 2012, far older than any maxAge.
      maxAge: false,
    };
    await fs.writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
    say(`FTP server: ftp-srv on ${server.host}:${server.port}, root ${ftpRoot}`);
    say(`config: ${configPath}`);

    await vmftp(['-c', configPath]);
    const stamp = format(new Date(), 'yyyy-MM-dd-HHmmss');
    const newer = path.join(source, 'Bart', stamp);
    await fs.mkdir(newer, { recursive: true });
    await fs.writeFile(path.join(newer, 'sample.txt'), `Bart's backup of ${stamp}\n`);
    say(`the backup job wrote a new backup: ${newer}`);
    await vmftp(['-c', configPath, '-n', '2', '-S']);
    await vmftp(['-c', configPath, '-n', '2']);
    await vmftp(['-c', configPath, '-d']);
    say('remote tree on the FTP server:');
    for (const line of await tree(ftpRoot, '')) console.log(`  ${line}`);
  } finally {
    await server.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}

function say(text: string): void {
  console.log(`\n# ${text}`);
}

/** Runs the built CLI as a user would; the server lives in this process, so the wait must not block it. */
async function vmftp(args: string[]): Promise<void> {
  console.log(`\n$ vmftp ${args.join(' ')}`);
  const child = spawn(process.execPath, [cli, ...args], {
    stdio: 'inherit',
    env: { ...process.env, VMFTP_DEMO_PASSWORD: password },
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`vmftp ${args.join(' ')} exited with ${code}`);
}

async function tree(dir: string, prefix: string): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) lines.push(...(await tree(path.join(dir, entry.name), relative)));
    else lines.push(`${relative} (${(await fs.stat(path.join(dir, entry.name))).size} bytes)`);
  }
  return lines;
}

await main();
