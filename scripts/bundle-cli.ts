/**
 * The last step of `npm run build`: dist/cli.cjs becomes one CommonJS file holding vmftp and the
 * small libraries every run loads, in place of the ~220 files tsc and node_modules would make it
 * load, and dist/vmftp.cjs the command that runs it from its V8 code cache (src/bin.ts,
 * src/code-cache.ts; also as dist/cli.js, the command's earlier path).
 * Node's module loader, not the code, was most of a run's start: `vmftp --version` read 99 files of
 * zod, 38 of date-fns and 48 of vmftp, and resolving and linking them took longer than running them
 * (bench/RESULTS.md, section 8). CommonJS because V8 code caches are for scripts: Node 20 compiles
 * an ES module only from its source. The rest of dist/ stays as tsc wrote it (dist/index.js is the
 * package's library entry, `import { defineConfig } from 'vmftp'`).
 *
 * The other dependencies stay in node_modules, required when a run needs them: jiti (a .ts config,
 * ~15 MB; dist/jiti-babel.v8cache spares it compiling its babel), yaml (a YAML config, or a JSON
 * one JSON.parse refuses), nodemailer (-m), execa (-u curl/ncftpput, -x; an ES module, which
 * require() loads from Node 20.19 on: package.json `engines`), cli-progress, rotating-file-stream
 * (log.file). A dependency added later stays outside too unless it is named here.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createJiti } from 'jiti';
import { CLI_BUNDLE_FILE, CLI_CODE_CACHE_FILE } from '../src/code-cache.js';
import { BABEL_CACHE_FILE, babelFile, compileBabel } from '../src/config/babel-cache.js';
import { ExitCode } from '../src/errors.js';
import * as vmftp from '../src/index.js';
import { setV8Flags } from '../src/v8-flags.js';
import { CLI_BUNDLE, IMPORT_META_URL } from './cli-bundle.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repoRoot, 'dist');

/** Loaded by every run, small, and without files of their own to find at run time. */
const INLINED = new Set(['basic-ftp', 'commander', 'date-fns', 'picocolors', 'zod']);

const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const external = Object.keys(manifest.dependencies).filter((name) => !INLINED.has(name));

await build({
  ...CLI_BUNDLE,
  outfile: path.join(dist, CLI_BUNDLE_FILE),
  external,
  // `import()` of a dependency outside becomes require(): code compiled by vm.Script cannot import()
  // on Node 20 without an experimental flag, and require() loads only what a run needs, where an
  // ES bundle would have to import every outside dependency a lazily loaded part names at its top.
  supported: { 'dynamic-import': false },
  sourcemap: true,
});

// The command (src/bin.ts): dist/vmftp.cjs, and dist/cli.js in place of tsc's cli.js.
for (const [file, format] of [['vmftp.cjs', 'cjs'], ['cli.js', 'esm']] as const) {
  await build({
    entryPoints: [path.join(repoRoot, 'src', 'bin.ts')],
    outfile: path.join(dist, file),
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format,
    target: 'node20',
    ...(format === 'cjs' ? IMPORT_META_URL : {}),
    logLevel: 'warning',
  });
}
// tsc's own output for them, which nothing runs: bin.js, and the map of the cli.js replaced above.
for (const file of ['bin.js', 'bin.js.map', 'bin.d.ts', 'cli.js.map']) await rm(path.join(dist, file), { force: true });

await writeCliCodeCache();
await writeBabelCodeCache();

/**
 * Writes dist/cli.cjs.v8cache from a dry run of the bundle (scripts/cli-code-cache.ts): `vmftp -S`
 * of one backup to a target on 127.0.0.1 that refuses the connection (a port just given back), so
 * it needs no server and changes nothing. Its exit code, 4, also proves the bundle runs.
 */
async function writeCliCodeCache(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'vmftp-build-'));
  try {
    const source = path.join(work, 'backups');
    await mkdir(path.join(source, 'VM01', '2026-01-01-010000'), { recursive: true });
    await writeFile(path.join(source, 'VM01', '2026-01-01-010000', 'VM01-flat.vmdk'), 'x');
    const config = path.join(work, 'vmftp.config.json');
    const target = { host: '127.0.0.1', port: await refusedPort(), user: 'backup', password: 'unused', remoteDir: '/backups', retries: 0 };
    await writeFile(config, JSON.stringify({ source, lockFile: path.join(work, 'vmftp.lock'), targets: { nas: target } }));
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'cli-code-cache.ts'), '-S', '-c', config, '--no-progress'], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (run.status !== ExitCode.Unreachable) {
      throw new Error(`the dry run that writes ${CLI_CODE_CACHE_FILE} ended with ${run.status ?? run.signal ?? run.error}, not ${ExitCode.Unreachable}:\n${run.stderr}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Returns a port on 127.0.0.1 that nothing listens on: one the system gave out and got back. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Writes the code cache of the babel jiti runs a JS/TS config through (src/config/babel-cache.ts):
 * made under vmftp's V8 flags, after babel has compiled what loading config.example.ts needs.
 */
async function writeBabelCodeCache(): Promise<void> {
  const babel = babelFile();
  if (babel === undefined) throw new Error("jiti's babel (node_modules/jiti/dist/babel.cjs) is missing: run npm install");
  setV8Flags();
  const { transform, script } = compileBabel(babel);
  const jiti = createJiti(import.meta.url, { transform, virtualModules: { vmftp }, fsCache: false, moduleCache: false });
  await jiti.import(path.join(repoRoot, 'config.example.ts'), { default: true });
  await writeFile(path.join(dist, BABEL_CACHE_FILE), script.createCachedData());
}
