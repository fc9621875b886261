/**
 * The package's public entry: what a `vmftp.config.ts` imports.
 */
import type { VmftpConfig } from './config/schema.js';

export type { VmftpConfig };

/**
 * Returns `config` unchanged. Wrapping the default export of
 * `vmftp.config.ts` in it gives type checking and completion while the file
 * is written; the config is validated again, with readable errors, at load.
 */
export function defineConfig(config: VmftpConfig): VmftpConfig {
  return config;
}
