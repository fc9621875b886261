/**
 * jiti's transform for JS/TS configs (the babel it bundles: 1.5 MB of JavaScript) compiled with the
 * V8 code cache that `npm run build` writes beside dist/cli.js. Compiling and warming up babel took
 * ~150 ms of every run with a vmftp.config.ts; from the cache, ~60 ms. It is the same function jiti
 * would load itself, so a config loads exactly as without the cache.
 *
 * V8 takes a cache only from the same Node version under the same V8 flags (v8-flags.ts), and
 * otherwise compiles the code as if there were none: under another Node, with V8 flags in
 * NODE_OPTIONS, or where there is no cache file (the sources run with tsx, the standalone
 * executables), babel simply compiles again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import type { JitiOptions } from 'jiti';

/** jiti's `transform` option: TypeScript and ES modules to code jiti runs. */
export type Transform = NonNullable<JitiOptions['transform']>;

/** The code cache's file name, beside the bundle (dist/cli.js). */
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
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData === undefined ? {} : { cachedData }) });
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return { transform: module.exports as Transform, script };
}

/**
 * Returns jiti's transform compiled from the build's code cache, or undefined where there is no
 * cache or no babel file (jiti then loads babel itself).
 */
export function cachedBabelTransform(): Transform | undefined {
  let cachedData: Buffer;
  try {
    cachedData = readFileSync(new URL(BABEL_CACHE_FILE, import.meta.url));
  } catch {
    return undefined;
  }
  const file = babelFile();
  return file === undefined ? undefined : compileBabel(file, cachedData).transform;
}
