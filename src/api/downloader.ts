// bitpit's Downloader: one download with a state machine, signals, pause/resume and automatic
// restart, on top of the segmented engine (a file path) or a single ordered stream (a Writable).

import type { Writable } from 'node:stream';
import { Emitter } from './emitter.js';
import { DownloadJob, type EngineOptions, type JobSnapshot } from '../engine/download-job.js';

/** What Downloader.segments() shows: the byte ranges on disk and each connection at work. */
export type DownloadSegments = JobSnapshot;
import { pathFromUrl } from '../engine/filename.js';
import type { OutputNames } from '../engine/output-names.js';
import type { DownloaderOptions, EnginePassThrough } from './downloader-options.js';
import { AbortError, type QgetError } from '../errors.js';
import {
  createAgent,
  loadUndici,
  openRequest,
  type Requester,
  toQgetError,
} from '../net/client.js';
import type { ConnectionPool } from '../net/connection-pool.js';
import { contentLength, parseContentRange, parseUnsatisfiedRange } from '../net/headers.js';
import {
  checkInteger,
  checkNumber,
  checkPath,
  checkUrl,
  isWritable,
  MIN_CHUNK_BYTES,
} from './checks.js';
import { engineOptions } from './qget.js';
import { TokenBucket } from '../rate/token-bucket.js';
import { RestartTimer, restartWaitOf } from './restart-timer.js';
import { StreamTarget } from '../engine/stream-target.js';
import { humanReadable } from '../units.js';

export type DownloaderState = 'pause' | 'start' | 'download' | 'error' | 'complete';

/** bitpit's human-readable pair: `[9.865234375, 'KB']`, `[2, 'MB/s']`. */
export type HumanReadable = [value: number, suffix: string];

export interface DownloaderSignals {
  'state-changed': [downloader: Downloader, oldState: DownloaderState];
  'size-changed': [downloader: Downloader];
  'speed-changed': [downloader: Downloader];
  'url-changed': [downloader: Downloader];
  'path-changed': [downloader: Downloader];
  'restart-time-changed': [downloader: Downloader];
  'rate-limit-changed': [downloader: Downloader];
}

export type DownloaderSignal = keyof DownloaderSignals;

export type { DownloaderOptions } from './downloader-options.js';

/** How a Manager plugs into its downloads: the shared limiter, its connections, its queue. */
export interface DownloaderLink {
  readonly limiter: TokenBucket;
  lease(): { pool: ConnectionPool; release(): void };
  /** The user called start(); true when the manager takes it from here. */
  requestStart(d: Downloader): boolean;
  /** The user called stop(). */
  requestStop(d: Downloader): void;
  /** Output names taken in this run: a download whose path is taken is renamed. */
  readonly names: OutputNames;
  /** A restart came due: the manager queues the download (and starts it when a slot is free). */
  requestRestart(d: Downloader): void;
  /** The manager's restartWait (seconds, negative = never): see restartWaitOf(). */
  restartWait(): number;
}

/** Internal entry points for Manager (not exported from the package). */
export const downloaderInternals: {
  link(d: Downloader, link: DownloaderLink | undefined): DownloaderLink | undefined;
  start(d: Downloader): void;
  stop(d: Downloader): void;
  /** The manager's restartWait changed: reschedule a pending restart by the restart rule. */
  rescheduleRestart(d: Downloader): void;
} = {
  link: () => undefined,
  start: () => {},
  stop: () => {},
  rescheduleRestart: () => {},
};

const DEFAULT_CHUNK = 256 * 1024;

/** bitpit's bar(): floor(ratio × width) `char`s padded with spaces; `unknown` × width if unknown. */
export function progressBar(ratio: number, width = 30, char = '=', unknown = '?'): string {
  if (!(ratio >= 0)) return unknown.repeat(width);
  return char.repeat(Math.floor(width * Math.min(ratio, 1))).padEnd(width);
}

export class Downloader extends Emitter<DownloaderSignals> {
  static override readonly signals = [
    'state-changed',
    'size-changed',
    'speed-changed',
    'url-changed',
    'path-changed',
    'restart-time-changed',
    'rate-limit-changed',
  ] as const;

  static {
    downloaderInternals.link = (d, link) => {
      const old = d.#link;
      d.#link = link;
      // A restart pending by the old manager's wait only is not this download's any more.
      if (old !== undefined && link === undefined && d.#restartWait < 0) d.#restarts.cancel();
      return old;
    };
    downloaderInternals.rescheduleRestart = (d) => d.#rescheduleRestart();
    downloaderInternals.start = (d) => d.#startNow();
    downloaderInternals.stop = (d) => d.#stopNow();
  }

  #url: string;
  #path: string | Writable | undefined;
  readonly #dirPath: string | undefined;
  #resolvedPath: string | undefined;
  #guessedPath: { url: string; path: string } | undefined;
  #rateLimit: number;
  readonly #bucket: TokenBucket;
  #timeout: number;
  #updatePeriod: number;
  #restartWait: number;
  #chunkSize: number;
  readonly #base: EnginePassThrough;
  #link: DownloaderLink | undefined;

  #state: DownloaderState = 'pause';
  #size = -1;
  #downloaded = 0;
  #speed = 0;
  #speedMark = { at: 0, bytes: 0 };
  #speedTimer: ReturnType<typeof setInterval> | undefined;
  #lastError: QgetError | null = null;
  readonly #restarts = new RestartTimer(() => this.emit('restart-time-changed', this));

  #alive = false;
  #run: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #job: DownloadJob | undefined;
  #stopRequested = false;
  #startAfterStop = false;

  /** Set when `path` is a Writable: what is already in it, kept across stop/start. */
  #stream: StreamTarget | undefined;

  constructor(url: string, options: DownloaderOptions = {}) {
    super();
    this.#url = checkUrl(url);
    this.#setPath(options.path);
    this.#dirPath = options.dirPath;
    this.#rateLimit = checkNumber('rateLimit', options.rateLimit, 0, 0);
    this.#bucket = new TokenBucket(this.#rateLimit);
    this.#timeout = checkNumber('timeout', options.timeout, 10, 0);
    this.#updatePeriod = checkNumber('updatePeriod', options.updatePeriod, 1, 0, true);
    this.#restartWait = checkNumber('restartWait', options.restartWait, -1);
    this.#chunkSize = checkInteger('chunkSize', options.chunkSize, DEFAULT_CHUNK, MIN_CHUNK_BYTES);
    const {
      path: _p,
      dirPath: _d,
      rateLimit: _r,
      timeout: _t,
      updatePeriod: _u,
      restartWait: _w,
      chunkSize: _c,
      ...base
    } = options;
    this.#base = base;
    // Validate the engine options now rather than at the first start().
    this.#engineOptions(undefined);
  }

  // ---- read-write properties ----

  get url(): string {
    return this.#url;
  }

  set url(value: string) {
    this.#assertStopped('url');
    this.#url = checkUrl(value);
    // The name the server gave was for the old URL.
    this.#resolvedPath = undefined;
    this.emit('url-changed', this);
  }

  /**
   * The destination: the stream given, else the file it is (or will be) saved as: the path given
   * or the server-named file in `dirPath`, renamed `name.1.ext` if another download of its
   * Manager has that name.
   */
  get path(): string | Writable {
    if (this.#resolvedPath !== undefined && typeof this.#path !== 'object') {
      return this.#resolvedPath;
    }
    if (this.#path !== undefined) return this.#path;
    // The name the URL gives, remembered while the URL stays the same (dirPath cannot change).
    if (this.#guessedPath?.url !== this.#url) {
      this.#guessedPath = { url: this.#url, path: pathFromUrl(this.#url, this.#dirPath) };
    }
    return this.#guessedPath.path;
  }

  set path(value: string | Writable | undefined) {
    this.#assertStopped('path');
    this.#setPath(value);
    this.emit('path-changed', this);
  }

  #setPath(value: unknown): void {
    this.#path = checkPath(value);
    this.#resolvedPath = undefined;
    this.#stream = isWritable(this.#path) ? new StreamTarget(this.#path) : undefined;
  }

  get dirPath(): string | undefined {
    return this.#dirPath;
  }

  get rateLimit(): number {
    return this.#rateLimit;
  }

  set rateLimit(value: number) {
    this.#rateLimit = checkNumber('rateLimit', value, 0, 0);
    this.#bucket.setRate(this.#rateLimit);
    this.emit('rate-limit-changed', this);
  }

  get restartWait(): number {
    return this.#restartWait;
  }

  /** Setting it while a restart is scheduled schedules it again with the new wait. */
  set restartWait(value: number) {
    this.#restartWait = checkNumber('restartWait', value, -1);
    this.#rescheduleRestart();
  }

  get updatePeriod(): number {
    return this.#updatePeriod;
  }

  set updatePeriod(value: number) {
    this.#updatePeriod = checkNumber('updatePeriod', value, 1, 0, true);
    if (this.#speedTimer !== undefined) this.#startSpeedTimer();
  }

  /** Takes effect at the next start(). */
  get timeout(): number {
    return this.#timeout;
  }

  set timeout(value: number) {
    this.#timeout = checkNumber('timeout', value, 10, 0);
  }

  /** Takes effect at the next start(). */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  set chunkSize(value: number) {
    this.#chunkSize = checkInteger('chunkSize', value, DEFAULT_CHUNK, MIN_CHUNK_BYTES);
  }

  // ---- read-only properties ----

  get state(): DownloaderState {
    return this.#state;
  }

  /** Total bytes, -1 while unknown. */
  get size(): number {
    return this.#size;
  }

  /** Bytes downloaded so far (for a stream: bytes handed to it). */
  get downloaded(): number {
    return this.#stream?.written ?? this.#downloaded;
  }

  /** Bytes still to download, -1 while the size is unknown. */
  get remaining(): number {
    return this.#size >= 0 ? Math.max(0, this.#size - this.downloaded) : -1;
  }

  /** Bytes per second over the last update period. */
  get speed(): number {
    return this.#speed;
  }

  /** downloaded / size; 1 for an empty file, -1 while the size is unknown. */
  get ratio(): number {
    if (this.#size === 0) return 1;
    return this.#size > 0 ? this.downloaded / this.#size : -1;
  }

  get percentage(): number {
    return 100 * this.ratio;
  }

  /** Seconds to completion at the current speed; null when unknown (no size or no speed). */
  get eta(): number | null {
    const remaining = this.remaining;
    if (remaining < 0) return null;
    if (remaining === 0) return 0;
    return this.#speed > 0 ? remaining / this.#speed : null;
  }

  /**
   * While a download to a file runs: the byte ranges confirmed on disk, and each connection
   * with the range it works on, its speed and its last error. Undefined otherwise.
   */
  segments(): DownloadSegments | undefined {
    return this.#job?.snapshot();
  }

  /** A download is running (from start() until it has paused, failed or completed). */
  get isAlive(): boolean {
    return this.#alive;
  }

  /** A restart is scheduled (by restart(), by restartWait, or by its Manager's restartWait). */
  get isRestarting(): boolean {
    return this.#restarts.pending;
  }

  /** When the scheduled restart happens; null when none is scheduled. */
  get restartTime(): Date | null {
    return this.#restarts.at;
  }

  /** The error that stopped the last run that failed; null if none failed yet. */
  get lastError(): QgetError | null {
    return this.#lastError;
  }

  get humanSize(): HumanReadable {
    return human(this.#size);
  }

  get humanDownloaded(): HumanReadable {
    return human(this.downloaded);
  }

  get humanRemaining(): HumanReadable {
    return human(this.remaining);
  }

  get humanSpeed(): HumanReadable {
    return human(this.#speed, '/s');
  }

  get humanRateLimit(): HumanReadable {
    return human(this.#rateLimit, '/s');
  }

  // ---- methods ----

  /** bitpit's progress bar: `bar(8)` at 25% is `'==      '`, and `'????????'` with no size. */
  bar(width = 30, char = '=', unknown = '?'): string {
    return progressBar(this.ratio, width, char, unknown);
  }

  /**
   * Start (or resume) the download and return at once. Does nothing while it runs; cancels a
   * scheduled restart. In a running Manager, the download is queued and the manager starts it.
   */
  start(): void {
    if (this.#link?.requestStart(this)) return;
    this.#startNow();
  }

  /** Pause, keeping what was downloaded for the next start(); cancels a scheduled restart. */
  stop(): void {
    this.#link?.requestStop(this);
    this.#stopNow();
  }

  /**
   * Resolves when the running download stops for any reason (check `state`), or after
   * `timeoutSeconds`. Never rejects.
   */
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

  /**
   * Schedule start() after `wait` seconds (default `restartWait`, at least 0). In a Manager, the
   * download is queued then, and started when a slot is free.
   */
  restart(wait?: number): void {
    const seconds = checkNumber('wait', wait, this.#restartWait);
    this.#restarts.schedule(seconds, () => {
      if (this.#link) this.#link.requestRestart(this);
      else this.start();
    });
  }

  /** The wait the restart rule gives now (own and manager's restartWait), negative = never. */
  #effectiveRestartWait(): number {
    return restartWaitOf(this.#restartWait, this.#link?.restartWait());
  }

  #rescheduleRestart(): void {
    if (!this.isRestarting) return;
    const wait = this.#effectiveRestartWait();
    if (wait < 0) this.#restarts.cancel();
    else this.restart(wait);
  }

  /** Ask the server for the size with a HEAD request; resolves to the size (-1 unknown). */
  async updateSize(): Promise<number> {
    const lease = this.#base.dispatcher ? undefined : this.#link?.lease();
    const dispatcher =
      this.#base.dispatcher ?? lease?.pool.agent ?? (await loadUndici()).getGlobalDispatcher();
    const controller = new AbortController();
    const timer =
      this.#timeout > 0 ? setTimeout(() => controller.abort(), this.#timeout * 1000) : undefined;
    try {
      const { headers, maxRedirects } = this.#engineOptions(undefined);
      const res = await openRequest(this.#url, {
        dispatcher,
        method: 'HEAD',
        headers,
        userUrl: this.#url,
        followRedirects: true,
        maxRedirects,
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
    }
    return this.#size;
  }

  // ---- the run ----

  #startNow(): void {
    if (this.#alive) {
      if (this.#stopRequested) this.#startAfterStop = true;
      return;
    }
    this.#restarts.cancel();
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

  #stopNow(): void {
    this.#startAfterStop = false;
    this.#restarts.cancel();
    if (!this.#alive || this.#stopRequested) return;
    this.#stopRequested = true;
    this.#abort?.abort(new AbortError('the download was stopped'));
  }

  async #execute(signal: AbortSignal): Promise<void> {
    const lease = this.#base.dispatcher ? undefined : this.#link?.lease();
    const limiters = this.#link ? [this.#bucket, this.#link.limiter] : [this.#bucket];
    let error: QgetError | undefined;
    try {
      if (this.#stream) {
        await this.#runStream(this.#stream, signal, lease?.pool.agent, limiters);
      } else {
        await this.#runFile(signal, lease?.pool, limiters);
      }
    } catch (err) {
      error = toQgetError(err, this.#url, signal);
    } finally {
      lease?.release();
      this.#stopSpeedTimer();
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
      const wait = this.#effectiveRestartWait();
      if (error.transient && wait >= 0 && !this.isRestarting && !this.#alive) this.restart(wait);
      this.#setState('error');
    }
    if (this.#startAfterStop && !this.#alive) this.start();
  }

  async #runFile(
    signal: AbortSignal,
    pool: ConnectionPool | undefined,
    limiters: readonly TokenBucket[],
  ): Promise<void> {
    const options = this.#engineOptions(signal);
    options.pool = pool;
    options.limiters = limiters;
    options.limiterOwner = this;
    options.outputNames = this.#link?.names;
    options.outputOwner = this;
    options.observer = {
      resource: (info, path) => {
        const before = this.path;
        this.#resolvedPath = path;
        if (before !== this.path) this.emit('path-changed', this);
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
    const job = new DownloadJob(options);
    this.#job = job;
    const result = await job.run();
    this.#setSize(result.size);
    this.#downloaded = result.size;
  }

  async #runStream(
    stream: StreamTarget,
    signal: AbortSignal,
    leased: Requester | undefined,
    limiters: readonly TokenBucket[],
  ): Promise<void> {
    const options = this.#engineOptions(signal);
    const dispatcher =
      leased ?? options.dispatcher ?? createAgent({ connections: 1, timeoutMs: options.timeoutMs });
    try {
      const size = await stream.run({
        url: this.#url,
        knownSize: this.#size,
        headers: options.headers,
        checksum: options.checksum,
        dispatcher,
        maxRedirects: options.maxRedirects,
        signal,
        timeoutMs: options.timeoutMs,
        chunkBytes: this.#chunkSize,
        limiters,
        limiterOwner: this,
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

  #engineOptions(signal: AbortSignal | undefined): EngineOptions {
    const path = typeof this.#path === 'string' ? this.#path : undefined;
    const chunk =
      this.#rateLimit > 0 ? Math.min(this.#chunkSize, this.#rateLimit) : this.#chunkSize;
    return engineOptions(this.#url, {
      ...this.#base,
      filepath: path,
      dir: this.#dirPath,
      timeout: this.#timeout,
      // A rate limit below the smallest batch still writes batches of that size.
      chunkBytes: Math.max(MIN_CHUNK_BYTES, Math.round(chunk)),
      rateLimit: 0,
      signal,
    });
  }

  // ---- state, size, speed ----

  #setState(state: DownloaderState): void {
    const old = this.#state;
    this.#state = state;
    this.#speed = 0;
    // A full period from now: a report just after the state change would measure a sliver.
    if (this.#speedTimer !== undefined) this.#startSpeedTimer();
    else this.#speedMark = { at: performance.now(), bytes: this.downloaded };
    this.emit('speed-changed', this);
    this.emit('state-changed', this, old);
  }

  #setSize(size: number): void {
    if (size === this.#size) return;
    this.#size = size;
    this.emit('size-changed', this);
  }

  #startSpeedTimer(): void {
    this.#stopSpeedTimer();
    this.#speedMark = { at: performance.now(), bytes: this.downloaded };
    this.#speedTimer = setInterval(() => this.#updateSpeed(), this.#updatePeriod * 1000);
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
    const bytes = this.downloaded;
    this.#speed = Math.max(0, (bytes - this.#speedMark.bytes) / elapsed);
    this.#speedMark = { at: now, bytes };
    this.emit('speed-changed', this);
  }

  #assertStopped(property: string): void {
    if (this.#alive) {
      throw new Error(
        `cannot change \`${property}\` while the download is running; stop() it first`,
      );
    }
  }
}

function human(n: number, suffix = ''): HumanReadable {
  const [value, unit] = humanReadable(n) as HumanReadable;
  return [value, unit + suffix];
}
