// Resuming a download whose first URL did not answer: the control file keeps the URL as given
// (and names the mirror that answered), so the same command run again continues the .part
// instead of starting over, and no saved range is asked for again.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProgressState, qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { parseRange, type RequestRecord } from './helpers/server.js';

const { serve, tempDir } = useFixtures();

interface Saved {
  url: string;
  source?: string;
  ranges: [number, number][];
}

/** The requests among `requests` asking for a byte inside `ranges`. */
function overlapping(requests: RequestRecord[], size: number, ranges: [number, number][]) {
  return requests.filter((r) => {
    const asked = r.range === undefined ? { start: 0, end: size } : parseRange(r.range, size);
    if (asked === null || asked === 'unsatisfiable') return false;
    return ranges.some(([s, e]) => asked.start < e && asked.end > s);
  });
}

/** qget() until about `fraction` of the file is in, then aborted. */
async function interrupted(
  url: string,
  options: Parameters<typeof qget>[1],
  fraction: number,
): Promise<void> {
  const controller = new AbortController();
  const progress = new ProgressState({
    onDownloadProgress(p) {
      if (p.getDownloadBytes() >= fraction * p.totalBytes) controller.abort();
    },
  });
  await assert.rejects(
    qget(url, { ...options, signal: controller.signal, progress }),
    (err: unknown) => (err as { code?: string }).code === 'ERR_ABORTED',
  );
}

describe('resuming when the first URL did not answer', () => {
  it('the control file keeps the given URL: the same command continues from the mirror', async () => {
    const content = makeContent(6 * MiB, 81);
    const dead = await serve({ content });
    const deadUrl = dead.fileUrl;
    await dead.close();
    const m = await serve({ content, ratePerConnection: 0.5 * MiB });
    const out = join(await tempDir(), 'out.bin');
    const options = { filepath: out, mirrors: [m.fileUrl], retries: 1, maxConnections: 4 };
    await interrupted(deadUrl, options, 0.4);
    const saved = JSON.parse(await readFile(`${out}.qget`, 'utf8')) as Saved;
    assert.equal(saved.url, deadUrl);
    assert.equal(saved.source, m.fileUrl);
    const claimed = saved.ranges.reduce((n, [s, e]) => n + e - s, 0);
    assert.ok(claimed > 0, 'nothing saved');

    m.reset();
    m.config.ratePerConnection = 8 * MiB;
    const warnings: string[] = [];
    const result = await qget(deadUrl, { ...options, onWarning: (w) => warnings.push(w) });
    await assertFileEquals(out, content);
    assert.equal(result.resumedBytes, claimed);
    assert.deepEqual(overlapping(m.requests, content.length, saved.ranges), []);
    assert.ok(!warnings.some((w) => /discarding|starting over/.test(w)), warnings.join('\n'));
  });

  it('the first URL answering again continues the .part once its sample matches', async () => {
    const content = makeContent(6 * MiB, 82);
    // Its first answer is a 503 (no retry): the mirror is probed, the first URL checked later
    // as a mirror of it.
    const a = await serve({ content, ratePerConnection: 0.5 * MiB, fail503First: 1 });
    const m = await serve({ content, ratePerConnection: 0.5 * MiB });
    const out = join(await tempDir(), 'out.bin');
    const options = { filepath: out, mirrors: [m.fileUrl], retries: 0, maxConnections: 4 };
    await interrupted(a.fileUrl, options, 0.4);
    const saved = JSON.parse(await readFile(`${out}.qget`, 'utf8')) as Saved;
    assert.equal(saved.url, a.fileUrl);
    assert.equal(saved.source, m.fileUrl);

    a.reset();
    a.config.fail503First = 0;
    m.reset();
    a.config.ratePerConnection = 8 * MiB;
    m.config.ratePerConnection = 8 * MiB;
    const result = await qget(a.fileUrl, options);
    await assertFileEquals(out, content);
    const claimed = saved.ranges.reduce((n, [s, e]) => n + e - s, 0);
    assert.equal(result.resumedBytes, claimed);
    // Of the bytes on disk each source is asked for its 64 KiB sample (the first URL's proves
    // it continues the .part, the mirror's that it agrees), nothing else.
    for (const s of [a, m]) {
      const again = overlapping(s.requests, content.length, saved.ranges);
      assert.equal(again.length, 1, again.map((r) => r.range).join(' '));
      assert.ok(again[0]!.bytesSent <= 64 * 1024);
    }
    assert.equal(overlapping(a.requests.slice(0, 1), content.length, saved.ranges).length, 1);
  });
});
