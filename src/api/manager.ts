// bitpit's Manager: a queue of Downloaders with at most `maxRunning` running, one total rate
// limit shared fairly between them (one token bucket, one owner per download), restarts after
// transient errors, one connection pool for all (kept-alive sockets), and p-queue's onIdle().

import {
  Downloader,
  type DownloaderLink,
  downloaderInternals,
  type HumanReadable,
} from './downloader.js';
import { type DownloaderOptions, shareOptions } from './downloader-options.js';
import { checkCount, checkNumber, checkObject, optionError } from './checks.js';
import { Emitter } from './emitter.js';
import { timeoutMs } from './qget.js';
import { OutputNames } from '../engine/output-names.js';
import { SharedPool } from './shared-pool.js';
import { Cookies, tlsOptions } from './session-options.js';
import { TokenBucket } from '../rate/token-bucket.js';
import { humanReadable } from '../units.js';
import { WaitingLine } from './waiting-line.js';
import type { ManagerOptions, ManagerProperty } from './manager-options.js';

export interface ManagerSignals {
  add: [manager: Manager, downloader: Downloader];
  remove: [manager: Manager, downloader: Downloader];
  'property-changed': [manager: Manager, property: ManagerProperty];
}

interface Entry {
  d: Downloader;
  /** Wants to run: started by the manager when a slot is free (and its restart wait is over). */
  queued: boolean;
  /** Being stopped by the manager to free a slot; it stays queued. */
  preempted: boolean;
  startedAt: number;
  /** Its place in the order added: downloads waiting for a slot start in this order. */
  seq: number;
  onState: (d: Downloader, old: string) => void;
}

export class Manager extends Emitter<ManagerSignals> {
  static override readonly signals = ['add', 'remove', 'property-changed'] as const;

  #maxRunning: number;
  #rateLimit: number;
  #restartWait: number;
  #updatePeriod: number;
  #downloadOptions: DownloaderOptions;
  readonly #bucket: TokenBucket;
  /** In the order added (a Map: found, removed and appended in O(1), iterated in order). */
  readonly #entries = new Map<Downloader, Entry>();
  /** Every running download is in here (and a few that have stopped since: pruned as met). */
  readonly #alive = new Set<Entry>();
  /**
   * Every download queued but not running is in here, in the order added (and a few that started
   * or left the queue since: pruned as met), so a slot that frees up costs no walk over the
   * downloads done.
   */
  readonly #waiting = new WaitingLine<Entry>();
  #seq = 0;
  /** Output names taken by this manager's downloads: a second download of a name is renamed. */
  readonly #names = new OutputNames();
  readonly #link: DownloaderLink;
  #running = false;
  #tick: ReturnType<typeof setInterval> | undefined;
  #updating = false;
  #again = false;
  /** One connection pool for all its downloads, closed after stop() when they are done. */
  readonly #pool = new SharedPool(
    () => timeoutMs(this.#downloadOptions.timeout ?? 10),
    () => this.#link.tls,
  );
  #idleWaiters: (() => void)[] = [];

  constructor(options: ManagerOptions = {}) {
    super();
    checkObject('options', options);
    this.#maxRunning = checkCount('maxRunning', options.maxRunning);
    this.#rateLimit = checkNumber('rateLimit', options.rateLimit, 0, 0);
    this.#restartWait = checkNumber('restartWait', options.restartWait, 30);
    this.#updatePeriod = checkNumber('updatePeriod', options.updatePeriod, 1, 0, true);
    this.#downloadOptions = checkDownloadOptions(options.downloadOptions);
    this.#bucket = new TokenBucket(this.#rateLimit);
    this.#link = {
      limiter: this.#bucket,
      lease: (proxy) => this.#pool.lease(this.#running, proxy),
      requestStart: (d) => this.#requestStart(d),
      requestStop: (d) => this.#requestStop(d),
      names: this.#names,
      requestRestart: (d) => this.#requestRestart(d),
      restartWait: () => this.#restartWait,
      cookies: new Cookies(),
      tls: tlsOptions(this.#downloadOptions),
    };
  }

  // ---- properties ----

  get maxRunning(): number {
    return this.#maxRunning;
  }

  /** Applied at once: extra downloads are paused (and stay queued), or more are started. */
  set maxRunning(value: number) {
    this.#maxRunning = checkCount('maxRunning', value);
    this.emit('property-changed', this, 'maxRunning');
    this.update();
  }

  get rateLimit(): number {
    return this.#rateLimit;
  }

  /** Applied at once to every running download. */
  set rateLimit(value: number) {
    this.#rateLimit = checkNumber('rateLimit', value, 0, 0);
    this.#bucket.setRate(this.#rateLimit);
    this.emit('property-changed', this, 'rateLimit');
    this.update();
  }

  get humanRateLimit(): HumanReadable {
    const [value, suffix] = humanReadable(this.#rateLimit) as HumanReadable;
    return [value, `${suffix}/s`];
  }

  get restartWait(): number {
    return this.#restartWait;
  }

  set restartWait(value: number) {
    this.#restartWait = checkNumber('restartWait', value, 30);
    // Pending restarts follow the new wait (counted from now), as a download's own restartWait.
    for (const e of this.#entries.values()) downloaderInternals.rescheduleRestart(e.d);
    this.emit('property-changed', this, 'restartWait');
    this.update();
  }

  get updatePeriod(): number {
    return this.#updatePeriod;
  }

  set updatePeriod(value: number) {
    this.#updatePeriod = checkNumber('updatePeriod', value, 1, 0, true);
    if (this.#tick !== undefined) this.#startTick();
    this.emit('property-changed', this, 'updatePeriod');
  }

  /** A copy of the options given to downloads created by add(url). */
  get downloadOptions(): DownloaderOptions {
    return { ...this.#downloadOptions };
  }

  set downloadOptions(value: DownloaderOptions) {
    this.#downloadOptions = checkDownloadOptions(value);
    this.emit('property-changed', this, 'downloadOptions');
  }

  /** The downloads added, in the order they were added. */
  get downloads(): readonly Downloader[] {
    return Object.freeze([...this.#entries.keys()]);
  }

  /** Whether start() was called (and stop() not since). */
  get isRunning(): boolean {
    return this.#running;
  }

  // ---- methods ----

  /** Add a download (a URL is created with `downloadOptions`); returns it. */
  add(download: string | Downloader): Downloader {
    const d =
      typeof download === 'string' ? new Downloader(download, this.#downloadOptions) : download;
    if (!(d instanceof Downloader)) {
      throw optionError('download', 'a URL or a Downloader', download);
    }
    if (this.#entry(d)) return d;
    const previous = downloaderInternals.link(d, this.#link);
    if (previous !== undefined) {
      downloaderInternals.link(d, previous);
      throw new Error(
        'this Downloader already belongs to another Manager; remove() it there first',
      );
    }
    const entry: Entry = {
      d,
      queued: d.isAlive || (d.state !== 'complete' && !failedForGood(d)),
      preempted: false,
      startedAt: d.isAlive ? performance.now() : Number.NEGATIVE_INFINITY,
      seq: ++this.#seq,
      onState: (_d, old) => this.#onState(entry, old),
    };
    d.listen('state-changed', entry.onState);
    this.#entries.set(d, entry);
    if (d.isAlive) this.#alive.add(entry);
    this.#noteWaiting(entry);
    this.emit('add', this, d);
    this.update();
    return d;
  }

  /** Remove a download and emit 'remove'. A running download is not stopped. */
  remove(d: Downloader): void {
    const entry = this.#entry(d);
    if (!entry) throw new Error('this Downloader is not in the Manager');
    this.#entries.delete(d);
    this.#alive.delete(entry);
    this.#waiting.delete(entry);
    d.unlisten('state-changed', entry.onState);
    downloaderInternals.link(d, undefined);
    // A download still stopping may write its last bytes: its names stay taken until then.
    void d.join().then(() => this.#names.release(d));
    this.emit('remove', this, d);
    this.update();
  }

  /**
   * Start managing: keep starting queued downloads (at most `maxRunning` at once) until they are
   * done. A download is queued when added (unless complete or failed for good) and by its own
   * start(); a download the user paused (its stop(), or stopAll()) waits for its start().
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startTick();
    this.update();
  }

  /**
   * Stop managing: nothing more is started or stopped (running downloads go on; call stopAll()
   * too to pause them). The shared connection pool is closed once the downloads using it have stopped; the
   * promise resolves then.
   */
  stop(): Promise<void> {
    this.#running = false;
    if (this.#tick !== undefined) clearInterval(this.#tick);
    this.#tick = undefined;
    this.#pool.retire();
    this.#checkIdle();
    return this.#pool.allClosed();
  }

  /** Pause every download (running or queued); the manager goes on running. */
  stopAll(): void {
    for (const e of this.#entries.values()) {
      e.queued = false;
      e.preempted = false;
      downloaderInternals.stop(e.d);
    }
    this.update();
  }

  /** Check now what to start or stop (done automatically on every change). */
  update(): void {
    if (this.#updating) {
      this.#again = true;
      return;
    }
    this.#updating = true;
    try {
      do {
        this.#again = false;
        this.#schedule();
      } while (this.#again);
    } finally {
      this.#updating = false;
    }
    this.#checkIdle();
  }

  /**
   * Resolves when nothing is running or waiting to run: every download is complete, failed for
   * good, or paused by the user. Queued downloads of a stopped manager keep it from being idle.
   */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  // ---- scheduling ----

  #schedule(): void {
    if (!this.#running) return;
    const limit = this.#maxRunning > 0 ? this.#maxRunning : Number.POSITIVE_INFINITY;
    // Only the running ones are looked at: a long queue costs nothing while every slot is taken.
    for (const e of this.#alive) if (!e.d.isAlive) this.#alive.delete(e);
    // Not those the user is stopping (not queued any more): marked queued here, they would start
    // again once stopped (a removed download of the daemon then ran to its end, unseen).
    const active = [...this.#alive].filter((e) => !e.preempted && e.queued);
    if (active.length > limit) {
      // The most recently started give way; they keep their place in the queue.
      active.sort((a, b) => b.startedAt - a.startedAt);
      for (const e of active.slice(0, active.length - limit)) {
        e.preempted = true;
        e.queued = true;
        downloaderInternals.stop(e.d);
      }
    }
    // A download being stopped still holds its connections: it counts until it has stopped.
    let running = this.#alive.size;
    if (running >= limit) return;
    for (const e of this.#waiting) {
      if (running >= limit) break;
      if (!e.queued || e.d.isAlive || this.#entries.get(e.d) !== e) {
        this.#waiting.delete(e);
        continue;
      }
      running++;
      downloaderInternals.start(e.d);
      if (e.d.isAlive) {
        this.#alive.add(e);
        this.#waiting.delete(e);
      }
    }
  }

  /** `entry` joins #waiting when it is queued and not running. */
  #noteWaiting(entry: Entry): void {
    if (entry.queued && !entry.d.isAlive) this.#waiting.add(entry);
  }

  #onState(entry: Entry, _old: string): void {
    const d = entry.d;
    switch (d.state) {
      case 'start':
        entry.startedAt = performance.now();
        entry.queued = true;
        if (this.#entries.get(d) === entry) this.#alive.add(entry);
        break;
      case 'complete':
        entry.queued = false;
        break;
      case 'error':
        // A transient failure's restart, if any, is pending on the download's own timer (by the
        // restart rule over both waits): it queues the download again when it comes due.
        entry.queued = false;
        break;
      case 'pause':
        entry.preempted = false;
        break;
    }
    if (this.#entries.get(d) === entry) this.#noteWaiting(entry);
    this.update();
  }

  #requestStart(d: Downloader): boolean {
    const entry = this.#entry(d);
    if (!entry || !this.#running) return false;
    entry.queued = true;
    this.#noteWaiting(entry);
    this.update();
    return true;
  }

  #requestRestart(d: Downloader): void {
    const entry = this.#entry(d);
    if (!entry) return;
    entry.queued = true;
    this.#noteWaiting(entry);
    this.update();
  }

  #requestStop(d: Downloader): void {
    const entry = this.#entry(d);
    if (!entry) return;
    entry.queued = false;
    entry.preempted = false;
    this.update();
  }

  #entry(d: Downloader): Entry | undefined {
    return this.#entries.get(d);
  }

  #isIdle(): boolean {
    // Most calls come while downloads run: those few say no before the walk over all.
    for (const e of this.#alive) if (e.d.isAlive) return false;
    for (const e of this.#waiting) if (e.queued) return false;
    for (const e of this.#entries.values()) {
      if (e.d.isAlive || e.d.isRestarting || e.queued) return false;
    }
    return true;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #startTick(): void {
    if (this.#tick !== undefined) clearInterval(this.#tick);
    this.#tick = setInterval(() => this.update(), this.#updatePeriod * 1000);
    this.#tick.unref();
  }
}

function failedForGood(d: Downloader): boolean {
  return d.state === 'error' && d.lastError !== null && !d.lastError.transient;
}

/** A copy of `value`, the manager's own: checked by the first download made from it only. */
function checkDownloadOptions(value: unknown): DownloaderOptions {
  const options = { ...checkObject<DownloaderOptions>('downloadOptions', value) };
  shareOptions(options);
  return options;
}
