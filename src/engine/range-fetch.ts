// One attempt at one segment over one connection: ask for [pos, end), validate the answer
// before writing a byte, then read, rate-limit and write in batches at their offsets, stopping
// early when another connection has stolen the segment's tail.

import type { Dispatcher } from 'undici';
import { AbortError, NetworkError } from '../errors.js';
import {
  discardBody,
  openRequest,
  type OpenedResponse,
  statusError,
  toQgetError,
} from '../net/client.js';
import type { TokenBucket } from '../rate/token-bucket.js';
import type { PartFile } from './part-file.js';
import { checkRangeResponse, ifRangeValue, type ResourceInfo } from './resource.js';
import type { Segment } from './segment-plan.js';

const MAX_BATCH_AGE_MS = 250;

export interface FetchContext {
  info: ResourceInfo;
  part: PartFile;
  dispatcher: Dispatcher;
  headers: Record<string, string>;
  /** Bytes gathered before one positional write. */
  chunkBytes: number;
  limiters: readonly TokenBucket[];
  limiterOwner: object;
  now: () => number;
  /** Called for every accepted byte count (the progress counter). */
  onBytes: (bytes: number) => void;
  /** A ranged request of ours was answered with the range asked for. */
  onRangeAnswered?: () => void;
  /**
   * Largest range to ask for in one request (default: the whole segment). Under a rate limit
   * small requests keep the server from parking far more than is being read in socket buffers.
   */
  requestBytes?: () => number;
}

export class RangeFetch {
  readonly segment: Segment;
  /** Time of the last byte received or of the last rate-limit wait, for the stall watchdog. */
  lastDataAt: number;
  /** Waiting on a rate limiter, not on the server. */
  waiting = false;
  /** A valid response arrived and bytes are flowing. */
  transferring = false;
  /** A valid response arrived at some point of this attempt. */
  started = false;
  /** When bytes started to flow (ctx.now()). */
  startedAt = 0;
  /** Bytes received by this attempt (the speed meter reads deltas of it). */
  received = 0;
  readonly #ctx: FetchContext;
  readonly #controller = new AbortController();
  #released = false;

  constructor(ctx: FetchContext, segment: Segment) {
    this.#ctx = ctx;
    this.segment = segment;
    this.lastDataAt = ctx.now();
  }

  abort(reason: Error): void {
    this.#controller.abort(reason);
  }

  /**
   * Another connection took everything this one had left (a steal from a stalled or crawling
   * connection): stop now, as a finish, instead of waiting for bytes or for the watchdog.
   */
  release(): void {
    this.#released = true;
    this.#controller.abort(new AbortError('the range was handed to another connection'));
  }

  /**
   * Fetch the segment from `segment.pos`. `opened` is an already validated response whose body
   * starts at `segment.pos` (the probe's), used instead of a new request.
   */
  async run(opened?: { response: OpenedResponse; servedEnd: number }): Promise<void> {
    try {
      await this.#run(opened);
    } catch (err) {
      if (this.#released && this.segment.pos >= this.segment.end) return;
      throw err;
    }
  }

  async #run(opened: { response: OpenedResponse; servedEnd: number } | undefined): Promise<void> {
    const { info, part, chunkBytes, limiters, limiterOwner, now, onBytes } = this.#ctx;
    const seg = this.segment;
    const signal = this.#controller.signal;
    let response: OpenedResponse;
    let servedEnd: number;
    if (opened) {
      ({ response, servedEnd } = opened);
    } else {
      // What is asked is fixed now: a steal may move seg.end while the answer is on its way.
      const askedStart = seg.pos;
      const askedEnd = Math.min(
        seg.end,
        seg.pos + (this.#ctx.requestBytes?.() ?? Number.POSITIVE_INFINITY),
      );
      response = await this.#request(askedStart, askedEnd);
      try {
        if (response.statusCode !== 206 && response.statusCode !== 200) throw statusError(response);
        servedEnd = checkRangeResponse(info, response, askedStart, askedEnd);
      } catch (err) {
        discardBody(response.body);
        throw err;
      }
      this.#ctx.onRangeAnswered?.();
    }
    this.transferring = true;
    this.started = true;
    this.startedAt = now();
    this.lastDataAt = now();

    let batch: Buffer[] = [];
    let batchBytes = 0;
    let batchPos = seg.pos;
    let batchStartedAt = 0;
    // One write in flight while the next batch is received: disk and network overlap, and
    // memory stays at two batches per connection.
    let writing: Promise<void> | undefined;
    const flush = async (wait: boolean): Promise<void> => {
      if (writing) await writing;
      writing = undefined;
      if (batchBytes === 0) return;
      const buffers = batch;
      const at = batchPos;
      const end = at + batchBytes;
      batch = [];
      batchPos = end;
      batchBytes = 0;
      const write = part.write(buffers, at).then(() => {
        seg.flushed = end;
      });
      if (wait) return write;
      writing = write;
      // Observed by the next flush; this only keeps it from counting as unhandled meanwhile.
      write.catch(() => {});
    };

    try {
      const body = response.body;
      const onAbort = (): void => {
        body.destroy(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // Aborted while the answer was on its way: the event has fired already.
      if (signal.aborted) onAbort();
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          this.lastDataAt = now();
          let buf = clip(chunk, seg.pos, Math.min(seg.end, servedEnd));
          if (buf.length > 0 && limiters.length > 0) {
            for (const limiter of limiters) {
              const wait = limiter.take(buf.length, limiterOwner, signal);
              if (wait) {
                this.waiting = true;
                await wait;
                this.waiting = false;
                this.lastDataAt = now();
              }
            }
            // The tail may have been stolen while waiting.
            buf = clip(buf, seg.pos, Math.min(seg.end, servedEnd));
          }
          if (buf.length > 0) {
            seg.pos += buf.length;
            this.received += buf.length;
            onBytes(buf.length);
            if (batchBytes === 0) batchStartedAt = this.lastDataAt;
            batch.push(buf);
            batchBytes += buf.length;
            // Full batches, or older than a quarter second on a slow link: the checkpoint only
            // claims flushed bytes, so this bounds what a crash costs.
            if (batchBytes >= chunkBytes || this.lastDataAt - batchStartedAt >= MAX_BATCH_AGE_MS) {
              await flush(false);
            }
          }
          if (seg.pos >= Math.min(seg.end, servedEnd)) break;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      const expectedEnd = Math.min(seg.end, servedEnd);
      if (Number.isFinite(expectedEnd) && seg.pos < expectedEnd) {
        throw new NetworkError(`the connection closed early at byte ${seg.pos} of ${expectedEnd}`);
      }
    } catch (err) {
      // Bytes already accepted are valid: write them so the retry continues after them.
      await flush(true);
      throw toQgetError(err, info.finalUrl, signal);
    } finally {
      this.transferring = false;
      if (seg.pos < servedEnd) discardBody(response.body);
    }
    await flush(true);
  }

  /**
   * Bytes/s over the whole attempt, for attempts too short for the engine's speed meter;
   * undefined when too short to say anything.
   */
  averageSpeed(at: number): number | undefined {
    const ms = at - this.startedAt;
    return this.started && ms >= 50 ? (this.received * 1000) / ms : undefined;
  }

  async #request(start: number, end: number): Promise<OpenedResponse> {
    const { info, dispatcher, headers } = this.#ctx;
    const ifRange = ifRangeValue(info);
    return openRequest(info.finalUrl, {
      dispatcher,
      signal: this.#controller.signal,
      headers: {
        ...headers,
        range: `bytes=${start}-${end - 1}`,
        ...(ifRange ? { 'if-range': ifRange } : {}),
      },
    });
  }
}

/** The part of `chunk` (which starts at byte `pos`) that lies below `end`. */
function clip(chunk: Buffer, pos: number, end: number): Buffer {
  if (pos >= end) return chunk.subarray(0, 0);
  return pos + chunk.length > end ? chunk.subarray(0, end - pos) : chunk;
}
