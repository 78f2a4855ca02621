// When the sources' samples disagree, hashes decide rather than the majority: the span of
// hashed bytes that holds the sample (the Metalink pieces it overlaps, or the whole file when a
// whole-file checksum covers a file that small) is hashed as each side serves it, and the side
// whose span matches wins. Pure: the span is computed from numbers, the hasher fed chunks.

import { createHash, type Hash } from 'node:crypto';
import type { ChecksumAlgorithm, ChecksumSpec } from './checksum.js';
import type { PieceHashes } from './metalink.js';

/** The most bytes of pieces fetched (from each side of a disagreement) to let them decide. */
export const MAX_PIECE_SPAN = 16 * 1024 * 1024;
/** The largest file a whole-file checksum decides a disagreement for (each side fetched whole). */
export const MAX_CHECKSUM_SPAN = 4 * 1024 * 1024;

/** One known hash over [start, end). */
export interface HashCheck {
  start: number;
  end: number;
  algorithm: ChecksumAlgorithm;
  digest: string;
}

/** Bytes [start, end) whose hashes are known: `checks` cover them end to end, in order. */
export interface HashedSpan {
  /** Which hashes: Metalink pieces, or the whole file's checksum. */
  kind: 'pieces' | 'checksum';
  start: number;
  end: number;
  checks: HashCheck[];
}

/**
 * The hashed span holding the sample `[start, end)` of a `size`-byte file: the pieces it
 * overlaps (piece hashes, at most `max.pieces` bytes), else the whole file when `checksum` is
 * known and the file is no larger than `max.file`. Undefined when no hash can judge the sample: a whole-file checksum of a
 * larger file says nothing about 64 KiB of it (the majority decides then, and a wrong choice
 * shows only as the checksum failing at the end).
 */
export function hashedSpan(
  size: number,
  range: readonly [number, number],
  pieces: PieceHashes | undefined,
  checksum: ChecksumSpec | undefined,
  max = { pieces: MAX_PIECE_SPAN, file: MAX_CHECKSUM_SPAN },
): HashedSpan | undefined {
  const [start, end] = range;
  if (end <= start || end > size) return undefined;
  if (pieces && pieces.hashes.length === Math.ceil(size / pieces.length)) {
    const first = Math.floor(start / pieces.length);
    const last = Math.floor((end - 1) / pieces.length);
    const checks: HashCheck[] = [];
    for (let i = first; i <= last; i++) {
      checks.push({
        start: i * pieces.length,
        end: Math.min((i + 1) * pieces.length, size),
        algorithm: pieces.algorithm,
        digest: pieces.hashes[i]!,
      });
    }
    const span: HashedSpan = {
      kind: 'pieces',
      start: checks[0]!.start,
      end: checks.at(-1)!.end,
      checks,
    };
    if (span.end - span.start <= max.pieces) return span;
  }
  if (checksum && size <= max.file) {
    return {
      kind: 'checksum',
      start: 0,
      end: size,
      checks: [{ start: 0, end: size, ...checksum }],
    };
  }
  return undefined;
}

/** What one side's bytes of a span came to. */
export interface SpanResult {
  /** sha-256 of its bytes of the sample (to tell which sample they back). */
  sample: string;
  /** Every hash of the span matched. */
  matches: boolean;
}

/** Hashes a span's bytes fed in order: each check's hash, and the sample's sha-256. */
export class SpanHasher {
  readonly #span: HashedSpan;
  readonly #sample: readonly [number, number];
  readonly #sampleHash = createHash('sha256');
  readonly #hashes: Hash[];
  #at: number;

  constructor(span: HashedSpan, sample: readonly [number, number]) {
    this.#span = span;
    this.#sample = sample;
    this.#at = span.start;
    this.#hashes = span.checks.map((c) => createHash(c.algorithm));
  }

  /** Bytes fed so far reach this offset. */
  get at(): number {
    return this.#at;
  }

  update(chunk: Uint8Array): void {
    const from = this.#at;
    const to = Math.min(from + chunk.length, this.#span.end);
    if (to <= from) return;
    this.#span.checks.forEach((c, i) => {
      const s = Math.max(c.start, from);
      const e = Math.min(c.end, to);
      if (s < e) this.#hashes[i]!.update(chunk.subarray(s - from, e - from));
    });
    const [ss, se] = this.#sample;
    const s = Math.max(ss, from);
    const e = Math.min(se, to);
    if (s < e) this.#sampleHash.update(chunk.subarray(s - from, e - from));
    this.#at = to;
  }

  /** The result once every byte of the span was fed (else it matches nothing). */
  result(): SpanResult {
    const whole = this.#at === this.#span.end;
    const matches =
      whole && this.#span.checks.every((c, i) => this.#hashes[i]!.digest('hex') === c.digest);
    return { sample: this.#sampleHash.digest('hex'), matches };
  }
}

/**
 * The sample digest the hashes back: the one whose side's span matched (and whose bytes of the
 * sample are that digest); undefined when no side matched.
 */
export function hashedWinner(
  sides: readonly { digest: string; result: SpanResult | undefined }[],
): string | undefined {
  return sides.find((s) => s.result?.matches && s.result.sample === s.digest)?.digest;
}
