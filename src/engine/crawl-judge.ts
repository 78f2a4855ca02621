// Which answers crawl: each answer over a lean connection is judged once, as soon as it has run
// long enough, against its siblings (the other connections' speeds and those of the answers that
// ended lately); one far behind is ended, its bytes kept, and its rest asked anew over a fresh
// socket (servers slow single answers and paths slow connections; a new request is a new draw).
// The decisions are the pure crawlingResponse/requestSeconds (scheduler.ts).

import { CrawlError } from './failure-policy.js';
import type { WorkerResources } from './fetch-context.js';
import type { RangeFetch } from './range-fetch.js';
import { crawlingResponse, requestSeconds, responseJudgeMs } from './scheduler.js';

/**
 * Answers whose speed the judgement remembers besides the connections' current ones, for this
 * long (ms): a slowdown of every answer soon sets the measure.
 */
const RECENT_ANSWERS = 8;
const RECENT_MS = 2000;
/**
 * An answer that could not be judged when its time came (fewer than two siblings measured yet)
 * is looked at again this often (ms), this many times; then the tick's judgement takes over.
 */
const REJUDGE_MS = 25;
const REJUDGE_TIMES = 8;

/** The crawl judgement of one segmented round. */
export class CrawlJudge {
  /** Responses judged, and those of them that crawled. */
  #judged = 0;
  #crawled = 0;
  /** The speeds of the last answers that ended, but those ended as crawlers. */
  readonly #recent: { speed: number; at: number }[] = [];
  readonly #crawlers = new WeakSet<RangeFetch>();
  /** The shortest round trip (a request's wait for its head, or a connect) of this round, ms. */
  #rttMs: number | undefined;

  /** A request ended: its speed joins the judgement's (unless it was ended as a crawler). */
  answered(fetch: RangeFetch): void {
    const now = performance.now();
    if (!fetch.started || fetch.received === 0 || this.#crawlers.has(fetch)) return;
    this.#recent.push({
      speed: (fetch.received * 1000) / Math.max(1, now - fetch.startedAt),
      at: now,
    });
    if (this.#recent.length > RECENT_ANSWERS) this.#recent.shift();
  }

  /** Seconds of transfer one request asks for (longer when responses crawl). */
  requestSeconds(): number {
    return requestSeconds(this.#crawled, this.#judged);
  }

  /**
   * Call `judge(fetch)` as soon as `fetch` (whose answer just started to flow) has run long
   * enough to be judged: a timer, rather than the next tick (up to 100 ms later), so a crawling
   * answer is asked anew a round trip's worth of judging after it started.
   */
  watch(fetch: RangeFetch, judge: (fetch: RangeFetch) => void): void {
    if (!fetch.lean) return;
    if (fetch.ttfbMs !== undefined)
      this.#rttMs = Math.min(this.#rttMs ?? fetch.ttfbMs, fetch.ttfbMs);
    const rttMs = fetch.ttfbMs === undefined ? undefined : this.#rttMs;
    let tries = 0;
    const look = (): void => {
      if (!fetch.transferring || fetch.crawlJudged) return;
      judge(fetch);
      if (!fetch.crawlJudged && fetch.transferring && ++tries < REJUDGE_TIMES) {
        setTimeout(look, REJUDGE_MS).unref();
      }
    };
    setTimeout(look, responseJudgeMs(rttMs)).unref();
  }

  /** Judge the answers in flight that have run long enough; end those that crawl. */
  judge(now: number, fetches: Iterable<RangeFetch>, workers: Iterable<WorkerResources>): void {
    for (const f of fetches) {
      if (f.rttMs !== undefined) this.#rttMs = Math.min(this.#rttMs ?? f.rttMs, f.rttMs);
    }
    for (const f of fetches) {
      if (!f.lean || !f.transferring || f.crawlJudged) continue;
      // The path's round trip is the shortest seen: one answer's can be long on a loaded machine.
      const rttMs = f.rttMs === undefined ? undefined : this.#rttMs;
      if (now - f.startedAt < responseJudgeMs(rttMs)) continue;
      // The other connections' speeds (of their answer in flight, else of their last one) and
      // those of the last answers that ended lately (not as crawlers): when every connection
      // left has drawn a crawling answer, they still stand out.
      const siblings: number[] = [];
      for (const r of this.#recent) if (now - r.at < RECENT_MS) siblings.push(r.speed);
      for (const w of workers) {
        if (w.fetch === f) continue;
        const speed = w.fetch?.transferring ? (w.fetch.averageSpeed(now) ?? w.speed) : w.speed;
        if (speed !== undefined) siblings.push(speed);
      }
      if (siblings.length < 2) continue;
      f.crawlJudged = true;
      this.#judged++;
      const seg = f.segment;
      const facts = {
        ageMs: now - f.startedAt,
        speed: f.averageSpeed(now),
        rttMs,
        left: Math.min(seg.end, seg.requestEnd) - seg.pos,
        backlogged: f.backlogged(now),
      };
      if (crawlingResponse(facts, siblings)) {
        this.#crawled++;
        this.#crawlers.add(f);
        seg.speed = facts.speed;
        f.abort(new CrawlError());
      }
    }
  }
}
