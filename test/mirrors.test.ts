// Several sources for one file (qget()'s `mirrors`): three local servers on their own ports.
// Agreement before use (a lying mirror never reaches the file, the majority wins over a lying
// first URL), connections spread over the sources, failover when a mirror dies or the first
// URL does not answer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProgressState, qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, maxConcurrentRequests, useFixtures } from './helpers/fixture.js';
import { waitFor } from './helpers/wait.js';

const { serve, tempDir } = useFixtures();

/** Bytes of content answers a server sent (its own count, ranged answers included). */
function contentBytes(s: { requests: { range: string | undefined; bytesSent: number }[] }): number {
  return s.requests.reduce((n, r) => n + r.bytesSent, 0);
}

describe('mirrors', () => {
  it('downloads from three agreeing sources at once, each with its own validators', async () => {
    const content = makeContent(12 * MiB, 31);
    const rate = 3 * MiB;
    const a = await serve({ content, ratePerConnection: rate, etag: '"a"' });
    const b = await serve({ content, ratePerConnection: rate, etag: '"b"' });
    const c = await serve({ content, ratePerConnection: rate, etag: '"c"' });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    // Progress tells the connections of each source.
    let perSource: number[] = [];
    const progress = new ProgressState({
      onDownloadProgress: (p) => {
        if (p.sourceConnections.every((n) => n > 0)) perSource = [...p.sourceConnections];
      },
    });
    const result = await qget(a.fileUrl, {
      filepath: out,
      mirrors: [b.fileUrl, c.fileUrl],
      maxConnections: 6,
      progress,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.deepEqual(warnings, []);
    assert.equal(perSource.length, 3, `connections per source seen: ${perSource}`);
    const sources = result.sources ?? [];
    assert.deepEqual(
      sources.map((s) => [s.url, s.state]),
      [
        [a.fileUrl, 'active'],
        [b.fileUrl, 'active'],
        [c.fileUrl, 'active'],
      ],
    );
    for (const [i, s] of [a, b, c].entries()) {
      assert.ok(contentBytes(s) > 0, `source ${i} sent nothing`);
      assert.ok(sources[i]!.bytes > 0, `nothing accepted from source ${i}`);
    }
    assert.equal(
      sources.reduce((n, s) => n + s.bytes, 0),
      content.length,
    );
    // Each source's requests carry its own ETag as If-Range (never another's).
    for (const [s, tag] of [
      [b, '"b"'],
      [c, '"c"'],
    ] as const) {
      const ifRanges = new Set(s.requests.map((r) => r.ifRange).filter((v) => v !== undefined));
      assert.ok(
        [...ifRanges].every((v) => v === tag),
        `${tag}: ${[...ifRanges]}`,
      );
    }
    // -c is the total over the sources: at most 6 ranged requests at once over the three
    // servers, and the two mirrors' 64 KiB samples.
    assert.ok(
      maxConcurrentRequests(a, b, c) <= 6 + 2,
      `${maxConcurrentRequests(a, b, c)} requests at once`,
    );
  });

  it('drops a mirror serving other bytes of the same size: none of them reaches the file', async () => {
    const content = makeContent(8 * MiB, 32);
    const rate = 2 * MiB;
    const a = await serve({ content, ratePerConnection: rate });
    const b = await serve({ content, ratePerConnection: rate });
    const liar = await serve({ content: makeContent(8 * MiB, 99), ratePerConnection: rate });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    const result = await qget(a.fileUrl, {
      filepath: out,
      mirrors: [liar.fileUrl, b.fileUrl],
      maxConnections: 6,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`${liar.url}.*dropped.*other bytes`));
    const lied = result.sources?.[1];
    assert.equal(lied?.state, 'dropped');
    assert.equal(lied?.bytes, 0);
    // It was asked for one sample and nothing else.
    assert.equal(liar.requests.length, 1);
  });

  it('a first URL outvoted by two agreeing mirrors is dropped and the download starts over', async () => {
    const content = makeContent(6 * MiB, 33);
    const rate = 2 * MiB;
    const liar = await serve({ content: makeContent(6 * MiB, 77), ratePerConnection: rate });
    const b = await serve({ content, ratePerConnection: rate });
    const c = await serve({ content, ratePerConnection: rate });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    const result = await qget(liar.fileUrl, {
      filepath: out,
      mirrors: [b.fileUrl, c.fileUrl],
      maxConnections: 4,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.ok(
      warnings.some((w) => w.includes(liar.url) && /other bytes/.test(w)),
      warnings.join('\n'),
    );
    assert.deepEqual(
      result.sources?.map((s) => s.url),
      [b.fileUrl, c.fileUrl],
    );
  });

  it('drops a mirror reporting another size', async () => {
    const content = makeContent(4 * MiB, 34);
    const a = await serve({ content, ratePerConnection: 2 * MiB });
    const short = await serve({ content: content.subarray(0, 3 * MiB) });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    const result = await qget(a.fileUrl, {
      filepath: out,
      mirrors: [short.fileUrl],
      maxConnections: 4,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.match(warnings.join('\n'), /size of 3145728, not 4194304/);
    assert.equal(result.sources?.[1]?.state, 'dropped');
  });

  it('a mirror that dies halfway is dropped and its ranges go to the others', async () => {
    const content = makeContent(24 * MiB, 35);
    const rate = 1 * MiB;
    const a = await serve({ content, ratePerConnection: rate });
    const b = await serve({ content, ratePerConnection: rate });
    const c = await serve({ content, ratePerConnection: rate });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    const run = qget(a.fileUrl, {
      filepath: out,
      mirrors: [b.fileUrl, c.fileUrl],
      maxConnections: 6,
      onWarning: (m) => warnings.push(m),
    });
    await waitFor(() => b.stats.bytesSent > 1 * MiB, 'mirror b to send 1 MiB', 60_000);
    await b.close();
    const result = await run;
    await assertFileEquals(out, content);
    assert.equal(result.sources?.[1]?.state, 'dropped');
    assert.equal(warnings.filter((w) => w.includes(b.url)).length, 1, warnings.join('\n'));
    assert.equal(result.sources?.[2]?.state, 'active');
  });

  it('drops a mirror far slower than the others', async () => {
    // Its 64 KiB sample takes 2 s; then 3 s under a tenth of the others' speed.
    const content = makeContent(40 * MiB, 38);
    const a = await serve({ content, ratePerConnection: 1 * MiB });
    const slow = await serve({ content, ratePerConnection: 32 * 1024 });
    const c = await serve({ content, ratePerConnection: 1 * MiB });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    const result = await qget(a.fileUrl, {
      filepath: out,
      mirrors: [slow.fileUrl, c.fileUrl],
      maxConnections: 6,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.equal(result.sources?.[1]?.state, 'dropped');
    assert.match(warnings.join('\n'), /far slower than the others/);
  });

  it('goes on with a mirror when the first URL does not answer', async () => {
    const content = makeContent(2 * MiB, 36);
    const dead = await serve({ content });
    const deadUrl = dead.fileUrl;
    await dead.close();
    const b = await serve({ content });
    const out = join(await tempDir(), 'out.bin');
    const warnings: string[] = [];
    const result = await qget(deadUrl, {
      filepath: out,
      mirrors: [b.fileUrl],
      retries: 1,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.equal(result.finalUrl, b.fileUrl);
    assert.match(warnings.join('\n'), /trying/);
  });

  it('fails only when every source failed', async () => {
    const content = makeContent(2 * MiB, 37);
    const a = await serve({ content });
    const b = await serve({ content });
    const urls = [a.fileUrl, b.fileUrl];
    await a.close();
    await b.close();
    const out = join(await tempDir(), 'out.bin');
    await assert.rejects(qget(urls[0]!, { filepath: out, mirrors: [urls[1]!], retries: 1 }));
  });
});
