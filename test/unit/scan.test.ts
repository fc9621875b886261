/**
 * The local scan (src/facts/scan.ts) against real temp trees: exactly the `<source>/<VM>/<STAMP>/`
 * folders with files are backups, every file with its relative path and size; everything else is
 * a warning and never a backup (so never uploaded, deleted or purged).
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, ExitCode, exitCodeOf } from '../../src/errors.js';
import { noBackupError, scanSource } from '../../src/facts/scan.js';
import { makeBackupTree, tmpDir } from '../support/fixtures.js';

const STAMP = '2012-08-18-154137';
const OLDER = '2012-07-13-154137';

describe('scanSource', () => {
  test('every backup with its files (relative "/" paths, sizes, nested folders) and its byte total, in name order', async (t) => {
    const source = tmpDir('scan', t);
    makeBackupTree(source, {
      [`Raoul/${OLDER}`]: { 'samplefile.txt': 'Raoul\n' },
      [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>', 'disk/disk1.vmdk': 20_000, 'disk/deeper/disk2.vmdk': 300 },
      [`Bart/${OLDER}`]: { 'vm.ovf': '<old/>' },
      [`web 01/${STAMP}`]: { 'ünïcødé.txt': 'x' },
    });

    const { backups, warnings } = await scanSource(source);
    assert.deepEqual(warnings, []);
    /** A file as the scan gives it: with the modification time it saw, for the upload to check it against. */
    const file = (folder: string, relative: string, size: number) => ({ path: relative, size, modifiedMs: statSync(path.join(source, folder, relative)).mtimeMs });
    assert.deepEqual(backups, [
      { vm: 'Bart', stamp: OLDER, dir: path.join(source, 'Bart', OLDER), files: [file(`Bart/${OLDER}`, 'vm.ovf', 6)], bytes: 6 },
      {
        vm: 'Bart',
        stamp: STAMP,
        dir: path.join(source, 'Bart', STAMP),
        files: [file(`Bart/${STAMP}`, 'disk/deeper/disk2.vmdk', 300), file(`Bart/${STAMP}`, 'disk/disk1.vmdk', 20_000), file(`Bart/${STAMP}`, 'vm.ovf', 5)],
        bytes: 20_305,
      },
      { vm: 'Raoul', stamp: OLDER, dir: path.join(source, 'Raoul', OLDER), files: [file(`Raoul/${OLDER}`, 'samplefile.txt', 6)], bytes: 6 },
      { vm: 'web 01', stamp: STAMP, dir: path.join(source, 'web 01', STAMP), files: [file(`web 01/${STAMP}`, 'ünïcødé.txt', 1)], bytes: 1 },
    ]);
  });

  test('what is not a backup is a warning naming its path, and not in the result', async (t) => {
    const source = tmpDir('scan', t);
    makeBackupTree(source, {
      [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' },
      'Bart/2012-08-18': { 'x.txt': 'a date, not a stamp' },
      'Bart/2012-13-40-999999': { 'x.txt': 'no such date' },
      [`Bart/${OLDER}.partial`]: { 'x.txt': 'a partial folder is not a local backup' },
      [`Bart/${OLDER}`]: {},
      'Bart/2000-01-01-000000': {},
      'Bart/2000-01-01-000000/empty-subfolder': {},
      '.': { 'stray.txt': 'a file beside the VM folders' },
      Bart: { notes: 'a file beside the backups' },
      [`Bart./${STAMP}`]: { 'x.txt': 'Windows would store this as Bart' },
      [`Bart /${STAMP}`]: { 'x.txt': 'a trailing space' },
    });

    const { backups, warnings } = await scanSource(source);
    assert.deepEqual(
      backups.map((backup) => `${backup.vm}/${backup.stamp}`),
      [`Bart/${STAMP}`],
    );
    const at = (...parts: string[]) => path.join(source, ...parts);
    assert.deepEqual(warnings.sort(), [
      `${at('Bart', '2000-01-01-000000')}: backup folder holds no file, ignored`,
      `${at('Bart', '2012-08-18')}: not a backup folder (expected yyyy-MM-dd-HHmmss), ignored`,
      `${at('Bart', '2012-13-40-999999')}: not a backup folder (expected yyyy-MM-dd-HHmmss), ignored`,
      `${at('Bart', OLDER)}: backup folder holds no file, ignored`,
      `${at('Bart', `${OLDER}.partial`)}: not a backup folder (expected yyyy-MM-dd-HHmmss), ignored`,
      `${at('Bart', 'notes')}: not a backup folder (expected yyyy-MM-dd-HHmmss), ignored`,
      `${at('Bart ')}: VM name "Bart " ends with a space or a dot, which Windows cannot hold in a folder name, ignored`,
      `${at('Bart.')}: VM name "Bart." ends with a space or a dot, which Windows cannot hold in a folder name, ignored`,
      `${at('stray.txt')}: not a VM folder, ignored`,
    ].sort());
  });

  test('links are followed: a disk image linked from elsewhere counts with the size of what it points at', async (t) => {
    const work = tmpDir('scan', t);
    const source = path.join(work, 'source');
    makeBackupTree(work, { elsewhere: { 'disk1.vmdk': 4096 }, 'elsewhere/folder': { 'disk2.vmdk': 10 } });
    makeBackupTree(source, { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' } });
    symlinkSync(path.join(work, 'elsewhere', 'disk1.vmdk'), path.join(source, 'Bart', STAMP, 'disk1.vmdk'));
    symlinkSync(path.join(work, 'elsewhere', 'folder'), path.join(source, 'Bart', STAMP, 'linked'));

    const { backups } = await scanSource(source);
    assert.deepEqual(backups[0]?.files.map(({ path: relative, size }) => ({ path: relative, size })), [
      { path: 'disk1.vmdk', size: 4096 },
      { path: 'linked/disk2.vmdk', size: 10 },
      { path: 'vm.ovf', size: 5 },
    ]);
    assert.equal(backups[0]?.files[0]?.modifiedMs, statSync(path.join(work, 'elsewhere', 'disk1.vmdk')).mtimeMs, 'the time of what the link points at');
    assert.equal(backups[0]?.bytes, 4111);
  });

  test('a backup folder that cannot be read to the end is unreadable, naming the entry; the other backups are scanned', async (t) => {
    const source = tmpDir('scan', t);
    makeBackupTree(source, { [`Bart/${STAMP}`]: { 'vm.ovf': '<vm/>' }, [`Bart/${OLDER}`]: { 'vm.ovf': '<old/>' }, [`Homer/${STAMP}`]: { 'vm.ovf': '<vm/>' } });
    // The backup job removed what the link points at (or is still writing): its size cannot be known.
    const gone = path.join(source, 'Bart', STAMP, 'disk1.vmdk');
    symlinkSync(path.join(source, 'no-such-disk.vmdk'), gone);

    const { backups, unreadable } = await scanSource(source);
    assert.deepEqual(backups.map((backup) => `${backup.vm}/${backup.stamp}`), [`Bart/${OLDER}`, `Homer/${STAMP}`]);
    assert.deepEqual(unreadable, [{ vm: 'Bart', dir: path.join(source, 'Bart', STAMP), reason: `ENOENT: no such file or directory, stat '${gone}'` }]);
  });

  test('a VM folder or a backup folder linked from another disk (a Windows junction too) is scanned like one of its own', async (t) => {
    const work = tmpDir('scan', t);
    const source = path.join(work, 'source');
    makeBackupTree(work, { [`other-disk/Lisa/${STAMP}`]: { 'vm.ovf': '<lisa/>' }, 'other-disk/bart-backup': { 'vm.ovf': '<bart/>' } });
    makeBackupTree(source, { [`Bart/${OLDER}`]: { 'vm.ovf': '<old/>' } });
    symlinkSync(path.join(work, 'other-disk', 'Lisa'), path.join(source, 'Lisa'));
    symlinkSync(path.join(work, 'other-disk', 'bart-backup'), path.join(source, 'Bart', STAMP));
    symlinkSync(path.join(work, 'other-disk', 'gone'), path.join(source, 'Bart', '2012-09-01-000000'));

    const { backups, unreadable, warnings, folders } = await scanSource(source);
    assert.deepEqual(backups.map((backup) => `${backup.vm}/${backup.stamp}: ${backup.files.map((file) => file.path).join(', ')}`), [
      `Bart/${OLDER}: vm.ovf`,
      `Bart/${STAMP}: vm.ovf`,
      `Lisa/${STAMP}: vm.ovf`,
    ]);
    assert.deepEqual(folders, ['Bart', 'Lisa']);
    assert.deepEqual(warnings, []);
    const gone = path.join(source, 'Bart', '2012-09-01-000000');
    assert.deepEqual(unreadable, [{ vm: 'Bart', dir: gone, reason: `ENOENT: no such file or directory, stat '${gone}'` }], 'a linked backup that leads nowhere');
  });

  test('an empty source is no backup and no warning', async (t) => {
    assert.deepEqual(await scanSource(tmpDir('scan', t)), { backups: [], unreadable: [], warnings: [], folders: [] });
  });

  for (const [what, make] of [
    ['does not exist', (work: string) => path.join(work, 'no-such-folder')],
    ['is a file', (work: string) => {
      writeFileSync(path.join(work, 'a-file'), 'x');
      return path.join(work, 'a-file');
    }],
  ] as const) {
    test(`a source that ${what} is a config error (exit 2) naming the path and the setting to check`, async (t) => {
      const work = tmpDir('scan', t);
      mkdirSync(work, { recursive: true });
      const source = make(work);
      await assert.rejects(scanSource(source), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(exitCodeOf(error), ExitCode.Usage);
        assert.match(error.message, new RegExp(`^source folder ${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be read: E[A-Z]+$`));
        assert.equal(error.hint, 'check `source` in the config or the -f folder');
        return true;
      });
    });
  }
});

describe('noBackupError: a source without any backup', () => {
  test('folders named like stamps: one VM\'s folder, the parent named; otherwise the folders found; exit 2 either way', async (t) => {
    const source = tmpDir('scan', t);
    makeBackupTree(source, { [`Bart/${STAMP}`]: { 'disk.vmdk': 10 }, [`Bart/${OLDER}`]: { 'disk.vmdk': 10 } });
    const vmFolder = path.join(source, 'Bart');
    const oneVm = noBackupError(vmFolder, await scanSource(vmFolder));
    assert.equal(exitCodeOf(oneVm), ExitCode.Usage);
    assert.equal(
      oneVm.message,
      `source folder ${vmFolder} holds no <VM>/<STAMP> backup: its folders ${OLDER}, ${STAMP} are backup stamps, so it looks like the folder of one VM (Bart), not the folder of all VMs; nothing was sent or deleted`,
    );
    assert.equal(oneVm.hint, `is \`source\` (or -f) right? Point it at the folder that holds one folder per VM: ${source}`);

    mkdirSync(path.join(source, 'Raoul'));
    const emptyVms = path.join(source, 'empty');
    mkdirSync(path.join(emptyVms, 'Raoul'), { recursive: true });
    assert.match(noBackupError(emptyVms, await scanSource(emptyVms)).message, /: none of its folders \(Raoul\) holds a yyyy-MM-dd-HHmmss folder with files; nothing was sent or deleted$/);
    const nothing = tmpDir('scan', t);
    assert.match(noBackupError(nothing, await scanSource(nothing)).message, /holds no <VM>\/<STAMP> backup: it holds no folder; /);
  });
});
