// A Metalink document naming several files where some fail: qgetMetalink() and `qget -M` try
// every file, then report each (its result or its error) and fail with the first failure's code.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ChecksumError,
  HttpStatusError,
  MetalinkFilesError,
  qget,
  qgetMetalink,
} from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { KiB, makeContent } from './helpers/content.js';
import { assertFileEquals, exists, useFixtures } from './helpers/fixture.js';
import { meta4Files } from './helpers/meta4.js';

const { serve, tempDir } = useFixtures();

/** Three files: `gone` answers 404, `good` downloads, `wrong` serves bytes its hash refuses. */
async function threeFiles(order: ('gone' | 'good' | 'wrong')[]) {
  const good = makeContent(300 * KiB, 120);
  const wrong = makeContent(200 * KiB, 121);
  const s = await serve({ content: good });
  const liar = await serve({ content: makeContent(200 * KiB, 122) });
  const spec = {
    gone: { content: good, name: 'gone.bin', urls: [`${s.url}/status/404`] },
    good: { content: good, name: 'good.bin', urls: [s.fileUrl] },
    wrong: { content: wrong, name: 'wrong.bin', urls: [liar.fileUrl] },
  };
  return { doc: meta4Files(order.map((k) => spec[k])), good, s, liar };
}

describe('a Metalink document where some files fail', () => {
  it('qgetMetalink() tries every file, then rejects with the first failure and each outcome', async () => {
    const { doc, good, liar } = await threeFiles(['gone', 'good', 'wrong']);
    const dir = await tempDir();
    const err = await qgetMetalink(doc, { dir }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MetalinkFilesError, String(err));
    assert.equal(err.code, 'ERR_HTTP_STATUS');
    assert.ok(err.cause instanceof HttpStatusError);
    assert.match(
      err.message,
      /^2 of 3 files of the Metalink document failed: gone\.bin: .*404.*; wrong\.bin: /,
    );
    const [gone, ok, wrong] = err.files;
    assert.equal(gone?.ok, false);
    assert.equal(ok?.ok, true);
    assert.equal(ok?.ok && ok.result.path, join(dir, 'good.bin'));
    assert.equal(wrong?.ok, false);
    assert.ok(
      !wrong?.ok && wrong?.error instanceof ChecksumError,
      String(!wrong?.ok && wrong?.error),
    );
    assert.deepEqual(
      err.files.map((f) => f.path),
      ['gone.bin', 'good.bin', 'wrong.bin'].map((n) => join(dir, n)),
    );
    // The files after the failure were downloaded (or tried).
    await assertFileEquals(join(dir, 'good.bin'), good);
    assert.ok(liar.requests.length > 0);
    assert.ok(!(await exists(join(dir, 'wrong.bin'))));
  });

  it('qget() of a URL answering such a document rejects the same way', async () => {
    const { doc, good } = await threeFiles(['good', 'wrong']);
    const served = await serve({
      content: Buffer.from(doc),
      contentType: 'application/metalink4+xml',
    });
    const dir = await tempDir();
    const err = await qget(served.fileUrl, { dir }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MetalinkFilesError, String(err));
    assert.equal(err.code, 'ERR_CHECKSUM');
    await assertFileEquals(join(dir, 'good.bin'), good);
  });

  it('qget -M exits with the first failure’s code once every file was tried', async () => {
    const dir = await tempDir();
    const first = await threeFiles(['gone', 'good', 'wrong']);
    await writeFile(join(dir, 'a.meta4'), first.doc);
    const a = await runCli(['-M', 'a.meta4', '-d', 'a'], dir);
    assert.equal(a.code, 3, a.stderr); // HTTP error: gone.bin, the first to fail
    await assertFileEquals(join(dir, 'a', 'good.bin'), first.good);
    assert.ok(first.liar.requests.length > 0, 'wrong.bin was tried');
    assert.match(a.stderr, /gone\.bin/);
    assert.match(a.stderr, /wrong\.bin/);

    const second = await threeFiles(['wrong', 'good', 'gone']);
    await writeFile(join(dir, 'b.meta4'), second.doc);
    const b = await runCli(['-M', 'b.meta4', '-d', 'b', '--json'], dir);
    assert.equal(b.code, 5, b.stderr); // checksum: wrong.bin, the first to fail
    await assertFileEquals(join(dir, 'b', 'good.bin'), second.good);
    assert.ok(
      second.s.requests.some((r) => r.path === '/status/404'),
      'gone.bin was tried after the others',
    );

    // One file: its own error and code.
    const one = await threeFiles(['gone']);
    await writeFile(join(dir, 'c.meta4'), one.doc);
    const c = await runCli(['-M', 'c.meta4', '-d', 'c'], dir);
    assert.equal(c.code, 3, c.stderr);
    assert.match(c.stderr, /404/);
  });
});
