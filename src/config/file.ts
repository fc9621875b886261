/**
 * Finds the config file in the working directory (or takes the one `-c` names) and reads it into
 * a plain value: JSON, YAML, or a JS/TS module. Checks nothing about its content.
 *
 * The search is cosmiconfig's, as vmftp used it until it did it here (cosmiconfig took ~15 ms of
 * every run's start to load, and read cosmiconfig's own settings files from the working
 * directory): the places below in order, the first file that exists wins, a `package.json` counts
 * only with a `vmftp` key, and a file that holds nothing is reported, not skipped.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { cachedBabelTransform } from './babel-cache.js';
import { errorCode, fileErrorText } from './resolve.js';

/** The raw content of a config file and its absolute path. */
export interface ConfigFile {
  readonly filepath: string;
  readonly config: unknown;
}

const MODULE_NAME = 'vmftp';

const SEARCH_PLACES = [
  'package.json',
  `.${MODULE_NAME}rc`,
  `.${MODULE_NAME}rc.json`,
  `.${MODULE_NAME}rc.yaml`,
  `.${MODULE_NAME}rc.yml`,
  `${MODULE_NAME}.config.ts`,
  `${MODULE_NAME}.config.js`,
  `${MODULE_NAME}.config.mjs`,
  `${MODULE_NAME}.config.json`,
  `${MODULE_NAME}.config.yaml`,
  `${MODULE_NAME}.config.yml`,
];

/** A search place that cannot be read for one of these reasons is one that is not there. */
const NOT_THERE = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES']);

/** Returns a file's content as a value; throws when it cannot be used. */
type Loader = (filepath: string, content: string) => Promise<unknown>;

/** A file that was found but cannot be used; the message is safe to show (no file content in it). */
class UnusableFile extends Error {}

/** Runs a JS/TS config in memory through jiti: no ts-node, no compiled copy next to the user's file. */
const loadModule: Loader = async (filepath) => {
  // Loaded here, not at start: only JS/TS configs need it, and it weighs ~15 MB.
  const { createJiti } = await import('jiti');
  const transform = cachedBabelTransform();
  const jiti = createJiti(import.meta.url, {
    ...(transform === undefined ? {} : { transform }),
    // A user's `import { defineConfig } from 'vmftp'` gets this very module, wherever the config
    // file lives (C:\backup, /etc), with no node_modules near it, and inside the standalone
    // executable, which has no package files on disk to resolve to.
    virtualModules: { [MODULE_NAME]: await import('../index.js') },
    // Reading the config must leave the disk as it was, and a re-read must see the file's current text.
    fsCache: false,
    moduleCache: false,
  });
  const loaded = await jiti.import<unknown>(filepath, { default: true });
  if (Object.prototype.toString.call(loaded) === '[object Module]') {
    throw new UnusableFile('has no default export; write `export default defineConfig({ ... })`');
  }
  return loaded;
};

/** Reads YAML, and JSON that JSON.parse refuses as the YAML subset it is, so both report errors by line and column. */
const loadYaml: Loader = async (_filepath, content) => {
  // Loaded here: the yaml parser (~70 modules) would cost the start of runs with a .ts or valid .json config too.
  const { parse: parseYaml } = await import('yaml');
  try {
    // uniqueKeys: a key written twice is a typo or a merge gone wrong, never intended.
    return parseYaml(content, { uniqueKeys: true, logLevel: 'error' }) as unknown;
  } catch (error) {
    // The first line holds message and position; the lines after quote the file, which may hold a password.
    const firstLine = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    throw new UnusableFile(`syntax error: ${firstLine.replace(/:$/, '')}`);
  }
};

/**
 * Reads JSON with JSON.parse, which takes a fraction of the yaml parser's load time. A file
 * JSON.parse refuses, or one with a key written twice (which JSON.parse lets the last one win),
 * goes to loadYaml instead, which names the line and column of the problem as before.
 */
const loadJson: Loader = async (filepath, content) => {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    return loadYaml(filepath, content);
  }
  return keysIn(value) === keysWritten(content) ? value : loadYaml(filepath, content);
};

/** Returns how many keys the objects of a parsed JSON value hold, nested ones included. */
function keysIn(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Object.values(value);
  const own = Array.isArray(value) ? 0 : children.length;
  return children.reduce((sum: number, child) => sum + keysIn(child), own);
}

/** Returns how many keys valid JSON text writes: the strings followed by a colon. */
function keysWritten(json: string): number {
  let keys = 0;
  for (let at = 0; at < json.length; at++) {
    if (json[at] !== '"') continue;
    at++;
    while (json[at] !== '"') at += json[at] === '\\' ? 2 : 1;
    let next = at + 1;
    while (next < json.length && ' \t\n\r'.includes(json[next] ?? '')) next++;
    if (json[next] === ':') keys++;
  }
  return keys;
}

const LOADERS: Record<string, Loader> = {
  '.ts': loadModule,
  '.mts': loadModule,
  '.cts': loadModule,
  '.js': loadModule,
  '.mjs': loadModule,
  '.cjs': loadModule,
  '.json': loadJson,
  '.yaml': loadYaml,
  '.yml': loadYaml,
  noExt: loadYaml,
};

/** What a file holds: a value, nothing at all (`empty`), or no vmftp config (`null`: a package.json without the key). */
type Content = { readonly value: unknown } | 'empty' | null;

/**
 * Returns the raw content of the config file `-c` names (`configPath`) or, without it, of the
 * first search place in `cwd` that exists, and its absolute path. Throws a ConfigError when there
 * is none, or it cannot be read, or it holds nothing.
 */
export async function readConfigFile(cwd: string, configPath: string | undefined): Promise<ConfigFile> {
  if (configPath === undefined) return searchConfigFile(cwd);

  const filepath = path.resolve(cwd, configPath);
  const extension = path.extname(filepath);
  if (extension !== '' && !(extension in LOADERS)) {
    const known = Object.keys(LOADERS).filter((key) => key !== 'noExt');
    throw new ConfigError(`Cannot read config ${filepath}`, [
      `${filepath}: unsupported file type "${extension}"; use one of ${known.join(', ')}, or no extension for YAML`,
    ]);
  }
  let content: string;
  try {
    content = await readFile(filepath, 'utf8');
  } catch (error) {
    throw unreadable(filepath, error);
  }
  const loaded = await contentOf(filepath, content);
  if (loaded === null) {
    const why = path.basename(filepath) === 'package.json' ? `has no "${MODULE_NAME}" key` : 'holds no config';
    throw new ConfigError(`Cannot read config ${filepath}`, [`${filepath}: ${why}`]);
  }
  return configFile(filepath, loaded);
}

/** Returns the first search place in `cwd` that holds a config; throws a ConfigError when none does. */
async function searchConfigFile(cwd: string): Promise<ConfigFile> {
  if (await isDirectory(cwd)) {
    for (const place of SEARCH_PLACES) {
      const filepath = path.join(cwd, place);
      let content: string;
      try {
        content = await readFile(filepath, 'utf8');
      } catch (error) {
        if (NOT_THERE.has(errorCode(error) ?? '')) continue;
        throw unreadable(cwd, error);
      }
      const loaded = await contentOf(filepath, content);
      if (loaded !== null) return configFile(filepath, loaded);
    }
  }
  const looked = SEARCH_PLACES.map((place) => (place === 'package.json' ? 'package.json ("vmftp" key)' : place));
  throw new ConfigError(
    `No vmftp config found in ${cwd}`,
    [`config: looked in ${cwd} for ${looked.join(', ')}; none exists`],
    // A scheduled task (Task Scheduler starts SYSTEM tasks in C:\Windows\System32) or cron
    // starts somewhere else than the config's folder: -c is the way to name it.
    `Pass -c <file> with the config file's full path, or write a starter ${path.join(cwd, 'vmftp.config.ts')} with "vmftp init"; ` +
      'a run needs a source folder and at least one target.',
  );
}

async function isDirectory(folder: string): Promise<boolean> {
  try {
    return (await stat(folder)).isDirectory();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw unreadable(folder, error);
  }
}

/** Returns what the file's text holds (a package.json: its `vmftp` key); throws a ConfigError when its loader fails. */
async function contentOf(filepath: string, content: string): Promise<Content> {
  if (content.trim() === '') return 'empty';
  const extension = path.extname(filepath);
  const loader = LOADERS[extension === '' ? 'noExt' : extension];
  if (loader === undefined) return null;
  let value: unknown;
  try {
    value = await loader(filepath, content);
  } catch (error) {
    throw unreadable(filepath, error);
  }
  if (path.basename(filepath, extension) === 'package') value = packageKey(value);
  if (value === null) return null;
  return value === undefined ? 'empty' : { value };
}

/** Returns a package file's `vmftp` key; null without one. */
function packageKey(manifest: unknown): unknown {
  if (typeof manifest !== 'object' || manifest === null || !Object.prototype.hasOwnProperty.call(manifest, MODULE_NAME)) return null;
  return (manifest as Record<string, unknown>)[MODULE_NAME] ?? null;
}

function configFile(filepath: string, content: Exclude<Content, null>): ConfigFile {
  if (content === 'empty') {
    throw new ConfigError(`Cannot read config ${filepath}`, [`${filepath}: the file is empty`]);
  }
  return { filepath, config: content.value };
}

/** Returns the ConfigError for a config file that exists (or was named) but could not be loaded. */
function unreadable(filepath: string, error: unknown): ConfigError {
  let detail: string;
  if (error instanceof UnusableFile) detail = error.message;
  else if (errorCode(error) !== undefined) detail = fileErrorText(error);
  else {
    // jiti and babel append a code frame after the first line; it quotes the file, which may hold a password.
    const message = error instanceof Error ? error.message : String(error);
    detail = `could not be loaded: ${message.split('\n')[0] ?? ''}`;
  }
  return new ConfigError(`Cannot read config ${filepath}`, [`${filepath}: ${detail}`]);
}
