// bitpit's Downloader: one download with a state machine, signals, pause/resume and automatic
// restart, on top of the segmented engine (a file path) or a single ordered stream (a Writable).
// Here: its options, restarts and Manager link; its runs (state, size, speed) in download-runner.ts,
// figures (ratio, ETA, bar...) in download-figures.ts, its requests' ways in download-network.ts.

import type { Writable } from 'node:stream';
import { DownloadFigures } from './download-figures.js';
import type { EngineOptions } from '../engine/download-job.js';
import { pathFromUrl } from '../engine/filename.js';
import type { OutputNames } from '../engine/output-names.js';
import {
  checkOnce,
  type DownloaderOptions,
  type EnginePassThrough,
  enginePassThrough,
} from './downloader-options.js';
import type { QgetError } from '../errors.js';
import {
  checkInteger,
  checkNumber,
  checkPath,
  checkUrl,
  isWritable,
  MIN_CHUNK_BYTES,
} from './checks.js';
import { DownloadNetwork, type NetworkLink } from './download-network.js';
import { engineOptions } from './qget.js';
import { TokenBucket } from '../rate/token-bucket.js';
import { DownloadRunner, type DownloaderState, type DownloadSegments } from './download-runner.js';
import { RestartTimer, restartWaitOf } from './restart-timer.js';
import { StreamTarget } from '../engine/stream-target.js';

export type { DownloaderState, DownloadSegments } from './download-runner.js';

export { type HumanReadable, progressBar } from './download-figures.js';

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
export interface DownloaderLink extends NetworkLink {
  readonly limiter: TokenBucket;
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

export class Downloader extends DownloadFigures<DownloaderSignals> {
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
    downloaderInternals.start = (d) => d.#runner.start();
    downloaderInternals.stop = (d) => d.#runner.stop();
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
  /** What its requests go through: cookie jar, the Manager's connections, proxies. */
  readonly #network = new DownloadNetwork(
    () => this.#base,
    () => this.#link,
  );

  readonly #restarts = new RestartTimer(() => this.emit('restart-time-changed', this));
  /** The runs: state, size, bytes received, speed, the last error; start, stop, join. */
  readonly #runner = new DownloadRunner(this, {
    engineOptions: (signal) => this.#engineOptions(signal),
    stream: () => this.#stream,
    ...this.#network.hooks(() => this.#url),
    limiters: () => (this.#link ? [this.#bucket, this.#link.limiter] : [this.#bucket]),
    names: () => this.#link?.names,
    resolvedPath: (path) => {
      // The path before is worked out (from the URL, the first time) only for a listener.
      if (this.listenerCount('path-changed') === 0) {
        this.#resolvedPath = path;
        return;
      }
      const before = this.path;
      this.#resolvedPath = path;
      if (before !== this.path) this.emit('path-changed', this);
    },
    stateChanged: (old) => this.emit('state-changed', this, old),
    sizeChanged: () => this.emit('size-changed', this),
    speedChanged: () => this.emit('speed-changed', this),
    restartWait: () => this.#effectiveRestartWait(),
    isRestarting: () => this.isRestarting,
    restart: (wait) => this.restart(wait),
    cancelRestart: () => this.#restarts.cancel(),
    start: () => this.start(),
  });

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
    this.#base = enginePassThrough(options);
    // Validate the engine options now rather than at the first start() (once for a Manager's).
    checkOnce(options, () => this.#engineOptions(undefined));
  }

  // ---- read-write properties ----

  get url(): string {
    return this.#url;
  }

  set url(value: string) {
    this.#assertStopped('url');
    this.#url = checkUrl(value);
    // The server's name was for the old URL; a .part goes on if it serves it (link refresh).
    this.#base.refresh = true;
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

  override get rateLimit(): number {
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
    this.#runner.updatePeriodChanged();
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
    return this.#runner.state;
  }

  /** Total bytes, -1 while unknown. */
  override get size(): number {
    return this.#runner.size;
  }

  /** Bytes downloaded so far (for a stream: bytes handed to it). */
  override get downloaded(): number {
    return this.#stream?.written ?? this.#runner.downloaded;
  }

  /** Bytes per second over the last update period. */
  override get speed(): number {
    return this.#runner.speed;
  }

  /** While a download to a file runs: ranges on disk, each connection's range, speed, error. */
  segments(): DownloadSegments | undefined {
    return this.#runner.snapshot();
  }

  /** With mirrors: each source (URL, state, connections now and at most, bytes, error). */
  get sources(): DownloadSegments['sources'] {
    return this.#runner.sources;
  }

  /** A download is running (from start() until it has paused, failed or completed). */
  get isAlive(): boolean {
    return this.#runner.alive;
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
    return this.#runner.lastError;
  }

  /** The URL that served the last complete file download (after redirects), else null. */
  get finalUrl(): string | null {
    return this.#runner.finalUrl;
  }

  // ---- methods ----

  /**
   * Start (or resume) the download and return at once. Does nothing while it runs; cancels a
   * scheduled restart. In a running Manager, the download is queued and the manager starts it.
   */
  start(): void {
    if (this.#link?.requestStart(this)) return;
    this.#runner.start();
  }

  /** Pause, keeping what was downloaded for the next start(); cancels a scheduled restart. */
  stop(): void {
    this.#link?.requestStop(this);
    this.#runner.stop();
  }

  /** Resolves when the running download stops (check `state`) or after `timeoutSeconds`. */
  join(timeoutSeconds?: number): Promise<void> {
    return this.#runner.join(timeoutSeconds);
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
    await this.#runner.headSize();
    return this.#runner.size;
  }

  #engineOptions(signal: AbortSignal | undefined): EngineOptions {
    const path = typeof this.#path === 'string' ? this.#path : undefined;
    const chunk =
      this.#rateLimit > 0 ? Math.min(this.#chunkSize, this.#rateLimit) : this.#chunkSize;
    return engineOptions(
      this.#url,
      {
        ...this.#base,
        filepath: path,
        dir: this.#dirPath,
        timeout: this.#timeout,
        // A rate limit below the smallest batch still writes batches of that size.
        chunkBytes: Math.max(MIN_CHUNK_BYTES, Math.round(chunk)),
        rateLimit: 0,
        signal,
      },
      this.#network.session(this.#url),
    );
  }

  #assertStopped(property: string): void {
    if (this.#runner.alive) {
      throw new Error(
        `cannot change \`${property}\` while the download is running; stop() it first`,
      );
    }
  }
}
