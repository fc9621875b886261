/**
 * `npm run release`: writes the release files into release/ (emptied first), on Linux x64:
 *   vmftp-<version>.tgz    the npm package (`npm pack`), built: `npm install -g ./vmftp-<version>.tgz`
 *   vmftp-linux-x64        standalone executable (scripts/sea.ts)
 *   vmftp-win-x64.exe      standalone executable
 *   SHA256SUMS             `sha256sum -c SHA256SUMS` checks the three
 * and prints how long each step took.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { buildExecutable, bundleCli, NODE_VERSION, packageVersion, repoRoot } from './sea.js';

const releaseDir = path.join(repoRoot, 'release');

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  process.stdout.write(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return result;
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  // The SEA blob is written by the pinned Linux x64 Node (scripts/sea.ts), whatever Node runs this.
  throw new Error(`npm run release runs on Linux x64 (this is ${process.platform}-${process.arch})`);
}

const version = await packageVersion();
await rm(releaseDir, { recursive: true, force: true });
await mkdir(releaseDir);
const work = await mkdtemp(path.join(os.tmpdir(), 'vmftp-release-'));
try {
  // npm pack runs `prepare` (the build) first, so the tarball holds a dist/ made from these sources.
  await step('npm pack (with the build)', () => execa('npm', ['pack', '--pack-destination', releaseDir, '--silent'], { cwd: repoRoot }));
  const bundle = await step('bundle (esbuild)', () => bundleCli(path.join(work, 'vmftp.cjs')));
  const files = [`vmftp-${version}.tgz`];
  for (const [platform, name] of [
    ['linux-x64', 'vmftp-linux-x64'],
    ['win-x64', 'vmftp-win-x64.exe'],
  ] as const) {
    await step(`${name} (Node ${NODE_VERSION}, blob and postject)`, () =>
      buildExecutable(platform, bundle, path.join(releaseDir, name), work),
    );
    files.push(name);
  }
  const sums = await Promise.all(files.map(async (name) => `${await sha256(path.join(releaseDir, name))}  ${name}\n`));
  await writeFile(path.join(releaseDir, 'SHA256SUMS'), sums.join(''));
  process.stdout.write(`release/: ${[...files, 'SHA256SUMS'].join(', ')}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
