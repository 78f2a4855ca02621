// Tests for src/engine/control-file.ts: the resume state's round trip, what a damaged file
// gives, and when saved bytes may be trusted for a fresh probe's answer.
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  controlState,
  loadControl,
  readControl,
  lookControlSync,
  removeControl,
  sameResource,
  saveControl,
} from '../src/engine/control-file.js';
import type { ResourceInfo } from '../src/engine/resource.js';
import { useFixtures } from './helpers/fixture.js';

const { tempDir } = useFixtures();

const info: ResourceInfo = {
  url: 'http://example.test/a.bin',
  finalUrl: 'http://cdn.example.test/a.bin',
  size: 1000,
  acceptRanges: true,
  etag: '"v1"',
  lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
  filename: 'a.bin',
};

describe('control file', () => {
  it('tells no file apart from an unreadable one (only the latter is removed at the end)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'x.qget');
    assert.deepEqual(await readControl(path), { state: undefined, found: false });
    assert.deepEqual(lookControlSync(path), { state: undefined, found: false });
    await writeFile(path, '{not json');
    assert.deepEqual(await readControl(path), { state: undefined, found: true });
    assert.deepEqual(lookControlSync(path), { state: undefined, found: true });
    // A folder where the file should be is there, though not a state.
    const folder = join(dir, 'y.qget');
    await mkdir(folder);
    assert.deepEqual(await readControl(folder), { state: undefined, found: true });
    assert.deepEqual(lookControlSync(folder), { state: undefined, found: true });
    await saveControl(path, controlState(info, [[0, 10]]));
    assert.deepEqual((await readControl(path)).state?.ranges, [[0, 10]]);
    assert.deepEqual(lookControlSync(path).state?.ranges, [[0, 10]]);
  });

  it('saves merged ranges atomically and loads them back', async () => {
    const dir = await tempDir();
    const path = join(dir, 'a.bin.qget');
    const state = controlState(info, [
      [500, 600],
      [0, 100],
      [100, 200],
    ]);
    assert.deepEqual(state.ranges, [
      [0, 200],
      [500, 600],
    ]);
    await saveControl(path, state);
    assert.deepEqual(await readdir(dir), ['a.bin.qget'], 'no temporary file left');
    const loaded = await loadControl(path);
    assert.ok(loaded);
    assert.equal(loaded.url, info.url);
    assert.equal(loaded.finalUrl, info.finalUrl);
    assert.equal(loaded.size, 1000);
    assert.equal(loaded.etag, '"v1"');
    assert.deepEqual(loaded.ranges, state.ranges);
    await removeControl(path);
    assert.deepEqual(await readdir(dir), []);
  });

  it('gives nothing for a missing, truncated or foreign file, and drops bad ranges', async () => {
    const dir = await tempDir();
    const path = join(dir, 'x.qget');
    assert.equal(await loadControl(path), undefined);
    await writeFile(path, '{"version":1,"url":"http://e');
    assert.equal(await loadControl(path), undefined);
    await writeFile(path, JSON.stringify({ version: 2, url: 'u', ranges: [] }));
    assert.equal(await loadControl(path), undefined);
    await writeFile(
      path,
      JSON.stringify({
        ...controlState(info, []),
        ranges: [
          [0, 10],
          [20, 15],
          [-5, 3],
          ['a', 9],
          [30, 40.5],
          [50, 60],
        ],
      }),
    );
    assert.deepEqual((await loadControl(path))?.ranges, [
      [0, 10],
      [50, 60],
    ]);
  });

  it('trusts saved bytes only for the same size and validators', () => {
    const saved = controlState(info, [[0, 100]]);
    assert.equal(sameResource(saved, info), true);
    assert.equal(sameResource(saved, { ...info, finalUrl: 'http://other.test/a.bin' }), true);
    assert.equal(sameResource(saved, { ...info, size: 1001 }), false);
    assert.equal(sameResource(saved, { ...info, etag: '"v2"' }), false);
    assert.equal(sameResource(saved, { ...info, etag: undefined }), false);
    assert.equal(
      sameResource(saved, { ...info, lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT' }),
      false,
    );
    assert.equal(sameResource(saved, { ...info, acceptRanges: false }), false);
  });

  it('never trusts a resource without any validator', () => {
    const bare = { ...info, etag: undefined, lastModified: undefined };
    assert.equal(sameResource(controlState(bare, [[0, 100]]), bare), false);
  });
});
