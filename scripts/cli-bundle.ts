/**
 * The esbuild options both CommonJS bundles of the CLI share: dist/cli.cjs (scripts/bundle-cli.ts,
 * the package's command) and a standalone executable's main script (scripts/sea.ts). Each adds
 * what is its own: which dependencies stay outside, a source map, the version baked in.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `import.meta.url` in a CommonJS output: the file's own URL, as in the ES module it was written as
 * (version.ts, babel-cache.ts and bin.ts find package.json, the caches and the bundle from there;
 * in an executable, the executable's own file URL).
 */
export const IMPORT_META_URL = {
  define: { 'import.meta.url': '__vmftpModuleUrl' },
  banner: { js: "const __vmftpModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
} as const satisfies BuildOptions;

/** src/cli.ts and what it imports as one CommonJS file for Node 20 (a V8 code cache and a SEA both take only scripts). */
export const CLI_BUNDLE = {
  entryPoints: [path.join(repoRoot, 'src', 'cli.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  legalComments: 'inline',
  logLevel: 'warning',
  ...IMPORT_META_URL,
} as const satisfies BuildOptions;
