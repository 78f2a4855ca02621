// Resume after an interruption through qget(): the control file never claims bytes the .part
// does not hold, and the next run fetches only what is missing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProgressState, qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, exists, listDir, useFixtures } from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();

interface SavedState {
  url: string;
  size: number;
  etag: string | null;
  ranges: [number, number][];
}

/** Every range the state claims holds the right bytes in the .part. Returns the bytes claimed. */
function checkClaims(state: SavedState, part: Buffer, content: Buffer): number {
  let claimed = 0;
  for (const [a, b] of state.ranges) {
    assert.ok(a >= 0 && b > a && b <= content.length, `bad range ${a}-${b}`);
    assert.ok(b <= part.length, `claims ${a}-${b} but the .part has ${part.length} bytes`);
    assert.ok(part.subarray(a, b).equals(content.subarray(a, b)), `claimed ${a}-${b} is wrong`);
    claimed += b - a;
  }
  return claimed;
}

describe('resume', () => {
  it('checkpoints only bytes on disk, and the next run fetches only the rest', async () => {
    // About 2.5 s at full length: checkpoints (every second) happen before the abort at half.
    const content = makeContent(6 * MiB, 51);
    const s = await serve({ content, ratePerConnection: 0.6 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const controlPath = `${out}.qget`;
    const controller = new AbortController();
    let checked = 0;
    let maxClaimed = 0;
    const progress = new ProgressState({
      onDownloadProgress(p) {
        // A crash can happen at any moment: what is on disk now must be consistent.
        if (existsSync(controlPath)) {
          const state = JSON.parse(readFileSync(controlPath, 'utf8')) as SavedState;
          const claimed = checkClaims(state, readFileSync(`${out}.part`), content);
          maxClaimed = Math.max(maxClaimed, claimed);
          if (claimed > 0) checked++;
        }
        if (p.getDownloadBytes() >= 0.5 * p.totalBytes) controller.abort();
      },
    });
    await assert.rejects(
      qget(s.fileUrl, { filepath: out, maxConnections: 4, signal: controller.signal, progress }),
      (err: unknown) => (err as { code?: string }).code === 'ERR_ABORTED',
    );
    assert.ok(checked >= 1, 'no checkpoint was seen while downloading');
    assert.ok(maxClaimed > 0, 'the checkpoints never claimed a byte');

    const state = JSON.parse(await readFile(controlPath, 'utf8')) as SavedState;
    assert.equal(state.url, s.fileUrl);
    assert.equal(state.size, content.length);
    assert.equal(state.etag, s.config.etag);
    const claimed = checkClaims(state, await readFile(`${out}.part`), content);
    assert.ok(claimed >= 0.4 * content.length, `only ${claimed} bytes saved at abort`);
    const firstSent = s.stats.bytesSent;

    s.reset();
    // Faster, still paced: unpaced, loopback lets the server push whole requests into socket
    // buffers, and a steal that cuts one short counts all of it as sent.
    s.config.ratePerConnection = 8 * 1024 * 1024;
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    assert.equal(result.resumedBytes, claimed);
    assert.ok(
      s.requests.every((r) => !r.range?.startsWith('bytes=0-')),
      'the resumed probe does not start over at byte 0',
    );
    const total = firstSent + s.stats.bytesSent;
    assert.ok(total < 1.5 * content.length, `${total} bytes sent over both runs`);
    assert.ok(
      s.stats.bytesSent <= content.length - claimed + 512 * 1024,
      `the second run sent ${s.stats.bytesSent} bytes for ${content.length - claimed} missing`,
    );
    assert.deepEqual(await listDir(dir), ['out.bin']);
  });

  for (const named of ['by its URL', 'by Content-Disposition']) {
    it(`resumes a file named ${named} into \`dir\``, async () => {
      const content = makeContent(4 * MiB, 52);
      const disposition = named === 'by its URL' ? null : 'attachment; filename="given.bin"';
      const name = disposition ? 'given.bin' : 'file.bin';
      const s = await serve({
        content,
        ratePerConnection: 4 * MiB,
        contentDisposition: disposition,
      });
      const dir = await tempDir();
      const controller = new AbortController();
      const progress = new ProgressState({
        onDownloadProgress(p) {
          if (p.getDownloadBytes() >= 0.4 * p.totalBytes) controller.abort();
        },
      });
      await assert.rejects(
        qget(s.fileUrl, { dir, maxConnections: 4, signal: controller.signal, progress }),
      );
      assert.ok(await exists(join(dir, `${name}.qget`)));
      s.config.ratePerConnection = 0;
      const result = await qget(s.fileUrl, { dir, maxConnections: 4 });
      assert.equal(result.path, join(dir, name));
      assert.ok(result.resumedBytes > 0);
      await assertFileEquals(result.path, content);
      assert.deepEqual(await listDir(dir), [name]);
    });
  }

  it('starts over when the .part is shorter than the control file claims', async () => {
    const content = makeContent(2 * MiB, 53);
    const s = await serve({ content, ratePerConnection: 2 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const controller = new AbortController();
    const progress = new ProgressState({
      onDownloadProgress(p) {
        if (p.getDownloadBytes() >= 0.5 * p.totalBytes) controller.abort();
      },
    });
    await assert.rejects(
      qget(s.fileUrl, { filepath: out, maxConnections: 2, signal: controller.signal, progress }),
    );
    // The .part lost its tail (a crash before the data reached the disk).
    const { truncate } = await import('node:fs/promises');
    await truncate(`${out}.part`, 1000);
    s.config.ratePerConnection = 0;
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 2 });
    assert.ok(result.resumedBytes <= 1000, `resumed ${result.resumedBytes} bytes`);
    await assertFileEquals(out, content);
  });
});
