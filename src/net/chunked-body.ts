// The chunked transfer coding of a body the lean RangeConnection (range-connection.ts) reads:
// where the body is across reads (a size line, data, the CRLF after data, trailers). No socket
// here: the connection acts on what decode() reports (data, the end, a framing error, extra bytes).

import { parseChunkSize } from './http1-head.js';

/** Longest chunk-size or trailer line accepted. */
const MAX_LINE = 8 * 1024;
const LF = 0x0a;

export class ChunkedBody {
  /** Bytes left of the current chunk. */
  #left = 0;
  /** Where the body is: a size line, data, the CRLF after data, or trailers. */
  #part: 'size' | 'data' | 'data-end' | 'trailers' = 'size';
  /** A chunk-size or trailer line that a read cut short. */
  #line = '';
  /** After decode() returned data: the bytes of the view after it, if any. */
  rest: Buffer | undefined;
  /** After decode(): the body ended (its trailers) in the view. */
  done = false;
  /** After decode(): the framing was wrong (the socket cannot be trusted). */
  error: string | undefined;
  /** After decode() ended the body: the view had bytes after its end. */
  extra = false;

  /** A new body begins. */
  reset(): void {
    this.#left = 0;
    this.#part = 'size';
    this.#line = '';
  }

  /** The next piece of data in `view` (undefined when what it held was framing only). */
  decode(view: Buffer): Buffer | undefined {
    this.rest = undefined;
    this.done = false;
    this.error = undefined;
    this.extra = false;
    let i = 0;
    while (i < view.length && !this.done && this.error === undefined) {
      if (this.#part === 'data') {
        const take = Math.min(view.length - i, this.#left);
        this.#left -= take;
        if (this.#left === 0) this.#part = 'data-end';
        if (i + take < view.length) this.rest = view.subarray(i + take);
        return view.subarray(i, i + take);
      }
      const lf = view.indexOf(LF, i);
      const end = lf < 0 ? view.length : lf;
      this.#line += view.toString('latin1', i, end);
      if (this.#line.length > MAX_LINE) {
        this.error = 'chunk framing line too long';
        return undefined;
      }
      i = end + 1;
      if (lf < 0) break;
      const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
      this.#line = '';
      if (this.#part === 'data-end') {
        if (line !== '') this.error = 'no CRLF after chunk data';
        this.#part = 'size';
      } else if (this.#part === 'size') {
        const size = parseChunkSize(line);
        if (size === undefined) {
          this.error = `bad chunk size line ${JSON.stringify(line.slice(0, 40))}`;
          return undefined;
        }
        this.#left = size;
        this.#part = this.#left === 0 ? 'trailers' : 'data';
      } else if (line === '') {
        this.done = true;
      }
    }
    this.extra = i < view.length && this.error === undefined;
    return undefined;
  }
}
