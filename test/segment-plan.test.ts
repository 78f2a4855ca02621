// Tests for src/engine/segment-plan.ts: splitting missing ranges, range bookkeeping, and the
// work-stealing decision (who gives up how much of its range).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ByteRange,
  CRAWL_STEAL_SECONDS,
  chooseSteal,
  FRESH_STEAL_SECONDS,
  mergeRanges,
  missingRanges,
  type Segment,
  splitRanges,
} from '../src/engine/segment-plan.js';
import { KiB, MiB } from './helpers/content.js';

let nextId = 0;
function seg(fields: Partial<Segment> & { start: number; end: number }): Segment {
  const pos = fields.pos ?? fields.start;
  return {
    id: nextId++,
    flushed: pos,
    active: true,
    speed: undefined,
    failures: 0,
    pos,
    requestEnd: fields.end,
    ...fields,
  };
}

function total(ranges: readonly ByteRange[]): number {
  return ranges.reduce((n, [s, e]) => n + e - s, 0);
}

/** The ranges are sorted, non-empty, do not overlap and cover exactly `expected`. */
function assertTiles(ranges: readonly ByteRange[], expected: readonly ByteRange[]): void {
  for (const [s, e] of ranges) assert.ok(e > s, `empty range ${s}-${e}`);
  for (let i = 1; i < ranges.length; i++) {
    assert.ok(ranges[i]![0] >= ranges[i - 1]![1], 'ranges overlap or are unsorted');
  }
  assert.deepEqual(mergeRanges(ranges), mergeRanges(expected));
}

describe('splitRanges', () => {
  it('cuts one large range into `pieces` equal ranges that tile it', () => {
    const out = splitRanges([[0, 16 * MiB]], 4, MiB);
    assert.equal(out.length, 4);
    assertTiles(out, [[0, 16 * MiB]]);
    for (const [s, e] of out) assert.equal(e - s, 4 * MiB);
  });

  it('never makes a range below the minimum split, so small files get fewer pieces', () => {
    const out = splitRanges([[0, 3 * MiB]], 16, MiB);
    assert.equal(out.length, 2);
    assertTiles(out, [[0, 3 * MiB]]);
    for (const [s, e] of out) assert.ok(e - s >= MiB);
    // Below two minimum splits the range stays whole.
    assert.deepEqual(splitRanges([[0, 2 * MiB - 1]], 16, MiB), [[0, 2 * MiB - 1]]);
  });

  it('cuts below the piece count no further than asked, largest first', () => {
    const out = splitRanges(
      [
        [0, MiB],
        [5 * MiB, 13 * MiB],
      ],
      3,
      256 * KiB,
    );
    assert.equal(out.length, 3);
    assertTiles(out, [
      [0, MiB],
      [5 * MiB, 13 * MiB],
    ]);
    // The 8 MiB range was cut, the 1 MiB one was not.
    assert.deepEqual(out[0], [0, MiB]);
  });

  it('with maxPart, cuts every range down to it even beyond the piece count', () => {
    const out = splitRanges([[0, 10 * MiB]], 2, 64 * KiB, MiB);
    assert.ok(out.length >= 10, `only ${out.length} pieces`);
    for (const [s, e] of out) assert.ok(e - s <= MiB, `piece of ${e - s} bytes`);
    assertTiles(out, [[0, 10 * MiB]]);
  });

  it('drops empty ranges and returns nothing for nothing', () => {
    assert.deepEqual(splitRanges([], 8, MiB), []);
    assert.deepEqual(
      splitRanges(
        [
          [5, 5],
          [10, 20],
        ],
        8,
        MiB,
      ),
      [[10, 20]],
    );
  });
});

describe('mergeRanges / missingRanges', () => {
  it('merges overlapping and touching ranges, sorts, and drops empty ones', () => {
    assert.deepEqual(
      mergeRanges([
        [50, 60],
        [0, 10],
        [10, 20],
        [15, 30],
        [40, 40],
        [70, 65],
      ]),
      [
        [0, 30],
        [50, 60],
      ],
    );
  });

  it('gives the gaps of [0, size) not covered, clamped to the size', () => {
    assert.deepEqual(
      missingRanges(100, [
        [10, 20],
        [15, 30],
        [90, 150],
      ]),
      [
        [0, 10],
        [30, 90],
      ],
    );
    assert.deepEqual(missingRanges(100, []), [[0, 100]]);
    assert.deepEqual(missingRanges(100, [[0, 100]]), []);
    assert.deepEqual(missingRanges(0, []), []);
    assert.equal(total(missingRanges(1000, [[100, 200]])) + 100, 1000);
  });
});

describe('chooseSteal', () => {
  const opts = { minSteal: 256 * KiB, thiefSpeed: undefined };

  it('with unknown speeds takes the upper half of the largest remaining range', () => {
    const small = seg({ start: 0, end: 2 * MiB, pos: MiB });
    const large = seg({ start: 2 * MiB, end: 10 * MiB, pos: 4 * MiB });
    const steal = chooseSteal([small, large], opts);
    assert.ok(steal);
    assert.equal(steal.segment, large);
    assert.equal(steal.splitAt, 7 * MiB);
  });

  it('with equal speeds also splits in the middle', () => {
    const victim = seg({ start: 0, end: 8 * MiB, pos: 0, speed: MiB });
    const steal = chooseSteal([victim], { minSteal: 256 * KiB, thiefSpeed: MiB });
    assert.equal(steal?.splitAt, 4 * MiB);
  });

  it('leaves the victim a share proportional to its speed', () => {
    // Victim 1 MiB/s, thief 3 MiB/s: the victim keeps a quarter, so both finish together.
    const victim = seg({ start: 0, end: 8 * MiB, pos: 0, speed: MiB });
    const steal = chooseSteal([victim], { minSteal: 256 * KiB, thiefSpeed: 3 * MiB });
    assert.equal(steal?.splitAt, 2 * MiB);
  });

  it('picks the victim that would finish last, not the one with most bytes left', () => {
    const big = seg({ start: 0, end: 8 * MiB, pos: 0, speed: 8 * MiB }); // 1 s left
    const slow = seg({ start: 8 * MiB, end: 12 * MiB, pos: 8 * MiB, speed: MiB }); // 4 s left
    const steal = chooseSteal([big, slow], { minSteal: 256 * KiB, thiefSpeed: 8 * MiB });
    assert.equal(steal?.segment, slow);
  });

  it('makes a crawling victim give up nearly all of its range', () => {
    const victim = seg({ start: 0, end: 4 * MiB, pos: MiB, speed: 1000 });
    const steal = chooseSteal([victim], { minSteal: 256 * KiB, thiefSpeed: 10 * MiB });
    assert.ok(steal);
    assert.ok(steal.splitAt >= MiB && steal.splitAt <= MiB + 8 * KiB, `split at ${steal.splitAt}`);
  });

  it('makes a stalled victim give up everything after its position, even a small tail', () => {
    const pos = 3 * MiB - 100 * KiB;
    const stalled = seg({ start: 0, end: 3 * MiB, pos, speed: 0 });
    const fast = seg({ start: 3 * MiB, end: 4 * MiB, pos: 4 * MiB - KiB, speed: 5 * MiB });
    const steal = chooseSteal([stalled, fast], opts);
    assert.ok(steal);
    assert.equal(steal.segment, stalled);
    assert.equal(steal.splitAt, pos, 'the stalled victim keeps nothing');
  });

  it("takes a stalled victim's tail shorter than a page", () => {
    // Its speed was unknown when a page-aligned split left it 704 bytes; then it stalled.
    const stalled = seg({ start: 0, end: 200_704, pos: 200_000, speed: 0 });
    const fast = seg({ start: 200_704, end: 4 * MiB, pos: 4 * MiB - KiB, speed: 5 * MiB });
    const steal = chooseSteal([stalled, fast], { ...opts, thiefSpeed: 5 * MiB });
    assert.equal(steal?.segment, stalled);
    assert.equal(steal?.splitAt, 200_000, 'the stalled victim keeps nothing');
  });

  it('makes a stalled victim give up everything even when no other speed is known', () => {
    const stalled = seg({ start: 0, end: 4 * MiB, pos: 200_000, speed: 0 });
    const steal = chooseSteal([stalled], opts);
    assert.equal(steal?.splitAt, 200_000);
  });

  it('splits on page boundaries, rounding in favour of the thief', () => {
    const victim = seg({ start: 0, end: 8 * MiB, pos: 1000 });
    const steal = chooseSteal([victim], opts);
    assert.ok(steal);
    assert.equal(steal.splitAt % 4096, 0);
    const half = 1000 + (8 * MiB - 1000) / 2;
    assert.ok(steal.splitAt <= half && steal.splitAt > half - 4096, `split at ${steal.splitAt}`);
  });

  it('a crawling victim that would keep less than a page keeps nothing', () => {
    const pos = MiB + 123;
    const victim = seg({ start: 0, end: 2 * MiB, pos, speed: 100 });
    const steal = chooseSteal([victim], { minSteal: 256 * KiB, thiefSpeed: 100 * MiB });
    assert.equal(steal?.splitAt, pos);
  });

  it('a victim not measured yet keeps a page even when every known speed crawls', () => {
    // Two fresh connections must not take a range from each other back and forth.
    const crawler = seg({ start: 0, end: 8 * KiB, pos: 4 * KiB, speed: 100 });
    const fresh = seg({ start: 6 * MiB, end: 6 * MiB + 8 * KiB });
    const steal = chooseSteal([crawler, fresh], { minSteal: 256 * KiB, thiefSpeed: 100 * MiB });
    assert.equal(steal?.segment, fresh);
    assert.equal(steal.splitAt, fresh.pos + 4 * KiB);
  });

  it('returns null when nothing is worth a request', () => {
    // Below twice the minimum steal with unknown speeds.
    const nearlyDone = seg({ start: 0, end: MiB, pos: MiB - 300 * KiB });
    assert.equal(chooseSteal([nearlyDone], opts), null);
    // Finished, inactive or empty segments are never victims.
    const finished = seg({ start: 0, end: 4 * MiB, pos: 4 * MiB });
    const idle = seg({ start: 4 * MiB, end: 8 * MiB, active: false });
    assert.equal(chooseSteal([finished, idle], opts), null);
    assert.equal(chooseSteal([], opts), null);
  });

  it('never splits below the victim position or outside its range', () => {
    for (const speed of [undefined, 0, 1, 1000, MiB, 100 * MiB]) {
      for (const pos of [0, 12_345, MiB - 4097, MiB + 1, 3 * MiB - 5000]) {
        const victim = seg({ start: 0, end: 3 * MiB, pos, speed });
        for (const thiefSpeed of [undefined, 1, MiB, 1000 * MiB]) {
          const steal = chooseSteal([victim], { minSteal: 64 * KiB, thiefSpeed });
          if (!steal) continue;
          assert.ok(
            steal.splitAt >= pos && steal.splitAt < victim.end,
            `speed ${speed} pos ${pos} thief ${thiefSpeed}: split at ${steal.splitAt}`,
          );
        }
      }
    }
  });
});

describe('chooseSteal keeps the socket of a victim that is nearly done with its request', () => {
  it('a victim about to finish its request is split at the request end', () => {
    // Equal speeds would split 2 MiB at 5 MiB, inside the victim's request to 5.5 MiB, which
    // it finishes in under 0.2 s: split at 5.5 MiB instead.
    const v = seg({ start: 0, end: 6 * MiB, pos: 4 * MiB, speed: 8 * MiB, requestEnd: 5.5 * MiB });
    const d = chooseSteal([v], { minSteal: 256 * KiB, thiefSpeed: 8 * MiB });
    assert.equal(d?.splitAt, 5.5 * MiB);
  });

  it('a victim that finishes all it has within MIN_STEAL_SECONDS keeps it', () => {
    // 1.5 MiB left at 10 MiB/s (0.15 s), all in its request: a new request and a lost socket
    // would save less than they cost.
    const v = seg({ start: 0, end: 2 * MiB, pos: MiB / 2, speed: 10 * MiB });
    assert.equal(chooseSteal([v], { minSteal: 256 * KiB, thiefSpeed: 10 * MiB }), null);
    // The same victim with 4 MiB left (0.4 s) is split.
    const longer = seg({ start: 0, end: 4.5 * MiB, pos: MiB / 2, speed: 10 * MiB });
    assert.ok(chooseSteal([longer], { minSteal: 256 * KiB, thiefSpeed: 10 * MiB }) !== null);
  });

  it('the estimate stands in for a speed the meter has not measured yet', () => {
    const v = seg({ start: 0, end: 2 * MiB, pos: MiB / 2 });
    const opts = { minSteal: 256 * KiB, thiefSpeed: undefined };
    // Unknown: the size rule splits it in the middle.
    assert.equal(chooseSteal([v], opts)?.splitAt, 1.25 * MiB);
    // 40 MiB/s so far: it is done in under 0.05 s.
    assert.equal(chooseSteal([v], { ...opts, estimate: () => 40 * MiB }), null);
  });

  it('a crawling victim is cut mid-request (its request would take too long)', () => {
    const v = seg({ start: 0, end: 16 * MiB, pos: 4 * MiB, speed: 64 * KiB, requestEnd: 8 * MiB });
    const d = chooseSteal([v], { minSteal: 256 * KiB, thiefSpeed: 8 * MiB });
    assert.ok(d !== null && d.splitAt < 4 * MiB + 256 * KiB, `split at ${d?.splitAt}`);
  });
});

describe('chooseSteal with many idle connections', () => {
  it('a slow victim keeps no more than it can do while the whole pool finishes the rest', () => {
    // 1 slow victim (256 KiB/s, 8 MiB left) and 3 fast ones (8 MiB/s, 1 MiB left each): the
    // pool needs about (8 + 3) MiB / 24.25 MiB/s ≈ 0.45 s, so the victim keeps ≈ 116 KiB,
    // not the 8 MiB × 0.25/8.25 ≈ 248 KiB a one-on-one split would leave it.
    const slow = seg({ start: 0, end: 8 * MiB, speed: 256 * KiB });
    const fast = [1, 2, 3].map((i) =>
      seg({ start: i * 16 * MiB, end: i * 16 * MiB + MiB, speed: 8 * MiB }),
    );
    const d = chooseSteal([slow, ...fast], { minSteal: 256 * KiB, thiefSpeed: 8 * MiB });
    assert.equal(d?.segment, slow);
    const kept = d!.splitAt - slow.pos;
    assert.ok(kept <= 128 * KiB, `kept ${kept} bytes`);
  });
});

describe('chooseSteal at the end, against a crawling answer', () => {
  const opts = { minSteal: 256 * KiB, thiefSpeed: 8 * MiB };

  it('hands over a small rest of a crawler when waiting for it would decide the finish', () => {
    // 60 KiB left at 256 KiB/s: 0.23 s, under the general 0.3 s and over MIN_STEAL_SECONDS;
    // a thief at 8 MiB/s needs 7 ms for it.
    const v = seg({ start: 0, end: MiB, pos: MiB - 60 * KiB, speed: 256 * KiB, requestEnd: MiB });
    const d = chooseSteal([v], opts);
    assert.equal(d?.segment, v);
    assert.equal(d?.splitAt, v.pos);
  });

  it('a rest inside MIN_STEAL_SECONDS is handed over too when its answer crawls', () => {
    // 40 KiB at 256 KiB/s: 0.16 s.
    const v = seg({ start: 0, end: MiB, pos: MiB - 40 * KiB, speed: 256 * KiB, requestEnd: MiB });
    assert.equal(chooseSteal([v], opts)?.splitAt, v.pos);
  });

  it('leaves a crawler the rest it finishes within CRAWL_STEAL_SECONDS', () => {
    const v = seg({ start: 0, end: MiB, pos: MiB - 8 * KiB, speed: 256 * KiB, requestEnd: MiB });
    assert.ok(8 / 256 < CRAWL_STEAL_SECONDS);
    assert.equal(chooseSteal([v], opts), null);
  });

  it('a victim at half the thief speed is no crawler: its small rest stays', () => {
    const v = seg({ start: 0, end: MiB, pos: MiB - 60 * KiB, speed: 4 * MiB, requestEnd: MiB });
    assert.equal(chooseSteal([v], opts), null);
  });

  it('under a rate limit (crawlSeconds infinite) nobody is a crawler', () => {
    const v = seg({ start: 0, end: MiB, pos: MiB - 60 * KiB, speed: 256 * KiB, requestEnd: MiB });
    assert.equal(chooseSteal([v], { ...opts, crawlSeconds: Number.POSITIVE_INFINITY }), null);
  });
});

describe('chooseSteal at the end of a fast download', () => {
  it('fresh requests the thief would finish within MIN_STEAL_SECONDS are not cut in halves', () => {
    // No speed known (every request too short for a meter), 1 MiB left in each request in
    // flight: at the thief's 200 MiB/s that is 5 ms; cutting it would waste what the server
    // pushed, then the next idle connection would cut the half, and so on.
    const a = seg({ start: 0, end: MiB });
    const b = seg({ start: 8 * MiB, end: 9 * MiB });
    assert.equal(chooseSteal([a, b], { minSteal: 256 * KiB, thiefSpeed: 200 * MiB }), null);
    // Without the thief's speed the size rule still splits.
    assert.ok(chooseSteal([a, b], { minSteal: 256 * KiB, thiefSpeed: undefined }) !== null);
    // At 7 MiB/s the same fresh requests take 0.14 s, over FRESH_STEAL_SECONDS: split.
    assert.ok(MiB / (7 * MiB) > FRESH_STEAL_SECONDS);
    const slower = chooseSteal([a, b], { minSteal: 256 * KiB, thiefSpeed: 7 * MiB });
    assert.ok(slower !== null && slower.splitAt > slower.segment.pos, `${slower?.splitAt}`);
    // A range beyond the request in flight is still taken (no cut).
    const c = seg({ start: 0, end: 16 * MiB, requestEnd: MiB });
    const d = chooseSteal([c], { minSteal: 256 * KiB, thiefSpeed: 200 * MiB });
    assert.ok(d !== null && d.splitAt >= MiB, `split at ${d?.splitAt}`);
  });

  it('a backlogged victim is split at the end of its request, or not at all', () => {
    const opts = { minSteal: 256 * KiB, thiefSpeed: 8 * MiB, backlogged: () => true };
    const v = seg({ start: 0, end: 64 * MiB, speed: 8 * MiB, requestEnd: 48 * MiB });
    assert.equal(chooseSteal([v], opts)?.splitAt, 48 * MiB);
    const whole = seg({ start: 0, end: 64 * MiB, speed: 8 * MiB });
    assert.equal(chooseSteal([whole], opts), null);
    // The same victims without a backlog are split in the middle of their request.
    const free = { ...opts, backlogged: () => false };
    assert.equal(chooseSteal([whole], free)?.splitAt, 32 * MiB);
    assert.equal(chooseSteal([v], free)?.splitAt, 32 * MiB);
  });
});
