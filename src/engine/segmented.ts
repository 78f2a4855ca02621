// The segmented mode: one round of workers over many Range connections. Owns the connection
// governor, the opening of connections in waves, the live count, the crawler replacement on
// each tick, the hand-off of the probe's answer, and the check that every byte arrived. With
// several sources (mirrors): the connections spread over the sources in use (source-policy.ts),
// new sources checked against bytes on disk before use (source-check.ts), a failing source
// dropped with its ranges left to the others.

import { AbortError, NetworkError, type QgetError } from '../errors.js';
import type { Answer } from '../net/client.js';
import { toQgetError } from '../net/client.js';
import { redactUrl } from '../net/credentials.js';
import type { ConnectionGovernor } from './connection-governor.js';
import { CrawlJudge } from './crawl-judge.js';
import type { WorkerResources } from './fetch-context.js';
import type { PartFile } from './part-file.js';
import type { RangeFetch } from './range-fetch.js';
import type { ResourceInfo } from './resource.js';
import { rateLimit, requestCap, SegmentScheduler } from './scheduler.js';
import { PieceVerifier } from './pieces.js';
import { type ByteRange, missingRanges, sumRanges } from './segment-plan.js';
import { checkSources } from './source-check.js';
import {
  chooseSource,
  fairShares,
  farSlower,
  overShare,
  SLOW_SOURCE_MS,
  sampleRange,
} from './source-policy.js';
import { makeSources, type Source, sourceLoads } from './sources.js';
import type { RoundTick } from './ticker.js';
import type { Transfer } from './transfer.js';
import { type Initial, runWorker, type WorkerHost } from './worker.js';

/** How often connections are opened while ramping up, and how long the ramp lasts. */
const RAMP_EVERY_MS = 10;
const RAMP_MS = 100;
/** Longest the waves go on for sources waiting for bytes on disk to compare. */
const SAMPLE_WAIT_MS = 2000;
/** The most one request asks for once the server has answered with what we refuse. */
const REFUSED_REQUEST = 256 * 1024;
/** Under a rate limit: the speed one connection is assumed to reach. */
const RATE_PER_CONNECTION = 1024 * 1024;

export class SegmentedRound implements WorkerHost, RoundTick {
  readonly transfer: Transfer;
  readonly info: ResourceInfo;
  readonly part: PartFile;
  readonly scheduler: SegmentScheduler;
  /** The first source's governor (its measured limit is the result's connectionLimit). */
  readonly governor: ConnectionGovernor;
  /** The URL probed first, then the mirrors (sources.ts). */
  readonly sources: Source[];
  readonly workers = new Set<WorkerResources>();
  #workerIds = 0;
  #live = 0;
  /** Which answers crawl (crawl-judge.ts). */
  readonly #crawl = new CrawlJudge();
  /** A fill() is due on the next turn of the event loop (wake). */
  #waking = false;
  #allDone: () => void = () => {};
  /** A check of new sources is under way. */
  #checking = false;
  /** The error of the last source dropped (the download's if no source is left). */
  #lastDrop: QgetError | undefined;
  /** Piece hashes (Metalink) checked as pieces land. */
  readonly #pieces: PieceVerifier | undefined;

  newWorkerId(): number {
    return ++this.#workerIds;
  }

  constructor(transfer: Transfer, info: ResourceInfo, part: PartFile, others: string[] = []) {
    const o = transfer.run.o;
    this.transfer = transfer;
    this.info = info;
    this.part = part;
    this.scheduler = new SegmentScheduler(transfer, o);
    this.sources = makeSources(info, others, o);
    this.governor = this.sources[0]!.governor;
    const size = info.size ?? 0;
    const fits = o.pieces && o.pieces.hashes.length === Math.ceil(size / o.pieces.length);
    if (o.pieces && size > 0 && !fits) {
      transfer.run.debug(
        `${o.pieces.hashes.length} piece hashes do not fit ${size} bytes: ignored`,
      );
    }
    this.#pieces = o.pieces && fits && size > 0 ? new PieceVerifier(o.pieces, size) : undefined;
  }

  /** `source` served [start, end) (for piece hashes: who to blame for a bad piece). */
  served(source: Source, start: number, end: number): void {
    this.#pieces?.served(source, start, end);
  }

  noteInFlight(): void {
    for (const w of this.workers) {
      const seg = w.fetch?.segment;
      if (seg && w.source && w.from !== undefined) this.served(w.source, w.from, seg.pos);
    }
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
    // With sources waiting for bytes on disk to compare (wantsSample: the first batch is
    // written at SAMPLE_BYTES), the waves go on until their check starts, so it starts within
    // RAMP_EVERY_MS of those bytes rather than at the next tick.
    const rampStart = performance.now();
    transfer.wantsSample = this.sources.some((s) => s.state === 'pending');
    const ramp = setInterval(() => {
      this.#fill();
      const elapsed = performance.now() - rampStart;
      const waiting = transfer.wantsSample && elapsed < SAMPLE_WAIT_MS;
      const over = elapsed > RAMP_MS && !waiting;
      if (transfer.stopping || (this.#live >= this.governor.max && !waiting) || over) {
        clearInterval(ramp);
      }
    }, RAMP_EVERY_MS);
    if (probe && first && first.start === probeStart) {
      this.#spawn(this.sources[0]!, {
        segment: first,
        opened: { response: probe, servedEnd: probeEnd },
      });
    } else {
      transfer.drop(probe);
    }
    this.#fill();
    if (this.#live === 0) this.#settle();
    await finished;
    clearInterval(ramp);
    if (transfer.fatal) throw transfer.fatal;
    if (transfer.fallback) return;
    const incomplete = transfer.segments.find((s) => s.flushed < s.end);
    if (incomplete) {
      if (this.#lastDrop && !this.sources.some((s) => s.usable)) throw this.#lastDrop;
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
    if (this.sources.length === 1) {
      this.governor.onTransfer(transferring);
      this.sources[0]!.maxConnections = Math.max(this.sources[0]!.maxConnections, transferring);
    } else {
      const counts = new Map<Source, number>();
      const speeds = new Map<Source, number>();
      for (const w of this.workers) {
        if (!w.source || !w.fetch?.transferring) continue;
        counts.set(w.source, (counts.get(w.source) ?? 0) + 1);
        const speed = w.fetch.segment.speed;
        if (speed !== undefined) speeds.set(w.source, (speeds.get(w.source) ?? 0) + speed);
      }
      this.#dropSlowSources(counts, speeds);
      for (const s of this.sources) {
        const n = counts.get(s) ?? 0;
        s.governor.onTransfer(n);
        s.maxConnections = Math.max(s.maxConnections, n);
      }
      this.transfer.run.observer.sources?.(this.sources.map((s) => counts.get(s) ?? 0));
    }
    this.#checkPieces();
    this.#fill();
  }

  /**
   * A source far slower per connection than the fastest other one for SLOW_SOURCE_MS is dropped:
   * its connections do better at the others (stealing alone would keep some of them crawling).
   */
  #dropSlowSources(counts: Map<Source, number>, speeds: Map<Source, number>): void {
    if (this.rated()) return;
    const now = performance.now();
    const perConnection = (s: Source): number | undefined => {
      const n = counts.get(s) ?? 0;
      const total = speeds.get(s);
      return n > 0 && total !== undefined ? total / n : undefined;
    };
    const active = this.sources.filter((s) => s.state === 'active');
    for (const s of active) {
      const mine = perConnection(s);
      // Unmeasured (between requests, a fresh socket) keeps the clock: a crawler's reconnects
      // must not reset it.
      if (mine === undefined) continue;
      if (!farSlower(mine, active.filter((o) => o !== s).map(perConnection))) {
        s.slowSince = undefined;
        continue;
      }
      s.slowSince ??= now;
      if (now - s.slowSince >= SLOW_SOURCE_MS && this.othersUsable(s)) {
        const kib = Math.round((perConnection(s) ?? 0) / 1024);
        this.drop(s, `far slower than the others (${kib} KiB/s per connection)`);
      }
    }
  }

  /** Verify the pieces on disk; a bad one is fetched again (new work for the connections). */
  #checkPieces(): void {
    this.#pieces?.check(this, (refetch) => {
      if (refetch) this.#fill();
      if (this.#live === 0) this.#settle();
    });
  }

  /** Whether a connection of `source` should leave for one of another source (its share). */
  yields(source: Source): boolean {
    if (this.sources.length === 1) return source.state === 'dropped';
    if (source.state === 'dropped') return true;
    const loads = sourceLoads(this.sources, performance.now(), this.#total());
    return overShare(source.index, fairShares(this.#total(), loads), loads);
  }

  /** Another source than `source` is in use or being checked. */
  othersUsable(source: Source): boolean {
    return this.sources.some((s) => s !== source && s.usable);
  }

  /** `source` is not used any more (one warning line); its ranges go to the other sources. */
  drop(source: Source, reason: string): void {
    if (source.state === 'dropped') return;
    source.state = 'dropped';
    source.error = reason;
    this.#lastDrop = new NetworkError(`${redactUrl(source.url)}: ${reason}`);
    const message = `source ${redactUrl(source.url)} dropped: ${reason}`;
    const run = this.transfer.run;
    run.o.warn?.(message);
    run.debug(message);
    source.dropped.abort(new AbortError('the source was dropped'));
    for (const w of this.workers) {
      if (w.source === source) w.fetch?.abort(new AbortError('the source was dropped'));
    }
    this.#fill();
  }

  answered(fetch: RangeFetch): void {
    this.#crawl.answered(fetch);
  }

  /** Seconds of transfer one request asks for (longer when responses crawl). */
  requestSeconds(): number {
    return this.#crawl.requestSeconds();
  }

  /** Ends the answers that crawl far behind their siblings (not under a rate limit). */
  replaceCrawlers(now: number): void {
    if (!this.rated()) this.#crawl.judge(now, this.transfer.fetches, this.workers);
  }

  wake(): void {
    if (this.#waking) return;
    this.#waking = true;
    setImmediate(() => {
      this.#waking = false;
      this.#fill();
    });
  }

  /** An answer started to flow: judged as soon as it has run long enough, not on the tick. */
  transferring(fetch: RangeFetch): void {
    this.#crawl.watch(fetch, (f) => {
      if (!this.rated()) this.#crawl.judge(performance.now(), [f], this.workers);
    });
  }

  /** Connections in all: `maxConnections`, fewer under a rate limit. */
  #total(): number {
    const rate = this.#rate();
    const max = this.transfer.run.o.maxConnections;
    // Under a rate limit more connections only add requests; about 1 MiB/s each is plenty.
    return rate > 0 ? Math.min(max, Math.max(1, Math.ceil(rate / RATE_PER_CONNECTION))) : max;
  }

  /** Open connections up to each source's share while there is work to hand out. */
  #fill(): void {
    if (this.transfer.stopping || this.transfer.fatal) return;
    this.#checkNewSources();
    const now = performance.now();
    while (this.#live < this.#total() && this.scheduler.hasWork()) {
      const loads = sourceLoads(this.sources, now, this.#total());
      const i = chooseSource(fairShares(this.#total(), loads), loads);
      if (i < 0) break;
      this.#spawn(this.sources[i]!);
    }
  }

  /** Sources not checked yet are checked once enough bytes are on disk to compare. */
  #checkNewSources(): void {
    if (this.#checking) return;
    const pending = this.sources.filter((s) => s.state === 'pending');
    if (pending.length === 0) return;
    const range = sampleRange(this.info.size!, this.transfer.confirmed());
    if (!range) return;
    this.#checking = true;
    this.transfer.wantsSample = false;
    const onDisk = this.sources.filter((s) => s.state === 'active');
    for (const s of pending) s.checkingSince = performance.now();
    const check = checkSources(
      this.transfer,
      this.part,
      this.info,
      range,
      onDisk,
      pending,
      (s, reason) => this.drop(s, reason),
      () => this.#fill(),
    );
    check
      .catch((err) => this.transfer.stop(toQgetError(err, this.info.finalUrl)))
      .finally(() => {
        this.#checking = false;
        this.#fill();
        if (this.#live === 0) this.#settle();
      });
  }

  #spawn(source: Source, initial?: Initial): void {
    const transfer = this.transfer;
    this.#live++;
    source.live++;
    runWorker(this, source, initial)
      .catch((err) => transfer.stop(toQgetError(err, this.info.finalUrl)))
      .finally(() => {
        this.#live--;
        source.live--;
        // With mirrors a connection leaving for another source is replaced at once; alone,
        // the next tick fills (as before mirrors).
        if (this.sources.length > 1) this.#fill();
        if (this.#live === 0) this.#settle();
      });
  }

  /** No connection is left: another one for the work left, else the round is over. */
  #settle(): void {
    const transfer = this.transfer;
    const going = !transfer.stopping && !transfer.fatal;
    if (this.#checking && going) return;
    // Every piece is verified before the round is over (a bad one brings work back).
    if (going && this.#pieces && !this.#pieces.done && !this.scheduler.hasWork()) {
      this.#checkPieces();
      if (this.#pieces.busy) return;
    }
    const source = this.sources.find((s) => s.state === 'active');
    if (source && !transfer.stopping && !transfer.fatal && this.scheduler.hasWork()) {
      this.#spawn(source);
    } else {
      this.#allDone();
    }
  }

  /** The tightest rate limit in force (bytes/s), 0 when none. */
  #rate(): number {
    return rateLimit(this.transfer.run.o.limiters);
  }
}
