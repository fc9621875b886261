/**
 * CommonJS files run from a V8 code cache, the way v8-compile-cache runs them: vmftp's bin runs
 * the CLI's bundle this way (bin.ts), and a JS/TS config gets jiti's babel this way
 * (config/babel-cache.ts). `npm run build` writes both caches (scripts/bundle-cli.ts).
 *
 * V8 takes a cache only from the same Node version under the same V8 flags (v8-flags.ts, set
 * before compiling), and otherwise compiles the code as if there were none: under another Node,
 * with V8 flags in NODE_OPTIONS, or where there is no cache file, the code simply compiles again
 * and runs the same.
 */
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/** The CLI's bundle, beside the command that runs it (bin.ts). */
export const CLI_BUNDLE_FILE = 'cli.cjs';
/** The code cache of the CLI's bundle, beside it. */
export const CLI_CODE_CACHE_FILE = 'cli.cjs.v8cache';

/** A CommonJS file that ran: its module.exports, and the script it was compiled into (for `createCachedData`). */
export interface RanModule {
  readonly exports: unknown;
  readonly script: vm.Script;
}

/** Returns the CommonJS file `file` after running it in this context, compiled with `cachedData` when given. */
export function runCommonJs(file: string, cachedData?: Buffer): RanModule {
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData === undefined ? {} : { cachedData }) });
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return { exports: module.exports, script };
}

/** Returns the code cache in `file`, or undefined when there is none to read (the code then compiles without). */
export function readCodeCache(file: string | URL): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}
