import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { HASH_ALGORITHMS, chooseRemoteHash, createLocalDigest, parseRemoteHash, type HashAlgorithm } from '../../src/ftp/hash.js';

const feat = (lines: Record<string, string>) => new Map(Object.entries(lines));

describe('chooseRemoteHash: the strongest digest the server offers', () => {
  const rows: { offer: Record<string, string>; expected: ReturnType<typeof chooseRemoteHash> }[] = [
    // proftpd mod_digest's FEAT: HASH with every algorithm, and the X commands.
    { offer: { HASH: 'CRC32;MD5;SHA-1*;SHA-256;SHA-512;', XSHA256: '', XMD5: '', XCRC: '' }, expected: { command: 'HASH', algorithm: 'SHA-256' } },
    { offer: { HASH: 'SHA-256*;MD5' }, expected: { command: 'HASH', algorithm: 'SHA-256' } },
    { offer: { HASH: 'md5*;crc32' }, expected: { command: 'HASH', algorithm: 'MD5' } },
    // HASH without SHA-256, but XSHA256: the stronger digest wins over the newer command.
    { offer: { HASH: 'MD5*', XSHA256: '' }, expected: { command: 'XSHA256', algorithm: 'SHA-256' } },
    { offer: { XMD5: '', XCRC: '' }, expected: { command: 'XMD5', algorithm: 'MD5' } },
    { offer: { xcrc: '' }, expected: { command: 'XCRC', algorithm: 'CRC32' } },
    { offer: { XSHA1: '', XCRC: '' }, expected: { command: 'XSHA1', algorithm: 'SHA-1' } },
    { offer: { MLST: 'type*;size*;', SIZE: '', UTF8: '' }, expected: undefined },
    { offer: {}, expected: undefined },
  ];
  for (const { offer, expected } of rows) {
    test(`${JSON.stringify(offer)} -> ${expected === undefined ? 'none' : `${expected.command} ${expected.algorithm}`}`, () => {
      assert.deepEqual(chooseRemoteHash(feat(offer)), expected);
    });
  }

  test('an algorithm this Node cannot compute is skipped', () => {
    const local = new Set<HashAlgorithm>(['SHA-256', 'SHA-512', 'SHA-1', 'MD5']);
    assert.equal(chooseRemoteHash(feat({ XCRC: '' }), local), undefined);
    assert.deepEqual(chooseRemoteHash(feat({ HASH: 'CRC32*;MD5' }), local), { command: 'HASH', algorithm: 'MD5' });
  });
});

describe('parseRemoteHash: the digest in the reply, or none', () => {
  const sha256 = createHash('sha256').update('x').digest('hex');
  const md5 = createHash('md5').update('x').digest('hex');
  const hash256 = { command: 'HASH', algorithm: 'SHA-256' } as const;
  // proftpd 1.3.8's replies, as received by basic-ftp (lines joined with \n).
  test('HASH: 213 <algorithm> <range> <hex> <path>, after a "Computing" line', () => {
    assert.equal(parseRemoteHash(hash256, 213, `213-Computing SHA-256 digest\n213 SHA-256 0-300000 ${sha256.toUpperCase()} /b/Bart/disk 1.vmdk`, 300_000), sha256);
    assert.equal(parseRemoteHash(hash256, 213, `213 SHA-256 0-299999 ${sha256} /f`, 300_000), sha256, 'an inclusive end');
  });
  test('HASH of part of the file, or naming another algorithm than asked, gives none', () => {
    assert.equal(parseRemoteHash(hash256, 213, `213 SHA-256 0-1000 ${sha256} /f`, 300_000), undefined);
    assert.equal(parseRemoteHash(hash256, 213, `213 SHA-256 5-300000 ${sha256} /f`, 300_000), undefined);
    assert.equal(parseRemoteHash(hash256, 213, `213 MD5 0-300000 ${md5} /f`, 300_000), undefined);
  });
  test('X commands: 250 <hex> and 213 <hex>, path or not', () => {
    assert.equal(parseRemoteHash({ command: 'XMD5', algorithm: 'MD5' }, 250, `250-Computing MD5 digest\n250 ${md5.toUpperCase()}`, 1), md5);
    assert.equal(parseRemoteHash({ command: 'XSHA256', algorithm: 'SHA-256' }, 213, `213 ${sha256} /f`, 1), sha256);
  });
  test('XCRC without leading zeros is padded', () => {
    assert.equal(parseRemoteHash({ command: 'XCRC', algorithm: 'CRC32' }, 250, '250 bf43926', 9), '0bf43926');
  });
  test('a refusal, a wrong length or a non-hex token gives none', () => {
    const xmd5 = { command: 'XMD5', algorithm: 'MD5' } as const;
    assert.equal(parseRemoteHash(xmd5, 550, `550 ${md5}`, 1), undefined);
    assert.equal(parseRemoteHash(xmd5, 250, `250 ${md5.slice(1)}`, 1), undefined);
    assert.equal(parseRemoteHash(xmd5, 250, `250 ${md5.slice(1)}z`, 1), undefined);
    assert.equal(parseRemoteHash(xmd5, 250, '250 Computing', 1), undefined);
  });
});

describe('createLocalDigest: the same digest however the bytes are cut', () => {
  const data = randomBytes(300_000);
  const whole: Record<HashAlgorithm, string> = {
    'SHA-256': createHash('sha256').update(data).digest('hex'),
    'SHA-512': createHash('sha512').update(data).digest('hex'),
    'SHA-1': createHash('sha1').update(data).digest('hex'),
    MD5: createHash('md5').update(data).digest('hex'),
    CRC32: '',
  };
  for (const algorithm of HASH_ALGORITHMS.filter((name) => name !== 'CRC32')) {
    test(algorithm, () => {
      const digest = createLocalDigest(algorithm);
      for (let at = 0; at < data.length; at += 65_537) digest.update(data.subarray(at, at + 65_537));
      assert.equal(digest.hex(), whole[algorithm]);
    });
  }
  test('CRC32 of "123456789" is cbf43926 (the check value), in two pieces too', () => {
    const digest = createLocalDigest('CRC32');
    digest.update(Buffer.from('1234'));
    digest.update(Buffer.from('56789'));
    assert.equal(digest.hex(), 'cbf43926');
  });
});
