import pc from 'picocolors';
import type { Colors } from 'picocolors/types.js';

export type { Colors };

/**
 * Returns colours for one output stream: on only when it is a terminal,
 * `NO_COLOR` is not set (no-color.org) and TERM is not "dumb"; `FORCE_COLOR`
 * turns them on anyway. picocolors' own guess also colours redirected output
 * on Windows and in CI, which would put escape codes into log files.
 */
export function colorsFor(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const enabled =
    env.NO_COLOR !== undefined && env.NO_COLOR !== ''
      ? false
      : (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') || (stream.isTTY === true && env.TERM !== 'dumb');
  return pc.createColors(enabled);
}

/** Colours that paint nothing: for the log file, the e-mail and --json. */
export const NO_COLORS: Colors = pc.createColors(false);
