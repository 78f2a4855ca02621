// Downloads through qget() against a server that misbehaves on purpose: cut and stalled bodies,
// 503s, per-client connection caps, ignored or vanished ranges, content changing under us, and
// local write failures. The file must come out right, or the error must be clear.
import assert from 'node:assert/strict';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { qget } from '../src/index.js';
import { makeContent, MiB } from './helpers/content.js';
import {
  assertFileEquals,
  exists,
  hasCode,
  interruptAt,
  listDir,
  useFixtures,
} from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();

/**
 * Seconds the same download takes here and now from a well-behaved server at the same rate: the
 * yardstick for the time bounds below, so a busy machine (slower for both) does not fail them.
 */
async function referenceSeconds(
  content: Buffer,
  ratePerConnection: number,
  maxConnections: number,
): Promise<number> {
  const s = await serve({ content, ratePerConnection });
  const out = join(await tempDir(), 'reference.bin');
  const t0 = performance.now();
  await qget(s.fileUrl, { filepath: out, maxConnections });
  const seconds = (performance.now() - t0) / 1000;
  await rm(out);
  return seconds;
}

function rangeStart(range: string | undefined): number | undefined {
  const m = range ? /^bytes=(\d+)-/.exec(range) : null;
  return m ? Number(m[1]) : undefined;
}

describe('qget() against a misbehaving server', () => {
  it('continues a cut body from its last byte', async () => {
    const content = makeContent(4 * MiB, 31);
    const cutAt = 300_000;
    const s = await serve({ content, cutAfterBytes: cutAt, cutTimes: 3 });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    const cut = s.requests.filter((r) => r.bytesSent === cutAt && r.status === 206);
    assert.equal(cut.length, 3);
    for (const c of cut) {
      const resumeAt = rangeStart(c.range)! + cutAt;
      assert.ok(
        s.requests.some((r) => r.id > c.id && rangeStart(r.range) === resumeAt),
        `nobody continued ${c.range} at byte ${resumeAt}`,
      );
    }
    assert.ok(s.stats.bytesSent < 1.5 * content.length, `${s.stats.bytesSent} bytes sent`);
  });

  it('waits out 503 + Retry-After on the probe, then succeeds', async () => {
    const content = makeContent(MiB, 32);
    const s = await serve({ content, fail503First: 2, retryAfterSeconds: 1 });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const t0 = performance.now();
    await qget(s.fileUrl, { filepath: out });
    const seconds = (performance.now() - t0) / 1000;
    await assertFileEquals(out, content);
    assert.deepEqual(
      s.requests.slice(0, 3).map((r) => r.status),
      [503, 503, 206],
    );
    assert.ok(seconds >= 1.9 && seconds < 6, `took ${seconds} s for two 1 s Retry-After`);
    const gap = s.requests[1]!.start - s.requests[0]!.start;
    assert.ok(gap >= 950, `retried after ${gap} ms despite Retry-After: 1`);
  });

  it('gives up on a 500 after `retries` more tries', async () => {
    const s = await serve();
    const dir = await tempDir();
    await assert.rejects(
      qget(`${s.url}/status/500`, { filepath: join(dir, 'out.bin'), retries: 2 }),
      (err: unknown) => {
        hasCode('ERR_HTTP_STATUS')(err);
        assert.equal((err as { statusCode?: number }).statusCode, 500);
        return true;
      },
    );
    assert.equal(s.requests.length, 3);
    assert.deepEqual(await listDir(dir), []);
  });

  it('stops waiting for a Retry-After at once when aborted', async () => {
    const s = await serve({ fail503First: 5, retryAfterSeconds: 30 });
    const dir = await tempDir();
    const t0 = performance.now();
    await assert.rejects(
      qget(s.fileUrl, { filepath: join(dir, 'out.bin'), signal: AbortSignal.timeout(300) }),
      hasCode('ERR_ABORTED'),
    );
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(seconds < 2, `took ${seconds} s to notice the abort`);
    assert.equal(s.requests.length, 1);
  });

  for (const sendLength of [true, false]) {
    it(`restarts a cut single stream from byte 0 (${sendLength ? 'with' : 'without'} length)`, async () => {
      const content = makeContent(2 * MiB, 44);
      const s = await serve({ content, ranges: false, sendLength, cutAfterBytes: 500_000 });
      const dir = await tempDir();
      const out = join(dir, 'out.bin');
      const result = await qget(s.fileUrl, { filepath: out });
      await assertFileEquals(out, content);
      assert.equal(result.size, content.length);
      assert.equal(s.requests.length, 2, 'the cut stream was taken as complete, or retried more');
      assert.equal(s.requests[1]?.range, undefined);
    });
  }

  it('gives up on a single stream that is always cut at the same byte', async () => {
    const content = makeContent(MiB, 46);
    const s = await serve({ content, ranges: false, cutAfterBytes: 100_000, cutTimes: 1000 });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await assert.rejects(
      qget(s.fileUrl, { filepath: out, retries: 2, signal: AbortSignal.timeout(10_000) }),
      hasCode('ERR_NETWORK'),
    );
    // The first cut got further than nothing; then three more attempts at most.
    assert.ok(s.requests.length <= 4, `${s.requests.length} requests`);
    assert.equal(await exists(out), false);
  });

  for (const capMode of ['503', '403', 'reset'] as const) {
    it(`settles under a per-client cap of 4 answered by ${capMode}, without hammering`, async () => {
      const content = makeContent(8 * MiB, 33);
      const reference = await referenceSeconds(content, 4 * MiB, 4);
      const s = await serve({ content, maxConnections: 4, capMode, ratePerConnection: 4 * MiB });
      const dir = await tempDir();
      const out = join(dir, 'out.bin');
      const t0 = performance.now();
      const result = await qget(s.fileUrl, { filepath: out, maxConnections: 16 });
      const seconds = (performance.now() - t0) / 1000;
      await assertFileEquals(out, content);
      // 8 MiB over 4 connections of 4 MiB/s: about half a second once settled, as long as the
      // same download from a server without a cap (the reference) takes.
      const bound = Math.max(2.5, 4 * reference);
      assert.ok(seconds < bound, `took ${seconds} s (reference ${reference} s)`);
      assert.ok(s.stats.refused >= 1, 'the cap was never hit: the test proves nothing');
      assert.ok(s.stats.refused <= 20, `${s.stats.refused} refused requests`);
      assert.ok(s.requests.length <= 50, `${s.requests.length} requests`);
      assert.ok(s.stats.maxOpenConnections <= 16, `${s.stats.maxOpenConnections} open at once`);
      assert.ok(
        result.connectionLimit !== undefined &&
          result.connectionLimit >= 3 &&
          result.connectionLimit <= 5,
        `measured limit ${result.connectionLimit}`,
      );
      assert.ok(s.stats.bytesSent < 1.25 * content.length, `${s.stats.bytesSent} bytes sent`);
    });
  }

  it('falls back to one stream when the server stops honouring ranges after the probe', async () => {
    const content = makeContent(4 * MiB, 35);
    const s = await serve({ content });
    // The probe sees ranges; every later request does not.
    Object.defineProperty(s.config, 'ranges', { get: () => s.requests.length <= 1 });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    assert.equal(s.requests[0]?.status, 206);
    const last = s.requests[s.requests.length - 1]!;
    assert.equal(last.range, undefined, 'the last request is a plain GET');
    assert.equal(last.status, 200);
    assert.equal(last.bytesSent, content.length);
    assert.ok(s.requests.length <= 10, `${s.requests.length} requests`);
  });

  it('starts over when the content changes mid-download: never a mix of versions', async () => {
    const original = makeContent(2 * MiB, 36);
    const s = await serve({
      content: original,
      changeAfterRequests: 3,
      ratePerConnection: 4 * MiB,
    });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 2, maxPartMb: 0.25 });
    assert.notEqual(
      s.config.content,
      original,
      'the content never changed: the test proves nothing',
    );
    await assertFileEquals(out, s.config.content);
    const probes = s.requests.filter((r) => r.range?.startsWith('bytes=0-'));
    assert.equal(probes.length, 2, 'one probe, and one more after the change');
    const afterChange = s.requests.filter((r) => r.id > probes[1]!.id && r.range !== undefined);
    assert.ok(afterChange.every((r) => r.ifRange === s.config.etag));
  });

  it('gives up with ERR_RESOURCE_CHANGED when the resource keeps changing', async () => {
    const content = makeContent(2 * MiB, 37);
    const s = await serve({ content, ratePerConnection: 2 * MiB });
    // Same bytes, new validators every 100 ms: each attempt sees a change.
    const timer = setInterval(() => s.setContent(content), 100);
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    try {
      await assert.rejects(
        qget(s.fileUrl, { filepath: out, maxConnections: 2, maxPartMb: 0.25 }),
        hasCode('ERR_RESOURCE_CHANGED'),
      );
    } finally {
      clearInterval(timer);
    }
    assert.equal(await exists(out), false);
    const probes = s.requests.filter((r) => r.range?.startsWith('bytes=0-'));
    assert.equal(probes.length, 4, 'the first attempt and three restarts');
  });

  it('discards old bytes when the content changed between two runs', async () => {
    const before = makeContent(4 * MiB, 38);
    const after = makeContent(4 * MiB, 39);
    const s = await serve({ content: before, ratePerConnection: 4 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    await interruptAt(0.4, s.fileUrl, { filepath: out });
    assert.ok(await exists(`${out}.qget`));
    s.setContent(after);
    s.config.ratePerConnection = 0;
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    assert.equal(result.resumedBytes, 0);
    await assertFileEquals(out, after);
  });

  it('drops a stalled connection after the timeout and finishes', async () => {
    const content = makeContent(2 * MiB, 40);
    const s = await serve({ content, stallAfterBytes: 200_000 });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const t0 = performance.now();
    await qget(s.fileUrl, { filepath: out, maxConnections: 1, timeout: 1 });
    const seconds = (performance.now() - t0) / 1000;
    await assertFileEquals(out, content);
    assert.ok(seconds >= 0.9 && seconds < 4, `took ${seconds} s with a 1 s timeout`);
    assert.equal(rangeStart(s.requests[1]?.range), 200_000, 'continued where it stalled');
  });

  it('does not wait for a stalled connection whose range others finished', async () => {
    const content = makeContent(4 * MiB, 41);
    const reference = await referenceSeconds(content, 8 * MiB, 4);
    const s = await serve({ content, stallAfterBytes: 200_000, ratePerConnection: 8 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const t0 = performance.now();
    // Waiting for the stalled connection would take the 20 s timeout.
    await qget(s.fileUrl, { filepath: out, maxConnections: 4, timeout: 20 });
    const seconds = (performance.now() - t0) / 1000;
    await assertFileEquals(out, content);
    const bound = Math.min(15, Math.max(3, 4 * reference));
    assert.ok(
      seconds < bound,
      `took ${seconds} s (reference ${reference} s): it waited for the stalled connection`,
    );
  });

  it('does not let a crawling connection decide the finish time', async () => {
    const content = makeContent(8 * MiB, 45);
    const reference = await referenceSeconds(content, 8 * MiB, 4);
    // Every third connection runs at 1/160 of 8 MiB/s: 40 s for a quarter of the file alone.
    const slowFactor = 160;
    const crawl = content.length / 4 / ((8 * MiB) / slowFactor);
    const s = await serve({ content, ratePerConnection: 8 * MiB, slowEvery: 3, slowFactor });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    const t0 = performance.now();
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    const seconds = (performance.now() - t0) / 1000;
    await assertFileEquals(out, content);
    // As fast as without the crawler (0.3-0.5 s when idle), far from the crawl.
    const bound = Math.min(crawl / 4, Math.max(2.5, 4 * reference));
    assert.ok(
      seconds < bound,
      `took ${seconds} s (reference ${reference} s): the slow connection kept its range`,
    );
    assert.ok(s.stats.bytesSent < 1.25 * content.length, `${s.stats.bytesSent} bytes sent`);
  });

  it('fails with ERR_LOCAL_IO when the output or tmp folder does not exist', async () => {
    const content = makeContent(100_000, 42);
    const s = await serve({ content });
    const dir = await tempDir();
    await assert.rejects(
      qget(s.fileUrl, { filepath: join(dir, 'missing', 'out.bin') }),
      hasCode('ERR_LOCAL_IO'),
    );
    await assert.rejects(
      qget(s.fileUrl, { filepath: join(dir, 'out.bin'), tmpDir: join(dir, 'no-such-tmp') }),
      hasCode('ERR_LOCAL_IO'),
    );
    assert.deepEqual(await listDir(dir), []);
  });

  it('stops on a write error (ENOSPC), keeping .part and control file', async () => {
    const content = makeContent(4 * MiB, 43);
    const s = await serve({ content, ratePerConnection: 8 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'out.bin');
    // A disk that fills up after 1 MiB: FileHandle writes (the .part's) fail like the kernel's.
    const probe = await open(join(dir, 'x'), 'w');
    const proto = Object.getPrototypeOf(probe) as Record<'write' | 'writev', unknown>;
    await probe.close();
    await rm(join(dir, 'x'));
    const { write, writev } = proto;
    let room = MiB;
    const failWhenFull = (original: unknown) =>
      function (this: unknown, data: Buffer | Buffer[], ...rest: unknown[]): unknown {
        room -= Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.length;
        if (room < 0) {
          const error = new Error('ENOSPC: no space left on device, write');
          return Promise.reject(Object.assign(error, { code: 'ENOSPC', syscall: 'write' }));
        }
        return (original as (...a: unknown[]) => unknown).call(this, data, ...rest);
      };
    proto.write = failWhenFull(write);
    proto.writev = failWhenFull(writev);
    try {
      await assert.rejects(
        qget(s.fileUrl, { filepath: out, maxConnections: 4 }),
        (err: unknown) => {
          hasCode('ERR_LOCAL_IO')(err);
          assert.match(String((err as Error).message), /no space left/);
          return true;
        },
      );
    } finally {
      proto.write = write;
      proto.writev = writev;
    }
    assert.deepEqual(await listDir(dir), ['out.bin.part', 'out.bin.qget']);
    // What the control file claims is really in the .part.
    const state = JSON.parse(await readFile(`${out}.qget`, 'utf8')) as {
      ranges: [number, number][];
    };
    const part = await readFile(`${out}.part`);
    for (const [a, b] of state.ranges) {
      assert.ok(part.subarray(a, b).equals(content.subarray(a, b)), `claimed ${a}-${b} is wrong`);
    }
    // Once there is room again, the next run finishes from there.
    const result = await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    assert.equal(
      result.resumedBytes,
      state.ranges.reduce((n, [a, b]) => n + b - a, 0),
    );
  });
});
