#!/usr/bin/env node
/**
 * The vmftp command: runs the CLI's bundle, dist/cli.cjs, compiled from the V8 code cache
 * `npm run build` writes beside it (scripts/bundle-cli.ts). Compiling the 1.4 MB bundle was ~55 ms
 * of every run's start, and the functions a run calls were compiled again one by one as it called
 * them; from the cache V8 reads them ready-made. Node's own loader keeps no such cache on Node 20
 * (`module.enableCompileCache` came with 22).
 *
 * Built twice: dist/vmftp.cjs, package.json `bin`, CommonJS because Node starts a CommonJS file
 * without setting up its ES module loader (5-15 ms before the first line of the bundle runs), and
 * dist/cli.js, the same as an ES module, for the scheduled tasks that run `node .../dist/cli.js`,
 * the command's path before.
 */
import { fileURLToPath } from 'node:url';
import { CLI_BUNDLE_FILE, CLI_CODE_CACHE_FILE, readCodeCache, runCommonJs } from './code-cache.js';
import { setV8Flags } from './v8-flags.js';

// Before compiling: V8 takes the cache only under the flags it was made with.
setV8Flags();
runCommonJs(fileURLToPath(new URL(CLI_BUNDLE_FILE, import.meta.url)), readCodeCache(new URL(CLI_CODE_CACHE_FILE, import.meta.url)));
