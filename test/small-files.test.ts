// Small files (issue 19): a file the probe's answer carries whole is read as one stream, without
// a segmented round; a failure in its body starts it again from byte 0; nothing is at the output
// path until it is complete.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { wholeAnswer } from '../src/engine/single-stream.js';
import type { ResourceInfo } from '../src/engine/resource.js';
import { qget } from '../src/index.js';
import { KiB, makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, listDir, useFixtures } from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();

const info = (size: number | undefined): ResourceInfo => ({
  url: 'http://x/a.bin',
  finalUrl: 'http://x/a.bin',
  size,
  acceptRanges: true,
  etag: '"v1"',
  lastModified: undefined,
  filename: 'a.bin',
});

describe('small files: the whole answer', () => {
  it('is taken when the probe answer holds all of a file of at most 1 MiB, nothing else to weigh', () => {
    const whole = (size: number) => ({ info: info(size), start: 0, servedEnd: size });
    assert.equal(wholeAnswer({}, whole(256 * KiB), [], []), true);
    assert.equal(wholeAnswer({}, whole(1 * MiB), [], []), true);
    assert.equal(wholeAnswer({}, whole(1 * MiB + 1), [], []), false, 'larger than 1 MiB');
    assert.equal(wholeAnswer({}, whole(0), [], []), false, 'empty: nothing to read');
    const unknown = { info: info(undefined), start: 0, servedEnd: 100 };
    assert.equal(wholeAnswer({}, unknown, [], []), false, 'size unknown');
    const part = { info: info(300 * KiB), start: 0, servedEnd: 200 * KiB };
    assert.equal(wholeAnswer({}, part, [], []), false, 'the answer holds a part');
    const later = { info: info(300 * KiB), start: 100, servedEnd: 300 * KiB };
    assert.equal(wholeAnswer({}, later, [], []), false, 'not from byte 0');
    assert.equal(wholeAnswer({}, whole(300 * KiB), [[0, 100]], []), false, 'resuming');
    assert.equal(wholeAnswer({}, whole(300 * KiB), [], ['http://m/a.bin']), false, 'mirrors');
    const pieces = { pieces: { algorithm: 'sha256' as const, length: 1024, hashes: [] } };
    assert.equal(wholeAnswer(pieces, whole(300 * KiB), [], []), false, 'piece hashes');
  });

  it('downloads a small ranged file with its one answer and leaves only the file', async () => {
    const content = makeContent(300 * KiB, 71);
    const s = await serve({ content });
    const dir = await tempDir();
    const out = join(dir, 'small.bin');
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 8 });
    await assertFileEquals(out, content);
    assert.equal(result.size, content.length);
    const gets = s.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 1, 'one request');
    assert.deepEqual(await listDir(dir), ['small.bin']);
  });

  it('starts again from byte 0 when the answer is cut, and writes the right bytes', async () => {
    const content = makeContent(600 * KiB, 72);
    const s = await serve({ content, cutAfterBytes: 200 * KiB, cutTimes: 2 });
    const dir = await tempDir();
    const out = join(dir, 'cut.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 8 });
    await assertFileEquals(out, content);
    const gets = s.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 3, 'two cut answers, then the whole');
    assert.deepEqual(await listDir(dir), ['cut.bin']);
  });
});
