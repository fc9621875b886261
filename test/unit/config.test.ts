import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { loadConfig, type CliFlags, type LoadConfigOptions } from '../../src/config/load.js';
import { validateConfig } from '../../src/config/validate.js';
import { isValidVmName, vmNameProblem } from '../../src/core/stamp.js';
import { ConfigError } from '../../src/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PASSWORD = 'hunter2-Sup3rSecret';
const SMTP_PASSWORD = 'smtp-S3cret-value';

// Every temp folder lives under os.tmpdir(), outside the repo: a config there
// has no node_modules near it, as on a backup server.
const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vmftp-config-test-'));
  tempDirs.push(dir);
  return dir;
}

/** Writes files (name -> content) into a fresh temp folder and returns the folder. */
async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** A valid config as a user writes it; each test changes what it is about. */
function baseConfig(): Record<string, unknown> {
  return {
    source: 'backups',
    targets: {
      nas: { host: 'nas.lan', user: 'backup', password: { env: 'NAS_PW' }, remoteDir: '/vm' },
      offsite: { host: 'ftp.example.net', user: 'vm', password: { env: 'NAS_PW' }, remoteDir: '/' },
    },
  };
}

const ENV = { NAS_PW: PASSWORD, SMTP_PW: SMTP_PASSWORD };

function load(dir: string, extra: Partial<LoadConfigOptions> & { flags?: CliFlags } = {}) {
  return loadConfig({ cwd: dir, env: ENV, flags: {}, ...extra });
}

async function loadJson(config: unknown, extra: Partial<LoadConfigOptions> = {}) {
  const dir = await folderWith({ 'vmftp.config.json': JSON.stringify(config) });
  return { dir, ...(await load(dir, extra)) };
}

/** Returns the problems of the ConfigError the promise rejects with. */
async function problemsOf(promise: Promise<unknown>): Promise<readonly string[]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  return assert.fail('expected a ConfigError');
}

function problems(raw: unknown): string[] {
  const result = validateConfig(raw);
  return result.ok ? [] : result.problems;
}

/** baseConfig with `patch` applied to targets.nas. */
function withNas(patch: Record<string, unknown>): Record<string, unknown> {
  const config = baseConfig();
  const targets = config.targets as Record<string, Record<string, unknown>>;
  targets.nas = { ...targets.nas, ...patch };
  return config;
}

describe('validateConfig: valid configs', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['minimal', baseConfig()],
    ['without source (it may come from -f)', { ...baseConfig(), source: undefined }],
    ['GFS keep', { ...baseConfig(), keep: { daily: 7, weekly: 4, monthly: 12, yearly: 1 } }],
    ['within only', { ...baseConfig(), keep: { within: '1y2m3d4h' } }],
    ['every target field', withNas({ port: 2121, secure: 'implicit', allowSelfSigned: true, ca: 'ca.pem',
      maxConnections: 4, activeMode: true, timeoutSeconds: 2.5, verify: 'hash', keep: { last: 2 } })],
    ['every vms form', { ...baseConfig(), vms: { Bart: 'nas', Raoul: ['nas', 'offsite'],
      Homer: { targets: ['offsite'], keep: 5 }, 'Lisa Win10': { targets: ['nas'] }, '*': 'nas' } }],
    ['mail with one address', { ...baseConfig(), mail: { from: 'vmftp@lan', to: 'ops@lan', smtp: { host: 'mail.lan' } } }],
    ['mail with every field', { ...baseConfig(), mail: { from: 'vmftp@lan', to: ['a@lan', 'b@lan'], subject: 'ok',
      subjectOnError: 'FAILED', smtp: { host: 'mail.lan', port: 25, secure: true, user: 'u', password: { file: 'pw' } } } }],
    ['password sources', withNas({ password: 'plain' })],
    ['lockFile and log', { ...baseConfig(), lockFile: 'x.lock', log: { file: 'logs/vmftp.log' } }],
    ['empty log', { ...baseConfig(), log: {} }],
  ];
  for (const [name, raw] of cases) {
    test(name, () => assert.deepEqual(problems(raw), []));
  }

  test('fills defaults', () => {
    const result = validateConfig(baseConfig());
    assert.ok(result.ok);
    assert.equal(result.value.keep, 3);
    assert.deepEqual(
      { ...result.value.targets.nas, password: undefined },
      { host: 'nas.lan', port: 21, user: 'backup', password: undefined, remoteDir: '/vm', secure: false,
        allowSelfSigned: false, maxConnections: 2, activeMode: false, timeoutSeconds: 30, keepaliveSeconds: 60, retries: 3, retryDelaySeconds: 2, verify: 'size' },
    );
  });

  const ports: [string, Record<string, unknown>, number][] = [
    ['plain FTP', {}, 21],
    ['explicit FTPS', { secure: true }, 21],
    ['implicit FTPS', { secure: 'implicit' }, 990],
    ['written port wins', { secure: 'implicit', port: 2990 }, 2990],
  ];
  for (const [name, patch, port] of ports) {
    test(`default port: ${name} -> ${port}`, () => {
      const result = validateConfig(withNas(patch));
      assert.ok(result.ok);
      assert.equal(result.value.targets.nas?.port, port);
    });
  }

  const smtpPorts: [boolean | undefined, number][] = [[undefined, 587], [false, 587], [true, 465]];
  for (const [secure, port] of smtpPorts) {
    test(`default SMTP port with secure ${String(secure)} -> ${port}`, () => {
      const result = validateConfig({ ...baseConfig(), mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', secure } } });
      assert.ok(result.ok);
      assert.equal(result.value.mail?.smtp.port, port);
    });
  }

  const dirs: [string, string][] = [['/', '/'], ['/vm/', '/vm'], ['/vm//x/', '/vm/x'], ['/a/./b/../c', '/a/c'], ['//', '/']];
  for (const [written, normalized] of dirs) {
    test(`remoteDir ${written} -> ${normalized}`, () => {
      const result = validateConfig(withNas({ remoteDir: written }));
      assert.ok(result.ok);
      assert.equal(result.value.targets.nas?.remoteDir, normalized);
    });
  }
});

describe('validateConfig: each invalid field and its problem line', () => {
  const cases: [Record<string, unknown>, string][] = [
    [withNas({ port: 'twenty-one' }), 'targets.nas.port: expected a number, got "twenty-one"'],
    [withNas({ port: 0 }), 'targets.nas.port: expected a port from 1 to 65535, got 0'],
    [withNas({ port: 65536 }), 'targets.nas.port: expected a port from 1 to 65535, got 65536'],
    [withNas({ port: 21.5 }), 'targets.nas.port: expected a whole number, got 21.5'],
    [withNas({ hots: 'nas.lan' }), 'targets.nas.hots: unknown field (did you mean "host"?)'],
    [withNas({ colour: 'red' }), 'targets.nas.colour: unknown field'],
    [withNas({ host: undefined }), 'targets.nas.host: missing (expected a string)'],
    [withNas({ host: 'ftp://nas.lan' }),
      'targets.nas.host: expected a host name or IP address (no "ftp://", no path, no spaces), got "ftp://nas.lan"'],
    [withNas({ user: '' }), 'targets.nas.user: must not be empty'],
    [withNas({ remoteDir: 'vm' }), 'targets.nas.remoteDir: expected an absolute remote folder starting with "/", got "vm"'],
    [withNas({ remoteDir: '/vm\\x' }), 'targets.nas.remoteDir: expected "/" as the separator, not "\\", got "/vm\\\\x"'],
    [withNas({ remoteDir: '/vm\nx' }), 'targets.nas.remoteDir: must not contain control characters'],
    [withNas({ maxConnections: 0 }), 'targets.nas.maxConnections: expected a whole number >= 1, got 0'],
    [withNas({ timeoutSeconds: 0 }), 'targets.nas.timeoutSeconds: expected a number of seconds above 0, got 0'],
    [withNas({ timeoutSeconds: '30' }), 'targets.nas.timeoutSeconds: expected a number, got "30"'],
    [withNas({ keepaliveSeconds: 0 }), 'targets.nas.keepaliveSeconds: expected whole seconds from 1 to 32767, got 0'],
    [withNas({ keepaliveSeconds: 0.5 }), 'targets.nas.keepaliveSeconds: expected a whole number, got 0.5'],
    [withNas({ retries: -1 }), 'targets.nas.retries: expected a whole number >= 0, got -1'],
    [withNas({ retries: 1.5 }), 'targets.nas.retries: expected a whole number, got 1.5'],
    [withNas({ retryDelaySeconds: -2 }), 'targets.nas.retryDelaySeconds: expected a number of seconds >= 0, got -2'],
    [withNas({ verify: 'sha256' }), 'targets.nas.verify: expected one of "size", "hash", "none", got "sha256"'],
    [withNas({ secure: 'yes' }),
      'targets.nas.secure: expected true (explicit FTPS), false (plain FTP) or "implicit", got "yes"'],
    [withNas({ allowSelfSigned: 'no' }), 'targets.nas.allowSelfSigned: expected true or false, got "no"'],
    [withNas({ activeMode: 1 }), 'targets.nas.activeMode: expected true or false, got 1'],
    [withNas({ ca: '' }), 'targets.nas.ca: must not be empty'],
    [withNas({ keep: 0 }), 'targets.nas.keep: expected a whole number >= 1 (backups to keep), got 0'],
    [withNas({ keep: 'three' }),
      'targets.nas.keep: expected a whole number >= 1 or a GFS object { last, hourly, daily, weekly, monthly, yearly, within }, got "three"'],
    [withNas({ password: { env: 5 } }), 'targets.nas.password.env: expected a string, got a number'],
    [withNas({ password: {} }), 'targets.nas.password: expected a string, { env: "NAME" } or { file: "PATH" }, got an object'],
    [withNas({ password: { env: 'A', file: 'b' } }),
      'targets.nas.password: expected a string, { env: "NAME" } or { file: "PATH" }, got an object'],
    [withNas({ password: '' }), 'targets.nas.password: must not be empty'],
    // A password typed where it does not belong is described by its type, never echoed.
    [withNas({ password: 1234567 }),
      'targets.nas.password: expected a string, { env: "NAME" } or { file: "PATH" }, got a number'],
    [{ ...baseConfig(), keep: -1 }, 'keep: expected a whole number >= 1 (backups to keep), got -1'],
    [{ ...baseConfig(), keep: { daily: -1 } }, 'keep.daily: expected a whole number >= 0, got -1'],
    [{ ...baseConfig(), keep: { daily: 1.5 } }, 'keep.daily: expected a whole number, got 1.5'],
    [{ ...baseConfig(), keep: { dayly: 7 } }, 'keep.dayly: unknown field (did you mean "daily"?)'],
    [{ ...baseConfig(), keep: {} },
      'keep: keeps nothing: set at least one of last, hourly, daily, weekly, monthly, yearly above 0, or within'],
    [{ ...baseConfig(), keep: { last: 0, daily: 0 } },
      'keep: keeps nothing: set at least one of last, hourly, daily, weekly, monthly, yearly above 0, or within'],
    [{ ...baseConfig(), keep: { within: '30 days' } },
      'keep.within: expected a duration like "30d" or "1y2m3d4h" (units y, m, d, h), got "30 days"'],
    [{ ...baseConfig(), keep: { within: '1d2d' } },
      'keep.within: expected a duration like "30d" or "1y2m3d4h" (units y, m, d, h), each unit once, got "1d2d"'],
    [{ ...baseConfig(), keep: { within: '0d' } }, 'keep.within: expected a duration above zero, got "0d"'],
    [{ ...baseConfig(), source: 5 }, 'source: expected a string, got 5'],
    [{ ...baseConfig(), source: '' }, 'source: must not be empty'],
    [{ ...baseConfig(), sorce: 'x' }, 'sorce: unknown field (did you mean "source"?)'],
    [{ ...baseConfig(), targets: {} }, 'targets: at least one target is required'],
    [{ ...baseConfig(), targets: undefined }, 'targets: missing (expected an object)'],
    [{ ...baseConfig(), lockFile: 3 }, 'lockFile: expected a string, got 3'],
    [{ ...baseConfig(), log: { file: '' } }, 'log.file: must not be empty'],
    [{ ...baseConfig(), log: { level: 'debug' } }, 'log.level: unknown field'],
    [{ ...baseConfig(), vms: { Bart: 'nsa' } }, 'vms.Bart: unknown target "nsa" (targets: nas, offsite)'],
    [{ ...baseConfig(), vms: { Raoul: ['nas', 'ofsite'] } },
      'vms.Raoul[1]: unknown target "ofsite" (targets: nas, offsite)'],
    [{ ...baseConfig(), vms: { Homer: { targets: ['x'] } } }, 'vms.Homer.targets[0]: unknown target "x" (targets: nas, offsite)'],
    [{ ...baseConfig(), vms: { Raoul: ['nas', 'nas'] } }, 'vms.Raoul[1]: target "nas" is listed twice'],
    [{ ...baseConfig(), vms: { Bart: [] } }, 'vms.Bart: must list at least one target'],
    [{ ...baseConfig(), vms: { Bart: 5 } },
      'vms.Bart: expected a target name, a list of target names, or { targets: [...], keep, maxAge, priority }, got 5'],
    [{ ...baseConfig(), vms: { Bart: { targets: 'nas' } } }, 'vms.Bart.targets: expected a list, got "nas"'],
    [{ ...baseConfig(), vms: { Bart: { targets: ['nas'], keep: 0 } } },
      'vms.Bart.keep: expected a whole number >= 1 (backups to keep), got 0'],
    [{ ...baseConfig(), vms: { Bart: { targets: ['nas'], priority: 'high' } } }, 'vms.Bart.priority: expected a number, got "high"'],
    [{ ...baseConfig(), vms: { Bart: { target: ['nas'] } } },
      'vms.Bart: expected a target name, a list of target names, or { targets: [...], keep, maxAge, priority }, got an object'],
    [{ ...baseConfig(), vms: {} },
      "vms: maps no VM; map VM names (or '*') to targets, or leave vms out to send every VM to every target"],
    [{ ...baseConfig(), vms: { '..': 'nas' } }, 'vms[".."]: VM name ".." names a folder itself, not a VM'],
    [{ ...baseConfig(), vms: { '.': 'nas' } }, 'vms["."]: VM name "." names a folder itself, not a VM'],
    [{ ...baseConfig(), vms: { '': 'nas' } }, 'vms[""]: VM name is empty'],
    [{ ...baseConfig(), vms: { 'a/b': 'nas' } }, 'vms["a/b"]: VM name "a/b" contains a path separator ("/" or "\\")'],
    [{ ...baseConfig(), vms: { 'a\\b': 'nas' } }, 'vms["a\\\\b"]: VM name "a\\\\b" contains a path separator ("/" or "\\")'],
    [{ ...baseConfig(), vms: { 'a\0b': 'nas' } }, 'vms["a\\u0000b"]: VM name "a\\u0000b" contains a NUL or control character'],
    [{ ...baseConfig(), vms: { 'Bart.': 'nas' } },
      'vms["Bart."]: VM name "Bart." ends with a space or a dot, which Windows cannot hold in a folder name'],
    [{ ...baseConfig(), vms: { 'Bart ': 'nas' } },
      'vms["Bart "]: VM name "Bart " ends with a space or a dot, which Windows cannot hold in a folder name'],
    [{ ...baseConfig(), mail: { from: 'vmftp', to: 'ops@lan', smtp: { host: 'm' } } },
      'mail.from: expected an e-mail address, got "vmftp"'],
    [{ ...baseConfig(), mail: { from: 'a@b', to: [], smtp: { host: 'm' } } }, 'mail.to: must list at least one address'],
    [{ ...baseConfig(), mail: { from: 'a@b', to: ['ops'], smtp: { host: 'm' } } }, 'mail.to[0]: expected an e-mail address, got "ops"'],
    [{ ...baseConfig(), mail: { from: 'a@b', to: 'c@d' } }, 'mail.smtp: missing (expected an object)'],
    [{ ...baseConfig(), mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', port: 'smtp' } } },
      'mail.smtp.port: expected a number, got "smtp"'],
    [{ ...baseConfig(), mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', password: { env: 'X' } } } },
      'mail.smtp.user: required when mail.smtp.password is set'],
    [{ ...baseConfig(), mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', pasword: 'x' } } },
      'mail.smtp.pasword: unknown field (did you mean "password"?)'],
  ];
  for (const [raw, line] of cases) {
    test(line, () => assert.deepEqual(problems(raw), [line]));
  }

  test('a config that is not an object', () => {
    assert.deepEqual(problems(null), ['config: expected an object, got null']);
    assert.deepEqual(problems([]), ['config: expected an object, got a list']);
    assert.deepEqual(problems('source: x'), ['config: expected an object, got "source: x"']);
  });
});

describe('validateConfig: a vms key is a VM name by the same rule the scan, plan and deletes use', () => {
  // Names the run itself refuses (core/stamp.ts) but that a separate, looser config rule once let
  // through: such a key passed validation and its VM was then left alone every night.
  const names = ['Bart', 'web 01', 'Bärt', 'Bart.v2', '.hidden', 'Bart.', 'Bart ', '...', '..', 'a/b', 'a\\b', 'a\tb', ''];
  for (const name of names) {
    const valid = isValidVmName(name);
    test(`${JSON.stringify(name)} is ${valid ? 'accepted' : 'rejected, naming the field'}`, () => {
      const lines = problems({ ...baseConfig(), vms: { [name]: 'nas' } });
      if (valid) assert.deepEqual(lines, []);
      else assert.deepEqual(lines, [`vms[${JSON.stringify(name)}]: ${vmNameProblem(name) ?? ''}`]);
    });
  }
});

describe('validateConfig: every problem at once', () => {
  test('shape, unknown fields and references in one answer', () => {
    const raw = {
      keep: 0,
      targets: {
        nas: { host: 'nas.lan', port: 'twenty-one', user: 'u', password: { env: 'P' }, remoteDir: 'vm', hots: 'x' },
        offsite: { host: 'h', user: 'u', password: { env: 'P' }, remoteDir: '/', verify: 'md5' },
      },
      vms: { Bart: 'nsa', 'a/b': 'nas' },
      mail: { from: 'x', to: 'ops@lan', smtp: { host: 'm' } },
    };
    assert.deepEqual(problems(raw).sort(), [
      'keep: expected a whole number >= 1 (backups to keep), got 0',
      'mail.from: expected an e-mail address, got "x"',
      'targets.nas.hots: unknown field (did you mean "host"?)',
      'targets.nas.port: expected a number, got "twenty-one"',
      'targets.nas.remoteDir: expected an absolute remote folder starting with "/", got "vm"',
      'targets.offsite.verify: expected one of "size", "hash", "none", got "md5"',
      'vms.Bart: unknown target "nsa" (targets: nas, offsite)',
      'vms["a/b"]: VM name "a/b" contains a path separator ("/" or "\\")',
    ]);
  });
});

describe('loadConfig: file formats and search', () => {
  const yaml = [
    'source: backups',
    'targets:',
    '  nas: { host: nas.lan, user: backup, password: { env: NAS_PW }, remoteDir: /vm }',
    '',
  ].join('\n');
  const json = JSON.stringify({ source: 'backups', targets: { nas: { host: 'nas.lan', user: 'backup',
    password: { env: 'NAS_PW' }, remoteDir: '/vm' } } }, null, '\t');
  const object = "{ source: 'backups', targets: { nas: { host: 'nas.lan', user: 'backup', password: { env: 'NAS_PW' }, remoteDir: '/vm' } } }";
  const formats: [string, string][] = [
    ['vmftp.config.json', json],
    ['vmftp.config.yaml', yaml],
    ['vmftp.config.yml', yaml],
    ['.vmftprc', yaml],
    ['.vmftprc', json],
    ['.vmftprc.json', json],
    ['.vmftprc.yaml', yaml],
    ['.vmftprc.yml', yaml],
    ['package.json', JSON.stringify({ name: 'backup-host', vmftp: JSON.parse(json) as unknown })],
    ['vmftp.config.ts', `import { defineConfig } from 'vmftp';\nconst dir: string = '/vm';\n` +
      `export default defineConfig(${object.replace("'/vm'", 'dir')});\n`],
    ['vmftp.config.js', `export default ${object};\n`],
    ['vmftp.config.mjs', `import { defineConfig } from 'vmftp';\nexport default defineConfig(${object});\n`],
  ];
  for (const [name, content] of formats) {
    test(`${name} (${content.startsWith('{') ? 'JSON' : 'as written'})`, async () => {
      const dir = await folderWith({ [name]: content });
      const { config } = await load(dir);
      assert.equal(config.configPath, path.join(dir, name));
      assert.equal(config.source, path.join(dir, 'backups'));
      assert.equal(config.targets.nas?.remoteDir, '/vm');
      assert.equal(config.targets.nas?.password.reveal(), PASSWORD);
    });
  }

  test('vmftp.config.ts outside the repo imports defineConfig from "vmftp" and leaves its folder as it was', async () => {
    const dir = await folderWith({
      'vmftp.config.ts': [
        "import { defineConfig, type VmftpConfig } from 'vmftp';",
        "const nas: NonNullable<VmftpConfig['targets']>[string] = { host: 'nas.lan', user: 'backup',",
        "  password: { env: 'NAS_PW' }, remoteDir: '/vm/' };",
        "export default defineConfig({ source: 'backups', targets: { nas }, vms: { Bart: 'nas' } });",
        '',
      ].join('\n'),
    });
    assert.ok(!dir.startsWith(repoRoot));
    const { config } = await load(dir);
    assert.deepEqual(config.vms, { Bart: { targets: ['nas'] } });
    assert.equal(config.targets.nas?.remoteDir, '/vm');
    assert.deepEqual(await readdir(dir), ['vmftp.config.ts']);
  });

  test('search order: package.json key before vmftp.config.ts', async () => {
    const dir = await folderWith({
      'package.json': JSON.stringify({ vmftp: { ...baseConfig(), source: 'from-package' } }),
      'vmftp.config.json': JSON.stringify({ ...baseConfig(), source: 'from-config' }),
    });
    assert.equal((await load(dir)).config.source, path.join(dir, 'from-package'));
  });

  test('a package.json without a "vmftp" key is skipped', async () => {
    const dir = await folderWith({
      'package.json': JSON.stringify({ name: 'x' }),
      'vmftp.config.json': JSON.stringify(baseConfig()),
    });
    assert.equal((await load(dir)).config.configPath, path.join(dir, 'vmftp.config.json'));
  });

  test('the search stays in the working directory', async () => {
    const dir = await folderWith({ 'vmftp.config.json': JSON.stringify(baseConfig()), 'sub/readme.txt': '' });
    await assert.rejects(load(path.join(dir, 'sub')), /No vmftp config found/);
  });

  test('-c PATH loads exactly that file, relative to cwd, whatever its name', async () => {
    const dir = await folderWith({
      'vmftp.config.json': JSON.stringify({ ...baseConfig(), source: 'searched' }),
      'etc/nightly.yaml': 'source: chosen\ntargets:\n  nas: { host: h, user: u, password: { env: NAS_PW }, remoteDir: / }\n',
      'etc/nightly': 'source: no-extension\ntargets:\n  nas: { host: h, user: u, password: { env: NAS_PW }, remoteDir: / }\n',
      'etc/nightly.ts': "export default { source: 'ts', targets: { nas: { host: 'h', user: 'u', password: { env: 'NAS_PW' }, remoteDir: '/' } } };",
    });
    const cases: [string, string][] = [['etc/nightly.yaml', 'chosen'], ['etc/nightly', 'no-extension'], ['etc/nightly.ts', 'ts']];
    for (const [configPath, source] of cases) {
      const { config } = await load(dir, { configPath });
      assert.equal(config.configPath, path.join(dir, configPath));
      // Paths in the file are relative to the file's folder, not to cwd.
      assert.equal(config.source, path.join(dir, 'etc', source));
    }
  });

  test('-c problems', async () => {
    const dir = await folderWith({ 'package.json': '{"name":"x"}', 'conf.toml': 'a = 1', 'empty.yaml': '' });
    const cases: [string, string][] = [
      ['missing.ts', `${path.join(dir, 'missing.ts')}: does not exist`],
      ['package.json', `${path.join(dir, 'package.json')}: has no "vmftp" key`],
      ['empty.yaml', `${path.join(dir, 'empty.yaml')}: the file is empty`],
      ['conf.toml', `${path.join(dir, 'conf.toml')}: unsupported file type ".toml"; use one of .ts, .mts, .cts, .js, .mjs, .cjs, .json, .yaml, .yml, or no extension for YAML`],
    ];
    for (const [configPath, line] of cases) {
      assert.deepEqual(await problemsOf(load(dir, { configPath })), [line], configPath);
    }
  });

  test('no config found: says where it looked and what to do', async () => {
    const dir = await tempDir();
    await assert.rejects(load(dir), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `No vmftp config found in ${dir}`);
      assert.equal(error.problems.length, 1);
      assert.match(error.problems[0] ?? '', /^config: looked in .* for package\.json \("vmftp" key\), \.vmftprc, .*vmftp\.config\.ts.*vmftp\.config\.yml; none exists$/);
      assert.match(error.hint ?? '', /-c <file>/);
      assert.match(error.hint ?? '', /vmftp\.config\.ts/);
      assert.match(error.hint ?? '', /at least one target/);
      return true;
    });
  });

  test('syntax errors name file, line and column without quoting the file', async () => {
    const dir = await folderWith({ 'vmftp.config.yaml': `source: x\ntargets:\n  nas:\n    password: "${PASSWORD}\n    host: h\n` });
    const [line, ...rest] = await problemsOf(load(dir));
    assert.deepEqual(rest, []);
    assert.match(line ?? '', /vmftp\.config\.yaml: syntax error: .* at line \d+, column \d+$/);
    assert.ok(!line?.includes(PASSWORD));
  });

  test('a key written twice is a problem', async () => {
    const dir = await folderWith({ 'vmftp.config.yaml': 'source: a\nsource: b\n' });
    const [line] = await problemsOf(load(dir));
    assert.match(line ?? '', /syntax error: Map keys must be unique at line 2, column 1$/);
  });

  test('a JSON config: a syntax error and a key written twice name line and column, escaped quotes are no keys', async () => {
    const dir = await folderWith({
      'broken.json': `{\n  "source": "x",\n  "targets": { "nas": { "password": "${PASSWORD}" }\n`,
      'twice.json': '{\n  "source": "a",\n  "targets": { "nas": { "host": "h" } },\n  "source": "b"\n}\n',
      'nested-twice.json': '{ "source": "a", "targets": { "nas": { "host": "h", "host": "i" } } }',
      'quotes.json': JSON.stringify({ ...baseConfig(), source: 'say "a": b \\' }, null, 2),
    });
    const [broken, ...rest] = await problemsOf(load(dir, { configPath: 'broken.json' }));
    assert.deepEqual(rest, []);
    assert.match(broken ?? '', /broken\.json: syntax error: .* at line \d+, column \d+$/);
    assert.ok(!broken?.includes(PASSWORD));
    assert.deepEqual(await problemsOf(load(dir, { configPath: 'twice.json' })),
      [`${path.join(dir, 'twice.json')}: syntax error: Map keys must be unique at line 4, column 3`]);
    assert.match((await problemsOf(load(dir, { configPath: 'nested-twice.json' })))[0] ?? '', /syntax error: Map keys must be unique at line 1, column \d+$/);
    assert.equal((await load(dir, { configPath: 'quotes.json' })).config.source, path.join(dir, 'say "a": b \\'));
  });

  test('a JS config that throws, and one without a default export', async () => {
    const dir = await folderWith({ 'boom.ts': `const p: string = '${PASSWORD}';\nthrow new Error('boom ' + p.length);\n`,
      'named.mjs': 'export const config = {};\n', 'vmftp.config.ts': '' });
    assert.deepEqual(await problemsOf(load(dir, { configPath: 'boom.ts' })),
      [`${path.join(dir, 'boom.ts')}: could not be loaded: boom ${PASSWORD.length}`]);
    assert.deepEqual(await problemsOf(load(dir, { configPath: 'named.mjs' })),
      [`${path.join(dir, 'named.mjs')}: has no default export; write \`export default defineConfig({ ... })\``]);
    assert.deepEqual(await problemsOf(load(dir)), [`${path.join(dir, 'vmftp.config.ts')}: the file is empty`]);
  });

  test('validation problems carry the file name in the message', async () => {
    const dir = await folderWith({ 'vmftp.config.json': JSON.stringify(withNas({ port: 'twenty-one' })) });
    await assert.rejects(load(dir), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `Invalid vmftp configuration in ${path.join(dir, 'vmftp.config.json')} (1 problem)`);
      assert.deepEqual(error.problems, ['targets.nas.port: expected a number, got "twenty-one"']);
      return true;
    });
  });
});

describe('loadConfig: passwords', () => {
  test('{ env } set', async () => {
    const { config, warnings } = await loadJson(baseConfig());
    assert.equal(config.targets.nas?.password.reveal(), PASSWORD);
    assert.deepEqual(warnings, []);
  });

  test('{ env } missing or empty', async () => {
    assert.deepEqual(await problemsOf(loadJson(baseConfig(), { env: {} })), [
      'targets.nas.password: environment variable NAS_PW is not set',
      'targets.offsite.password: environment variable NAS_PW is not set',
    ]);
    assert.deepEqual(await problemsOf(loadJson(withNas({ password: { env: 'EMPTY' } }), { env: { EMPTY: '', NAS_PW: 'x' } })),
      ['targets.nas.password: environment variable EMPTY is empty']);
  });

  test('{ file }: relative to the config, final newline and BOM dropped', async () => {
    const cases: [string, string][] = [
      [`${PASSWORD}\n`, PASSWORD],
      [`${PASSWORD}\r\n`, PASSWORD],
      [`\uFEFF${PASSWORD}\r\n\r\n`, PASSWORD],
      [`  spaced ${PASSWORD} `, `  spaced ${PASSWORD} `],
    ];
    for (const [content, expected] of cases) {
      const dir = await folderWith({
        'vmftp.config.json': JSON.stringify(withNas({ password: { file: 'secrets/nas.txt' } })),
        'secrets/nas.txt': content,
      });
      await chmod(path.join(dir, 'secrets/nas.txt'), 0o600);
      const { config, warnings } = await load(dir);
      assert.equal(config.targets.nas?.password.reveal(), expected);
      assert.deepEqual(warnings, []);
    }
  });

  test('targets, and the problems of what their fields point to, keep the order they are written in', async () => {
    const target = (password: unknown) => ({ host: 'h', user: 'u', password, remoteDir: '/' });
    const dir = await folderWith({
      'vmftp.config.json': JSON.stringify({ source: 'b', targets: { first: target({ file: 'pw.txt' }), second: target({ env: 'NAS_PW' }), third: target({ env: 'NAS_PW' }) } }),
      'pw.txt': PASSWORD,
    });
    await chmod(path.join(dir, 'pw.txt'), 0o600);
    assert.deepEqual(Object.keys((await load(dir)).config.targets), ['first', 'second', 'third']);
    assert.deepEqual(await problemsOf(load(dir, { env: {} })), [
      `targets.second.password: environment variable NAS_PW is not set`,
      `targets.third.password: environment variable NAS_PW is not set`,
    ]);
    await rm(path.join(dir, 'pw.txt'));
    assert.deepEqual(await problemsOf(load(dir, { env: {} })), [
      `targets.first.password: file "${path.join(dir, 'pw.txt')}" does not exist`,
      `targets.second.password: environment variable NAS_PW is not set`,
      `targets.third.password: environment variable NAS_PW is not set`,
    ]);
  });

  test('{ file } missing, empty, readable by others', async () => {
    const dir = await folderWith({
      'vmftp.config.json': JSON.stringify({
        ...baseConfig(),
        targets: {
          a: { host: 'h', user: 'u', password: { file: 'nope.txt' }, remoteDir: '/' },
          b: { host: 'h', user: 'u', password: { file: 'empty.txt' }, remoteDir: '/' },
        },
      }),
      'empty.txt': '\n',
    });
    assert.deepEqual(await problemsOf(load(dir)), [
      `targets.a.password: file "${path.join(dir, 'nope.txt')}" does not exist`,
      `targets.b.password: file "${path.join(dir, 'empty.txt')}" is empty`,
    ]);
    if (process.platform !== 'win32') {
      const open = await folderWith({
        'vmftp.config.json': JSON.stringify(withNas({ password: { file: 'pw.txt' } })),
        'pw.txt': PASSWORD,
      });
      await chmod(path.join(open, 'pw.txt'), 0o644);
      const { warnings } = await load(open);
      assert.deepEqual(warnings, [`targets.nas.password: file "${path.join(open, 'pw.txt')}" can be read by other users; chmod 600 it`]);
    }
  });

  test('a plain password works, with a warning that does not contain it', async () => {
    const raw = { ...withNas({ password: PASSWORD }),
      mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', user: 'u', password: SMTP_PASSWORD } } };
    const { config, warnings } = await loadJson(raw);
    assert.equal(config.targets.nas?.password.reveal(), PASSWORD);
    assert.equal(config.mail?.smtp.password?.reveal(), SMTP_PASSWORD);
    assert.deepEqual(warnings, [
      'targets.nas.password is written in the config file; prefer { env: ... } or { file: ... }',
      'mail.smtp.password is written in the config file; prefer { env: ... } or { file: ... }',
    ]);
  });

  test('JSON.stringify and util.inspect of a loaded config never show a password', async () => {
    const raw = { ...withNas({ password: PASSWORD }),
      mail: { from: 'a@b', to: 'c@d', smtp: { host: 'm', user: 'u', password: { env: 'SMTP_PW' } } } };
    const { config, warnings } = await loadJson(raw);
    const shown = [JSON.stringify(config), inspect(config, { depth: Infinity }), String(config.targets.nas?.password),
      `${config.mail?.smtp.password}`, ...warnings].join('\n');
    for (const secret of [PASSWORD, SMTP_PASSWORD]) assert.ok(!shown.includes(secret), 'a password leaked');
    assert.ok(shown.includes('***'));
  });
});

describe('loadConfig: precedence, paths, defaults', () => {
  test('defaults, when neither file nor flags say otherwise', async () => {
    const { config, dir } = await loadJson(baseConfig());
    assert.equal(config.keep, 3);
    assert.equal(config.keepOverride, undefined);
    assert.equal(config.uploadMethod, 'internal');
    assert.equal(config.deleteFirst, false);
    assert.equal(path.dirname(config.lockFile), os.tmpdir());
    assert.match(path.basename(config.lockFile), /^vmftp-[0-9a-f]{16}\.lock$/);
    assert.equal(config.logFile, undefined);
    assert.equal(config.mail, undefined);
    assert.equal(config.source, path.join(dir, 'backups'));
    assert.deepEqual(config.vms, { '*': { targets: ['nas', 'offsite'] } });
    assert.deepEqual(config.targets.nas, {
      name: 'nas', host: 'nas.lan', port: 21, user: 'backup', password: config.targets.nas?.password,
      remoteDir: '/vm', secure: false, allowSelfSigned: false, maxConnections: 2, activeMode: false,
      timeoutSeconds: 30, keepaliveSeconds: 60, retries: 3, retryDelaySeconds: 2, verify: 'size',
    });
  });

  test('file over defaults, typed flags over file', async () => {
    const raw = { ...baseConfig(), keep: 5 };
    const fromFile = await loadJson(raw);
    assert.equal(fromFile.config.keep, 5);
    assert.equal(fromFile.config.keepOverride, undefined);

    const cwd = await tempDir();
    const dir = await folderWith({ 'conf/vmftp.config.json': JSON.stringify(raw) });
    const { config } = await loadConfig({
      cwd, env: ENV, configPath: path.join(dir, 'conf/vmftp.config.json'),
      flags: { folder: 'local', keep: 2, uploadMethod: 'curl', deleteFirst: true },
    });
    assert.equal(config.keep, 5);
    assert.equal(config.keepOverride, 2);
    // -f is typed in a shell: relative to the working directory, not to the config.
    assert.equal(config.source, path.join(cwd, 'local'));
    assert.equal(config.uploadMethod, 'curl');
    assert.equal(config.deleteFirst, true);
  });

  test('source from -f alone', async () => {
    const { config, dir } = await loadJson({ ...baseConfig(), source: undefined }, { flags: { folder: '/srv/backups' } });
    assert.equal(config.source, path.resolve(dir, '/srv/backups'));
  });

  test('source missing everywhere', async () => {
    assert.deepEqual(await problemsOf(loadJson({ ...baseConfig(), source: undefined })),
      ['source: missing — set it in the config or pass -f <folder>']);
  });

  test('flag values out of range', async () => {
    assert.deepEqual(await problemsOf(loadJson(baseConfig(), { flags: { keep: 0, folder: '' } })), [
      '-n/--keep: expected a whole number >= 1, got 0',
      '-f/--folder: must not be empty',
    ]);
  });

  test('the deadline: --max-duration, --stop-at and window.end, each checked; none means no deadline', async () => {
    assert.equal((await loadJson(baseConfig())).config.deadline, undefined);
    const { config } = await loadJson({ ...baseConfig(), window: { end: '06:30' } }, { flags: { maxDuration: '1h30m', stopAt: '07:00' } });
    assert.deepEqual(config.deadline, {
      maxDuration: { text: '1h30m', ms: 90 * 60_000 },
      stopAt: { hours: 7, minutes: 0 },
      windowEnd: { hours: 6, minutes: 30 },
    });
    assert.deepEqual(await problemsOf(loadJson({ ...baseConfig(), window: { end: '7:00' } }, { flags: { maxDuration: '90', stopAt: '25:00' } })), [
      'window.end: expected a time of day "HH:MM" (00:00 to 23:59), got "7:00"',
      '--max-duration: expected a duration above zero like "90m", "6h" or "1h30m" (units d, h, m for minutes, s), got "90"',
      '--stop-at: expected a time of day "HH:MM" (00:00 to 23:59), got "25:00"',
    ]);
  });

  test('relative paths become absolute against the config folder', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const dir = await folderWith({
      'vmftp.config.json': JSON.stringify({
        ...withNas({ ca: 'certs/ca.pem', secure: true, password: { file: 'secrets/pw' } }),
        lockFile: 'run/vmftp.lock',
        log: { file: 'logs/vmftp.log' },
      }),
      'certs/ca.pem': pem,
      'secrets/pw': PASSWORD,
    });
    await chmod(path.join(dir, 'secrets/pw'), 0o600);
    const { config, warnings } = await load(dir);
    assert.equal(config.targets.nas?.ca, pem);
    assert.equal(config.targets.nas?.password.reveal(), PASSWORD);
    assert.equal(config.lockFile, path.join(dir, 'run/vmftp.lock'));
    assert.equal(config.logFile, path.join(dir, 'logs/vmftp.log'));
    assert.equal(config.source, path.join(dir, 'backups'));
    assert.deepEqual(warnings, []);
  });

  test('the lock goes next to the log by default, named after it', async () => {
    const { config, dir } = await loadJson({ ...baseConfig(), log: { file: 'logs/vmftp.log' } });
    assert.equal(config.lockFile, path.join(dir, 'logs', 'vmftp.lock'));
    const other = await loadJson({ ...baseConfig(), log: { file: 'logs/offsite.log' } });
    assert.equal(other.config.lockFile, path.join(other.dir, 'logs', 'offsite.lock'));
  });

  test('without a log file, one lock per config file: the same file always, another file never', async () => {
    const first = await loadJson(baseConfig());
    const again = await load(first.dir);
    const second = await loadJson(baseConfig());
    assert.equal(again.config.lockFile, first.config.lockFile);
    assert.notEqual(second.config.lockFile, first.config.lockFile);
  });

  test('ca missing or not PEM', async () => {
    const dir = await folderWith({
      'vmftp.config.json': JSON.stringify({ ...baseConfig(), targets: {
        a: { host: 'h', user: 'u', password: { env: 'NAS_PW' }, remoteDir: '/', secure: true, ca: 'none.pem' },
        b: { host: 'h', user: 'u', password: { env: 'NAS_PW' }, remoteDir: '/', secure: true, ca: 'key.txt' },
      } }),
      'key.txt': 'not a certificate',
    });
    assert.deepEqual(await problemsOf(load(dir)), [
      `targets.a.ca: file "${path.join(dir, 'none.pem')}" does not exist`,
      `targets.b.ca: file "${path.join(dir, 'key.txt')}" is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`,
    ]);
  });

  test('vms forms are normalized to routes', async () => {
    const { config } = await loadJson({ ...baseConfig(), vms: {
      Bart: 'nas', Raoul: ['nas', 'offsite'], Homer: { targets: ['offsite'], keep: { daily: 7 } }, '*': { targets: ['nas'] },
    } });
    assert.deepEqual(config.vms, {
      Bart: { targets: ['nas'] },
      Raoul: { targets: ['nas', 'offsite'] },
      Homer: { targets: ['offsite'], keep: { daily: 7 } },
      '*': { targets: ['nas'] },
    });
  });

  test('mail is passed on with defaults and its password as a Secret', async () => {
    const { config } = await loadJson({ ...baseConfig(),
      mail: { from: 'a@b', to: ['c@d'], smtp: { host: 'm', user: 'u', password: { env: 'SMTP_PW' } } } });
    assert.equal(config.mail?.smtp.password?.reveal(), SMTP_PASSWORD);
    assert.deepEqual({ ...config.mail, smtp: { ...config.mail?.smtp, password: undefined } },
      { from: 'a@b', to: ['c@d'], smtp: { host: 'm', port: 587, secure: false, user: 'u', password: undefined } });
  });

  test('settings that work but do not do what they seem', async () => {
    const raw = { ...baseConfig(), targets: {
      plain: { host: 'h', user: 'u', password: { env: 'NAS_PW' }, remoteDir: '/', allowSelfSigned: true, activeMode: true },
    } };
    assert.deepEqual((await loadJson(raw)).warnings, [
      'targets.plain.allowSelfSigned: has no effect without secure: true or "implicit"',
      'targets.plain.activeMode: the internal client only does passive mode; pass -u curl or -u ncftpput for active mode',
    ]);
    assert.deepEqual((await loadJson(raw, { flags: { uploadMethod: 'curl' } })).warnings, [
      'targets.plain.allowSelfSigned: has no effect without secure: true or "implicit"',
    ]);
  });

  test('problems from every phase come together', async () => {
    const raw = { ...withNas({ port: 'twenty-one', password: { env: 'MISSING' } }), source: undefined };
    assert.deepEqual(await problemsOf(loadJson(raw, { flags: { keep: -2 } })), [
      'targets.nas.port: expected a number, got "twenty-one"',
      '-n/--keep: expected a whole number >= 1, got -2',
      'targets.nas.password: environment variable MISSING is not set',
      'source: missing — set it in the config or pass -f <folder>',
    ]);
  });
});

describe('config.example.ts', () => {
  test('is valid as written', async () => {
    const dir = await tempDir();
    await copyFile(path.join(repoRoot, 'config.example.ts'), path.join(dir, 'vmftp.config.ts'));
    await mkdir(path.join(dir, 'secrets'));
    await mkdir(path.join(dir, 'certs'));
    await writeFile(path.join(dir, 'secrets/offsite-password.txt'), `${PASSWORD}\n`, { mode: 0o600 });
    await writeFile(path.join(dir, 'certs/offsite-ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const { config, warnings } = await loadConfig({
      cwd: dir,
      env: { VMFTP_NAS_PASSWORD: 'nas-pw', VMFTP_SMTP_PASSWORD: 'smtp-pw' },
      flags: {},
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.keys(config.targets), ['nas', 'offsite']);
    assert.equal(config.targets.offsite?.password.reveal(), PASSWORD);
    assert.equal(config.targets.nas?.password.reveal(), 'nas-pw');
    assert.equal(config.mail?.smtp.password?.reveal(), 'smtp-pw');
    assert.deepEqual(config.vms.Homer, { targets: ['offsite'], keep: { last: 2, within: '14d' }, priority: 10 });
  });

  test('shows every field the schema accepts', async () => {
    const text = await readFile(path.join(repoRoot, 'config.example.ts'), 'utf8');
    const fields = ['source', 'keep', 'targets', 'host', 'port', 'user', 'password', 'remoteDir', 'secure',
      'allowSelfSigned', 'ca', 'maxConnections', 'activeMode', 'timeoutSeconds', 'keepaliveSeconds', 'verify', 'vms', 'mail', 'from', 'to',
      'subject', 'subjectOnError', 'smtp', 'lockFile', 'log', 'file', 'env', 'within', 'last', 'daily'];
    for (const field of fields) {
      assert.match(text, new RegExp(`^\\s*(?:\\{ )?${field}: |[{,] ${field}: `, 'm'), `config.example.ts does not show ${field}`);
    }
  });
});

describe('bwlimit in the config and --bwlimit', () => {
  test('the file and each target may set one; --bwlimit replaces only the run-wide one', async () => {
    const { config } = await loadJson(
      { ...withNas({ bwlimit: '512k' }), bwlimit: '08:00,512k 23:00,off' },
      { flags: { bwlimit: '10M' } },
    );
    assert.equal(config.bwlimit?.spec, '10M');
    assert.equal(config.targets.nas?.bwlimit?.spec, '512k');
    assert.equal(config.targets.offsite?.bwlimit, undefined);
    const { config: fromFile } = await loadJson({ ...baseConfig(), bwlimit: '08:00,512k 23:00,off' });
    assert.equal(fromFile.bwlimit?.slots.length, 14);
  });

  test('a rate or timetable that cannot be read is named by its field, once', async () => {
    assert.deepEqual(problems({ ...baseConfig(), bwlimit: '10X' }), [
      'bwlimit: "10X" is not a rate: expected a rate like "10M", "512k", "100B" or "off" (bytes per second; k, M, G are KiB, MiB, GiB; a bare number is KiB)',
    ]);
    assert.deepEqual(problems(withNas({ bwlimit: 'Mun-08:00,1M' })), ['targets.nas.bwlimit: Mun-08:00,1M: expected a weekday (Mon, Tuesday, ...), got "Mun"']);
    assert.deepEqual(problems({ ...baseConfig(), bwlimit: 512 }), ['bwlimit: expected a string, got 512']);
    const flagged = await problemsOf(loadJson(baseConfig(), { flags: { bwlimit: '25:00,1M' } }));
    assert.ok(flagged.includes('--bwlimit: 25:00,1M: expected a time HH:MM from 00:00 to 23:59, got "25:00"'), flagged.join('\n'));
  });
});
