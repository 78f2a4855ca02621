// Single answers that crawl (a cache miss behind a CDN, a cold backend): every third response
// of the test server, on whatever connection, runs far below the others. qget asks anew for
// the rest of such an answer, keeping what it wrote, instead of waiting for it.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();

describe('crawling responses', () => {
  it('the test server slows every Nth response, whatever its connection', async () => {
    const content = makeContent(64 * 1024, 50);
    const s = await serve({ content, ratePerConnection: 1024 * 1024, slowResponseEvery: 2 });
    for (let i = 0; i < 4; i++) {
      const res = await fetch(s.fileUrl);
      assert.equal(Buffer.from(await res.arrayBuffer()).length, content.length);
    }
    const ms = s.requests.map((r) => r.end! - r.start);
    // 64 KiB at 1 MiB/s: ~60 ms; at a thirtieth of it ~1.9 s.
    assert.ok(ms[1]! > 1000 && ms[3]! > 1000, `slow ones took ${ms[1]} and ${ms[3]} ms`);
    assert.ok(ms[0]! < 1000 && ms[2]! < 1000, `fast ones took ${ms[0]} and ${ms[2]} ms`);
  });

  it('asks anew for the rest of a crawling answer, keeping its bytes', {
    timeout: 120_000,
  }, async () => {
    const content = makeContent(8 * MiB, 51);
    // Every third answer at 1/100000 of 8 MiB/s (84 bytes/s): one left to finish would take
    // hours, so the download completes only when such answers are asked anew.
    const s = await serve({
      content,
      ratePerConnection: 8 * MiB,
      slowResponseEvery: 3,
      slowFactor: 100_000,
    });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    const crawled = s.requests.filter((_, i) => (i + 1) % 3 === 0);
    assert.ok(crawled.length > 0);
    // What a crawling answer delivered was kept: hardly anything was sent twice.
    assert.ok(s.stats.bytesSent < 1.1 * content.length, `${s.stats.bytesSent} bytes sent`);
  });
});
