// Deterministic test content. Bytes come from xorshift32, reseeded every 64 KiB block from
// (seed, block index), so any slice can also be produced on demand without the whole buffer
// (see `virtualContent`, used by the benchmark for files too big to hold in memory).
// Words are written through a Uint32Array, i.e. in the platform's byte order (little-endian on
// every platform we run on); the bytes are identical between makeContent and virtualContent.

import { createHash } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;

const BLOCK_BYTES = 64 * 1024;
const BLOCK_WORDS = BLOCK_BYTES / 4;

/** A read-only byte source that can produce any slice of itself. */
export interface ContentSource {
  readonly size: number;
  /** Bytes [start, end) — end exclusive, like Buffer.subarray. */
  read(start: number, end: number): Buffer;
}

function blockState(seed: number, block: number): number {
  // murmur3 fmix32 over a mix of seed and block index; xorshift32 must not start at 0.
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(block | 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0 || 0x6d2b79f5;
}

/** Fill `words` (at most one block) with the xorshift32 stream of block `block`. */
function fillBlock(words: Uint32Array, seed: number, block: number): void {
  let x = blockState(seed, block);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

/** Fill `out` (a buffer from allocUnsafeSlow, so 4-byte aligned) with blocks from firstBlock on. */
function fillBlocks(out: Buffer, seed: number, firstBlock: number): void {
  const whole = Math.floor(out.length / 4);
  const words = new Uint32Array(out.buffer, out.byteOffset, whole);
  for (let w = 0, b = firstBlock; w < whole; w += BLOCK_WORDS, b++) {
    fillBlock(words.subarray(w, Math.min(whole, w + BLOCK_WORDS)), seed, b);
  }
  const rest = out.length - whole * 4;
  if (rest > 0) {
    // The last 1-3 bytes: regenerate their block in scratch space and copy the bytes that fit.
    const b = Math.floor(whole / BLOCK_WORDS);
    const scratch = new Uint32Array(whole - b * BLOCK_WORDS + 1);
    fillBlock(scratch, seed, firstBlock + b);
    Buffer.from(scratch.buffer, (scratch.length - 1) * 4, rest).copy(out, whole * 4);
  }
}

/** `size` deterministic pseudo-random bytes; different seeds give different bytes. */
export function makeContent(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  fillBlocks(out, seed, 0);
  return out;
}

/** The same bytes as makeContent(size, seed), produced slice by slice on demand. */
export function virtualContent(size: number, seed = 1): ContentSource {
  return {
    size,
    read(start: number, end: number): Buffer {
      start = Math.max(0, start);
      end = Math.min(size, end);
      if (end <= start) return Buffer.alloc(0);
      const first = Math.floor(start / BLOCK_BYTES);
      const spanEnd = Math.min(size, Math.ceil(end / BLOCK_BYTES) * BLOCK_BYTES);
      const span = Buffer.allocUnsafeSlow(spanEnd - first * BLOCK_BYTES);
      fillBlocks(span, seed, first);
      const from = start - first * BLOCK_BYTES;
      return span.subarray(from, from + (end - start));
    },
  };
}

/** Hex SHA-256 of a buffer. */
export function sha256(buf: Buffer | Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Hex SHA-256 of a ContentSource, hashed in 8 MiB slices (for sources too big to hold). */
export function sha256Source(source: ContentSource): string {
  const hash = createHash('sha256');
  const step = 8 * 1024 * 1024;
  for (let pos = 0; pos < source.size; pos += step) {
    hash.update(source.read(pos, Math.min(source.size, pos + step)));
  }
  return hash.digest('hex');
}
