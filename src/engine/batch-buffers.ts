// The batch buffers a worker copies received bytes into before a positional write, reused across
// workers and downloads: two fresh chunkBytes buffers per worker per download were most of the
// garbage a queue of small files made (and its collection a tenth of the CPU time).

/** Buffers kept for reuse, in bytes at most. */
const MAX_FREE_BYTES = 16 * 1024 * 1024;

const free = new Map<number, Buffer[]>();
let freeBytes = 0;

/** A buffer of exactly `bytes` (contents undefined). */
export function takeBuffer(bytes: number): Buffer {
  const kept = free.get(bytes)?.pop();
  if (kept) {
    freeBytes -= bytes;
    return kept;
  }
  return Buffer.allocUnsafe(bytes);
}

/** Done with `buffer` (nothing may still read or write it). */
export function giveBuffer(buffer: Buffer): void {
  if (freeBytes + buffer.length > MAX_FREE_BYTES) return;
  const list = free.get(buffer.length);
  if (list) list.push(buffer);
  else free.set(buffer.length, [buffer]);
  freeBytes += buffer.length;
}

/** Two batch buffers of `bytes`, taken on first use; `release` gives them back. */
export function bufferPair(bytes: number): {
  get: () => [Buffer, Buffer];
  release: () => void;
} {
  let pair: [Buffer, Buffer] | undefined;
  return {
    get: () => {
      pair ??= [takeBuffer(bytes), takeBuffer(bytes)];
      return pair;
    },
    release: () => {
      if (!pair) return;
      giveBuffer(pair[0]);
      giveBuffer(pair[1]);
      pair = undefined;
    },
  };
}
