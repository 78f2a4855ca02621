// The segmented mode: one round of workers over many Range connections. Owns the connection
// governor, the opening of connections in waves, the live count, the crawler replacement on
// each tick, the hand-off of the probe's answer, and the check that every byte arrived.

import { NetworkError } from '../errors.js';
import type { Answer } from '../net/client.js';
import { toQgetError } from '../net/client.js';
import { ConnectionGovernor } from './connection-governor.js';
import { CrawlError } from './failure-policy.js';
import type { WorkerResources } from './fetch-context.js';
import type { PartFile } from './part-file.js';
import type { RangeFetch } from './range-fetch.js';
import type { ResourceInfo } from './resource.js';
import {
  crawlingResponse,
  rateLimit,
  requestCap,
  requestSeconds,
  responseJudgeMs,
  SegmentScheduler,
} from './scheduler.js';
import { type ByteRange, missingRanges, sumRanges } from './segment-plan.js';
import type { RoundTick } from './ticker.js';
import type { Transfer } from './transfer.js';
import { type Initial, runWorker, type WorkerHost } from './worker.js';

/** How often connections are opened while ramping up, and how long the ramp lasts. */
const RAMP_EVERY_MS = 10;
const RAMP_MS = 100;
/** The most one request asks for once the server has answered with what we refuse. */
const REFUSED_REQUEST = 256 * 1024;
/** Under a rate limit: the speed one connection is assumed to reach. */
const RATE_PER_CONNECTION = 1024 * 1024;
/**
 * Answers whose speed the crawl judgement remembers besides the connections' current ones, for
 * this long (ms): a slowdown of every answer soon sets the measure.
 */
const RECENT_ANSWERS = 8;
const RECENT_MS = 2000;

export class SegmentedRound implements WorkerHost, RoundTick {
  readonly transfer: Transfer;
  readonly info: ResourceInfo;
  readonly part: PartFile;
  readonly scheduler: SegmentScheduler;
  readonly governor: ConnectionGovernor;
  readonly workers = new Set<WorkerResources>();
  #workerIds = 0;
  #live = 0;
  /** Responses judged for crawling, and those of them that crawled (replaceCrawlers). */
  #judged = 0;
  #crawled = 0;
  /** The speeds of the last answers that ended, but those ended as crawlers. */
  readonly #recent: { speed: number; at: number }[] = [];
  readonly #crawlers = new WeakSet<RangeFetch>();
  /** The shortest round trip (request to head) seen in this round, ms. */
  #rttMs: number | undefined;
  #allDone: () => void = () => {};

  newWorkerId(): number {
    return ++this.#workerIds;
  }

  constructor(transfer: Transfer, info: ResourceInfo, part: PartFile) {
    const o = transfer.run.o;
    this.transfer = transfer;
    this.info = info;
    this.part = part;
    this.scheduler = new SegmentScheduler(transfer, o);
    this.governor = new ConnectionGovernor({
      maxConnections: o.maxConnections,
      testMs: o.connectionTestSec * 1000,
    });
  }

  /**
   * Download what `done` lacks; `probe` is the probe's answer (starting at `probeStart`, its
   * bytes ending at `probeEnd`), continued by the first worker when it starts where the first
   * segment does. Returns early, with `transfer.fallback` set, when ranges stopped working.
   */
  async run(
    probe: Answer | undefined,
    probeStart: number,
    probeEnd: number,
    done: ByteRange[],
  ): Promise<void> {
    const transfer = this.transfer;
    const size = this.info.size!;
    transfer.done = done;
    transfer.resumed = sumRanges(done);
    transfer.received = transfer.resumed;
    this.scheduler.plan(missingRanges(size, done));
    const first = transfer.segments[0];
    const finished = new Promise<void>((r) => {
      this.#allDone = r;
    });
    // Open connections in waves (4, 8, 16 …) rather than all in the same millisecond; after
    // the first tick, the tick's own fill() keeps the count up (a rate limit or a measured
    // limit can hold it below the maximum for the whole download).
    const rampStart = performance.now();
    const ramp = setInterval(() => {
      this.#fill();
      const over = performance.now() - rampStart > RAMP_MS;
      if (transfer.stopping || this.#live >= this.governor.max || over) clearInterval(ramp);
    }, RAMP_EVERY_MS);
    if (probe && first && first.start === probeStart) {
      this.#spawn({ segment: first, opened: { response: probe, servedEnd: probeEnd } });
    } else {
      transfer.drop(probe);
    }
    this.#fill();
    if (this.#live === 0) this.#allDone();
    await finished;
    clearInterval(ramp);
    if (transfer.fatal) throw transfer.fatal;
    if (transfer.fallback) return;
    const incomplete = transfer.segments.find((s) => s.flushed < s.end);
    if (incomplete) {
      throw new NetworkError(
        `bytes ${incomplete.flushed}-${incomplete.end - 1} were not downloaded`,
      );
    }
  }

  requestCap(): number {
    const cap = requestCap(this.#rate(), this.#live);
    // Once answers are being refused (another version, a whole body), each one costs what the
    // server pushes before it sees the close, up to the whole request: ask for little at a time.
    const t = this.transfer;
    return t.otherVersionsTotal + t.ignoredTotal > 0 ? Math.min(cap, REFUSED_REQUEST) : cap;
  }

  rated(): boolean {
    return this.#rate() > 0;
  }

  onTransfer(transferring: number): void {
    this.governor.onTransfer(transferring);
    this.#fill();
  }

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
   * A response over a lean connection that crawls far behind its siblings (crawlingResponse) is
   * ended: its bytes so far are kept and its worker asks for the rest anew over a fresh socket
   * (servers slow single answers and paths slow connections; a new request is a new draw).
   * Each response is judged once, as soon as it has run long enough.
   */
  replaceCrawlers(now: number): void {
    if (this.rated()) return;
    for (const f of this.transfer.fetches) {
      if (f.ttfbMs !== undefined) this.#rttMs = Math.min(this.#rttMs ?? f.ttfbMs, f.ttfbMs);
    }
    for (const f of this.transfer.fetches) {
      if (!f.lean || !f.transferring || f.crawlJudged) continue;
      // The path's round trip is the shortest seen: one answer's can be long on a loaded machine.
      const rttMs = f.ttfbMs === undefined ? undefined : this.#rttMs;
      if (now - f.startedAt < responseJudgeMs(rttMs)) continue;
      // The other connections' speeds (of their answer in flight, else of their last one) and
      // those of the last answers that ended lately (not as crawlers): when every connection
      // left has drawn a crawling answer, they still stand out.
      const siblings: number[] = [];
      for (const r of this.#recent) if (now - r.at < RECENT_MS) siblings.push(r.speed);
      for (const w of this.workers) {
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
      };
      if (crawlingResponse(facts, siblings)) {
        this.#crawled++;
        this.#crawlers.add(f);
        seg.speed = facts.speed;
        f.abort(new CrawlError());
      }
    }
  }

  /** Open connections up to the governor's target while there is work to hand out. */
  #fill(): void {
    if (this.transfer.stopping || this.transfer.fatal) return;
    let target = this.governor.target(performance.now());
    const rate = this.#rate();
    // Under a rate limit more connections only add requests; about 1 MiB/s each is plenty.
    if (rate > 0) target = Math.min(target, Math.max(1, Math.ceil(rate / RATE_PER_CONNECTION)));
    while (this.#live < target && this.scheduler.hasWork()) this.#spawn();
  }

  #spawn(initial?: Initial): void {
    const transfer = this.transfer;
    this.#live++;
    runWorker(this, initial)
      .catch((err) => transfer.stop(toQgetError(err, this.info.finalUrl)))
      .finally(() => {
        this.#live--;
        if (this.#live > 0) return;
        if (!transfer.stopping && !transfer.fatal && this.scheduler.hasWork()) this.#spawn();
        else this.#allDone();
      });
  }

  /** The tightest rate limit in force (bytes/s), 0 when none. */
  #rate(): number {
    return rateLimit(this.transfer.run.o.limiters);
  }
}
