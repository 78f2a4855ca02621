// One attempt at one segment over one connection: ask for [pos, end), validate the answer
// before writing a byte, then read, rate-limit and write in batches at their offsets, stopping
// early when another connection has stolen the segment's tail.

import { AbortError, NetworkError, ResourceChangedError } from '../errors.js';
import {
  type Answer,
  openRequest,
  type Requester,
  statusError,
  toQgetError,
  undiciAnswer,
} from '../net/client.js';
import { leanAnswer } from '../net/connection-pool.js';
import { noteAnswer, requestHeaders } from '../net/credentials.js';
import { singlePart } from '../net/multipart.js';
import { type RangeConnection, UnsupportedResponseError } from '../net/range-connection.js';
import type { HttpSession } from '../net/session.js';
import type { TokenBucket } from '../rate/token-bucket.js';
import type { PartFile } from './part-file.js';
import { checkRangeResponse, ifRangeValue, namesVersion, type ResourceInfo } from './resource.js';
import type { Segment } from './segment-plan.js';

/** A batch older than this is written on a slow link: what a kill loses is bounded by it. */
const MAX_BATCH_AGE_MS = 100;
/**
 * A read this long (half the lean connection's read buffer) found bytes waiting in the socket:
 * the server is ahead of us, and cutting the answer would throw those away.
 */
const BACKLOG_BYTES = 128 * 1024;
/** …as long as it read something this lately (ms); a silent answer has no backlog. */
const BACKLOG_FRESH_MS = 250;

export interface FetchContext {
  info: ResourceInfo;
  part: PartFile;
  /** undici, for requests without a lean connection. */
  dispatcher: () => Requester;
  headers: Record<string, string>;
  /** Credentials and cookies (net/session.ts). */
  session?: HttpSession | undefined;
  /** Bytes gathered before one positional write. */
  chunkBytes: number;
  limiters: readonly TokenBucket[];
  limiterOwner: object;
  now: () => number;
  /** Called for every accepted byte count (the progress counter). */
  onBytes: (bytes: number) => void;
  /** A ranged request of ours was answered with the range asked for (`validated`: with the
   * probe's ETag or Last-Modified on it). */
  onRangeAnswered?: (validated: boolean) => void;
  /** Whether ranged requests carry If-Range (default: yes, when the probe gave a validator). */
  ifRange?: () => boolean;
  /** This worker's lean keep-alive connection, when the fast path is in use (plain http). */
  connection?: RangeConnection | undefined;
  /** The server answered in a way the lean connection does not parse: use undici from now on. */
  onUnsupported?: (err: Error) => void;
  /** This worker's two reused batch buffers, each `chunkBytes` long. */
  batchBuffers: () => [Buffer, Buffer];
  /**
   * Largest range to ask for in one request (default: the whole segment). Under a rate limit
   * small requests keep the server from parking far more than is being read in socket buffers.
   */
  requestBytes?: () => number;
  /** A batch this large is written before it is full (new sources wait for bytes on disk). */
  earlyFlushBytes?: () => number;
  /** Bytes of a valid answer start to flow (the crawl judgement times its look from here). */
  onTransferring?: (fetch: RangeFetch) => void;
}

/** An answer already validated elsewhere (the probe's), whose body starts at the segment's pos. */
export interface OpenedAnswer {
  response: Answer;
  servedEnd: number;
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
  /** Time from sending the request to its answer, ms (the connection's round trip, roughly). */
  ttfbMs: number | undefined;
  /**
   * The path's round trip as best known, ms: the answer's wait, or the time its socket took to
   * connect when shorter (a busy server or machine makes answers wait, not handshakes).
   */
  rttMs: number | undefined;
  /** The engine has judged whether this fetch's connection crawls. */
  crawlJudged = false;
  /** Its last read came back with BACKLOG_BYTES or more (see backlogged()). */
  #fullRead = false;
  /** It waits for its previous batch to be written before it reads on. */
  #diskWait = false;
  /** The engine's speed meter: when it last sampled, and `received` then. */
  meterAt: number;
  meterBytes = 0;
  readonly #ctx: FetchContext;
  readonly #controller = new AbortController();
  #released = false;

  constructor(ctx: FetchContext, segment: Segment) {
    this.#ctx = ctx;
    this.segment = segment;
    this.lastDataAt = ctx.now();
    this.meterAt = this.lastDataAt;
  }

  /** Over this worker's lean connection (which can be dropped and reopened cheaply). */
  get lean(): boolean {
    return this.#ctx.connection !== undefined;
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
  async run(opened?: OpenedAnswer): Promise<void> {
    try {
      await this.#run(opened);
    } catch (err) {
      if (this.#released && this.segment.pos >= this.segment.end) return;
      throw err;
    }
  }

  async #run(opened: OpenedAnswer | undefined): Promise<void> {
    const { info, part, limiters, limiterOwner, now, onBytes } = this.#ctx;
    const earlyFlush = this.#ctx.earlyFlushBytes;
    const seg = this.segment;
    const signal = this.#controller.signal;
    let source: Answer;
    let servedEnd: number;
    /** Where this fetch stops reading (before servedEnd for the probe's open-ended answer). */
    let stopAt: number;
    if (opened) {
      source = opened.response;
      servedEnd = opened.servedEnd;
      // The probe's answer may be open-ended: with a lean connection at hand only one request's
      // worth is read from it (requests stay bounded, as stealing expects) and the rest is asked
      // for anew over that connection.
      const cap = this.#ctx.connection ? Math.floor(this.#ctx.requestBytes?.() ?? 0) : 0;
      stopAt = cap > 0 ? Math.min(servedEnd, seg.pos + cap) : servedEnd;
      seg.requestEnd = stopAt;
    } else {
      // What is asked is fixed now: a steal may move seg.end while the answer is on its way.
      const askedStart = seg.pos;
      const askedEnd = Math.min(
        seg.end,
        seg.pos + Math.floor(this.#ctx.requestBytes?.() ?? Number.POSITIVE_INFINITY),
      );
      seg.requestEnd = askedEnd;
      const sentAt = now();
      source = await this.#request(askedStart, askedEnd);
      this.ttfbMs = now() - sentAt;
      const connectMs = this.#ctx.connection?.connectMs;
      this.rttMs = connectMs === undefined ? this.ttfbMs : Math.min(connectMs, this.ttfbMs);
      try {
        if (source.statusCode === 416) {
          // A range that was inside the resource when it was probed no longer is.
          throw new ResourceChangedError(
            `the resource changed on the server (bytes ${askedStart}-${askedEnd - 1} are now out of range)`,
          );
        }
        if (source.statusCode !== 206 && source.statusCode !== 200) throw statusError(source);
        servedEnd = checkRangeResponse(info, source, askedStart, askedEnd);
        stopAt = servedEnd;
      } catch (err) {
        source.discard();
        throw err;
      }
      this.#ctx.onRangeAnswered?.(namesVersion(info, source.headers));
    }
    this.transferring = true;
    this.started = true;
    this.startedAt = now();
    this.lastDataAt = now();
    this.#ctx.onTransferring?.(this);

    // Bytes are copied into two reused batch buffers: one is written at its offset while the
    // other fills, so disk and network overlap and memory is two batches per connection.
    const buffers = this.#ctx.batchBuffers();
    let current = buffers[0];
    let spare = buffers[1];
    let fill = 0;
    let batchPos = seg.pos;
    let batchStartedAt = 0;
    let writing: Promise<void> | undefined;
    const flush = async (wait: boolean): Promise<void> => {
      if (writing) {
        // The disk is behind: the socket fills meanwhile, which is no crawl of the server's.
        this.#diskWait = true;
        try {
          await writing;
        } finally {
          this.#diskWait = false;
        }
      }
      writing = undefined;
      if (fill === 0) return;
      const at = batchPos;
      const end = at + fill;
      const write = part.write([current.subarray(0, fill)], at).then(() => {
        seg.flushed = end;
      });
      batchPos = end;
      fill = 0;
      [current, spare] = [spare, current];
      if (wait) return write;
      writing = write;
      // Observed by the next flush; this only keeps it from counting as unhandled meanwhile.
      write.catch(() => {});
    };

    let complete = false;
    try {
      const onAbort = (): void => source.discard(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      // Aborted while the answer was on its way: the event has fired already.
      if (signal.aborted) onAbort();
      try {
        for (;;) {
          const chunk = await source.read();
          if (chunk === null) break;
          this.lastDataAt = now();
          this.#fullRead = chunk.length >= BACKLOG_BYTES;
          let take = Math.min(chunk.length, Math.min(seg.end, stopAt) - seg.pos);
          if (take > 0 && limiters.length > 0) {
            for (const limiter of limiters) {
              const wait = limiter.take(take, limiterOwner, signal);
              if (wait) {
                this.waiting = true;
                await wait;
                this.waiting = false;
                this.lastDataAt = now();
              }
            }
            // The tail may have been stolen while waiting.
            take = Math.min(take, Math.min(seg.end, stopAt) - seg.pos);
          }
          let offset = 0;
          while (offset < take) {
            if (fill === 0) batchStartedAt = this.lastDataAt;
            const n = Math.min(take - offset, current.length - fill);
            chunk.copy(current, fill, offset, offset + n);
            fill += n;
            offset += n;
            seg.pos += n;
            this.received += n;
            onBytes(n);
            // Full batches, or older than a tenth of a second on a slow link: the checkpoint only
            // claims flushed bytes, so this bounds what a crash costs.
            if (
              fill === current.length ||
              this.lastDataAt - batchStartedAt >= MAX_BATCH_AGE_MS ||
              (earlyFlush !== undefined && fill >= earlyFlush())
            ) {
              await flush(false);
            }
          }
          if (seg.pos >= Math.min(seg.end, stopAt)) break;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      const expectedEnd = Math.min(seg.end, stopAt);
      if (Number.isFinite(expectedEnd) && seg.pos < expectedEnd) {
        throw new NetworkError(`the connection closed early at byte ${seg.pos} of ${expectedEnd}`);
      }
      complete = seg.pos >= servedEnd;
    } catch (err) {
      // Bytes already accepted are valid: write them so the retry continues after them.
      await flush(true);
      throw toQgetError(err, info.finalUrl, signal);
    } finally {
      this.transferring = false;
      seg.requestEnd = seg.pos;
      // Stopped before the end of the answer (stolen tail, failure): that socket is done for.
      if (!complete) source.discard();
    }
    await flush(true);
  }

  /**
   * Its last read found bytes waiting in the socket, and it reads on (lately, or it waits for
   * the disk): this answer is not slow for the server's sake but because we read it late, and
   * a cut would waste what the server sent.
   */
  backlogged(at: number): boolean {
    const reading = this.#diskWait || at - this.lastDataAt < BACKLOG_FRESH_MS;
    return this.#fullRead && this.transferring && reading;
  }

  /**
   * Bytes/s over the whole attempt, for attempts too short for the engine's speed meter;
   * undefined when too short to say anything.
   */
  averageSpeed(at: number): number | undefined {
    const ms = at - this.startedAt;
    return this.started && ms >= 50 ? (this.received * 1000) / ms : undefined;
  }

  async #request(start: number, end: number, again = false): Promise<Answer> {
    const { info, connection, dispatcher, headers, session } = this.#ctx;
    const ifRange = (this.#ctx.ifRange?.() ?? true) ? ifRangeValue(info) : undefined;
    const range = { ...headers, range: `bytes=${start}-${end - 1}` };
    const mine = ifRange ? { ...range, 'if-range': ifRange } : range;
    // The final URL gets the credentials only if it kept the origin of the URL given.
    const all = requestHeaders(info.finalUrl, info.url, mine, session);
    const signal = this.#controller.signal;
    if (connection) {
      const url = new URL(info.finalUrl);
      try {
        const res = await connection.request(`${url.pathname}${url.search}`, all, signal);
        const answer = await singlePart(leanAnswer(connection, res, info.finalUrl));
        // Cookies kept; a stale Digest nonce answered once more with the new one.
        if (!(await noteAnswer(session, url, info.url, mine, res.statusCode, res.repeated))) {
          return answer;
        }
        if (again) return answer;
        answer.discard();
        return this.#request(start, end, true);
      } catch (err) {
        if (err instanceof UnsupportedResponseError) this.#ctx.onUnsupported?.(err);
        throw err;
      }
    }
    return singlePart(
      undiciAnswer(
        await openRequest(info.finalUrl, {
          dispatcher: dispatcher(),
          signal,
          headers: mine,
          session,
          userUrl: info.url,
        }),
      ),
    );
  }
}
