// The .part file: positional writes, background flushing, and local errors in one sentence.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { localIoError, PartFile } from '../src/engine/part-file.js';
import { useFixtures } from './helpers/fixture.js';

const fx = useFixtures();

describe('PartFile', () => {
  it('writes batches at their offsets, in any order, with background flushes on', async () => {
    const dir = await fx.tempDir();
    const part = await PartFile.open(join(dir, 'x.part'));
    part.flushEvery = 1024 * 1024;
    const a = Buffer.alloc(1024 * 1024, 1);
    const b = Buffer.alloc(1024 * 1024, 2);
    const c = Buffer.alloc(512 * 1024, 3);
    await Promise.all([
      part.write([c], 2 * 1024 * 1024),
      part.write([a], 0),
      part.write([b], a.length),
    ]);
    await part.sync();
    await part.close();
    const bytes = await readFile(join(dir, 'x.part'));
    assert.ok(bytes.equals(Buffer.concat([a, b, c])));
  });

  it('keeps what a previous run wrote (no truncation on open)', async () => {
    const dir = await fx.tempDir();
    const path = join(dir, 'y.part');
    const first = await PartFile.open(path);
    await first.write([Buffer.from('hello')], 0);
    await first.close();
    const again = await PartFile.open(path);
    assert.equal(await again.size(), 5);
    await again.close();
    const emptied = await PartFile.open(path, { truncate: true });
    assert.equal(await emptied.size(), 0, 'truncate: the bytes of no use are gone');
    await emptied.close();
  });

  it('says what went wrong locally in one sentence', () => {
    const err = localIoError(
      Object.assign(new Error('x'), { code: 'ENOSPC' }),
      'write to',
      '/d/f.part',
    );
    assert.equal(err.code, 'ERR_LOCAL_IO');
    assert.equal(err.message, 'cannot write to /d/f.part: no space left on the device (ENOSPC)');
  });
});
