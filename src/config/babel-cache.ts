/**
 * jiti's transform for JS/TS configs (the babel it bundles: 1.5 MB of JavaScript) compiled with the
 * V8 code cache that `npm run build` writes beside the CLI's bundle. Compiling and warming up babel took
 * ~150 ms of every run with a vmftp.config.ts; from the cache, ~60 ms. It is the same function jiti
 * would load itself, so a config loads exactly as without the cache. Where there is no cache (the
 * sources run with tsx, the standalone executables) or V8 refuses it (../code-cache.ts), babel
 * simply compiles again.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type vm from 'node:vm';
import type { JitiOptions } from 'jiti';
import { readCodeCache, runCommonJs } from '../code-cache.js';

/** jiti's `transform` option: TypeScript and ES modules to code jiti runs. */
export type Transform = NonNullable<JitiOptions['transform']>;

/** The code cache's file name, beside the CLI's bundle (dist/cli.cjs). */
export const BABEL_CACHE_FILE = 'jiti-babel.v8cache';

/** Returns the path of the babel jiti loads, or undefined when there is none where jiti keeps it. */
export function babelFile(): string | undefined {
  let jiti: string;
  try {
    jiti = createRequire(import.meta.url).resolve('jiti');
  } catch {
    return undefined;
  }
  // jiti's own loader requires it as ../dist/babel.cjs from its lib/ folder.
  const file = path.join(path.dirname(jiti), '..', 'dist', 'babel.cjs');
  return existsSync(file) ? file : undefined;
}

/** Returns babel's transform, compiled from `file` with `cachedData` when given, and the script it was compiled into. */
export function compileBabel(file: string, cachedData?: Buffer): { transform: Transform; script: vm.Script } {
  const { exports, script } = runCommonJs(file, cachedData);
  return { transform: exports as Transform, script };
}

/**
 * Returns jiti's transform compiled from the build's code cache, or undefined where there is no
 * cache or no babel file (jiti then loads babel itself).
 */
export function cachedBabelTransform(): Transform | undefined {
  const cachedData = readCodeCache(new URL(BABEL_CACHE_FILE, import.meta.url));
  if (cachedData === undefined) return undefined;
  const file = babelFile();
  return file === undefined ? undefined : compileBabel(file, cachedData).transform;
}
