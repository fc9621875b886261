import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseControlResponse } from 'basic-ftp/dist/parseControlResponse.js';
import { listingDifference, listingFormat, parseStatReply, statMayList, type StatListing } from '../../src/ftp/listing.js';
import type { RemoteEntry } from '../../src/ftp/session.js';

/**
 * Real replies, captured by scripts/capture-stat-replies.ts from each server on 127.0.0.1 (raw,
 * CR LF kept), with basic-ftp's MLSD/LIST listing of the same folders next to them.
 */
interface Capture {
  readonly server: 'ftp-srv' | 'pure-ftpd' | 'proftpd' | 'vsftpd';
  readonly stat: Readonly<Record<string, string>>;
  readonly plain: Readonly<Record<string, readonly [string, RemoteEntry['kind'], number][]>>;
}

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'stat-replies');
const SERVERS = ['ftp-srv', 'pure-ftpd', 'proftpd', 'vsftpd'] as const;
const captures = new Map(SERVERS.map((server) => [server, JSON.parse(readFileSync(path.join(FIXTURES, `${server}.json`), 'utf8')) as Capture]));

const TRICKY_NAMES = [
  ' lead', 'inner space', 'trail ', 'ünïcødé-日本', '#hash', 'semi;colon', 'per%cent', '[brackets]', '{braces}',
  '211 x', '213 End.', '-dash', 'star*', 'q?', 'tilde~', 'a -> b', 'Nov 23 12:00 x',
];

/** Returns the reply to STAT `dir` as FtpSession gets it: basic-ftp's first complete message and its code. */
function replyOf(server: (typeof SERVERS)[number], dir: string): { code: number; message: string; messages: number } {
  const raw = captures.get(server)?.stat[dir];
  assert.ok(raw !== undefined, `${server}: no capture of STAT ${dir}`);
  const { messages } = parseControlResponse(raw);
  const message = messages[0] ?? '';
  return { code: Number.parseInt(message.slice(0, 3), 10), message, messages: messages.length };
}

function statOf(server: (typeof SERVERS)[number], dir: string): StatListing {
  const { code, message } = replyOf(server, dir);
  return parseStatReply(code, message);
}

function plainOf(server: (typeof SERVERS)[number], dir: string): RemoteEntry[] {
  return (captures.get(server)?.plain[dir] ?? []).map(([name, kind, size]) => ({ name, kind, size }));
}

function entriesOf(listing: StatListing): RemoteEntry[] {
  assert.equal(listing.kind, 'listing', JSON.stringify(listing));
  return listing.kind === 'listing' ? listing.entries : [];
}

const byName = (a: RemoteEntry, b: RemoteEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

describe('parseStatReply on captured replies', () => {
  for (const server of SERVERS) {
    describe(server, () => {
      it('reads a folder of tricky names exactly as MLSD/LIST does', () => {
        const entries = entriesOf(statOf(server, '/tree'));
        assert.equal(listingDifference(entries, plainOf(server, '/tree')), undefined);
        const names = new Set(entries.map((entry) => entry.name));
        for (const name of TRICKY_NAMES) assert.ok(names.has(name), `${server}: ${JSON.stringify(name)} missing`);
        assert.ok(names.has('sub dir') && names.has('link-file') && names.has('link-dir'));
        assert.deepEqual(entries.find((entry) => entry.name === ' lead'), { name: ' lead', kind: 'file', size: 1 });
        assert.deepEqual(entries.find((entry) => entry.name === 'trail '), { name: 'trail ', kind: 'file', size: 21 });
      });

      it('reads a backup folder with its file sizes', () => {
        const entries = entriesOf(statOf(server, '/tree/plain'));
        assert.deepEqual(entries, [{ name: 'VM01-flat.vmdk', kind: 'file', size: 12345 }]);
        assert.equal(listingDifference(entries, plainOf(server, '/tree/plain')), undefined);
      });

      it('reads 1,000 entries of one folder (a reply basic-ftp itself refuses: over 64 KiB)', () => {
        const raw = captures.get(server)?.stat['/big'] ?? '';
        assert.ok(raw.length > 2 ** 16, `${server}: ${raw.length} characters`);
        const entries = entriesOf(statOf(server, '/big'));
        assert.equal(entries.length, 1000);
        assert.equal(listingDifference(entries, plainOf(server, '/big')), undefined);
        assert.deepEqual([...entries].sort(byName)[999], { name: 'VM0999-disk.vmdk', kind: 'file', size: 999 });
      });
    });
  }

  it('symlinks: their own name, kind other (pure-ftpd, proftpd, vsftpd); ftp-srv follows them', () => {
    for (const server of ['pure-ftpd', 'proftpd', 'vsftpd'] as const) {
      const entries = entriesOf(statOf(server, '/tree'));
      assert.deepEqual(entries.find((entry) => entry.name === 'link-file'), { name: 'link-file', kind: 'other', size: 11 });
      assert.deepEqual(entries.find((entry) => entry.name === 'link-dir'), { name: 'link-dir', kind: 'other', size: 7 });
      // A regular file whose name holds ' -> ' keeps its whole name.
      assert.equal(entries.find((entry) => entry.name === 'a -> b')?.kind, 'file');
    }
    const ftpSrv = entriesOf(statOf('ftp-srv', '/tree'));
    assert.equal(ftpSrv.find((entry) => entry.name === 'link-dir')?.kind, 'dir');
  });

  it('a missing folder: empty 213 (pure-ftpd, vsftpd) is ambiguous, 450 (proftpd, ftp-srv) unusable; never an empty folder', () => {
    for (const dir of ['/missing', '/tree/plain/missing/deeper']) {
      assert.deepEqual(statOf('pure-ftpd', dir), { kind: 'ambiguous' });
      assert.deepEqual(statOf('vsftpd', dir), { kind: 'ambiguous' });
      assert.equal(statOf('proftpd', dir).kind, 'unusable');
      assert.equal(statOf('ftp-srv', dir).kind, 'unusable');
    }
  });

  it('an empty folder: its own "." shows it exists (pure-ftpd -D, proftpd, vsftpd); ftp-srv sends nothing: ambiguous', () => {
    for (const server of ['pure-ftpd', 'proftpd', 'vsftpd'] as const) {
      assert.deepEqual(statOf(server, '/empty'), { kind: 'listing', entries: [], sawDot: true });
    }
    assert.deepEqual(statOf('ftp-srv', '/empty'), { kind: 'ambiguous' });
    // proftpd answers a folder with 212, the others with 213.
    assert.equal(replyOf('proftpd', '/empty').code, 212);
    assert.equal(replyOf('pure-ftpd', '/empty').code, 213);
  });

  it('a file: a name with its path is refused (pure-ftpd, proftpd 213, ftp-srv 212); vsftpd lists the file alone, without "."', () => {
    for (const server of ['pure-ftpd', 'proftpd', 'ftp-srv'] as const) assert.equal(statOf(server, '/tree/plain/VM01-flat.vmdk').kind, 'unusable');
    assert.deepEqual(statOf('vsftpd', '/tree/plain/VM01-flat.vmdk'), {
      kind: 'listing',
      entries: [{ name: 'VM01-flat.vmdk', kind: 'file', size: 12345 }],
      sawDot: false,
    });
  });

  it('globs: pure-ftpd and vsftpd expand STAT /tre* (so statMayList refuses such paths); proftpd and ftp-srv answer 450', () => {
    assert.ok(entriesOf(statOf('pure-ftpd', '/tre*')).some((entry) => entry.name === 'sub dir'));
    assert.deepEqual(entriesOf(statOf('vsftpd', '/tre*')).map((entry) => entry.name), ['tree']);
    assert.equal(statOf('proftpd', '/tre*').kind, 'unusable');
    assert.equal(statOf('ftp-srv', '/tre*').kind, 'unusable');
    assert.equal(statMayList('/tre*'), false);
  });

  it('pure-ftpd splits the argument at spaces: "STAT /tree/sub dir" lists nothing; the others list the folder', () => {
    assert.deepEqual(statOf('pure-ftpd', '/tree/sub dir'), { kind: 'ambiguous' });
    for (const server of ['proftpd', 'vsftpd'] as const) assert.deepEqual(statOf(server, '/tree/sub dir'), { kind: 'listing', entries: [], sawDot: true });
    assert.equal(statMayList('/tree/sub dir'), false);
  });

  it('CR LF inside a name ends the reply early (ftp-srv, proftpd, vsftpd): why a STAT-listed connection is never reused', () => {
    for (const server of ['ftp-srv', 'proftpd', 'vsftpd'] as const) {
      // The reply seems to end at a line that is part of a name ("213 End of status", "212 z"): the
      // rest and the server's real last line are left over on the connection, to answer the next command.
      const reply = replyOf(server, '/nl');
      const last = reply.message.split('\n').at(-1);
      assert.ok(last === '213 End of status' || last === '212 z', `${server}: ${JSON.stringify(reply.message)}`);
    }
    // pure-ftpd leaves such names out of its listings.
    assert.equal(replyOf('pure-ftpd', '/nl').messages, 1);
    assert.deepEqual(statOf('pure-ftpd', '/nl'), { kind: 'listing', entries: [], sawDot: true });
  });
});

describe('parseStatReply refuses what it cannot read back exactly', () => {
  const line = (name: string, type = '-', size = 10) => `${type}rw-r--r--    1 65534      nogroup   ${String(size).padStart(10)} Nov 23 23:15 ${name}`;
  const reply = (code: number, ...body: string[]) => [`${code}-STAT`, ...body, `${code} End.`].join('\n');

  const refused: [what: string, code: number, message: string][] = [
    ['a single-line 211', 211, '211 https://www.pureftpd.org/'],
    ['500 not understood', 500, '500 Unknown command'],
    ['502 not implemented', 502, '502 Command not implemented'],
    ['504 not for that parameter', 504, '504 Not implemented for that parameter'],
    ['550 no access', 550, '550 Permission denied'],
    ['450 missing', 450, '450 /x: No such file or directory'],
    ['a last line of another code', 213, '213-STAT\n' + line('a') + '\n211 End.'],
    ['a name-only line', 213, reply(213, 'just-a-name')],
    ['an MLSD-style line', 213, reply(213, 'type=file;size=1; a')],
    ['a DOS-style line', 213, reply(213, '11-23-26  11:15PM                 1 a')],
    ['a device file', 213, reply(213, line('sda', 'b'))],
    ['an owner with a space', 213, reply(213, '-rw-r--r--    1 John Doe   nogroup          1 Nov 23 23:15 a')],
    ['a name with a slash', 213, reply(213, line('/x/a'))],
    ['a name with a tab', 213, reply(213, line('tab\tname'))],
    ['a repeated name', 213, reply(213, line('a'), line('a'))],
    ['a symlink with two arrows', 213, reply(213, line('a -> b -> c', 'l'))],
    ['"." that is not a folder', 213, reply(213, line('.'))],
    ['some lines indented, some not', 212, reply(212, ` ${line('a')}`, line('b'))],
    ['a date basic-ftp reads otherwise', 213, reply(213, '-rw-r--r--    1 o g 5 Nov 23 23:15 1 Jan 10 10:00 evil')],
  ];
  for (const [what, code, message] of refused) {
    it(what, () => assert.equal(parseStatReply(code, message).kind, 'unusable', message));
  }

  it('drops "total N", ".", ".." and reads a year instead of a time', () => {
    const listing = parseStatReply(213, reply(213, 'total 8', line('.', 'd'), line('..', 'd'), '-rw-r--r--    1 o g 7 Nov 23  2024 old'));
    assert.deepEqual(listing, { kind: 'listing', entries: [{ name: 'old', kind: 'file', size: 7 }], sawDot: true });
  });

  it('an empty body and a body of "total 0" are ambiguous, not empty folders', () => {
    assert.deepEqual(parseStatReply(213, reply(213)), { kind: 'ambiguous' });
    assert.deepEqual(parseStatReply(211, reply(211, 'total 0')), { kind: 'ambiguous' });
  });
});

describe('statMayList', () => {
  const table: [dir: string, may: boolean][] = [
    ['/backups', true],
    ['/backups/VM01/2024-05-01-013000', true],
    ['/backups/VM01/2024-05-01-013000.partial/sub', true],
    ['/', true],
    ['/pub/ünïcødé/#1;%', true],
    ['backups', false], // relative: depends on the working folder
    ['/backups/*', false],
    ['/backups/VM?', false],
    ['/backups/[VM]', false],
    ['/backups/{a,b}', false],
    ['~/backups', false],
    ['/backups/~x', false],
    ['/backups/-la', false],
    ['/-R/x', false],
    ['/backups/VM 1', false], // pure-ftpd splits at spaces
    ['/backups/VM1 ', false],
    ['/backups/a\tb', false],
    ['/backups/a\r\nDELE x', false],
    ['/backups\\x', false],
  ];
  for (const [dir, may] of table) it(`${JSON.stringify(dir)} -> ${may}`, () => assert.equal(statMayList(dir), may));
});

describe('listingDifference', () => {
  const a: RemoteEntry = { name: 'a', kind: 'file', size: 1 };
  const d: RemoteEntry = { name: 'd', kind: 'dir', size: 4096 };
  it('same names, kinds and file sizes, in any order: no difference; folder sizes are not compared', () => {
    assert.equal(listingDifference([a, d], [{ ...d, size: 0 }, a]), undefined);
  });
  it('a missing or extra name, another kind, another file size: a difference', () => {
    assert.match(listingDifference([a], [a, d]) ?? '', /1 entries by STAT, 2/);
    assert.match(listingDifference([a, { ...d, name: 'e' }], [a, d]) ?? '', /"e" only in the STAT listing/);
    assert.match(listingDifference([a, { ...d, kind: 'file' }], [a, d]) ?? '', /file by STAT, dir/);
    assert.match(listingDifference([{ ...a, size: 2 }, d], [a, d]) ?? '', /2 bytes by STAT, 1/);
    assert.match(listingDifference([a, a], [a, a]) ?? '', /repeats a name/);
  });
});

describe('listingFormat', () => {
  it('tells MS-DOS (IIS), Unix and MLSD lines apart by the first line', () => {
    assert.equal(listingFormat('11-28-26  06:25PM       <DIR>          Bart\r\n'), 'MS-DOS');
    assert.equal(listingFormat('11-28-2026  18:25              300000 disk1.vmdk\r\n'), 'MS-DOS');
    assert.equal(listingFormat('total 8\r\n-rw-r--r--   1 root     root       300000 Nov 28 18:25 disk1.vmdk\r\n'), 'Unix');
    assert.equal(listingFormat('drwxr-xr-x 2 ftp ftp 4096 Nov 28  2026 Bart\n'), 'Unix');
    assert.equal(listingFormat('type=file;size=300000;modify=20261128182500; disk1.vmdk\r\n'), 'MLSD');
  });
  it('returns undefined for an empty listing or an unknown format', () => {
    assert.equal(listingFormat(''), undefined);
    assert.equal(listingFormat('\r\ntotal 0\r\n'), undefined);
    assert.equal(listingFormat('disk1.vmdk\r\n'), undefined);
  });
});
