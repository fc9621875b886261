import { readFileSync } from 'node:fs';

/**
 * Set by the standalone executable's bundle (scripts/sea.ts, esbuild `define`): the executable
 * carries no package.json to read the version from.
 */
declare const VMFTP_BUNDLED_VERSION: string | undefined;

/** Returns vmftp's version: the bundled one, else the one in the package.json next to dist/ (or src/). */
export function vmftpVersion(): string {
  if (typeof VMFTP_BUNDLED_VERSION === 'string') return VMFTP_BUNDLED_VERSION;
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
