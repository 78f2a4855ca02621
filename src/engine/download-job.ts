// One download from probe to rename: the lifecycle (abort wiring, the connection pool,
// restarts when the resource changes under us) around one attempt: resume state, probe, .part,
// the segmented workers with work stealing or one stream, then finalize.

import {
  AbortError,
  FileExistsError,
  HttpStatusError,
  NetworkError,
  type QgetError,
  RangeMismatchError,
  ResourceChangedError,
} from '../errors.js';
import {
  type Answer,
  createConnection,
  errorCode,
  parseHttpUrl,
  type Requester,
  toQgetError,
} from '../net/client.js';
import { ConnectionPool } from '../net/connection-pool.js';
import { resolve } from 'node:path';
import { bufferPair } from './batch-buffers.js';
import { ConnectionGovernor } from './connection-governor.js';
import type { DownloadResult, EngineObserver, EngineOptions } from './engine-options.js';
import { fetchContext, type WorkerResources } from './fetch-context.js';
import { finish, pathExists } from './finalize.js';
import type { PartFile } from './part-file.js';
import { probe } from './probe.js';
import { type OpenedAnswer, RangeFetch } from './range-fetch.js';
import type { ResourceInfo } from './resource.js';
import { ResumeStore } from './resume-store.js';
import {
  type ByteRange,
  chooseSteal,
  median,
  missingRanges,
  newSegment,
  type Segment,
  type StealOptions,
  splitRanges,
  sumRanges,
} from './segment-plan.js';
import { runSingleStream } from './single-stream.js';
import { Ticker, type Ticking } from './ticker.js';
import { retryDelayFor, type Run, sharedController, Transfer } from './transfer.js';

export type {
  DownloadResult,
  EngineObserver,
  EngineOptions,
  EnginePhase,
} from './engine-options.js';

const TICK_MS = 100;
const MAX_RESTARTS = 3;
const MIN_STEAL = 256 * 1024;
/** Under a rate limit: the speed one connection is assumed to reach, and the smallest request. */
const RATE_PER_CONNECTION = 1024 * 1024;
const MIN_RATED_REQUEST = 64 * 1024;
/** Request sizing (see #requestSize). */
const INITIAL_REQUEST = 4 * 1024 * 1024;
const MIN_REQUEST = 1024 * 1024;
const REQUEST_SECONDS = 0.25;
/** With fsync on, dirty pages are pushed to disk in the background every this many bytes. */
const BACKGROUND_FLUSH_BYTES = 16 * 1024 * 1024;
/** A connection slower than this share of its peers' median reconnects. */
const CRAWL_FRACTION = 0.25;
/** A fetch is judged a crawler after this long, and only with this much work left (in seconds at the typical speed). */
const CRAWL_JUDGE_MS = 1000;
const CRAWL_MIN_SECONDS = 1;
/** Consecutive 200s to ranged requests after which ranges are considered gone. */
const IGNORED_RANGE_LIMIT = 3;

/**
 * retry: the range failed, back off; wait: this connection was refused, back off; stop: leave;
 * reconnect: drop the socket and go on with the same range at once.
 */
type FailureAction = 'retry' | 'wait' | 'stop' | 'reconnect';

/** Ends a fetch whose connection crawls far behind its peers, so it goes on over a fresh one. */
class CrawlError extends NetworkError {
  constructor() {
    super('the connection crawls far behind the others: going on over a fresh one');
    this.name = 'CrawlError';
  }
}

export class DownloadJob {
  readonly #o: EngineOptions;
  readonly #observer: EngineObserver;
  readonly #debug: (message: string) => void;
  /** Aborted by the caller's signal. */
  readonly #abort = sharedController();
  /** The .part and .qget of this run. */
  readonly #store: ResumeStore;
  /** The transfer under way (a new one per attempt, and for the single stream of a fallback). */
  #transfer: Transfer | undefined;
  /** The latest segmented round's governor, whose limit the result reports. */
  #governor: ConnectionGovernor | undefined;
  #info!: ResourceInfo;
  #part!: PartFile;
  #live = 0;
  #allDone: () => void = () => {};
  readonly #workers = new Set<WorkerResources>();
  #nextSegmentId = 0;
  #t!: Transfer;
  #g!: ConnectionGovernor;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#observer = options.observer ?? {};
    this.#debug = options.debug ?? (() => {});
    this.#store = new ResumeStore({
      url: options.url,
      dir: options.dir,
      tmpDir: options.tmpDir,
      override: options.override,
      debug: this.#debug,
    });
  }

  /** Bytes accepted so far (including bytes resumed from disk). */
  get received(): number {
    return this.#transfer?.received ?? 0;
  }

  async run(): Promise<DownloadResult> {
    const started = performance.now();
    parseHttpUrl(this.#o.url);
    const signal = this.#o.signal;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const output = this.#o.output === undefined ? undefined : resolve(this.#o.output);
    if (output !== undefined && !this.#o.override && (await pathExists(output))) {
      throw new FileExistsError(output);
    }
    // Added only now: the finally below is what removes it.
    const onAbort = (): void => this.#stop(new AbortError(undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const ownPool =
      this.#o.dispatcher === undefined && this.#o.pool === undefined
        ? new ConnectionPool({
            connections: this.#o.maxConnections,
            timeoutMs: this.#o.timeoutMs,
          })
        : undefined;
    const pool = this.#o.dispatcher === undefined ? (this.#o.pool ?? ownPool) : undefined;
    const run: Run = {
      o: this.#o,
      observer: this.#observer,
      debug: this.#debug,
      abort: this.#abort,
      pool,
      dispatcher: this.#o.dispatcher ?? pool!.agent,
      limiterOwner: this.#o.limiterOwner ?? this,
      leanAllowed: true,
    };
    const ticker = new Ticker(run, this.#store);
    try {
      for (let restarts = 0; ; restarts++) {
        try {
          const done = await this.#attempt(run, ticker, output, restarts > 0);
          return {
            path: done.path,
            size: done.size,
            url: this.#o.url,
            finalUrl: done.finalUrl,
            elapsedMs: performance.now() - started,
            connections: Math.max(1, ticker.maxTransferring),
            resumedBytes: done.resumed,
            connectionLimit: this.#governor?.limit,
          };
        } catch (err) {
          if (!(err instanceof ResourceChangedError) || this.#abort.signal.aborted) throw err;
          if (restarts >= MAX_RESTARTS) {
            throw new ResourceChangedError(
              `the resource kept changing on the server (${restarts + 1} times); giving up`,
              { cause: err },
            );
          }
          this.#debug(`${err.message}: discarding what was downloaded and starting over`);
          await this.#store.remove();
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (ownPool) await ownPool.destroy().catch(() => {});
    }
  }

  /** The caller aborted: the transfer under way stops (before the first one, the run's signal). */
  #stop(error: AbortError): void {
    if (this.#transfer) this.#transfer.stop(error);
    else if (!this.#abort.signal.aborted) this.#abort.abort(error);
  }

  /** One attempt: resume state, probe, .part, segmented or single stream, finalize. */
  async #attempt(
    run: Run,
    ticker: Ticker,
    output: string | undefined,
    fresh: boolean,
  ): Promise<{ path: string; size: number; finalUrl: string; resumed: number }> {
    const store = this.#store;
    const transfer = new Transfer(run);
    this.#transfer = transfer;
    this.#observer.phase?.('connect');
    let resume = fresh ? undefined : await store.findSaved(output);
    // Open-ended unless resuming or under a rate limit (see #requestCap).
    const cap = this.#requestCap();
    let probed = await probe(transfer, resume, cap);
    if (resume && !probed.response) {
      this.#debug('the saved state no longer matches the server: starting over');
      resume = undefined;
      fresh = true;
      probed = await probe(transfer, undefined, cap);
    }
    const info = probed.info;
    this.#info = info;
    const path = output ?? resume?.path ?? resolve(this.#o.dir ?? '.', info.filename);
    // No saved state can apply: the .part is emptied as it is opened.
    let startOver = false;
    let part: PartFile;
    try {
      await store.preparePaths(path);
      this.#observer.resource?.(info, path);
      startOver = store.startsOver(fresh);
      part = await store.openPart(startOver);
      if (this.#o.fsync) part.flushEvery = BACKGROUND_FLUSH_BYTES;
    } catch (err) {
      transfer.drop(probed.response);
      throw err;
    }
    this.#part = part;
    const ticking: Ticking = { transfer, round: undefined };
    const stopTicking = ticker.start(info, ticking);
    let current = transfer;
    try {
      const done = await store.doneRanges(part, info, resume?.saved, startOver);
      this.#observer.phase?.('download');
      let final = info;
      if (info.size === 0) {
        transfer.drop(probed.response);
      } else if (!info.acceptRanges) {
        final = await runSingleStream(transfer, info, part, probed.response);
      } else {
        await this.#segmented(ticking, probed.response, probed.start, probed.servedEnd ?? 0, done);
        if (transfer.fallback) {
          this.#debug('the server stopped honouring ranges: one stream from byte 0');
          current = new Transfer(run);
          this.#transfer = current;
          ticking.transfer = current;
          ticking.round = undefined;
          final = await runSingleStream(current, info, part, undefined);
        }
      }
      stopTicking();
      await store.saving;
      const finished = {
        o: this.#o,
        observer: this.#observer,
        signal: this.#abort.signal,
        info: final,
        part,
        store,
        received: current.received,
      };
      const size = await finish(finished, path);
      this.#observer.phase?.('done');
      return { path, size, finalUrl: final.finalUrl, resumed: current.resumed };
    } catch (err) {
      stopTicking();
      const error = toQgetError(err, info.finalUrl, this.#abort.signal);
      current.stop(error);
      await store.saving;
      if (info.acceptRanges && !(error instanceof ResourceChangedError)) {
        await store.checkpoint(info, current.confirmed());
      }
      throw error;
    } finally {
      await part.close();
    }
  }

  async #segmented(
    ticking: Ticking,
    probe: Answer | undefined,
    probeStart: number,
    probeEnd: number,
    done: ByteRange[],
  ): Promise<void> {
    this.#t = ticking.transfer;
    const size = this.#info.size!;
    this.#t.done = done;
    this.#t.resumed = sumRanges(done);
    this.#t.received = this.#t.resumed;
    const missing = missingRanges(size, done);
    this.#t.segments.push(
      ...splitRanges(
        missing,
        this.#o.maxConnections,
        this.#o.minSplitBytes,
        this.#o.maxPartBytes,
      ).map(([s, e]) => this.#newSegment(s, e)),
    );
    this.#g = new ConnectionGovernor({
      maxConnections: this.#o.maxConnections,
      testMs: this.#o.connectionTestSec * 1000,
    });
    this.#governor = this.#g;
    ticking.round = {
      replaceCrawlers: (now) => this.#replaceCrawlers(now),
      onTransfer: (transferring) => {
        this.#g.onTransfer(transferring);
        this.#fill();
      },
    };
    const first = this.#t.segments[0];
    const finished = new Promise<void>((r) => {
      this.#allDone = r;
    });
    // Open connections in waves (4, 8, 16 …) rather than all in the same millisecond; after
    // the first tick, the tick's own #fill() keeps the count up (a rate limit or a measured
    // limit can hold it below the maximum for the whole download).
    const rampStart = performance.now();
    const ramp = setInterval(() => {
      this.#fill();
      const over = performance.now() - rampStart > TICK_MS;
      if (this.#t.stopping || this.#live >= this.#g.max || over) clearInterval(ramp);
    }, 10);
    if (probe && first && first.start === probeStart) {
      this.#spawn({ segment: first, opened: { response: probe, servedEnd: probeEnd } });
    } else {
      this.#t.drop(probe);
    }
    this.#fill();
    if (this.#live === 0) this.#allDone();
    await finished;
    clearInterval(ramp);
    if (this.#t.fatal) throw this.#t.fatal;
    if (this.#t.fallback) return;
    const incomplete = this.#t.segments.find((s) => s.flushed < s.end);
    if (incomplete) {
      throw new NetworkError(
        `bytes ${incomplete.flushed}-${incomplete.end - 1} were not downloaded`,
      );
    }
  }

  #newSegment(start: number, end: number): Segment {
    return newSegment(this.#nextSegmentId++, start, end);
  }

  /** Open connections up to the governor's target while there is work to hand out. */
  #fill(): void {
    if (this.#t.stopping || this.#t.fatal) return;
    let target = this.#g.target(performance.now());
    const rate = this.#rateLimit();
    // Under a rate limit more connections only add requests; about 1 MiB/s each is plenty.
    if (rate > 0) target = Math.min(target, Math.max(1, Math.ceil(rate / RATE_PER_CONNECTION)));
    while (this.#live < target && this.#hasWork()) this.#spawn();
  }

  /**
   * Largest range for one request: unbounded, except under a rate limit, where about 1/8 s of
   * the limit per connection keeps the server from parking far more than is read in buffers.
   */
  #requestCap(): number {
    const rate = this.#rateLimit();
    if (rate === 0) return Number.POSITIVE_INFINITY;
    return Math.max(MIN_RATED_REQUEST, Math.floor(rate / 8 / Math.max(1, this.#live)));
  }

  /**
   * How much one request of this worker asks for: about REQUEST_SECONDS of its transfer, or
   * 20 round trips when those are longer, so a request's round trip costs at most about 5%.
   * Bounded requests let a steal take the rest of a range without cutting the victim's socket,
   * and servers that pace each response (nginx's limit_rate sends its first 2 MiB at once)
   * answer short requests faster.
   */
  #requestSize(resources: WorkerResources): number {
    const { speed, rttMs } = resources;
    let size = INITIAL_REQUEST;
    if (speed !== undefined && speed > 0) {
      const seconds = Math.max(REQUEST_SECONDS, (20 * (rttMs ?? 0)) / 1000);
      size = Math.max(MIN_REQUEST, Math.floor(speed * seconds));
    }
    return this.#o.maxPartBytes > 0 ? Math.min(size, this.#o.maxPartBytes) : size;
  }

  /**
   * A lean connection that has crawled far behind the others for over a second, with seconds of
   * work left, is dropped: its worker goes on with the same range over a fresh socket (servers
   * and paths pace connections unevenly). Each fetch is judged once.
   */
  #replaceCrawlers(now: number): void {
    if (this.#rateLimit() > 0) return;
    const speeds: number[] = [];
    for (const f of this.#t.fetches) {
      if (f.transferring && f.segment.speed !== undefined) speeds.push(f.segment.speed);
    }
    const typical = median(speeds);
    if (speeds.length < 3 || typical === undefined) return;
    for (const f of this.#t.fetches) {
      const speed = f.segment.speed;
      if (!f.lean || !f.transferring || f.crawlJudged || speed === undefined) continue;
      if (now - f.startedAt < CRAWL_JUDGE_MS) continue;
      f.crawlJudged = true;
      const left = f.segment.end - f.segment.pos;
      if (speed < CRAWL_FRACTION * typical && left > CRAWL_MIN_SECONDS * typical) {
        f.abort(new CrawlError());
      }
    }
  }

  /** A worker far slower than its peers (not under a rate limit, where all look slow). */
  #isCrawler(resources: WorkerResources): boolean {
    const speed = resources.speed;
    if (speed === undefined || !resources.lean || this.#rateLimit() > 0) return false;
    const others: number[] = [];
    for (const w of this.#workers)
      if (w !== resources && w.speed !== undefined) others.push(w.speed);
    const typical = median(others);
    return others.length >= 2 && typical !== undefined && speed < CRAWL_FRACTION * typical;
  }

  /** The tightest rate limit in force (bytes/s), 0 when none. */
  #rateLimit(): number {
    let rate = 0;
    for (const limiter of this.#o.limiters ?? []) {
      if (limiter.rate > 0 && (rate === 0 || limiter.rate < rate)) rate = limiter.rate;
    }
    return rate;
  }

  #stealOptions(thiefSpeed: number | undefined): StealOptions {
    // Under a rate limit every connection looks slow: crawling is not a reason to split.
    const limited = this.#rateLimit() > 0;
    return {
      minSteal: MIN_STEAL,
      thiefSpeed,
      ...(limited ? { crawlSeconds: Number.POSITIVE_INFINITY } : {}),
    };
  }

  /** A segment with bytes left that no connection is working on. */
  #freeSegment(): Segment | undefined {
    return this.#t.segments.find((s) => !s.active && s.pos < s.end);
  }

  #hasWork(): boolean {
    if (this.#freeSegment()) return true;
    return chooseSteal(this.#t.segments, this.#stealOptions(undefined)) !== null;
  }

  #spawn(initial?: { segment: Segment; opened: OpenedAnswer }): void {
    this.#live++;
    this.#worker(initial)
      .catch((err) => this.#t.stop(toQgetError(err, this.#info.finalUrl)))
      .finally(() => {
        this.#live--;
        if (this.#live > 0) return;
        if (!this.#t.stopping && !this.#t.fatal && this.#hasWork()) this.#spawn();
        else this.#allDone();
      });
  }

  /** Hand out the next range: a free segment, else the tail of the slowest one (work stealing). */
  #takeWork(thiefSpeed: number | undefined): Segment | undefined {
    const free = this.#freeSegment();
    if (free) return free;
    const steal = chooseSteal(this.#t.segments, this.#stealOptions(thiefSpeed));
    if (!steal) return undefined;
    const victim = steal.segment;
    const seg = this.#newSegment(steal.splitAt, victim.end);
    victim.end = steal.splitAt;
    this.#t.segments.push(seg);
    if (victim.pos >= victim.end) {
      // A stalled victim would otherwise hold the download until its watchdog fires.
      for (const fetch of this.#t.fetches) if (fetch.segment === victim) fetch.release();
    }
    return seg;
  }

  async #worker(initial?: { segment: Segment; opened: OpenedAnswer }): Promise<void> {
    // A socket of its own (unless the caller gave a dispatcher), given back when the worker
    // leaves: open sockets then follow the live workers, which a per-client cap needs. Over
    // plain http that socket is a lean RangeConnection (see range-connection.ts): the probe's
    // for the worker that continues its answer, else one from the pool (kept alive from an
    // earlier download to the same origin, or new).
    const pool = this.#t.run.pool;
    const lean =
      initial?.opened.response.connection ??
      (pool && this.#t.run.leanAllowed ? pool.lean(new URL(this.#info.finalUrl)) : undefined);
    let own: Requester | undefined;
    const resources: WorkerResources = {
      dispatcher: () => {
        if (!pool) return this.#t.run.dispatcher;
        own ??= createConnection(this.#info.finalUrl, { timeoutMs: this.#o.timeoutMs });
        return own;
      },
      lean,
      buffers: bufferPair(this.#o.chunkBytes),
    };
    this.#workers.add(resources);
    try {
      await this.#workLoop(initial, resources);
    } finally {
      this.#workers.delete(resources);
      resources.buffers.release();
      this.#t.giveBack(lean);
      own?.destroy().catch(() => {});
    }
  }

  async #workLoop(
    initial: { segment: Segment; opened: OpenedAnswer } | undefined,
    resources: WorkerResources,
  ): Promise<void> {
    let speed: number | undefined;
    let refusals = 0;
    let next: { segment: Segment; opened?: OpenedAnswer } | undefined = initial;
    while (!this.#t.stopping && !this.#t.fatal) {
      const seg = next?.segment ?? this.#takeWork(speed);
      if (!seg) return;
      seg.active = true;
      // On the same kept-alive socket the connection's speed is known; a new socket is measured
      // afresh (the tick has a first estimate within 200 ms).
      seg.speed = resources.lean?.reusable && this.#t.run.leanAllowed ? resources.speed : undefined;
      const fetch = new RangeFetch(
        fetchContext(this.#t, this.#info, this.#part, resources, () =>
          Math.min(this.#requestCap(), this.#requestSize(resources)),
        ),
        seg,
      );
      this.#t.fetches.add(fetch);
      const before = seg.pos;
      let action: FailureAction | 'done' = 'done';
      let error: QgetError | undefined;
      try {
        await fetch.run(next?.opened);
        seg.failures = 0;
        this.#t.ignoredInARow = 0;
        refusals = 0;
      } catch (err) {
        if (seg.pos > before) seg.failures = 0;
        if (fetch.started) refusals = 0;
        error = toQgetError(err, this.#info.finalUrl);
        action = this.#onFetchError(error, seg, fetch, before);
        if (action === 'wait') refusals++;
      } finally {
        seg.active = false;
        // A fast connection may finish before the meter's first window: its average then.
        const average = fetch.averageSpeed(performance.now());
        speed = seg.speed ?? average ?? speed;
        resources.speed = average ?? resources.speed;
        resources.rttMs = fetch.ttfbMs ?? resources.rttMs;
        this.#t.fetches.delete(fetch);
      }
      // A bounded request ended inside the segment: the same connection goes on with it.
      next = action === 'done' && seg.pos < seg.end && !seg.active ? { segment: seg } : undefined;
      if (action === 'reconnect') {
        this.#debug(error?.message ?? 'reconnecting');
        resources.lean?.destroy();
        resources.speed = undefined;
        next = seg.pos < seg.end && !seg.active ? { segment: seg } : undefined;
        continue;
      }
      if (this.#isCrawler(resources)) {
        // Servers and paths pace connections unevenly; a fresh socket is the way out of a slow one.
        this.#debug(
          `a connection crawls at ${Math.round((resources.speed ?? 0) / 1024)} KiB/s: reconnecting`,
        );
        resources.lean?.destroy();
        resources.speed = undefined;
        next = undefined;
      }
      if (action === 'stop') return;
      if (action === 'retry' || action === 'wait') {
        const attempt = action === 'retry' ? seg.failures : refusals;
        const waited = await this.#t
          .sleep(retryDelayFor(attempt, error), this.#t.round.signal)
          .then(
            () => true,
            () => false,
          );
        if (!waited) return;
      }
    }
  }

  #onFetchError(error: QgetError, seg: Segment, fetch: RangeFetch, before: number): FailureAction {
    if (this.#t.stopping || this.#t.fatal || error instanceof AbortError) return 'stop';
    if (error instanceof CrawlError) return 'reconnect';
    if (error instanceof RangeMismatchError && error.ignoredRange) {
      this.#t.ignoredInARow++;
      if (this.#t.ignoredInARow >= IGNORED_RANGE_LIMIT) {
        this.#t.fallback = true;
        this.#t.stop(undefined);
        return 'stop';
      }
    }
    if (!error.transient) {
      this.#t.stop(error);
      return 'stop';
    }
    if (isRefusal(error) && seg.pos === before && !fetch.started) {
      const others = [...this.#t.fetches].filter((f) => f !== fetch && f.transferring).length;
      if (others > 0) {
        // The connection is refused, not the range: it says nothing about the range's health.
        if (this.#g.onRefusal(performance.now(), others)) {
          this.#debug(
            `connection refused (${error.message}); settling at ${this.#g.limit} connections`,
          );
          return 'stop';
        }
        return 'wait';
      }
    }
    seg.failures++;
    this.#debug(
      `range ${seg.pos}-${seg.end - 1}: ${error.message} (failure ${seg.failures}/${this.#o.retries})`,
    );
    if (seg.failures > this.#o.retries) {
      this.#t.stop(error);
      return 'stop';
    }
    return 'retry';
  }
}

const REFUSAL_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'UND_ERR_SOCKET',
  'EPIPE',
  'ERR_QGET_SOCKET_CLOSED',
]);

/** The shapes a server's per-client connection cap takes. */
function isRefusal(error: QgetError): boolean {
  if (error instanceof HttpStatusError) return error.statusCode === 503 || error.statusCode === 429;
  if (error instanceof NetworkError) {
    const code = errorCode(error.cause);
    return code !== undefined && REFUSAL_CODES.has(code);
  }
  return false;
}
