import { createHash, type Hash } from 'node:crypto';
import zlib from 'node:zlib';

/** The digests `verify: 'hash'` can compare, strongest first: the order a server's offer is taken in. */
export const HASH_ALGORITHMS = ['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** How a server is asked for a file's digest: the HASH command (draft-bryan-ftpext-hash) or an older X command. */
export interface RemoteHashMethod {
  readonly command: 'HASH' | 'XSHA256' | 'XSHA512' | 'XSHA1' | 'XMD5' | 'XCRC';
  readonly algorithm: HashAlgorithm;
}

const X_COMMANDS: Readonly<Record<HashAlgorithm, readonly RemoteHashMethod['command'][]>> = {
  'SHA-256': ['XSHA256'],
  'SHA-512': ['XSHA512'],
  'SHA-1': ['XSHA1'],
  MD5: ['XMD5'],
  CRC32: ['XCRC'],
};

/** Hex digits of each digest: a reply token of another length is not the digest. */
const HEX_LENGTH: Readonly<Record<HashAlgorithm, number>> = { 'SHA-256': 64, 'SHA-512': 128, 'SHA-1': 40, MD5: 32, CRC32: 8 };

/**
 * Returns the strongest digest the server offers in its FEAT reply, asked for with HASH when
 * the server lists the algorithm there, else with the X command of the same algorithm;
 * undefined when it offers none this machine can compute.
 */
export function chooseRemoteHash(features: ReadonlyMap<string, string>, localAlgorithms = availableAlgorithms()): RemoteHashMethod | undefined {
  // FEAT lists e.g. "HASH SHA-256*;SHA-1;MD5;CRC32": the star marks the server's current choice.
  const hashOffer = new Set(
    (features.get('HASH') ?? '')
      .split(';')
      .map((name) => name.replace(/\*$/, '').trim().toUpperCase())
      .filter((name) => name !== ''),
  );
  const offered = new Set([...features.keys()].map((key) => key.toUpperCase()));
  for (const algorithm of HASH_ALGORITHMS) {
    if (!localAlgorithms.has(algorithm)) continue;
    if (offered.has('HASH') && hashOffer.has(algorithm)) return { command: 'HASH', algorithm };
    const command = X_COMMANDS[algorithm].find((name) => offered.has(name));
    if (command !== undefined) return { command, algorithm };
  }
  return undefined;
}

/** CRC32 needs zlib.crc32 (Node 20.15+); the other digests are always there. */
function availableAlgorithms(): ReadonlySet<HashAlgorithm> {
  return new Set(HASH_ALGORITHMS.filter((algorithm) => algorithm !== 'CRC32' || typeof zlib.crc32 === 'function'));
}

/**
 * Returns the lower-case hex digest in a server's reply to a hash command about a file of
 * `size` bytes, or undefined when the reply holds none. HASH answers
 * `213 <algorithm> <start>-<end> <hex> <path>` and must cover the whole file; the X commands
 * answer `250 <hex>` or `213 <hex>`, sometimes with the path after it. Only the last line
 * counts: proftpd sends `213-Computing SHA-256 digest` first while it reads the file.
 */
export function parseRemoteHash(method: RemoteHashMethod, code: number, message: string, size: number): string | undefined {
  if (code < 200 || code >= 300) return undefined;
  const lastLine = message.trimEnd().split('\n').at(-1) ?? '';
  const tokens = lastLine.replace(/^\d{3}[ -]/, '').trim().split(/\s+/);
  let candidate: string | undefined;
  if (method.command === 'HASH') {
    if (tokens[0]?.toUpperCase() !== method.algorithm || !coversWholeFile(tokens[1], size)) return undefined;
    candidate = tokens[2];
  } else {
    candidate = tokens[0];
  }
  if (candidate === undefined) return undefined;
  const hex = candidate.toLowerCase();
  // Some servers drop the leading zeros of a CRC32.
  const padded = method.algorithm === 'CRC32' ? hex.padStart(HEX_LENGTH.CRC32, '0') : hex;
  return padded.length === HEX_LENGTH[method.algorithm] && /^[0-9a-f]+$/.test(padded) ? padded : undefined;
}

/** The draft leaves open whether `<end>` is the last byte or the one after it: either, from byte 0. */
function coversWholeFile(range: string | undefined, size: number): boolean {
  const match = /^(\d+)-(\d+)$/.exec(range ?? '');
  return match !== null && Number(match[1]) === 0 && (Number(match[2]) === size || Number(match[2]) === size - 1);
}

/** A digest computed as the bytes of a file go by, in order, from its first byte. */
export interface LocalDigest {
  readonly algorithm: HashAlgorithm;
  update(chunk: Buffer): void;
  /** Lower-case hex, as parseRemoteHash returns it. Call once, after the last byte. */
  hex(): string;
}

/** Returns an empty digest of `algorithm`. */
export function createLocalDigest(algorithm: HashAlgorithm): LocalDigest {
  if (algorithm === 'CRC32') {
    let crc = 0;
    return {
      algorithm,
      update: (chunk) => {
        crc = zlib.crc32(chunk, crc);
      },
      hex: () => crc.toString(16).padStart(HEX_LENGTH.CRC32, '0'),
    };
  }
  const hash: Hash = createHash(algorithm.replace('-', '').toLowerCase());
  return { algorithm, update: (chunk) => hash.update(chunk), hex: () => hash.digest('hex') };
}
