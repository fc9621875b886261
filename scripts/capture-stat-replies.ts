/**
 * Captures what real FTP servers answer to `STAT <path>` into test/fixtures/stat-replies/<server>.json,
 * for test/unit/listing.test.ts. Needs root (pure-ftpd, proftpd, vsftpd; see test/support).
 *
 *   node --import tsx scripts/capture-stat-replies.ts [ftp-srv] [pure-ftpd] [proftpd] [vsftpd]
 *
 * Each file holds the raw replies (CR LF kept) and, for comparison, what basic-ftp's MLSD/LIST
 * listing of the same folders gives.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, FileType } from 'basic-ftp';
import { startFtpSrv } from '../test/support/ftp-srv.js';
import { startProftpd } from '../test/support/proftpd.js';
import { chownToFtpUser, startPureFtpd } from '../test/support/pure-ftpd.js';
import { chownToVsftpdUser, startVsftpd } from '../test/support/vsftpd.js';

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'stat-replies');

/** Names that trip parsers: spaces, unicode, shell and glob characters, reply-code look-alikes. */
export const TRICKY_NAMES = [
  ' lead', 'inner space', 'trail ', 'ünïcødé-日本', '#hash', 'semi;colon', 'per%cent', '[brackets]', '{braces}',
  '211 x', '213 End.', '-dash', 'star*', 'q?', 'tilde~', 'a -> b', 'Nov 23 12:00 x',
];

interface Server {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  stop(): Promise<void>;
}

function fillTree(base: string): void {
  const tree = path.join(base, 'tree');
  mkdirSync(path.join(tree, 'sub dir'), { recursive: true });
  TRICKY_NAMES.forEach((name, index) => writeFileSync(path.join(tree, name), Buffer.alloc(index * 10 + 1)));
  mkdirSync(path.join(tree, 'plain'));
  writeFileSync(path.join(tree, 'plain', 'VM01-flat.vmdk'), Buffer.alloc(12345));
  symlinkSync('inner space', path.join(tree, 'link-file'));
  symlinkSync('sub dir', path.join(tree, 'link-dir'));
  mkdirSync(path.join(base, 'empty'));
  mkdirSync(path.join(base, 'big'));
  for (let i = 0; i < 1000; i++) writeFileSync(path.join(base, 'big', `VM${String(i).padStart(4, '0')}-disk.vmdk`), Buffer.alloc(i));
  // Names no FTP client can create: CR LF inside a name ends a line of a STAT reply early.
  mkdirSync(path.join(base, 'nl'));
  writeFileSync(path.join(base, 'nl', 'x\n213 End of status'), 'x');
  writeFileSync(path.join(base, 'nl', 'y\r\n212 z'), 'x');
}

/** A bare control connection: sends a command, returns the whole raw reply (multi-line aware). */
async function rawSession(server: Server): Promise<{ send(command: string): Promise<string>; close(): void }> {
  const socket = net.connect({ host: server.host, port: server.port });
  socket.setEncoding('utf8');
  let buffer = '';
  let waiter: ((reply: string) => void) | undefined;
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\r\n').slice(0, -1);
    const first = lines[0];
    const last = lines[lines.length - 1];
    if (first === undefined || last === undefined) return;
    const done = /^\d{3}-/.test(first) ? lines.length > 1 && last.startsWith(`${first.slice(0, 3)} `) : /^\d{3} /.test(first);
    if (!done) return;
    const reply = buffer;
    buffer = '';
    const resolve = waiter;
    waiter = undefined;
    resolve?.(reply);
  });
  const next = () => new Promise<string>((resolve) => (waiter = resolve));
  const send = (command: string) => {
    const reply = next();
    socket.write(`${command}\r\n`);
    return reply;
  };
  await next();
  await send(`USER ${server.user}`);
  await send(`PASS ${server.password}`);
  return { send, close: () => socket.destroy() };
}

const kindName = (type: FileType) => (type === FileType.File ? 'file' : type === FileType.Directory ? 'dir' : 'other');

async function capture(kind: string): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), `vmftp-stat-${kind}-`));
  // mkdtemp makes it 0700: vsftpd's anonymous user must be able to walk into it.
  chmodSync(root, 0o755);
  const base = kind === 'vsftpd' ? '/pub' : '';
  fillTree(path.join(root, base));
  let server: Server;
  if (kind === 'ftp-srv') server = await startFtpSrv({ root });
  else if (kind === 'pure-ftpd') server = await startPureFtpd({ root });
  else if (kind === 'proftpd') server = await startProftpd({ root });
  else if (kind === 'vsftpd') server = await startVsftpd({ root });
  else throw new Error(`unknown server ${kind}`);
  if (kind === 'vsftpd') chownToVsftpdUser(path.join(root, base));
  else chownToFtpUser(root);
  try {
    const raw = await rawSession(server);
    const stat: Record<string, string> = {};
    const paths = ['/tree', '/tree/plain', '/missing', '/tree/plain/VM01-flat.vmdk', '/tre*', '/empty', '/tree/plain/missing/deeper', '/big', '/tree/sub dir', '/nl'];
    for (const dir of paths) stat[dir] = await raw.send(`STAT ${base}${dir}`);
    raw.close();
    const client = new Client(10_000);
    await client.access({ host: server.host, port: server.port, user: server.user, password: server.password });
    const plain: Record<string, [string, string, number][]> = {};
    for (const dir of ['/tree', '/tree/plain', '/big', '/empty']) {
      plain[dir] = (await client.list(`${base}${dir}`)).map((info) => [info.name, kindName(info.type), info.size]);
    }
    client.close();
    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, `${kind}.json`), `${JSON.stringify({ server: kind, base, stat, plain }, null, 1)}\n`);
    process.stdout.write(`${kind}: ${Object.keys(stat).length} replies\n`);
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

for (const kind of process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ftp-srv', 'pure-ftpd', 'proftpd', 'vsftpd']) await capture(kind);
