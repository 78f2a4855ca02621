// One Downloader's runs and their state machine. start() runs a file path as a DownloadJob (many
// connections into its `.part`) or a Writable as its StreamTarget (one ordered connection);
// stop() aborts the run, join() waits for it; the outcome is complete, pause or error (then a
// restart by the Downloader's rule). It owns what the runs set: state, size, bytes received,
// speed over the run, the last error, the job; headSize() is updateSize()'s HEAD request. The
// Downloader keeps its options, its restarts and its Manager link: the run reads its public
// properties and acts on it through RunHooks only.

import type { DownloadJob, EngineOptions, JobSnapshot } from '../engine/download-job.js';
import { runFollowingMetalink, runStreamFollowingMetalink } from './metalink-follow.js';
import type { OutputNames } from '../engine/output-names.js';
import type { StreamTarget } from '../engine/stream-target.js';
import type { Dispatcher } from 'undici';
import { AbortError, type QgetError } from '../errors.js';
import { openRequest, type Requester, toQgetError } from '../net/client.js';
import type { ConnectionPool } from '../net/connection-pool.js';
import { contentLength, parseContentRange, parseUnsatisfiedRange } from '../net/headers.js';
import { createRequester } from '../net/proxy-dispatcher.js';
import type { HttpSession } from '../net/session.js';
import type { TokenBucket } from '../rate/token-bucket.js';

export type DownloaderState = 'pause' | 'start' | 'download' | 'error' | 'complete';

/** What a run reads of its Downloader: its public properties. */
/** What Downloader.segments() shows: the byte ranges on disk and each connection at work. */
export type DownloadSegments = JobSnapshot;

export interface RunSubject {
  readonly url: string;
  readonly downloaded: number;
  readonly timeout: number;
  readonly chunkSize: number;
  readonly updatePeriod: number;
}

/** What only a run may do to its Downloader. */
export interface RunHooks {
  /** The engine's options for a run (or the HEAD request's headers). */
  engineOptions(signal: AbortSignal | undefined): EngineOptions;
  /** Set when `path` is a Writable: what is already in it. */
  stream(): StreamTarget | undefined;
  /** The dispatcher given in its options, if any. */
  dispatcher(): Dispatcher | undefined;
  /**
   * Its Manager's connections, unless it has a dispatcher of its own; undefined alone. `engine`:
   * the options of the run (or request), whose proxies and TLS rules the connections must have.
   */
  lease(engine: EngineOptions): { pool: ConnectionPool; release(): void } | undefined;
  /** Credentials and cookies for one request of its own (updateSize's HEAD). */
  session(): HttpSession;
  /** Its cookie files: read before a run, written after (a failed write is a warning). */
  loadCookies(): Promise<void>;
  saveCookies(): Promise<void>;
  /** Its own bucket, then its Manager's. */
  limiters(): TokenBucket[];
  /** Output names taken in its Manager's run. */
  names(): OutputNames | undefined;
  /** The engine chose the file it saves to. */
  resolvedPath(path: string): void;
  stateChanged(old: DownloaderState): void;
  sizeChanged(): void;
  speedChanged(): void;
  /** The wait the restart rule gives now (own and manager's restartWait), negative = never. */
  restartWait(): number;
  isRestarting(): boolean;
  restart(wait: number): void;
  cancelRestart(): void;
  /** start(), as the user would call it (through its Manager, if any). */
  start(): void;
}

export class DownloadRunner {
  readonly #d: RunSubject;
  readonly #hooks: RunHooks;

  #state: DownloaderState = 'pause';
  #size = -1;
  #lastError: QgetError | null = null;
  #finalUrl: string | null = null;

  #alive = false;
  #run: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #job: DownloadJob | undefined;
  /** The sources of the last run to a file, as it ended. */
  #sources: JobSnapshot['sources'];
  #stopRequested = false;
  #startAfterStop = false;

  #downloaded = 0;
  #speed = 0;
  #speedMark = { at: 0, bytes: 0 };
  #speedTimer: ReturnType<typeof setInterval> | undefined;

  /** `downloader` is the owner of its share of the limiters and of its output names. */
  constructor(downloader: RunSubject, hooks: RunHooks) {
    this.#d = downloader;
    this.#hooks = hooks;
  }

  get state(): DownloaderState {
    return this.#state;
  }

  /** Total bytes, -1 while unknown. */
  get size(): number {
    return this.#size;
  }

  /** The error that stopped the last run that failed; null if none failed yet. */
  get lastError(): QgetError | null {
    return this.#lastError;
  }

  /** The URL that served the last complete file download (after redirects). */
  get finalUrl(): string | null {
    return this.#finalUrl;
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Bytes the engine has received into the file (a stream counts what it was handed). */
  get downloaded(): number {
    return this.#downloaded;
  }

  get speed(): number {
    return this.#speed;
  }

  snapshot(): JobSnapshot | undefined {
    return this.#job?.snapshot();
  }

  /** The sources of the run under way (else of the last one), with their connections. */
  get sources(): JobSnapshot['sources'] {
    return this.#job?.sources() ?? this.#sources;
  }

  join(timeoutSeconds?: number): Promise<void> {
    const run = this.#run;
    if (!run) return Promise.resolve();
    if (timeoutSeconds === undefined) return run;
    return new Promise<void>((done) => {
      const timer = setTimeout(done, Math.max(0, timeoutSeconds) * 1000);
      void run.then(() => {
        clearTimeout(timer);
        done();
      });
    });
  }

  /** Ask the server for the size with a HEAD request; sets the size when it is told. */
  async headSize(): Promise<void> {
    const engine = this.#hooks.engineOptions(undefined);
    const lease = this.#hooks.lease(engine);
    // Without a manager, a requester of its own (through the proxies), closed below.
    const given = this.#hooks.dispatcher();
    const own =
      given || lease
        ? undefined
        : createRequester({
            connections: 1,
            timeoutMs: engine.timeoutMs,
            proxy: engine.proxy,
            tls: engine.tls,
          });
    const dispatcher = given ?? lease?.pool.agent ?? own!;
    const controller = new AbortController();
    const timer =
      this.#d.timeout > 0
        ? setTimeout(() => controller.abort(), this.#d.timeout * 1000)
        : undefined;
    try {
      const res = await openRequest(this.#d.url, {
        dispatcher,
        method: 'HEAD',
        headers: engine.headers,
        session: this.#hooks.session(),
        userUrl: this.#d.url,
        followRedirects: true,
        maxRedirects: engine.maxRedirects,
        signal: controller.signal,
      });
      await res.body.dump().catch(() => {});
      if (res.statusCode >= 200 && res.statusCode < 300) {
        // The engine's rules: a Content-Range total, else an identity-coded Content-Length.
        const range = res.headers['content-range'];
        const size =
          parseContentRange(range)?.total ??
          parseUnsatisfiedRange(range) ??
          contentLength(res.headers) ??
          -1;
        this.#setSize(size);
      }
    } catch {
      // As in bitpit: a failed HEAD leaves the size as it was.
    } finally {
      clearTimeout(timer);
      lease?.release();
      void own?.close().catch(() => {});
    }
  }

  // ---- the run ----

  start(): void {
    if (this.#alive) {
      if (this.#stopRequested) this.#startAfterStop = true;
      return;
    }
    this.#hooks.cancelRestart();
    const controller = new AbortController();
    this.#abort = controller;
    this.#alive = true;
    this.#stopRequested = false;
    this.#startAfterStop = false;
    let finished: () => void = () => {};
    this.#run = new Promise<void>((r) => {
      finished = r;
    });
    this.#setState('start');
    this.#startSpeedTimer();
    void this.#execute(controller.signal).finally(finished);
  }

  stop(): void {
    this.#startAfterStop = false;
    this.#hooks.cancelRestart();
    if (!this.#alive || this.#stopRequested) return;
    this.#stopRequested = true;
    this.#abort?.abort(new AbortError('the download was stopped'));
  }

  async #execute(signal: AbortSignal): Promise<void> {
    let lease: ReturnType<RunHooks['lease']>;
    const limiters = this.#hooks.limiters();
    const stream = this.#hooks.stream();
    let error: QgetError | undefined;
    try {
      // Built once per run: its proxies and TLS rules also choose the connections leased.
      const options = this.#hooks.engineOptions(signal);
      lease = this.#hooks.lease(options);
      await this.#hooks.loadCookies();
      if (stream) {
        await this.#runStream(stream, options, signal, lease?.pool.agent, limiters);
      } else {
        await this.#runFile(options, lease?.pool, limiters);
      }
    } catch (err) {
      error = toQgetError(err, this.#d.url, signal);
    } finally {
      lease?.release();
      await this.#hooks.saveCookies();
      this.#stopSpeedTimer();
      this.#sources = this.#job?.sources() ?? this.#sources;
      this.#job = undefined;
      this.#abort = undefined;
      this.#alive = false;
      this.#run = undefined;
    }
    if (!error) {
      this.#setState('complete');
    } else if (error instanceof AbortError || (this.#stopRequested && error.transient)) {
      this.#setState('pause');
    } else {
      this.#lastError = error;
      // Scheduled before the state is announced: listeners of 'error' see isRestarting and
      // restartTime (bitpit's lesson 3 decides there whether a retry is coming).
      const wait = this.#hooks.restartWait();
      if (error.transient && wait >= 0 && !this.#hooks.isRestarting() && !this.#alive) {
        this.#hooks.restart(wait);
      }
      this.#setState('error');
    }
    if (this.#startAfterStop && !this.#alive) this.#hooks.start();
  }

  async #runFile(
    options: EngineOptions,
    pool: ConnectionPool | undefined,
    limiters: readonly TokenBucket[],
  ): Promise<void> {
    options.pool = pool;
    options.limiters = limiters;
    options.limiterOwner = this.#d;
    options.outputNames = this.#hooks.names();
    options.outputOwner = this.#d;
    options.observer = {
      resource: (info, path) => {
        this.#hooks.resolvedPath(path);
        this.#setSize(info.size ?? -1);
      },
      progress: (received, total) => {
        this.#downloaded = received;
        if (total !== undefined) this.#setSize(total);
      },
      phase: (phase) => {
        if (phase === 'download' && this.#state === 'start') this.#setState('download');
      },
    };
    const result = await runFollowingMetalink(options, (job) => {
      this.#job = job;
    });
    this.#finalUrl = result.finalUrl;
    this.#setSize(result.size);
    this.#downloaded = result.size;
  }

  async #runStream(
    stream: StreamTarget,
    options: EngineOptions,
    signal: AbortSignal,
    leased: Requester | undefined,
    limiters: readonly TokenBucket[],
  ): Promise<void> {
    const dispatcher =
      leased ??
      options.dispatcher ??
      createRequester({
        connections: 1,
        timeoutMs: options.timeoutMs,
        proxy: options.proxy,
        tls: options.tls,
      });
    try {
      const size = await runStreamFollowingMetalink(stream, {
        url: this.#d.url,
        knownSize: this.#size,
        headers: options.headers,
        session: options.session,
        maxRedirects: options.maxRedirects,
        checksum: options.checksum,
        pieces: options.pieces,
        dispatcher,
        signal,
        timeoutMs: options.timeoutMs,
        chunkBytes: this.#d.chunkSize,
        limiters,
        limiterOwner: this.#d,
        onResponse: (total) => {
          this.#setSize(total);
          this.#setState('download');
        },
      });
      this.#setSize(size);
    } finally {
      if (dispatcher !== leased && dispatcher !== options.dispatcher) {
        await dispatcher.destroy().catch(() => {});
      }
    }
  }

  // ---- state, size, speed ----

  #setState(state: DownloaderState): void {
    const old = this.#state;
    this.#state = state;
    this.#speed = 0;
    // A full period from now: a report just after the state change would measure a sliver.
    if (this.#speedTimer !== undefined) this.#startSpeedTimer();
    else this.#speedMark = { at: performance.now(), bytes: this.#d.downloaded };
    this.#hooks.speedChanged();
    this.#hooks.stateChanged(old);
  }

  #setSize(size: number): void {
    if (size === this.#size) return;
    this.#size = size;
    this.#hooks.sizeChanged();
  }

  /** updatePeriod changed. */
  updatePeriodChanged(): void {
    if (this.#speedTimer !== undefined) this.#startSpeedTimer();
  }

  #startSpeedTimer(): void {
    this.#stopSpeedTimer();
    this.#speedMark = { at: performance.now(), bytes: this.#d.downloaded };
    this.#speedTimer = setInterval(() => this.#updateSpeed(), this.#d.updatePeriod * 1000);
    this.#speedTimer.unref();
  }

  #stopSpeedTimer(): void {
    if (this.#speedTimer !== undefined) clearInterval(this.#speedTimer);
    this.#speedTimer = undefined;
  }

  #updateSpeed(): void {
    const now = performance.now();
    if (this.#job && this.#state === 'download') this.#downloaded = this.#job.received;
    const elapsed = (now - this.#speedMark.at) / 1000;
    if (elapsed <= 0) return;
    const bytes = this.#d.downloaded;
    this.#speed = Math.max(0, (bytes - this.#speedMark.bytes) / elapsed);
    this.#speedMark = { at: now, bytes };
    this.#hooks.speedChanged();
  }
}
