// aria2's download queue over a qget Manager: every download has a GID and one of aria2's
// statuses; waiting downloads start in queue order (changePosition moves them), a paused one
// waits for unpause, stopped ones (complete, error, removed) are kept as results. Emits aria2's
// notifications.
//
// The Manager runs the active and waiting downloads (at most maxRunning at once, one shared rate
// limit). It starts queued downloads in the order they were added, so the waiting order is given
// to it by removing and adding again the downloads that are not running. Paused and stopped
// downloads are not in the Manager.

import type { Downloader, Manager } from '../index.js';
import { expandGid } from './gid.js';
import type { OptionValues } from './options.js';
import { METHOD_ERROR, RpcError } from './protocol.js';
import { ARIA2_FINISHED, ARIA2_REMOVED, type Aria2Status, aria2ErrorCode } from './status.js';

export type Aria2Notification =
  | 'aria2.onDownloadStart'
  | 'aria2.onDownloadPause'
  | 'aria2.onDownloadStop'
  | 'aria2.onDownloadComplete'
  | 'aria2.onDownloadError';

export const NOTIFICATIONS: readonly Aria2Notification[] = [
  'aria2.onDownloadStart',
  'aria2.onDownloadPause',
  'aria2.onDownloadStop',
  'aria2.onDownloadComplete',
  'aria2.onDownloadError',
];

export interface Job {
  readonly gid: string;
  d: Downloader;
  /** The URIs given; qget downloads from the first. */
  uris: readonly string[];
  /** The options given for this download (not the inherited ones). */
  options: OptionValues;
  /** The folder the file goes to. */
  dir: string;
  /** Paused by the user (pause, pauseAll, `pause=true`). */
  paused: boolean;
  /** The first response arrived: `d.path` is the real file name. */
  named: boolean;
  /** Set once stopped: complete, error or removed. */
  result:
    | { status: 'complete' | 'error' | 'removed'; errorCode: number; message: string }
    | undefined;
}

/** Most stopped downloads kept (aria2's --max-download-result). */
const MAX_RESULTS = 1000;

type PositionHow = 'POS_SET' | 'POS_CUR' | 'POS_END';

export class DownloadQueue {
  readonly manager: Manager;
  readonly #notify: (method: Aria2Notification, gid: string) => void;
  readonly #jobs = new Map<string, Job>();
  /** Jobs not stopped; the waiting ones start in this order. */
  #order: Job[] = [];
  #stopped: Job[] = [];
  #stoppedTotal = 0;
  readonly #listeners = new Map<Job, (d: Downloader) => void>();
  /** Jobs the Manager must queue again (a stop() took them off its queue). */
  readonly #requeue = new Set<Job>();
  /** Jobs kept stopped while their options change. */
  readonly #held = new Set<Job>();
  #syncScheduled = false;
  #closing = false;

  constructor(manager: Manager, notify: (method: Aria2Notification, gid: string) => void) {
    this.manager = manager;
    this.#notify = notify;
  }

  // ---- looking up ----

  has(gid: string): boolean {
    return this.#jobs.has(gid);
  }

  /** The job named by a GID or a unique GID prefix (aria2's errors otherwise). */
  find(gid: string): Job {
    return this.#jobs.get(expandGid(gid, this.#jobs.keys()))!;
  }

  status(job: Job): Aria2Status {
    if (job.result) return job.result.status;
    if (job.paused) return 'paused';
    return job.d.isAlive ? 'active' : 'waiting';
  }

  get active(): Job[] {
    return this.#order.filter((j) => this.status(j) === 'active');
  }

  /** Waiting and paused, in queue order. */
  get waiting(): Job[] {
    return this.#order.filter((j) => this.status(j) !== 'active');
  }

  get stopped(): readonly Job[] {
    return this.#stopped;
  }

  get stoppedTotal(): number {
    return this.#stoppedTotal;
  }

  /** Jobs not stopped, active first then in queue order (what a session file keeps). */
  get unfinished(): Job[] {
    return [...this.active, ...this.waiting];
  }

  // ---- changes ----

  /** Add a download; `position` places it in the waiting queue (default: at the end). */
  add(job: Job, position?: number): void {
    this.#jobs.set(job.gid, job);
    this.#watch(job);
    const waiting = this.waiting;
    const at = position === undefined ? waiting.length : Math.min(position, waiting.length);
    this.#setWaitingOrder([...waiting.slice(0, at), job, ...waiting.slice(at)]);
    this.#scheduleSync();
  }

  pause(job: Job): void {
    const status = this.status(job);
    if (status !== 'active' && status !== 'waiting') {
      throw new RpcError(METHOD_ERROR, `GID#${job.gid} cannot be paused now`);
    }
    job.paused = true;
    job.d.stop();
    // A waiting download pauses at once; an active one when it has stopped (see #onState).
    if (status === 'waiting') this.#notify('aria2.onDownloadPause', job.gid);
    this.#scheduleSync();
  }

  pauseAll(): void {
    for (const job of [...this.#order]) {
      if (this.status(job) === 'active' || this.status(job) === 'waiting') this.pause(job);
    }
  }

  unpause(job: Job): void {
    if (this.status(job) !== 'paused') {
      throw new RpcError(METHOD_ERROR, `GID#${job.gid} cannot be unpaused now`);
    }
    job.paused = false;
    this.#requeue.add(job);
    this.#scheduleSync();
  }

  unpauseAll(): void {
    for (const job of this.#order) if (job.paused) this.unpause(job);
  }

  remove(job: Job): void {
    if (job.result) {
      throw new RpcError(METHOD_ERROR, `Active Download not found for GID#${job.gid}`);
    }
    job.d.stop();
    this.#stop(job, { status: 'removed', errorCode: ARIA2_REMOVED, message: 'Removed' });
    this.#notify('aria2.onDownloadStop', job.gid);
  }

  /** Move a waiting (or paused) download; its new position in the waiting queue. */
  changePosition(job: Job, pos: number, how: PositionHow): number {
    const waiting = this.waiting;
    const from = waiting.indexOf(job);
    if (from < 0) {
      throw new RpcError(METHOD_ERROR, `GID#${job.gid} not found in the waiting queue.`);
    }
    const base = how === 'POS_SET' ? 0 : how === 'POS_CUR' ? from : waiting.length - 1;
    const to = Math.max(0, Math.min(waiting.length - 1, base + pos));
    waiting.splice(from, 1);
    waiting.splice(to, 0, job);
    this.#setWaitingOrder(waiting);
    this.#scheduleSync();
    return to;
  }

  removeResult(job: Job): void {
    const index = this.#stopped.indexOf(job);
    if (index < 0) {
      throw new RpcError(METHOD_ERROR, `Could not remove download result of GID#${job.gid}`);
    }
    this.#stopped.splice(index, 1);
    this.#forget(job);
  }

  purgeResults(): void {
    for (const job of this.#stopped) this.#forget(job);
    this.#stopped = [];
  }

  /**
   * Run `change` on a job that is not running: a running one is stopped first (and started
   * again after, from where it was). The job keeps its place and status.
   */
  async whileHeld<T>(job: Job, change: () => T): Promise<T> {
    this.#held.add(job);
    try {
      if (job.d.isAlive) {
        job.d.stop();
        await job.d.join();
      }
      return change();
    } finally {
      this.#held.delete(job);
      this.#requeue.add(job);
      this.#scheduleSync();
    }
  }

  /** Give a held job (see whileHeld) a new Downloader, for options it cannot change itself. */
  replaceDownloader(job: Job, d: Downloader): void {
    if (!this.#held.has(job) || job.d.isAlive) {
      throw new Error('replaceDownloader: the job must be held and stopped');
    }
    this.#unwatch(job);
    job.d = d;
    job.named = false;
    this.#watch(job);
  }

  /** Stop every download for shutdown; statuses stay as they were (for the session file). */
  async close(): Promise<void> {
    this.#closing = true;
    this.manager.stopAll();
    await Promise.all([...this.#jobs.values()].map((j) => j.d.join()));
    await this.manager.stop();
  }

  // ---- events ----

  #watch(job: Job): void {
    const listener = (d: Downloader): void => this.#onState(job, d);
    this.#listeners.set(job, listener);
    job.d.on('state-changed', listener);
  }

  #unwatch(job: Job): void {
    const listener = this.#listeners.get(job);
    if (listener) job.d.off('state-changed', listener);
    this.#listeners.delete(job);
  }

  #onState(job: Job, d: Downloader): void {
    if (this.#closing || job.d !== d) return;
    switch (d.state) {
      case 'start':
        if (!job.result && !job.paused) this.#notify('aria2.onDownloadStart', job.gid);
        break;
      case 'download':
        job.named = true;
        break;
      case 'complete':
        if (job.result) break;
        this.#stop(job, { status: 'complete', errorCode: ARIA2_FINISHED, message: '' });
        this.#notify('aria2.onDownloadComplete', job.gid);
        break;
      case 'error':
        if (job.result) break;
        this.#stop(job, {
          status: 'error',
          errorCode: aria2ErrorCode(d.lastError),
          message: d.lastError?.message ?? 'unknown error',
        });
        this.#notify('aria2.onDownloadError', job.gid);
        break;
      case 'pause':
        if (job.result) break;
        // Paused by the user, or made to wait (max-concurrent-downloads lowered, options
        // changed): either way it is first in the waiting queue again.
        this.#setWaitingOrder([job, ...this.waiting.filter((j) => j !== job)]);
        if (job.paused) this.#notify('aria2.onDownloadPause', job.gid);
        break;
    }
    this.#scheduleSync();
  }

  #stop(job: Job, result: NonNullable<Job['result']>): void {
    job.result = result;
    this.#order = this.#order.filter((j) => j !== job);
    this.#stopped.push(job);
    this.#stoppedTotal++;
    while (this.#stopped.length > MAX_RESULTS) this.#forget(this.#stopped.shift()!);
    this.#scheduleSync();
  }

  #forget(job: Job): void {
    this.#unwatch(job);
    this.#jobs.delete(job.gid);
  }

  #setWaitingOrder(waiting: Job[]): void {
    this.#order = [...this.active, ...waiting];
  }

  // ---- the Manager follows the queue ----

  #scheduleSync(): void {
    if (this.#syncScheduled) return;
    this.#syncScheduled = true;
    // Never while a Downloader is emitting: the Manager listens to the same signal.
    queueMicrotask(() => {
      this.#syncScheduled = false;
      if (!this.#closing) this.#sync();
    });
  }

  #sync(): void {
    const manager = this.manager;
    const byDownloader = new Map([...this.#jobs.values()].map((j) => [j.d, j]));
    for (const d of manager.downloads) {
      const job = byDownloader.get(d);
      if (!d.isAlive && (!job || job.result || job.paused || this.#held.has(job))) {
        manager.remove(d);
      }
    }
    const want = this.#order
      .filter((j) => !j.paused && !j.d.isAlive && !this.#held.has(j))
      .map((j) => j.d);
    const have = manager.downloads.filter((d) => !d.isAlive);
    const inOrder = want.length === have.length && want.every((d, i) => have[i] === d);
    // A job still stopping is requeued once it has stopped (its 'pause' brings us back here).
    const requeue = [...this.#requeue].filter((j) => !j.d.isAlive || j.result);
    if (inOrder && requeue.length === 0) return;
    for (const j of requeue) this.#requeue.delete(j);
    // Only the Manager's order from the first difference on is redone (or from a requeued job):
    // appending one download to a long queue touches nothing else.
    const again = new Set(requeue.map((j) => j.d));
    let keep = 0;
    while (
      keep < Math.min(have.length, want.length) &&
      have[keep] === want[keep] &&
      !again.has(have[keep]!)
    ) {
      keep++;
    }
    // Each remove() and add() lets the Manager start a download: one that has started stays.
    for (const d of have.slice(keep)) if (!d.isAlive) manager.remove(d);
    // add() starts a download at once when a slot is free, so the first of the queue goes first.
    for (const d of want.slice(keep)) if (!d.isAlive) manager.add(d);
  }
}
