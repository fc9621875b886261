import v8 from 'node:v8';

/**
 * The V8 flags of every vmftp process. Every 1 MiB chunk read for an upload is a new buffer outside
 * the JS heap. With incremental marking V8 answers that churn with full collections: 43-62 per
 * 2 GiB upload (--trace-gc), which took 1.5-1.7 s instead of 1.0-1.15 s without them. Young-generation
 * collections still free the buffers. A CLI has no pauses to hide, so V8's atomic full collections
 * serve it better.
 */
const V8_FLAGS = '--no-incremental-marking';

/**
 * Sets vmftp's V8 flags in this process: cli.ts first thing, and the build before it writes the
 * code cache of config/babel-cache.ts, which V8 takes only under the flags it was made with.
 */
export function setV8Flags(): void {
  v8.setFlagsFromString(V8_FLAGS);
}
