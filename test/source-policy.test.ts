// The decisions about several sources (source-policy.ts), without a network.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  chooseSource,
  decideSourceFailure,
  fairShares,
  farSlower,
  judgeSamples,
  overShare,
  SAMPLE_BYTES,
  SOURCE_FAILURE_LIMIT,
  sampleRange,
  type SourceLoad,
} from '../src/engine/source-policy.js';
import { hashedSpan, hashedWinner, SpanHasher } from '../src/engine/sample-hashes.js';

const load = (live: number, cap = 16, usable = true, ready = usable): SourceLoad => ({
  usable,
  ready,
  cap,
  live,
});

describe('fairShares', () => {
  it('splits the total evenly, earlier sources taking the remainder', () => {
    assert.deepEqual(fairShares(12, [load(0), load(0), load(0)]), [4, 4, 4]);
    assert.deepEqual(fairShares(8, [load(0), load(0), load(0)]), [3, 3, 2]);
    assert.deepEqual(fairShares(2, [load(0), load(0), load(0)]), [1, 1, 0]);
  });
  it('gives unusable sources nothing and what a capped source cannot take to the others', () => {
    assert.deepEqual(fairShares(12, [load(0), load(0, 16, false), load(0)]), [6, 0, 6]);
    assert.deepEqual(fairShares(12, [load(0, 2), load(0), load(0)]), [2, 5, 5]);
    assert.deepEqual(fairShares(12, [load(0, 2), load(0, 3)]), [2, 3]);
  });
  it('one source gets everything up to its cap', () => {
    assert.deepEqual(fairShares(16, [load(0, 4)]), [4]);
    assert.deepEqual(fairShares(0, [load(0)]), [0]);
  });
});

describe('chooseSource and overShare', () => {
  it('a new connection goes to the source furthest below its share', () => {
    const loads = [load(6), load(0), load(0)];
    const shares = fairShares(6, loads);
    assert.equal(chooseSource(shares, loads), 1);
    assert.equal(chooseSource(shares, [load(2), load(2), load(1)]), 2);
    assert.equal(chooseSource(shares, [load(2), load(2), load(2)]), -1);
  });
  it('a source above its share yields only while another lacks connections', () => {
    const shares = [2, 2, 2];
    assert.equal(overShare(0, shares, [load(6), load(0), load(0)]), true);
    assert.equal(overShare(0, shares, [load(3), load(2), load(2)]), false);
    assert.equal(overShare(1, shares, [load(6), load(0), load(0)]), false);
  });
  it('keeps the share of a source being checked, without giving it connections yet', () => {
    const loads = [load(4), load(0, 16, true, false), load(0, 16, true, false)];
    const shares = fairShares(12, loads);
    assert.deepEqual(shares, [4, 4, 4]);
    assert.equal(chooseSource(shares, loads), -1);
    assert.equal(overShare(0, shares, [load(6), load(0, 16, true, false)]), false);
  });
  it('never chooses a source at its cap', () => {
    assert.equal(chooseSource([4, 4], [load(4), load(1, 1)]), -1);
  });
});

describe('judgeSamples', () => {
  it('the majority of equal samples wins', () => {
    assert.deepEqual(judgeSamples(['x', 'x', 'y']), { winners: [0, 1], losers: [2] });
    assert.deepEqual(judgeSamples(['y', 'x', 'x']), { winners: [1, 2], losers: [0] });
  });
  it('on a tie the first URL wins; sources without a sample take no part', () => {
    assert.deepEqual(judgeSamples(['x', 'y']), { winners: [0], losers: [1] });
    assert.deepEqual(judgeSamples(['x', undefined, 'y', 'y', 'x']), {
      winners: [0, 4],
      losers: [2, 3],
    });
    assert.deepEqual(judgeSamples([undefined, 'y']), { winners: [1], losers: [] });
  });
  it('a known hash decides over the majority', () => {
    assert.deepEqual(judgeSamples(['x', 'x', 'y'], 'y'), { winners: [2], losers: [0, 1] });
    assert.deepEqual(judgeSamples(['x', 'x'], 'z'), { winners: [], losers: [0, 1] });
  });
});

describe('decideSourceFailure', () => {
  const facts = { failuresInARow: 0, othersUsable: true };
  it('drops a source on what would end the download, while another source is usable', () => {
    for (const action of ['fatal', 'changed', 'fallback'] as const) {
      assert.equal(decideSourceFailure({ ...facts, action }), 'drop', action);
    }
  });
  it('drops a source after failures in a row', () => {
    assert.equal(decideSourceFailure({ ...facts, action: 'retry' }), 'keep');
    assert.equal(
      decideSourceFailure({
        action: 'retry',
        failuresInARow: SOURCE_FAILURE_LIMIT - 1,
        othersUsable: true,
      }),
      'drop',
    );
  });
  it('never drops the last source, nor on a stop, crawl or refusal', () => {
    assert.equal(
      decideSourceFailure({ action: 'fatal', failuresInARow: 9, othersUsable: false }),
      'keep',
    );
    for (const action of ['stop', 'reconnect', 'wait'] as const) {
      assert.equal(decideSourceFailure({ ...facts, action, failuresInARow: 9 }), 'keep', action);
    }
  });
});

describe('farSlower', () => {
  it('is under a tenth of the fastest other source, per connection', () => {
    assert.equal(farSlower(50, [1000, 600]), true);
    assert.equal(farSlower(150, [1000, 600]), false);
    assert.equal(farSlower(0, [1000]), true);
  });
  it('says nothing while unmeasured', () => {
    assert.equal(farSlower(undefined, [1000]), false);
    assert.equal(farSlower(5, [undefined]), false);
    assert.equal(farSlower(5, []), false);
  });
});

describe('sampleRange', () => {
  it('is 64 KiB at the start of the first confirmed range that holds it', () => {
    assert.deepEqual(
      sampleRange(10 * SAMPLE_BYTES, [
        [0, 1000],
        [5000, 5000 + SAMPLE_BYTES],
      ]),
      [5000, 5000 + SAMPLE_BYTES],
    );
    assert.equal(sampleRange(10 * SAMPLE_BYTES, [[0, SAMPLE_BYTES - 1]]), undefined);
  });
  it('is the whole file when smaller', () => {
    assert.deepEqual(sampleRange(100, [[0, 100]]), [0, 100]);
    assert.equal(sampleRange(0, []), undefined);
  });
});

describe('hashes decide the vote (sample-hashes.ts)', () => {
  const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');
  const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_v, i) => (i * 7) % 251));
  const pieces = {
    algorithm: 'sha1' as const,
    length: 300,
    hashes: [0, 300, 600, 900].map((at) => sha1(bytes.subarray(at, at + 300))),
  };

  it('hashedSpan: the pieces a sample overlaps, else a small whole file under its checksum', () => {
    const span = hashedSpan(1000, [250, 650], pieces, undefined);
    assert.equal(span?.kind, 'pieces');
    assert.deepEqual([span?.start, span?.end], [0, 900]);
    assert.deepEqual(
      span?.checks.map((c) => [c.start, c.end]),
      [
        [0, 300],
        [300, 600],
        [600, 900],
      ],
    );
    assert.deepEqual(
      hashedSpan(1000, [900, 1000], pieces, undefined)?.checks.map((c) => c.end),
      [1000],
    );
    const checksum = { algorithm: 'sha256' as const, digest: sha256(bytes) };
    // Pieces too long to fetch: the whole file when it is small enough, else nothing.
    const max = (pieces: number, file: number) => ({ pieces, file });
    assert.equal(hashedSpan(1000, [0, 100], pieces, checksum, max(200, 1000))?.kind, 'checksum');
    assert.equal(hashedSpan(1000, [0, 100], pieces, undefined, max(200, 1000)), undefined);
    assert.equal(hashedSpan(1000, [0, 100], undefined, checksum, max(200, 999)), undefined);
    // Piece hashes that do not match the size judge nothing.
    const short = { ...pieces, hashes: pieces.hashes.slice(1) };
    assert.equal(hashedSpan(1000, [0, 100], short, undefined), undefined);
  });

  it('SpanHasher and hashedWinner: the side whose span matches wins, whatever the chunks', () => {
    const span = hashedSpan(1000, [250, 650], pieces, undefined)!;
    const feed = (b: Buffer, step: number) => {
      const h = new SpanHasher(span, [250, 650]);
      for (let at = span.start; at < span.end; at += step) h.update(b.subarray(at, at + step));
      return h.result();
    };
    const good = feed(bytes, 77);
    assert.deepEqual(good, { sample: sha256(bytes.subarray(250, 650)), matches: true });
    const lie = Buffer.from(bytes);
    lie[400]! ^= 1;
    const bad = feed(lie, 1000);
    assert.equal(bad.matches, false);
    // Outside the sample but inside a piece: the sample agrees, the piece does not.
    const edge = Buffer.from(bytes);
    edge[10]! ^= 1;
    assert.equal(feed(edge, 64).matches, false);
    assert.equal(feed(edge, 64).sample, good.sample);
    // Short of the span's end: no match.
    const h = new SpanHasher(span, [250, 650]);
    h.update(bytes.subarray(0, 500));
    assert.equal(h.result().matches, false);
    assert.equal(
      hashedWinner([
        { digest: bad.sample, result: bad },
        { digest: good.sample, result: good },
      ]),
      good.sample,
    );
    // A side whose span matched but whose sample is not the digest it stands for: no winner.
    assert.equal(hashedWinner([{ digest: bad.sample, result: good }]), undefined);
    assert.equal(hashedWinner([{ digest: bad.sample, result: undefined }]), undefined);
    // The expected digest decides over a majority.
    assert.deepEqual(judgeSamples(['x', 'y', 'y'], 'x'), { winners: [0], losers: [1, 2] });
  });
});
