// Piece hashes (a Metalink's) over bytes going into a stream, in order, before they are handed to
// it: each piece is hashed as its last byte comes and a bad one fails the download at once (what
// is in the stream cannot be taken back; the write holding the bad piece's last byte, and all
// after it, are kept out). Kept across runs with the stream: once a piece failed, it fails again.

import { createHash, type Hash } from 'node:crypto';
import { ChecksumError } from '../errors.js';
import type { PieceHashes } from './metalink.js';

export class StreamPieces {
  readonly #spec: PieceHashes;
  readonly #size: number;
  #index = 0;
  #filled = 0;
  #hash: Hash;
  #failed: ChecksumError | undefined;

  /** `size`: the file's bytes (the last piece may be shorter). */
  constructor(spec: PieceHashes, size: number) {
    this.#spec = spec;
    this.#size = size;
    this.#hash = createHash(spec.algorithm);
  }

  /** The next bytes of the stream, in order; a ChecksumError when a piece they end is bad. */
  update(bytes: Buffer): void {
    if (this.#failed) throw this.#failed;
    let at = 0;
    while (at < bytes.length) {
      const start = this.#index * this.#spec.length;
      const length = Math.min(this.#spec.length, this.#size - start);
      const take = Math.min(length - this.#filled, bytes.length - at);
      if (take <= 0) return; // past the last piece: the size check reports it
      this.#hash.update(bytes.subarray(at, at + take));
      this.#filled += take;
      at += take;
      if (this.#filled === length) this.#endPiece(start, length);
    }
  }

  #endPiece(start: number, length: number): void {
    const actual = this.#hash.digest('hex');
    const expected = this.#spec.hashes[this.#index];
    if (expected !== undefined && actual !== expected) {
      this.#failed = new ChecksumError(
        `${this.#spec.algorithm} of piece ${this.#index + 1} (bytes ${start}-${start + length - 1})`,
        expected,
        actual,
      );
      throw this.#failed;
    }
    this.#index++;
    this.#filled = 0;
    this.#hash = createHash(this.#spec.algorithm);
  }
}
