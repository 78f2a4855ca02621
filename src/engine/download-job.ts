// One download from probe to rename: the lifecycle around its attempts. Wires the caller's
// abort, owns the connection pool (unless shared), restarts when the resource changes under us,
// and runs each attempt: resume state → probe → open .part → segmented | single → finalize.
// What outlives an attempt is here, in ResumeStore, in Ticker and in Run; the rest is in a
// new Transfer per attempt (transfer.ts).

import { resolve } from 'node:path';
import {
  AbortError,
  ChecksumError,
  FileExistsError,
  LocalIoError,
  ResourceChangedError,
} from '../errors.js';
import { parseHttpUrl, toQgetError } from '../net/client.js';
import { ConnectionPool } from '../net/connection-pool.js';
import { redactUrl } from '../net/credentials.js';
import type { ConnectionGovernor } from './connection-governor.js';
import type {
  DownloadResult,
  EngineObserver,
  EngineOptions,
  JobSnapshot,
} from './engine-options.js';
import { finish } from './finalize.js';
import { OutputClaim } from './output-claim.js';
import { type PartFile, pathExists } from './part-file.js';
import { type ProbeResult, probe } from './probe.js';
import { MetalinkAnswer, metalinkDocument } from './metalink-answer.js';
import { validatorsOf } from './control-file.js';
import { adoptSaved } from './refresh.js';
import { ResumeStore } from './resume-store.js';
import { mergeRanges } from './segment-plan.js';
import { PROBE_REQUEST, rateLimit, requestCap } from './scheduler.js';
import { SegmentedRound } from './segmented.js';
import { runSingleStream, wholeAnswer } from './single-stream.js';
import { SourceOutvotedError } from './source-check.js';
import { sourceReport } from './sources.js';
import { Ticker, type Ticking } from './ticker.js';
import { type Run, sharedController, Transfer } from './transfer.js';

export type {
  DownloadResult,
  EngineObserver,
  EngineOptions,
  EnginePhase,
  JobSnapshot,
} from './engine-options.js';

const MAX_RESTARTS = 3;
/** With fsync on, dirty pages are pushed to disk in the background every this many bytes. */
const BACKGROUND_FLUSH_BYTES = 16 * 1024 * 1024;

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
  /** The segmented round under way, if any (for snapshot()). */
  #round: SegmentedRound | undefined;
  /** The size the probe reported (for snapshot()). */
  #size: number | undefined;
  /** This process's claim on the output (one writer per output), held until run() ends. */
  #claim: OutputClaim | undefined;
  /** Sources whose bytes lost a vote of the sources (source-check.ts): not used again. */
  readonly #excluded = new Set<string>();

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
      warn: (message) => this.#warn(message),
      names: options.outputNames,
      owner: options.outputOwner ?? this,
      refresh: options.refresh,
    });
  }

  /** Bytes accepted so far (including bytes resumed from disk). */
  get received(): number {
    return this.#transfer?.received ?? 0;
  }

  /** The ranges on disk and the connections at work, for a live view (the daemon's page). */
  snapshot(): JobSnapshot {
    const connections = [...(this.#round?.workers ?? [])].map((r) => {
      const seg = r.fetch?.segment;
      return {
        id: r.id,
        range: seg && { start: seg.start, pos: seg.pos, end: seg.end },
        speed: (seg ? seg.speed : undefined) ?? r.speed,
        transferring: r.fetch?.transferring ?? false,
        lastError: r.lastError,
        source: r.source?.url,
      };
    });
    const done = mergeRanges(this.#transfer?.confirmed() ?? []);
    const sources = this.sources();
    return { size: this.#size, done, connections, ...(sources ? { sources } : {}) };
  }

  /** snapshot()'s sources alone: undefined without mirrors. */
  sources(): JobSnapshot['sources'] {
    if ((this.#o.mirrors?.length ?? 0) === 0) return undefined;
    return this.#round?.sources.map((s) => ({ ...sourceReport(s), live: s.live }));
  }

  /** The URLs to download from, in order: the URL, then the mirrors (less the outvoted). */
  #candidates(): string[] {
    const all = [...new Set([this.#o.url, ...(this.#o.mirrors ?? [])])];
    return all.filter((u) => !this.#excluded.has(u));
  }

  async run(): Promise<DownloadResult> {
    const started = performance.now();
    parseHttpUrl(this.#o.url);
    const signal = this.#o.signal;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const output =
      this.#o.output === undefined ? undefined : this.#reservePath(resolve(this.#o.output));
    if (output !== undefined && !this.#o.override && (await pathExists(output))) {
      throw new FileExistsError(output);
    }
    // A named output is claimed before any request: a second writer stops here, touching nothing.
    if (output !== undefined) await this.#claimOutput(output);
    // Added only now: the finally below is what removes it.
    const onAbort = (): void => this.#stop(new AbortError(undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const ownPool =
      this.#o.dispatcher === undefined && this.#o.pool === undefined
        ? new ConnectionPool({
            connections: this.#o.maxConnections,
            timeoutMs: this.#o.timeoutMs,
            proxy: this.#o.proxy,
            tls: this.#o.tls,
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
      votes: [],
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
            ...(done.sources ? { sources: done.sources } : {}),
          };
        } catch (err) {
          if (!(err instanceof ResourceChangedError) || this.#abort.signal.aborted) throw err;
          if (err instanceof SourceOutvotedError) {
            for (const url of err.losers) this.#excluded.add(url);
            if (err.told) this.#debug(err.message);
            else this.#warn(err.message);
          }
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
      await this.#claim?.release();
      if (ownPool) await ownPool.destroy().catch(() => {});
    }
  }

  /** The path this download writes when it wants `wanted`: renamed if taken in this run. */
  #reservePath(wanted: string): string {
    const names = this.#o.outputNames;
    if (!names) return wanted;
    const owner = this.#o.outputOwner ?? this;
    const path = names.reserve(wanted, owner, (p) => this.#store.foreign(p));
    if (path !== wanted) this.#warn(`${wanted} is taken by another download: saving as ${path}`);
    return path;
  }

  /** One writer per output: this process claims `path` before it touches the .part. */
  async #claimOutput(path: string): Promise<void> {
    if (this.#claim?.path === path) return;
    await this.#claim?.release();
    this.#claim = undefined;
    this.#claim = await OutputClaim.acquire(path, this.#store.controlPathOf(path));
  }

  #warn(message: string): void {
    this.#o.warn?.(message);
    this.#debug(message);
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
  ): Promise<{
    path: string;
    size: number;
    finalUrl: string;
    resumed: number;
    sources?: ReturnType<typeof sourceReport>[] | undefined;
  }> {
    const store = this.#store;
    const transfer = new Transfer(run);
    this.#transfer = transfer;
    this.#observer.phase?.('connect');
    let resume = fresh ? undefined : await store.findSaved(output);
    if (resume?.foreign) {
      // Saved from another URL (link refresh): continued only if this URL serves those bytes.
      resume = await adoptSaved(transfer, resume, this.#o.url, (m) => this.#warn(m));
      fresh ||= resume === undefined;
    }
    // At most the smallest segment (less when resuming or under a rate limit, see requestCap).
    const cap = Math.min(PROBE_REQUEST, requestCap(rateLimit(this.#o.limiters), 0));
    const candidates = this.#candidates();
    const found = resume;
    let probed: ProbeResult | undefined;
    let others: string[] = [];
    for (let k = 0; probed === undefined; k++) {
      const url = candidates[k]!;
      resume = fresh ? undefined : found;
      others = candidates.filter((u) => u !== url);
      try {
        if (resume && !validatorsOf(resume.saved, url)) {
          // Saved while another of the sources answered (the first URL did not): continued from
          // this one only if it serves the bytes on disk, as a refreshed link is.
          resume = await adoptSaved(transfer, this.#store.asForeign(resume), url, (m) =>
            this.#warn(m),
          );
          fresh ||= resume === undefined;
        }
        probed = await probe(transfer, resume, cap, url);
        if (resume && !probed.response) {
          this.#debug('the saved state no longer matches the server: starting over');
          resume = undefined;
          fresh = true;
          probed = await probe(transfer, undefined, cap, url);
        }
      } catch (err) {
        // The next source, when the first answers nothing usable (never on an abort or a local error).
        const next = candidates[k + 1];
        if (next === undefined || this.#abort.signal.aborted) throw err;
        if (err instanceof AbortError || err instanceof LocalIoError) throw err;
        this.#warn(`${redactUrl(url)}: ${(err as Error).message}; trying ${redactUrl(next)}`);
      }
    }
    if (this.#o.followMetalink) {
      const xml = await metalinkDocument(transfer, probed);
      if (xml !== undefined) throw new MetalinkAnswer(xml, probed.info.finalUrl);
    }
    const info = probed.info;
    this.#size = info.size;
    const path =
      output ?? this.#reservePath(resume?.path ?? resolve(this.#o.dir ?? '.', info.filename));
    // No saved state can apply: the .part is emptied as it is opened.
    let startOver = false;
    let part: PartFile;
    try {
      await this.#claimOutput(path);
      await store.preparePaths(path);
      this.#observer.resource?.(info, path);
      startOver = store.startsOver(fresh);
      part = await store.openPart(startOver);
      if (this.#o.fsync) part.flushEvery = BACKGROUND_FLUSH_BYTES;
    } catch (err) {
      transfer.drop(probed.response);
      throw err;
    }
    const ticking: Ticking = { transfer, round: undefined };
    const stopTicking = ticker.start(info, ticking);
    let current = transfer;
    try {
      const done = await store.doneRanges(part, info, resume?.saved, startOver);
      this.#observer.phase?.('download');
      let final = info;
      if (info.size === 0) {
        transfer.drop(probed.response);
      } else if (!info.acceptRanges || wholeAnswer(this.#o, probed, done, others)) {
        // No ranges, or a small file the probe's answer carries whole: one stream, no round.
        final = await runSingleStream(transfer, info, part, probed.response);
      } else {
        const round = new SegmentedRound(transfer, info, part, others);
        this.#round = round;
        this.#governor = round.governor;
        ticking.round = round;
        await round.run(probed.response, probed.start, probed.servedEnd ?? 0, done);
        if (transfer.fallback) {
          this.#debug('the server stopped honouring ranges: one stream from byte 0');
          current = new Transfer(run);
          this.#transfer = current;
          ticking.transfer = current;
          ticking.round = undefined;
          this.#round = undefined;
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
      const size = await finish(finished, path).catch((err: unknown) => {
        // The sources' majority chose bytes the checksum could not judge (source-check.ts).
        if (err instanceof ChecksumError && run.votes.length > 0) {
          err.message = `${err.message}; ${run.votes.join('; ')}`;
        }
        throw err;
      });
      this.#observer.phase?.('done');
      const sources =
        this.#o.mirrors?.length && this.#round ? this.#round.sources.map(sourceReport) : undefined;
      return { path, size, finalUrl: final.finalUrl, resumed: current.resumed, sources };
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
}
