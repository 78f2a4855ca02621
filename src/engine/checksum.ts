// Checksums asked for on the command line (`sha256=<hex>`): parsing the spec, hashing a finished
// file in bounded memory, and verifying it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ChecksumError, InvalidOptionError, isQgetError, LocalIoError } from '../errors.js';

export type ChecksumAlgorithm = 'sha256' | 'sha1' | 'sha512' | 'md5';

export interface ChecksumSpec {
  algorithm: ChecksumAlgorithm;
  /** Lower-case hex. */
  digest: string;
}

export interface HashFileOptions {
  /** Read size; memory use stays around this. Default 1 MiB. */
  chunkBytes?: number;
  /** Called after each chunk with the bytes hashed so far. */
  onProgress?: (bytesHashed: number) => void;
  signal?: AbortSignal;
}

const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  md5: 16,
  sha1: 20,
  sha256: 32,
  sha512: 64,
};

/** Hex digits in a digest of `algorithm`. */
export function digestHexLength(algorithm: ChecksumAlgorithm): number {
  return DIGEST_BYTES[algorithm] * 2;
}

function isAlgorithm(name: string): name is ChecksumAlgorithm {
  return Object.hasOwn(DIGEST_BYTES, name);
}

/** Reads `sha256=<hex>`, `SHA-256:<hex>` or a base64 digest; the result is always lower-case hex. */
export function parseChecksum(spec: string): ChecksumSpec {
  const text = String(spec).trim();
  const separator = text.search(/[=:]/);
  if (separator <= 0) {
    throw new InvalidOptionError(
      `"${spec}" is not a checksum: write it as <algorithm>=<digest>, for example sha256=<64 hex digits>.`,
    );
  }
  const name = text.slice(0, separator).trim().toLowerCase().replace(/-/g, '');
  if (!isAlgorithm(name)) {
    throw new InvalidOptionError(
      `"${text.slice(0, separator)}" is not a supported checksum algorithm: use sha256, sha1, sha512 or md5.`,
    );
  }
  const bytes = DIGEST_BYTES[name];
  const digest = text.slice(separator + 1).trim();
  if (/^[0-9a-f]+$/i.test(digest) && digest.length === bytes * 2) {
    return { algorithm: name, digest: digest.toLowerCase() };
  }
  // Base64 (standard or URL-safe, padding optional), as in SRI hashes and many release pages.
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(digest)) {
    const standard = digest.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    const decoded = Buffer.from(standard, 'base64');
    // The round trip rejects strings Buffer would decode leniently (stray bits, bad padding).
    if (decoded.length === bytes && decoded.toString('base64').replace(/=+$/, '') === standard) {
      return { algorithm: name, digest: decoded.toString('hex') };
    }
  }
  throw new InvalidOptionError(
    `"${digest}" is not a ${name} digest: expected ${bytes * 2} hex digits or ${Math.ceil(bytes / 3) * 4} base64 characters.`,
  );
}

/** The file's digest in lower-case hex, read in chunks so memory stays bounded. */
export async function hashFile(
  path: string,
  algorithm: ChecksumAlgorithm,
  options: HashFileOptions = {},
): Promise<string> {
  const { signal, onProgress, chunkBytes = 1024 * 1024 } = options;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
    throw new InvalidOptionError(
      `the hashing chunk size must be a positive whole number of bytes, not ${chunkBytes}.`,
    );
  }
  signal?.throwIfAborted();
  const hash = createHash(algorithm);
  let hashed = 0;
  try {
    const stream = createReadStream(path, { highWaterMark: chunkBytes });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      hash.update(chunk);
      hashed += chunk.length;
      onProgress?.(hashed);
    }
  } catch (error) {
    if ((signal?.aborted && error === signal.reason) || isQgetError(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new LocalIoError(`cannot read ${path} to check its ${algorithm}: ${message}`, {
      cause: error,
    });
  }
  return hash.digest('hex');
}

/** Hashes the file and throws ChecksumError unless it matches `spec`. */
export async function verifyChecksum(
  path: string,
  spec: ChecksumSpec,
  options: HashFileOptions = {},
): Promise<void> {
  const actual = await hashFile(path, spec.algorithm, options);
  if (actual !== spec.digest.toLowerCase()) {
    throw new ChecksumError(spec.algorithm, spec.digest.toLowerCase(), actual);
  }
}
