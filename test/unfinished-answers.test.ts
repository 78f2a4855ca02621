// Answers the download stops reading (issue 13, item 9): a 200 to a ranged request, a tail taken
// by another connection, what is left when the download ends. Each is closed at once, and a
// server that keeps ignoring ranges is read as one stream rather than asked again and again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, rangedRequests, useFixtures } from './helpers/fixture.js';
import type { TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const { serve, tempDir } = useFixtures();

/** Every answer of the server has ended (sent in full, or its socket closed). */
async function allAnswersEnded(s: TestServer, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    () => s.requests.every((r) => r.end !== undefined),
    () => `${what}: answers still open ${JSON.stringify(s.requests.filter((r) => !r.end))}`,
    timeoutMs,
  );
}

describe('answers the download stops reading', () => {
  for (const every of [2, 3]) {
    it(`a balancer answering every ${every === 2 ? 'second' : 'third'} ranged request with 200: one stream, each 200 closed at once`, async () => {
      const content = makeContent(32 * MiB, 40 + every);
      const s = await serve({ content, ignoreRangeEvery: every });
      const out = join(await tempDir(), 'out.bin');
      // Before: the alternating 200s never made three in a row, and a range answered 200 too
      // often failed the download (exit 8) although a plain GET works.
      await qget(s.fileUrl, { filepath: out, maxConnections: 8 });
      await assertFileEquals(out, content);
      const last = s.requests[s.requests.length - 1]!;
      assert.equal(last.range, undefined, 'went on as one plain stream');
      assert.equal(last.status, 200);
      const ignored = rangedRequests(s).filter((r) => r.status === 200);
      // The connections' first requests go out together; after them, two 200s decide.
      assert.ok(ignored.length <= 8 + 2, `${ignored.length} ranged requests answered 200`);
      await allAnswersEnded(s, 'after the download');
      for (const r of ignored) {
        assert.ok(r.bytesSent < content.length, `a 200 answer was read in full (${r.range})`);
      }
    });
  }

  it('a rare 200 among ranged answers is retried, and ranges go on', async () => {
    const content = makeContent(16 * MiB, 44);
    const s = await serve({ content, ignoreRangeEvery: 12, ratePerConnection: 16 * MiB });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4, maxPartMb: 1 });
    await assertFileEquals(out, content);
    assert.ok(
      rangedRequests(s).some((r) => r.status === 200),
      'no ranged request was answered 200: the test proves nothing',
    );
    assert.ok(
      s.requests.every((r) => r.range !== undefined),
      'fell back to one stream although most ranged requests were answered',
    );
  });

  it('a tail taken from a crawling connection: its answer is closed before the download ends', async () => {
    const content = makeContent(8 * MiB, 45);
    // Every fourth connection crawls at 1/64 of the others' rate: its tail is taken over.
    const s = await serve({
      content,
      ratePerConnection: 8 * MiB,
      slowEvery: 4,
      slowFactor: 64,
    });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    const cut = s.requests.filter((r) => {
      const m = /bytes=(\d+)-(\d+)/.exec(r.range ?? '');
      return m && r.bytesSent < Number(m[2]) - Number(m[1]) + 1;
    });
    assert.ok(cut.length >= 1, 'no answer was cut short: the test proves nothing');
    // The crawler's answer would take half a minute more to finish: it must be closed already
    // (5 s: how long the server may take to see the close on a busy machine).
    await allAnswersEnded(s, 'after the download', 5_000);
    assert.ok(
      s.stats.bytesSent < 1.5 * content.length,
      `${s.stats.bytesSent} bytes sent for ${content.length}`,
    );
  });

  it('a balancer alternating two versions: after the first refusal, small requests without If-Range', async () => {
    const a = makeContent(16 * MiB, 46);
    const b = makeContent(16 * MiB, 47);
    const s = await serve({ content: a, otherContent: b, versionPattern: 'AB' });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 8 });
    await assertFileEquals(out, a);
    // With If-Range, every answer of the other version is a whole body (16 MiB asked for, the
    // socket buffers' worth pushed before the close): 5.5x the file, and exit 8, before.
    const wholeB = s.requests.filter((r) => r.version === 'B' && r.status === 200);
    assert.ok(
      s.requests.some((r) => r.version === 'B'),
      'the other version never answered: the test proves nothing',
    );
    // At most the requests in flight when the first refusal arrived: one per connection.
    assert.ok(wholeB.length <= 8, `${wholeB.length} whole bodies of the other version`);
    const later = s.requests.slice(Math.floor(s.requests.length / 2));
    for (const r of later) {
      assert.equal(r.ifRange, undefined, `If-Range still sent: ${r.range}`);
      const m = /bytes=(\d+)-(\d+)/.exec(r.range ?? '');
      assert.ok(m && Number(m[2]) - Number(m[1]) < 256 * 1024, `a large request: ${r.range}`);
    }
    await allAnswersEnded(s, 'after the download');
  });
});
