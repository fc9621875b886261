/**
 * Local trees for tests.
 *
 *   const src = tmpDir('src');                          // at file/describe level: removed in after()
 *   const dst = tmpDir('remote', t);                    // inside a test: removed in t.after()
 *   makeBackupTree(src, {
 *     'Bart/2012-08-18-154137': { 'disk1.vmdk': 300_000, 'vm.ovf': '<xml/>', 'sub/notes.txt': 'hi' },
 *     'Raoul/2012-07-13-154137': {},                    // an empty backup folder
 *   });
 *   assert.deepEqual(readTree(dst), readTree(src));
 *   copyFixture('VMbackupFolder', src);                 // the original tool's sample tree
 */
import { format } from 'date-fns/format';
import { after } from 'node:test';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** File content: text, bytes, or a number = that many deterministic pseudo-random bytes. */
export type FileSpec = string | Buffer | number;
/** 'VM/STAMP' (any relative folder) -> relative file path (posix '/') -> content. */
export type TreeSpec = Record<string, Record<string, FileSpec>>;

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Something with `after(fn)`: a node:test TestContext or SuiteContext-like object. */
export interface HasAfter {
  after(fn: () => unknown): unknown;
}

/**
 * The stamp of a backup made `hours` before now, as the backup job names it (local time). Tests of
 * anything that checks a backup's age (maxAge) need stamps this recent: a fixed date goes stale.
 */
export function stampHoursAgo(hours: number): string {
  return format(new Date(Date.now() - hours * 3_600_000), 'yyyy-MM-dd-HHmmss');
}

/**
 * A fresh empty folder under the OS temp dir, removed after the test (`t` given) or after the
 * current file/suite (no `t`: node:test's `after`, call it at module or describe level).
 */
export function tmpDir(prefix: string, t?: HasAfter): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `vmftp-${prefix.replace(/[^\w.-]/g, '_')}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  if (t) t.after(cleanup);
  else after(cleanup);
  return dir;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h || 1;
}

/** `length` pseudo-random bytes, always the same for the same seed (xorshift32). */
export function pseudoRandomBytes(length: number, seed: string | number = 1): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = typeof seed === 'number' ? seed >>> 0 || 1 : fnv1a(seed);
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

function safeRelative(p: string, what: string): string[] {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (path.isAbsolute(p) || p.includes('\\') || parts.includes('..')) throw new Error(`${what} must be a relative posix path: ${p}`);
  return parts;
}

/**
 * Writes the spec under root (folders created as needed; existing files overwritten).
 * Random content (a number) is seeded by the file's path relative to root, so two files differ
 * and every run writes the same bytes. Returns the relative posix paths of the files written.
 */
export function makeBackupTree(root: string, spec: TreeSpec): string[] {
  const written: string[] = [];
  for (const [folder, files] of Object.entries(spec)) {
    const folderParts = safeRelative(folder, 'folder');
    mkdirSync(path.join(root, ...folderParts), { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      const rel = [...folderParts, ...safeRelative(file, 'file')].join('/');
      const abs = path.join(root, ...rel.split('/'));
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, typeof content === 'number' ? pseudoRandomBytes(content, rel) : content);
      written.push(rel);
    }
  }
  return written;
}

/** Every file under dir (recursive), keyed by relative posix path, sorted. Folders are not listed. */
export function readTree(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const entries = readdirSync(dir, { recursive: true }).map(String).sort();
  for (const rel of entries) {
    const abs = path.join(dir, rel);
    if (statSync(abs).isFile()) out[rel.split(path.sep).join('/')] = readFileSync(abs);
  }
  return out;
}

/** Copies test/fixtures/<name> into dest (dest becomes the tree's root). Returns dest. */
export function copyFixture(name: 'VMbackupFolder', dest: string): string {
  cpSync(path.join(FIXTURES_DIR, name), dest, { recursive: true });
  return dest;
}
