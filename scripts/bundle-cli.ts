/**
 * The last step of `npm run build`: dist/cli.js becomes one file holding vmftp and the small
 * libraries every run loads, in place of the ~220 files tsc and node_modules would make it load.
 * Node's module loader, not the code, was most of a run's start: `vmftp --version` read 99 files of
 * zod, 38 of date-fns and 48 of vmftp, and resolving and linking them took longer than running them
 * (bench/RESULTS.md, section 8). The rest of dist/ stays as tsc wrote it (dist/index.js is the package's
 * library entry, `import { defineConfig } from 'vmftp'`).
 *
 * The other dependencies stay in node_modules, loaded when a run needs them: jiti (a .ts config,
 * ~15 MB; dist/jiti-babel.v8cache, written last, spares it compiling its babel), yaml (a YAML
 * config, or a JSON one JSON.parse refuses), nodemailer (-m), execa (-u curl/ncftpput, -x),
 * cli-progress, rotating-file-stream (log.file). A dependency added later stays outside too unless
 * it is named here.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { createJiti } from 'jiti';
import { BABEL_CACHE_FILE, babelFile, compileBabel } from '../src/config/babel-cache.js';
import * as vmftp from '../src/index.js';
import { setV8Flags } from '../src/v8-flags.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Loaded by every run, small, and without files of their own to find at run time. */
const INLINED = new Set(['basic-ftp', 'commander', 'date-fns', 'picocolors', 'zod']);

const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const external = Object.keys(manifest.dependencies).filter((name) => !INLINED.has(name) && name !== 'jiti');

/**
 * `import('jiti')` becomes `require('jiti')`: jiti's ES module entry imports its 190 KB CommonJS
 * build, which makes Node scan that file for its export names first, ~30 ms of every run with a
 * .ts config. Required, jiti's CommonJS entry gives the same createJiti without the scan.
 */
const requireJiti: Plugin = {
  name: 'require-jiti',
  setup(plugin) {
    plugin.onResolve({ filter: /^jiti$/ }, (args) =>
      args.kind === 'require-call' ? { path: 'jiti', external: true } : { path: 'jiti', namespace: 'require-jiti' },
    );
    plugin.onLoad({ filter: /.*/, namespace: 'require-jiti' }, () => ({ contents: "module.exports = require('jiti');", loader: 'js' }));
  },
};

await build({
  entryPoints: [path.join(repoRoot, 'src', 'cli.ts')],
  outfile: path.join(repoRoot, 'dist', 'cli.js'),
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // `import.meta.url` stays dist/cli.js's own: version.ts finds ../package.json from there as before.
  external,
  plugins: [requireJiti],
  sourcemap: true,
  legalComments: 'inline',
  logLevel: 'warning',
  // The CommonJS inside (commander, basic-ftp) calls require() for Node's own modules.
  banner: { js: "import { createRequire as __vmftpCreateRequire } from 'node:module';\nconst require = __vmftpCreateRequire(import.meta.url);" },
});

// The code cache of the babel jiti runs a JS/TS config through (src/config/babel-cache.ts): made
// under vmftp's V8 flags, after babel has compiled what loading config.example.ts needs.
const babel = babelFile();
if (babel === undefined) throw new Error("jiti's babel (node_modules/jiti/dist/babel.cjs) is missing: run npm install");
setV8Flags();
const { transform, script } = compileBabel(babel);
const jiti = createJiti(import.meta.url, { transform, virtualModules: { vmftp }, fsCache: false, moduleCache: false });
await jiti.import(path.join(repoRoot, 'config.example.ts'), { default: true });
await writeFile(path.join(repoRoot, 'dist', BABEL_CACHE_FILE), script.createCachedData());
