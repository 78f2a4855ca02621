// Piece hashes (Metalink): each piece is hashed from the .part as soon as all of it is
// confirmed on disk. A bad piece's bytes are taken back (no longer confirmed: a new segment
// fetches them again, from any source) and the source that served it is dropped (when one alone
// did). The round is over only once every piece is verified.

import { createHash } from 'node:crypto';
import { ChecksumError } from '../errors.js';
import type { PieceHashes } from './metalink.js';
import type { PartFile } from './part-file.js';
import { type ByteRange, mergeRanges, newSegment, type Segment } from './segment-plan.js';
import type { Source } from './sources.js';
import type { Transfer } from './transfer.js';

/** A piece failing this many times (whoever served it) fails the download. */
const MAX_BAD = 4;
/** Ids of the segments made here, apart from the scheduler's. */
let nextId = 2 ** 40;

/** What the verifier acts on: the segmented round. */
export interface PieceHost {
  readonly transfer: Transfer;
  readonly part: PartFile;
  readonly sources: Source[];
  othersUsable(source: Source): boolean;
  drop(source: Source, reason: string): void;
  /** Record what the requests still running have served so far (see served()). */
  noteInFlight(): void;
}

/** Piece i: [i × length, min((i + 1) × length, size)). */
export function pieceRange(i: number, length: number, size: number): [number, number] {
  return [i * length, Math.min((i + 1) * length, size)];
}

/** Indexes of the pieces not yet verified that `confirmed` (merged) covers entirely. */
export function completePieces(
  confirmed: readonly ByteRange[],
  verified: Uint8Array,
  length: number,
  size: number,
): number[] {
  const out: number[] = [];
  for (const [s, e] of confirmed) {
    for (let i = Math.ceil(s / length); i * length < e; i++) {
      const [ps, pe] = pieceRange(i, length, size);
      if (pe <= e && ps >= s && verified[i] === 0) out.push(i);
    }
  }
  return out;
}

/**
 * Take [start, end) back from what is confirmed: done ranges cut, segments over it moved
 * past it (a head before it kept as a finished segment), and a fresh segment for it.
 */
export function unconfirm(transfer: Transfer, start: number, end: number, whole = false): void {
  transfer.done = transfer.done.flatMap(([s, e]): ByteRange[] =>
    e <= start || s >= end
      ? [[s, e]]
      : [...(s < start ? [[s, start] as const] : []), ...(e > end ? [[end, e] as const] : [])],
  );
  const added: Segment[] = [];
  for (const seg of transfer.segments) {
    if (seg.start >= end || seg.flushed <= start) continue;
    if (seg.start < start) {
      const head = newSegment(nextId++, seg.start, start);
      head.pos = start;
      head.flushed = start;
      added.push(head);
    }
    seg.start = Math.min(Math.max(end, seg.start), seg.end);
    seg.pos = Math.max(seg.pos, seg.start);
    seg.flushed = Math.max(seg.flushed, seg.start);
  }
  const again = newSegment(nextId++, start, end);
  if (whole) again.whole = true;
  transfer.segments.push(...added, again);
}

export class PieceVerifier {
  readonly #spec: PieceHashes;
  readonly #size: number;
  readonly #verified: Uint8Array;
  /** Per piece, a bit per source index that served some of its bytes. */
  readonly #servedBy: Uint32Array;
  readonly #bad: Uint8Array;
  #busy = false;
  #left: number;

  constructor(spec: PieceHashes, size: number) {
    this.#spec = spec;
    this.#size = size;
    const count = Math.ceil(size / spec.length);
    this.#verified = new Uint8Array(count);
    this.#servedBy = new Uint32Array(count);
    this.#bad = new Uint8Array(count);
    this.#left = count;
  }

  /** Every piece is verified. */
  get done(): boolean {
    return this.#left === 0;
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** `source` served [start, end). */
  served(source: Source, start: number, end: number): void {
    if (end <= start || source.index > 31) return;
    const length = this.#spec.length;
    for (let i = Math.floor(start / length); i * length < end; i++) {
      this.#servedBy[i]! |= 1 << source.index;
    }
  }

  /**
   * Verify the pieces complete on disk (one batch at a time). `after` runs when the batch is
   * done (with whether a piece was taken back); a failure to read, or a piece failing too often,
   * stops the transfer.
   */
  check(host: PieceHost, after: (refetch: boolean) => void): void {
    if (this.#busy || this.#left === 0) return;
    const confirmed = mergeRanges(host.transfer.confirmed());
    const pieces = completePieces(confirmed, this.#verified, this.#spec.length, this.#size);
    if (pieces.length === 0) return;
    this.#busy = true;
    this.#verify(host, pieces)
      .then(
        (refetch) => after(refetch),
        (err) => host.transfer.stop(err),
      )
      .finally(() => {
        this.#busy = false;
      });
  }

  async #verify(host: PieceHost, pieces: number[]): Promise<boolean> {
    const { algorithm, length, hashes } = this.#spec;
    let refetch = false;
    for (const i of pieces) {
      if (host.transfer.stopping) return false;
      const [ps, pe] = pieceRange(i, length, this.#size);
      const digest = createHash(algorithm)
        .update(await host.part.read(ps, pe - ps))
        .digest('hex');
      if (digest === hashes[i]) {
        this.#verified[i] = 1;
        this.#left--;
        continue;
      }
      refetch = true;
      if (++this.#bad[i]! >= MAX_BAD) {
        throw new ChecksumError(`${algorithm} (piece ${i})`, hashes[i] ?? '', digest);
      }
      const reason = `piece ${i} (bytes ${ps}-${pe - 1}) failed its ${algorithm} hash`;
      host.transfer.run.debug(`${reason}: fetching it again`);
      // Its source is dropped when one alone served it; with several, the piece fetched again
      // (most likely by one connection) tells which.
      host.noteInFlight();
      const culprits = host.sources.filter((s) => (this.#servedBy[i]! & (1 << s.index)) !== 0);
      const [culprit] = culprits;
      if (culprits.length === 1 && culprit && host.othersUsable(culprit)) {
        host.drop(culprit, reason);
      }
      this.#servedBy[i] = 0;
      host.transfer.received -= pe - ps;
      // Several sources served it: one connection (one source) fetches it again, or the same
      // split could fail it again and again without telling who lied (exit 5 under load).
      unconfirm(host.transfer, ps, pe, culprits.length > 1);
    }
    return refetch;
  }
}
