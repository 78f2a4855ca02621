// Tests for src/engine/checksum.ts: spec parsing, streaming hashing, verification.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { hashFile, parseChecksum, verifyChecksum } from '../src/engine/checksum.js';
import { ChecksumError, InvalidOptionError, LocalIoError } from '../src/errors.js';
import { useFixtures } from './helpers/fixture.js';

const HELLO_SHA256 = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const HELLO_MD5 = '5d41402abc4b2a76b9719d911017c592';

describe('parseChecksum', () => {
  it('reads algorithm=hex in any case and lower-cases the digest', () => {
    assert.deepEqual(parseChecksum(`sha256=${HELLO_SHA256.toUpperCase()}`), {
      algorithm: 'sha256',
      digest: HELLO_SHA256,
    });
    assert.deepEqual(parseChecksum(`SHA-256=${HELLO_SHA256}`), {
      algorithm: 'sha256',
      digest: HELLO_SHA256,
    });
    assert.deepEqual(parseChecksum(`Sha-256:${HELLO_SHA256}`), {
      algorithm: 'sha256',
      digest: HELLO_SHA256,
    });
    assert.deepEqual(parseChecksum(`md5=${HELLO_MD5}`), { algorithm: 'md5', digest: HELLO_MD5 });
    assert.equal(parseChecksum(`sha1=${'a'.repeat(40)}`).algorithm, 'sha1');
    assert.equal(parseChecksum(`sha-512=${'B'.repeat(128)}`).digest, 'b'.repeat(128));
  });

  it('converts base64 digests, standard or URL-safe, to hex', () => {
    const bytes = Buffer.from(HELLO_SHA256, 'hex');
    assert.equal(parseChecksum(`sha256=${bytes.toString('base64')}`).digest, HELLO_SHA256);
    assert.equal(parseChecksum(`sha256=${bytes.toString('base64url')}`).digest, HELLO_SHA256);
    const md5 = Buffer.from(HELLO_MD5, 'hex').toString('base64');
    assert.equal(parseChecksum(`md5=${md5}`).digest, HELLO_MD5);
  });

  it('throws InvalidOptionError with a sentence for bad specs', () => {
    const cases: [string, RegExp][] = [
      ['', /not a checksum/],
      [HELLO_SHA256, /not a checksum/],
      ['=abc', /not a checksum/],
      [`crc32=${HELLO_MD5}`, /not a supported checksum algorithm/],
      [`sha256=${HELLO_MD5}`, /expected 64 hex digits or 44 base64 characters/],
      [`sha256=${HELLO_SHA256}0`, /not a sha256 digest/],
      [`sha256=${'g'.repeat(64)}`, /not a sha256 digest/],
      [`md5=${'x'.repeat(22)}=!`, /not a md5 digest/],
      ['sha1=', /not a sha1 digest/],
    ];
    for (const [spec, pattern] of cases) {
      assert.throws(
        () => parseChecksum(spec),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          pattern.test(error.message) &&
          error.message.endsWith('.'),
        spec,
      );
    }
  });
});

const fx = useFixtures();

describe('hashFile and verifyChecksum', () => {
  let dir: string;
  let file: string;
  const content = Buffer.alloc(300_000, 'abcdefghij');

  before(async () => {
    dir = await fx.tempDir();
    file = join(dir, 'data.bin');
    await writeFile(file, content);
  });

  it('hashes with each algorithm, reporting progress per chunk', async () => {
    for (const algorithm of ['sha256', 'sha1', 'sha512', 'md5'] as const) {
      const expected = createHash(algorithm).update(content).digest('hex');
      const progress: number[] = [];
      const actual = await hashFile(file, algorithm, {
        chunkBytes: 64 * 1024,
        onProgress: (bytes) => progress.push(bytes),
      });
      assert.equal(actual, expected, algorithm);
      assert.deepEqual(progress, [65536, 131072, 196608, 262144, 300000]);
    }
  });

  it('verifies a matching digest and throws ChecksumError on mismatch', async () => {
    const digest = createHash('sha256').update(content).digest('hex');
    await verifyChecksum(file, { algorithm: 'sha256', digest });
    await verifyChecksum(file, parseChecksum(`SHA-256=${digest.toUpperCase()}`));
    await assert.rejects(
      verifyChecksum(file, { algorithm: 'sha256', digest: HELLO_SHA256 }),
      (error: unknown) =>
        error instanceof ChecksumError &&
        error.code === 'ERR_CHECKSUM' &&
        error.message.includes(HELLO_SHA256) &&
        error.message.includes(digest),
    );
  });

  it('stops with the signal reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    let calls = 0;
    await assert.rejects(
      hashFile(file, 'sha256', {
        chunkBytes: 1024,
        signal: controller.signal,
        onProgress: () => {
          calls++;
          if (calls === 3) controller.abort(reason);
        },
      }),
      (error) => error === reason,
    );
    assert.equal(calls, 3);
    await assert.rejects(
      hashFile(file, 'md5', { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
  });

  it('reports unreadable files as LocalIoError', async () => {
    await assert.rejects(hashFile(join(dir, 'missing'), 'sha256'), (error: unknown) => {
      return (
        error instanceof LocalIoError && /missing/.test(error.message) && error.cause !== undefined
      );
    });
    await assert.rejects(hashFile(file, 'sha256', { chunkBytes: 0 }), InvalidOptionError);
  });
});
