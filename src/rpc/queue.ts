// aria2's download queue over a qget Manager: every download has a GID and one of aria2's
// statuses; waiting downloads start in queue order (changePosition moves them), a paused one
// waits for unpause, stopped ones (complete, error, removed) are kept as results. Emits aria2's
// notifications.
//
// The Manager runs the active and waiting downloads (at most maxRunning at once, one shared rate
// limit). It starts queued downloads in the order they were added: a download added at the end
// of the queue is added to it, one that stopped is removed from it; when the order changes
// otherwise (a position given, changePosition, a pause, an unpause) the downloads that are not
// running are removed and added again in the new order. Paused and stopped downloads are not in
// the Manager. Under load (thousands waiting) every add, start, stop and status costs the same
// as with one: no walk over the queue but to the window asked for.

import type { Downloader, Manager } from '../index.js';
import { expandGid } from './gid.js';
import type { Job } from './job.js';
import { OrderedList, windowOf } from './job-list.js';
import { ManagerFollower } from './manager-follower.js';
import { METHOD_ERROR, RpcError } from './protocol.js';
import { ARIA2_FINISHED, ARIA2_REMOVED, type Aria2Status, aria2ErrorCode } from './status.js';

export { Job } from './job.js';

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

/** Most stopped downloads kept (aria2's --max-download-result). */
const MAX_RESULTS = 1000;

type PositionHow = 'POS_SET' | 'POS_CUR' | 'POS_END';

export class DownloadQueue {
  readonly manager: Manager;
  readonly #notify: (method: Aria2Notification, gid: string) => void;
  readonly #jobs = new Map<string, Job>();
  /** Jobs not stopped (active, waiting, paused); the waiting ones start in this order. */
  readonly #order = new OrderedList<Job>();
  /** Every active job, in the order they started (and some stopped since: pruned when read). */
  readonly #running = new OrderedList<Job>();
  /** Stopped jobs kept as results, oldest first. */
  readonly #stopped = new OrderedList<Job>();
  #stoppedTotal = 0;
  readonly #listeners = new Map<Job, (d: Downloader) => void>();
  /** Jobs kept stopped while their options change. */
  readonly #held = new Set<Job>();
  readonly #follower: ManagerFollower;
  #closing = false;

  constructor(manager: Manager, notify: (method: Aria2Notification, gid: string) => void) {
    this.manager = manager;
    this.#notify = notify;
    this.#follower = new ManagerFollower(manager, {
      order: () => this.#order,
      // In the Manager: not stopped, paused or held (a running download stays until it stops).
      runs: (job) =>
        !job.result && !job.paused && !this.#held.has(job) && this.#jobs.get(job.gid) === job,
      closing: () => this.#closing,
      failed: (job, err) => {
        if (job.result) return;
        this.#stop(job, { status: 'error', errorCode: 28, message: (err as Error).message });
        this.#notify('aria2.onDownloadError', job.gid);
      },
      settled: (job) => {
        // Its result shows what it was; nothing of the run is kept (and no listener).
        this.#unwatch(job);
        this.#running.delete(job);
        job.compact();
      },
    });
  }

  // ---- looking up ----

  has(gid: string): boolean {
    return this.#jobs.has(gid);
  }

  /** The job named by a GID or a unique GID prefix (aria2's errors otherwise). */
  find(gid: string): Job {
    // A whole GID is found without looking at the others.
    return this.#jobs.get(gid) ?? this.#jobs.get(expandGid(gid, this.#jobs.keys()))!;
  }

  status(job: Job): Aria2Status {
    if (job.result) return job.result.status;
    if (job.paused) return 'paused';
    return job.alive ? 'active' : 'waiting';
  }

  /** The active jobs, in the order they started. */
  get active(): Job[] {
    const active: Job[] = [];
    for (const job of this.#running.toArray()) {
      if (this.status(job) === 'active') active.push(job);
      else if (!job.alive) this.#running.delete(job);
    }
    return active;
  }

  /** Waiting and paused, in queue order. */
  get waiting(): Job[] {
    return [...this.#waitingIn(this.#order)];
  }

  get waitingCount(): number {
    return this.#order.size - this.active.length;
  }

  /** tellWaiting's window (see windowOf): walks the queue only as far as the window. */
  waitingWindow(offset: number, num: number): Job[] {
    return windowOf(
      this.#waitingIn(this.#order),
      this.#waitingIn(this.#order.reversed()),
      offset,
      num,
    );
  }

  get stopped(): readonly Job[] {
    return this.#stopped.toArray();
  }

  get stoppedCount(): number {
    return this.#stopped.size;
  }

  stoppedWindow(offset: number, num: number): Job[] {
    return windowOf(this.#stopped, this.#stopped.reversed(), offset, num);
  }

  get stoppedTotal(): number {
    return this.#stoppedTotal;
  }

  /** Jobs not stopped, active first then in queue order (what a session file keeps). */
  get unfinished(): Job[] {
    return [...this.active, ...this.waiting];
  }

  *#waitingIn(walk: Iterable<Job>): IterableIterator<Job> {
    for (const job of walk) if (this.status(job) !== 'active') yield job;
  }

  // ---- changes ----

  /** Add a download; `position` places it in the waiting queue (default: at the end). */
  add(job: Job, position?: number): void {
    this.#jobs.set(job.gid, job);
    this.#watch(job);
    if (position === undefined || position >= this.waitingCount) {
      this.#order.push(job);
      this.#follower.appended(job);
    } else {
      const waiting = this.waiting;
      waiting.splice(position, 0, job);
      this.#setWaitingOrder(waiting);
    }
  }

  pause(job: Job): void {
    const status = this.status(job);
    if (status !== 'active' && status !== 'waiting') {
      throw new RpcError(METHOD_ERROR, `GID#${job.gid} cannot be paused now`);
    }
    job.paused = true;
    job.made?.stop();
    // A waiting download pauses at once; an active one when it has stopped (see #onState).
    if (status === 'waiting') this.#notify('aria2.onDownloadPause', job.gid);
    this.#follower.touch(job);
  }

  pauseAll(): void {
    for (const job of this.#order.toArray()) {
      if (this.status(job) === 'active' || this.status(job) === 'waiting') this.pause(job);
    }
  }

  unpause(job: Job): void {
    if (this.status(job) !== 'paused') {
      throw new RpcError(METHOD_ERROR, `GID#${job.gid} cannot be unpaused now`);
    }
    job.paused = false;
    this.#follower.requeue(job);
  }

  unpauseAll(): void {
    for (const job of this.#order.toArray()) if (job.paused) this.unpause(job);
  }

  remove(job: Job): void {
    if (job.result) {
      throw new RpcError(METHOD_ERROR, `Active Download not found for GID#${job.gid}`);
    }
    job.made?.stop();
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
    return to;
  }

  removeResult(job: Job): void {
    if (!this.#stopped.delete(job)) {
      throw new RpcError(METHOD_ERROR, `Could not remove download result of GID#${job.gid}`);
    }
    this.#forget(job);
  }

  purgeResults(): void {
    for (const job of this.#stopped) this.#forget(job);
    this.#stopped.clear();
  }

  /**
   * Run `change` on a job that is not running: a running one is stopped first (and started
   * again after, from where it was). The job keeps its place and status.
   */
  async whileHeld<T>(job: Job, change: () => T): Promise<T> {
    this.#held.add(job);
    this.#follower.touch(job);
    try {
      const d = job.made;
      if (d?.isAlive) {
        d.stop();
        await d.join();
      }
      return change();
    } finally {
      this.#held.delete(job);
      this.#follower.requeue(job);
    }
  }

  /** Give a held job (see whileHeld) a new Downloader, for options it cannot change itself. */
  replaceDownloader(job: Job, d: Downloader): void {
    if (!this.#held.has(job) || job.alive) {
      throw new Error('replaceDownloader: the job must be held and stopped');
    }
    this.#unwatch(job);
    if (job.made) this.#follower.replaced(job.made);
    job.d = d;
    job.named = false;
    this.#watch(job);
  }

  /** Stop every download for shutdown; statuses stay as they were (for the session file). */
  async close(): Promise<void> {
    this.#closing = true;
    this.manager.stopAll();
    await Promise.all([...this.#jobs.values()].map((j) => j.made?.join()));
    await this.manager.stop();
  }

  // ---- events ----

  /** Listen to the job's Downloader from when it is made (and to the one replacing it). */
  #watch(job: Job): void {
    const d = job.made;
    if (d === undefined) {
      job.onMade = () => this.#watch(job);
      return;
    }
    job.onMade = undefined;
    const listener = (from: Downloader): void => this.#onState(job, from);
    this.#listeners.set(job, listener);
    d.on('state-changed', listener);
  }

  #unwatch(job: Job): void {
    job.onMade = undefined;
    const listener = this.#listeners.get(job);
    if (listener) job.made?.off('state-changed', listener);
    this.#listeners.delete(job);
  }

  #onState(job: Job, d: Downloader): void {
    if (this.#closing || job.d !== d) return;
    switch (d.state) {
      case 'start':
        this.#running.push(job);
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
        this.#order.delete(job);
        this.#order.insert(0, [job]);
        this.#follower.reordered();
        if (job.paused) this.#notify('aria2.onDownloadPause', job.gid);
        break;
    }
    this.#follower.touch(job);
  }

  #stop(job: Job, result: NonNullable<Job['result']>): void {
    job.result = result;
    this.#order.delete(job);
    this.#stopped.push(job);
    this.#stoppedTotal++;
    while (this.#stopped.size > MAX_RESULTS) {
      const oldest = this.#stopped.first()!;
      this.#stopped.delete(oldest);
      this.#forget(oldest);
    }
    this.#follower.touch(job);
  }

  /** Let go of a stopped job: nothing keeps it (or its Downloader) once it has stopped running. */
  #forget(job: Job): void {
    this.#unwatch(job);
    this.#jobs.delete(job.gid);
    this.#running.delete(job);
    this.#follower.forget(job);
  }

  #setWaitingOrder(waiting: Job[]): void {
    const active = [...this.#order].filter((j) => this.status(j) === 'active');
    this.#order.reset([...active, ...waiting]);
    this.#follower.reordered();
  }
}
