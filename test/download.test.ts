// End-to-end downloads through the public qget(): segmented transfer, servers without ranges or
// lengths, redirects, naming, existing files, checksums, errors, progress, abort and tmpDir.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProgressState, qget } from '../src/index.js';
import { makeContent, MiB, sha256 } from './helpers/content.js';
import {
  assertFileEquals,
  exists,
  hasCode,
  interruptAt,
  listDir,
  maxConcurrentRequests,
  rangedRequests,
  useFixtures,
} from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();

describe('qget() downloads', () => {
  it('fetches a multi-MiB file over several ranged connections with the right bytes', async () => {
    const content = makeContent(8 * MiB, 11);
    const s = await serve({ content, ratePerConnection: 8 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 8 });
    await assertFileEquals(out, content);
    assert.equal(result.path, out);
    assert.equal(result.size, content.length);
    assert.equal(result.url, s.fileUrl);
    assert.equal(result.finalUrl, s.fileUrl);
    assert.equal(result.resumedBytes, 0);
    assert.ok(rangedRequests(s).length >= 3, `${rangedRequests(s).length} ranged requests`);
    assert.ok(rangedRequests(s).every((r) => r.status === 206));
    assert.ok(s.stats.maxOpenConnections > 1, 'only one connection was used');
    assert.ok(maxConcurrentRequests(s) > 2, `at most ${maxConcurrentRequests(s)} at once`);
    // Every byte was sent about once: no segment was fetched twice.
    assert.ok(s.stats.bytesSent < 1.25 * content.length, `${s.stats.bytesSent} bytes sent`);
    assert.deepEqual(await listDir(dir), ['out.bin'], 'no .part or control file left behind');
  });

  it('asks bounded, well-formed ranges on kept-alive sockets for long segments', async () => {
    const content = makeContent(24 * MiB, 19);
    const s = await serve({ content, ratePerConnection: 16 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 2 });
    await assertFileEquals(out, content);
    const ranged = s.requests.filter((r) => r.range !== undefined);
    for (const r of ranged)
      assert.match(r.range!, /^bytes=\d+-\d*$/, 'a Range header a server accepts');
    assert.ok(ranged.every((r) => r.status === 206));
    // More requests than connections, on fewer sockets than requests: sockets were reused.
    const sockets = new Set(ranged.map((r) => r.socketId));
    assert.ok(ranged.length >= 4, `${ranged.length} ranged requests`);
    assert.ok(
      sockets.size < ranged.length,
      `${sockets.size} sockets for ${ranged.length} requests`,
    );
    assert.ok(s.stats.bytesSent < 1.25 * content.length, `${s.stats.bytesSent} bytes sent`);
  });

  it('uses one stream from a server without ranges', async () => {
    const content = makeContent(2 * MiB + 3, 12);
    const s = await serve({ content, ranges: false });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const result = await qget(s.fileUrl, { filepath: out });
    await assertFileEquals(out, content);
    assert.equal(result.size, content.length);
    assert.equal(s.requests.length, 1);
    assert.equal(s.requests[0]?.status, 200);
  });

  it('streams a chunked body of unknown length to its end', async () => {
    const content = makeContent(MiB + 17, 13);
    const s = await serve({ content, ranges: false, sendLength: false });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const progress = new ProgressState();
    const result = await qget(s.fileUrl, { filepath: out, progress });
    await assertFileEquals(out, content);
    assert.equal(result.size, content.length);
    assert.equal(progress.getDownloadBytes(), content.length);
  });

  it('splits a ranged download whose answers are chunked (no Content-Length)', async () => {
    const content = makeContent(4 * MiB + 5, 14);
    const s = await serve({ content, sendLength: false });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    assert.ok(rangedRequests(s).length >= 1);
  });

  it('follows relative and absolute redirects and asks ranges of the final URL', async () => {
    const content = makeContent(4 * MiB, 15);
    const s = await serve({ content });
    const dir = await tempDir();
    // /redirect/N/ answers N + 1 redirects, alternating relative and absolute Locations.
    const result = await qget(`${s.url}/redirect/9/file.bin`, { dir, maxConnections: 4 });
    assert.equal(result.finalUrl, s.fileUrl);
    assert.equal(result.url, `${s.url}/redirect/9/file.bin`);
    assert.equal(result.path, join(dir, 'file.bin'));
    await assertFileEquals(result.path, content);
    assert.equal(s.requests.filter((r) => r.path.startsWith('/redirect/')).length, 10);
    assert.ok(rangedRequests(s).length >= 1);
    assert.ok(rangedRequests(s).every((r) => r.path === '/file.bin'));
  });

  it('fails with ERR_TOO_MANY_REDIRECTS beyond 10 hops, leaving nothing', async () => {
    const s = await serve({ content: makeContent(1000) });
    const dir = await tempDir();
    await assert.rejects(
      qget(`${s.url}/redirect/10/file.bin`, { filepath: join(dir, 'out.bin') }),
      hasCode('ERR_TOO_MANY_REDIRECTS'),
    );
    assert.equal(s.requests.length, 11, 'the redirect chain is not retried');
    assert.deepEqual(await listDir(dir), []);
  });

  it('names the file from Content-Disposition (filename* in UTF-8) inside `dir`', async () => {
    const content = makeContent(100_000, 16);
    const s = await serve({
      content,
      contentDisposition: `attachment; filename="plain.bin"; filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.bin`,
    });
    const dir = await tempDir();
    const result = await qget(s.fileUrl, { dir });
    assert.equal(result.path, join(dir, '€ résumé.bin'));
    await assertFileEquals(result.path, content);
    assert.deepEqual(await listDir(dir), ['€ résumé.bin']);
  });

  it('refuses to touch an existing output file', async () => {
    const content = makeContent(100_000, 17);
    const s = await serve({ content });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await writeFile(out, 'precious');
    await assert.rejects(qget(s.fileUrl, { filepath: out }), (err: unknown) => {
      hasCode('ERR_FILE_EXISTS')(err);
      assert.equal((err as { path?: string }).path, out);
      return true;
    });
    assert.equal(await readFile(out, 'utf8'), 'precious');
    assert.equal(s.stats.bytesSent, 0, 'nothing was downloaded for it');
    assert.deepEqual(await listDir(dir), ['out.bin']);

    // The same for a name the server gives, found only after the probe.
    await writeFile(join(dir, 'file.bin'), 'also precious');
    await assert.rejects(qget(s.fileUrl, { dir }), hasCode('ERR_FILE_EXISTS'));
    assert.equal(await readFile(join(dir, 'file.bin'), 'utf8'), 'also precious');
    assert.deepEqual(await listDir(dir), ['file.bin', 'out.bin']);
  });

  it('replaces an existing output file with `override: true`', async () => {
    const content = makeContent(3 * MiB, 18);
    const s = await serve({ content });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await writeFile(out, 'old contents that are longer than nothing');
    await qget(s.fileUrl, { filepath: out, override: true });
    await assertFileEquals(out, content);
  });

  it('verifies a checksum before putting the file in place', async () => {
    const content = makeContent(2 * MiB, 19);
    const s = await serve({ content });
    const dir = await tempDir();
    const good = join(dir, 'good.bin');
    await qget(s.fileUrl, { filepath: good, checksum: `sha256=${sha256(content)}` });
    await assertFileEquals(good, content);

    const bad = join(dir, 'bad.bin');
    await assert.rejects(
      qget(s.fileUrl, { filepath: bad, checksum: `sha256=${'0'.repeat(64)}` }),
      hasCode('ERR_CHECKSUM'),
    );
    assert.equal(await exists(bad), false, 'a file failing its checksum is never put in place');
  });

  it('downloads an empty file', async () => {
    const s = await serve({ content: Buffer.alloc(0) });
    const dir = await tempDir();
    const out = join(dir, 'empty.bin');
    const progress = new ProgressState();
    const result = await qget(s.fileUrl, { filepath: out, progress });
    assert.equal(result.size, 0);
    assert.equal((await readFile(out)).length, 0);
    assert.deepEqual(await listDir(dir), ['empty.bin']);
    assert.equal(progress.getRewriteProgress(), 100);
  });

  it('fails on 404 at once, with nothing left behind', async () => {
    const s = await serve();
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await assert.rejects(qget(`${s.url}/status/404`, { filepath: out }), (err: unknown) => {
      hasCode('ERR_HTTP_STATUS')(err);
      assert.equal((err as { statusCode?: number }).statusCode, 404);
      return true;
    });
    assert.equal(s.requests.length, 1, 'a permanent error is not retried');
    assert.deepEqual(await listDir(dir), []);
  });

  it('reports progress: the last call has every byte, and the rewrite phase reaches 100', async () => {
    const content = makeContent(4 * MiB, 20);
    const s = await serve({ content, ratePerConnection: 8 * MiB });
    const dir = await tempDir();
    const seen: { bytes: number; total: number }[] = [];
    let rewriteMax = 0;
    const progress = new ProgressState({
      onDownloadProgress: (p) => seen.push({ bytes: p.getDownloadBytes(), total: p.totalBytes }),
      onRewriteProgress: (p) => {
        rewriteMax = Math.max(rewriteMax, p.getRewriteProgress());
      },
    });
    await qget(s.fileUrl, {
      filepath: join(dir, 'out.bin'),
      progress,
      maxConnections: 4,
      checksum: `sha256=${sha256(content)}`,
    });
    assert.ok(seen.length >= 2, `${seen.length} progress calls`);
    const last = seen[seen.length - 1]!;
    assert.equal(last.bytes, content.length);
    assert.equal(last.total, content.length);
    assert.equal(progress.getDownloadProgress(), 100);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.bytes >= seen[i - 1]!.bytes, 'progress went backwards');
      assert.ok(seen[i]!.bytes <= content.length, 'progress beyond the size');
    }
    assert.equal(rewriteMax, 100);
  });

  it('stops on abort, keeping .part and control file, and the next call resumes', async () => {
    const content = makeContent(4 * MiB, 21);
    const s = await serve({ content, ratePerConnection: 4 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await interruptAt(0.4, s.fileUrl, { filepath: out });
    assert.deepEqual(await listDir(dir), ['out.bin.part', 'out.bin.qget']);
    const firstSent = s.stats.bytesSent;
    s.reset();
    // Faster, still paced: unpaced, loopback lets the server push whole requests into socket
    // buffers, and a steal that cuts one short counts all of it as sent.
    s.config.ratePerConnection = 8 * 1024 * 1024;
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    assert.ok(result.resumedBytes > 0.3 * content.length, `resumed ${result.resumedBytes}`);
    assert.ok(firstSent < content.length, `the first run sent ${firstSent} bytes`);
    // The probe may send a little past what it needs before it is dropped.
    assert.ok(
      s.stats.bytesSent <= content.length - result.resumedBytes + MiB,
      `the second run sent ${s.stats.bytesSent} bytes with ${result.resumedBytes} resumed`,
    );
    assert.ok(
      s.requests
        .filter((r) => !r.range?.startsWith('bytes=0-'))
        .every((r) => r.ifRange === s.config.etag),
      'ranged requests of a resumed download carry If-Range',
    );
    assert.deepEqual(await listDir(dir), ['out.bin']);
  });

  it('an already aborted signal fails before any request', async () => {
    const s = await serve();
    const dir = await tempDir();
    await assert.rejects(
      qget(s.fileUrl, { filepath: join(dir, 'out.bin'), signal: AbortSignal.abort() }),
      hasCode('ERR_ABORTED'),
    );
    assert.equal(s.requests.length, 0);
    assert.deepEqual(await listDir(dir), []);
  });

  it('removes its abort listener however it ends', async () => {
    const content = makeContent(100_000, 23);
    const s = await serve({ content });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const signal = new AbortController().signal;
    await qget(s.fileUrl, { filepath: out, signal });
    assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a success');
    await assert.rejects(qget(s.fileUrl, { filepath: out, signal }), hasCode('ERR_FILE_EXISTS'));
    assert.equal(getEventListeners(signal, 'abort').length, 0, 'after an existing file');
    await assert.rejects(
      qget(`${s.url}/status/404`, { filepath: join(dir, 'x'), signal }),
      hasCode('ERR_HTTP_STATUS'),
    );
    assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a failure');
  });

  it('keeps the .part and control file in tmpDir', async () => {
    const content = makeContent(4 * MiB, 22);
    const s = await serve({ content, ratePerConnection: 4 * MiB });
    const dir = await tempDir();
    const tmp = await tempDir();
    const out = join(dir, 'out.bin');
    await interruptAt(0.3, s.fileUrl, { filepath: out, tmpDir: tmp });
    assert.deepEqual(await listDir(dir), [], 'nothing beside the output');
    const kept = await listDir(tmp);
    assert.equal(kept.length, 2, kept.join());
    assert.ok(kept.some((n) => n.startsWith('out.bin.') && n.endsWith('.part')));
    assert.ok(kept.some((n) => n.startsWith('out.bin.') && n.endsWith('.qget')));
    s.config.ratePerConnection = 0;
    const result = await qget(s.fileUrl, { filepath: out, tmpDir: tmp, maxConnections: 4 });
    assert.ok(result.resumedBytes > 0, 'the state in tmpDir is resumed');
    await assertFileEquals(out, content);
    assert.deepEqual(await listDir(tmp), []);
  });
});
