// A server-given name at the file system's limit: shortened in bytes so that the name and every
// file qget keeps beside it (.part, .qget, .qget.lock, a renaming number) fit 255 bytes.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { Downloader, Manager } from '../src/index.js';
import { makeContent } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';

const fx = useFixtures();

test('a 300-byte Content-Disposition name downloads (twice in one run: renamed) and fits', async () => {
  const content = makeContent(512 * 1024, 31);
  const name = `${'ü'.repeat(150)}.iso`;
  const server = await fx.serve({
    content,
    contentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
  });
  const dir = await fx.tempDir();
  const manager = new Manager({ maxRunning: 2, downloadOptions: { dirPath: dir } });
  const downloads = [
    manager.add(new Downloader(server.fileUrl, { dirPath: dir })),
    manager.add(new Downloader(`${server.fileUrl}?again`, { dirPath: dir })),
  ];
  manager.start();
  await manager.onIdle();
  await manager.stop();
  for (const d of downloads) {
    assert.equal(d.state, 'complete', String(d.lastError));
    await assertFileEquals(d.path as string, content);
  }
  const names = await readdir(dir);
  assert.equal(names.length, 2, names.join(', '));
  for (const n of names) {
    assert.ok(n.endsWith('.iso'), n);
    assert.ok(Buffer.byteLength(`${n}.qget.lock`) <= 255, `${n} leaves room for its lock`);
  }
  assert.ok(names.some((n) => n.endsWith('.1.iso')));
});
