/**
 * Finding and running the external programs of the curl and ncftpput
 * backends: an absolute path from PATH, an argument array, never a shell.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ConfigError } from '../errors.js';

/** The programs a backend may run, by the `-u` value that selects them. */
export type ExternalProgram = 'curl' | 'ncftpput';

/** Returns the absolute path of `name` in one of PATH's folders (PATHEXT on Windows), or undefined. */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const isWindows = process.platform === 'win32';
  // Windows spells the variable Path; env lookups there are case-insensitive only on process.env itself.
  const searchPath = env.PATH ?? env.Path ?? '';
  const extensions = isWindows ? (env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean) : [''];
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue; // an empty entry means "current folder": never run a program from wherever we were started
    for (const extension of extensions) {
      const candidate = path.join(dir, `${name}${extension}`);
      if (isRunnable(candidate)) return candidate;
    }
  }
  return undefined;
}

function isRunnable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns the absolute path of `name`; throws the ConfigError (exit 2) that says how to go on when it is not on PATH. */
export function requireProgram(name: ExternalProgram, env: NodeJS.ProcessEnv = process.env): string {
  const found = findProgram(name, env);
  if (found === undefined) throw notOnPath(name);
  return found;
}

/** Returns the ConfigError (exit 2) for `name` missing from PATH, saying how to go on; undefined when it is there. */
export function missingProgram(name: ExternalProgram, env: NodeJS.ProcessEnv): ConfigError | undefined {
  return findProgram(name, env) === undefined ? notOnPath(name) : undefined;
}

function notOnPath(name: ExternalProgram): ConfigError {
  return new ConfigError(
    `${name} not found on PATH — install it or use -u internal`,
    [],
    name === 'curl' ? 'Debian/Ubuntu: apt-get install curl; Windows 10+ ships curl.exe' : 'Debian/Ubuntu: apt-get install ncftp',
  );
}

/** Returns the name a program runs under, as the system lists it: `curl` for `/usr/bin/curl` and `C:\\Windows\\System32\\curl.exe`. */
function programName(file: string): string {
  return path.basename(file).replace(/\.exe$/i, '');
}

/** What a finished program left behind. */
export interface ProgramResult {
  /** The exit status; undefined when the program was killed or never started. */
  readonly exitCode: number | undefined;
  /** The signal that ended it, if one did. */
  readonly signal: string | undefined;
  /** Set when the program could not be started at all (ENOENT, EACCES...). */
  readonly startError: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Keeps a record of the programs running for this run and of the private folders holding their
 * password files (the lock does), so that the next run can end the programs and remove the
 * folders that outlived a crash of this one; each returned function takes one out again.
 */
export interface ChildRecord {
  recordChild(pid: number, program: string): () => void;
  recordPrivateDir(dir: string): () => void;
}

/** What the curl and ncftpput backends need of the run around them. */
export interface ProgramControl {
  /** Aborted when the run is stopped (SIGINT/SIGTERM/SIGHUP) or its deadline came: a running program is ended at once. */
  readonly signal?: AbortSignal;
  readonly children?: ChildRecord;
}

/** Returns the ProgramControl part of a backend's options (exactOptionalPropertyTypes: no undefined fields). */
export function control(options: ProgramControl): ProgramControl {
  return {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.children === undefined ? {} : { children: options.children }),
  };
}

export interface RunOptions extends ProgramControl {
  /** Text written to the program's stdin (curl's `-K -` config). */
  readonly input?: string;
  /** A stream piped into the program's stdin (ncftpput `-c`). */
  readonly stdin?: Readable;
}

/**
 * Returns how `file args...` ended. Never rejects for a non-zero exit: the
 * backends translate exit statuses themselves. The program gets an argument
 * array (no shell), and is killed if this process exits first.
 */
export async function runProgram(file: string, args: readonly string[], options: RunOptions = {}): Promise<ProgramResult> {
  const { execa } = await import('execa');
  const subprocess = execa(file, args, {
    reject: false,
    // Kills the program when vmftp exits, so no upload outlives the run.
    cleanup: true,
    // A stopped run ends its transfers at once (SIGTERM, SIGKILL 2 s later), then reports: its summary must not wait for them.
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal, forceKillAfterDelay: 2000 }),
    windowsHide: true,
    stripFinalNewline: true,
    // A stream alone would be handed to spawn() as a file descriptor; [stream, 'pipe'] makes execa pipe it.
    ...(options.input !== undefined ? { input: options.input } : options.stdin !== undefined ? { stdin: [options.stdin, 'pipe'] } : { stdin: 'ignore' as const }),
  });
  const forget = subprocess.pid === undefined ? undefined : options.children?.recordChild(subprocess.pid, programName(file));
  const result = await subprocess.finally(() => forget?.());
  const code = (result as { code?: unknown }).code;
  const neverStarted = result.exitCode === undefined && result.signal === undefined;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    startError: neverStarted ? (typeof code === 'string' ? code : result.shortMessage) : undefined,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
  };
}
