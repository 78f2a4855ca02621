// Who downloads what, decisions only (no timers, no sockets): the initial split of the missing
// ranges, handing out a free segment or stealing the tail of the slowest one, how much one
// request asks for (also under rate limits), and which connections crawl.

import type { TokenBucket } from '../rate/token-bucket.js';
import type { EngineOptions } from './engine-options.js';
import type { RangeFetch } from './range-fetch.js';
import {
  type ByteRange,
  chooseSteal,
  median,
  newSegment,
  type Segment,
  type StealOptions,
  splitRanges,
} from './segment-plan.js';
import type { Transfer } from './transfer.js';

const MIN_STEAL = 256 * 1024;
const MIN_RATED_REQUEST = 64 * 1024;
/** Request sizing (see requestSize). */
const INITIAL_REQUEST = 4 * 1024 * 1024;
const MIN_REQUEST = 1024 * 1024;
/**
 * The most one request asks for on a short path (more only to keep 20 round trips): a fast
 * server pushes a request's rest into socket buffers (tens of MiB on loopback) before it is
 * read, and a steal or a crawl judgement that cuts the answer throws that away; a request this
 * size also ends often enough for a steal to split at its end instead.
 */
const MAX_REQUEST = 8 * 1024 * 1024;
/**
 * The most the probe asks for: the smallest segment. An open-ended probe lets the server push
 * bytes past the first segment into socket buffers that nobody reads (while the process is
 * suspended, megabytes), all of them sent for nothing.
 */
export const PROBE_REQUEST = MIN_REQUEST;
const REQUEST_SECONDS = 0.25;
/** Requests grow up to this many seconds when responses crawl (see requestSeconds). */
const MAX_REQUEST_SECONDS = 1;
/** A connection slower than this share of its peers' median reconnects. */
export const CRAWL_FRACTION = 0.25;
/**
 * A response is judged after this long of its body, or 10 of its round trips when those are
 * longer (a fresh connection's slow start must not look like a crawl), 1 s when its round trip
 * is unknown. A crawler far below its siblings shows within a few of the server's writes: at
 * 1/32 of 8 MiB/s it has sent 13-26 KiB after 50 ms where its siblings sent 400 KiB.
 */
export const RESPONSE_JUDGE_MS = 50;
const UNKNOWN_RTT_JUDGE_MS = 1000;
/**
 * Replaced only when going on with it would take longer than this (seconds), and longer than
 * twice what asking anew takes (see crawlingResponse).
 */
const CRAWL_WAIT_SECONDS = 0.05;
/** What a crawling answer costs before it is asked anew: its judging and a new request, s. */
const CRAWL_DRAW_SECONDS = 0.08;

type SchedulerOptions = Pick<
  EngineOptions,
  'maxConnections' | 'minSplitBytes' | 'maxPartBytes' | 'limiters'
>;

/** Hands out the segments of one transfer (which holds them: the checkpoints read them). */
export class SegmentScheduler {
  readonly #transfer: Transfer;
  readonly #o: SchedulerOptions;
  #nextId = 0;

  constructor(transfer: Transfer, options: SchedulerOptions) {
    this.#transfer = transfer;
    this.#o = options;
  }

  /** Cut the missing ranges into the first segments. */
  plan(missing: readonly ByteRange[]): void {
    const o = this.#o;
    for (const [s, e] of splitRanges(missing, o.maxConnections, o.minSplitBytes, o.maxPartBytes)) {
      this.#transfer.segments.push(newSegment(this.#nextId++, s, e));
    }
  }

  /** Whether a connection more would get work now. */
  hasWork(): boolean {
    if (this.#freeSegment()) return true;
    return chooseSteal(this.#transfer.segments, this.#stealOptions(undefined)) !== null;
  }

  /** The next range: a free segment, else the tail of the slowest one (work stealing). */
  takeWork(thiefSpeed: number | undefined): Segment | undefined {
    const free = this.#freeSegment();
    if (free) return free;
    const segments = this.#transfer.segments;
    const steal = chooseSteal(segments, this.#stealOptions(thiefSpeed));
    if (!steal) return undefined;
    const victim = steal.segment;
    const seg = newSegment(this.#nextId++, steal.splitAt, victim.end);
    victim.end = steal.splitAt;
    segments.push(seg);
    if (victim.pos >= victim.end) {
      // A stalled victim would otherwise hold the download until its watchdog fires.
      for (const fetch of this.#transfer.fetches) if (fetch.segment === victim) fetch.release();
    }
    return seg;
  }

  /** The request in flight for `segment`, if any. */
  #fetchOf(segment: Segment): RangeFetch | undefined {
    for (const fetch of this.#transfer.fetches) if (fetch.segment === segment) return fetch;
    return undefined;
  }

  /** A segment with bytes left that no connection is working on. */
  #freeSegment(): Segment | undefined {
    return this.#transfer.segments.find((s) => !s.active && s.pos < s.end);
  }

  #stealOptions(thiefSpeed: number | undefined): StealOptions {
    // Under a rate limit every connection looks slow: crawling is not a reason to split.
    const limited = rateLimit(this.#o.limiters) > 0;
    const now = performance.now();
    return {
      minSteal: MIN_STEAL,
      thiefSpeed,
      ...(limited ? { crawlSeconds: Number.POSITIVE_INFINITY } : {}),
      // Before the meter's first window (200 ms) a fast answer may be nearly done already.
      estimate: (segment) => this.#fetchOf(segment)?.averageSpeed(now),
      backlogged: (segment) => this.#fetchOf(segment)?.backlogged(now) === true,
    };
  }
}

/** The tightest rate limit in force (bytes/s), 0 when none. */
export function rateLimit(limiters: readonly TokenBucket[] | undefined): number {
  let rate = 0;
  for (const limiter of limiters ?? []) {
    if (limiter.rate > 0 && (rate === 0 || limiter.rate < rate)) rate = limiter.rate;
  }
  return rate;
}

/**
 * Largest range for one request with `live` connections: unbounded, except under a rate limit,
 * where about 1/8 s of the limit per connection keeps the server from parking far more than is
 * read in buffers.
 */
export function requestCap(rate: number, live: number): number {
  if (rate === 0) return Number.POSITIVE_INFINITY;
  return Math.max(MIN_RATED_REQUEST, Math.floor(rate / 8 / Math.max(1, live)));
}

/**
 * How much one request of a connection asks for: about REQUEST_SECONDS of its transfer (at most
 * MAX_REQUEST), or 20 round trips when those are longer, so a request's round trip costs at
 * most about 5%.
 * Bounded requests let a steal take the rest of a range without cutting the victim's socket,
 * and servers that pace each response (nginx's limit_rate sends its first 2 MiB at once)
 * answer short requests faster.
 */
export function requestSize(
  measured: { speed?: number | undefined; rttMs?: number | undefined },
  maxPartBytes: number,
  wanted = REQUEST_SECONDS,
): number {
  const { speed, rttMs } = measured;
  let size = INITIAL_REQUEST;
  if (speed !== undefined && speed > 0) {
    const byTime = Math.min(MAX_REQUEST, speed * wanted);
    const byRoundTrips = (speed * 20 * (rttMs ?? 0)) / 1000;
    size = Math.floor(Math.max(MIN_REQUEST, byTime, byRoundTrips));
  }
  return maxPartBytes > 0 ? Math.min(size, maxPartBytes) : size;
}

/**
 * Seconds of transfer one request asks for when `crawled` of the `judged` responses crawled and
 * were asked anew: each such draw costs about CRAWL_DRAW_SECONDS, so requests
 * grow until that is about a tenth of their time (MAX_REQUEST_SECONDS at most). Fewer requests
 * are fewer draws; without crawls they stay short (REQUEST_SECONDS), which stealing and servers
 * pacing each response prefer.
 */
export function requestSeconds(crawled: number, judged: number): number {
  if (crawled <= 0 || judged <= 0) return REQUEST_SECONDS;
  // Crawling draws per good one, and what they cost it.
  const redraws = Math.min(9, crawled / Math.max(1, judged - crawled));
  const lostPerGood = redraws * CRAWL_DRAW_SECONDS;
  return Math.min(MAX_REQUEST_SECONDS, Math.max(REQUEST_SECONDS, 10 * lostPerGood));
}

/** How long a response with round trip `rttMs` runs before it is judged (crawlingResponse). */
export function responseJudgeMs(rttMs: number | undefined): number {
  return rttMs === undefined ? UNKNOWN_RTT_JUDGE_MS : Math.max(RESPONSE_JUDGE_MS, 10 * rttMs);
}

/** What is known of one response in flight, for crawlingResponse(). */
export interface ResponseFacts {
  /** ms since its body started. */
  ageMs: number;
  /** Its bytes/s since then (undefined: too early to say). */
  speed: number | undefined;
  /** Its round trip (request to head), ms, when measured. */
  rttMs: number | undefined;
  /** Bytes it was asked for that have not arrived. */
  left: number;
  /** Its last read found bytes waiting (RangeFetch.backlogged): we are the slow side. */
  backlogged?: boolean;
}

/**
 * Whether a response crawls so far behind its siblings (the speeds of the other connections
 * transferring, at least two) that the rest it was asked for is better asked anew, over a fresh
 * connection: a slow answer (a cache miss, a cold backend) or a slow path, and every new request
 * is a new draw. Judged after RESPONSE_JUDGE_MS of its body (10 round trips when longer), under
 * CRAWL_FRACTION of the siblings' median, not backlogged, when going on at its pace takes more than
 * CRAWL_WAIT_SECONDS and more than twice what asking anew takes (a new connection and request,
 * two round trips, then the rest at the siblings' pace): a small rest at the end of a download
 * is asked anew too, where waiting for it would decide the finish.
 */
export function crawlingResponse(r: ResponseFacts, siblings: readonly number[]): boolean {
  if (r.ageMs < responseJudgeMs(r.rttMs) || r.speed === undefined || siblings.length < 2)
    return false;
  // Bytes wait in its socket: it is slow because we read it late (a busy process), not for the
  // server's sake, and ending it would throw away what the server already sent.
  if (r.backlogged) return false;
  const typical = median(siblings);
  if (typical === undefined || typical <= 0 || r.speed >= CRAWL_FRACTION * typical) return false;
  if (r.speed <= 0) return true;
  const anew = (2 * (r.rttMs ?? 0)) / 1000 + r.left / typical;
  return r.left / r.speed > Math.max(CRAWL_WAIT_SECONDS, 2 * anew);
}

/** A connection far slower than the others (at least two of them measured). */
export function crawlsBehind(speed: number, others: readonly number[]): boolean {
  const typical = median(others);
  return others.length >= 2 && typical !== undefined && speed < CRAWL_FRACTION * typical;
}
