// How the Manager follows the daemon's queue (queue.ts): the downloads that may run are in the
// Manager, in queue order, the others (paused, stopped, held) are not. The common changes cost
// O(1): a download added at the end of the queue is added at the end of the Manager's, one that
// stopped or was paused is taken out. Any other change of the order (a position given,
// changePosition, a pause moving a download to the front, an unpause) redoes the Manager's order
// from the first download out of place. Done in a microtask after the changes, never while a
// Downloader is emitting (the Manager listens to the same signal).

import type { Downloader, Manager } from '../index.js';
import type { Job } from './queue.js';

export interface FollowedQueue {
  /** The jobs not stopped, in queue order. */
  order(): Iterable<Job>;
  /** Whether the job belongs in the Manager (not stopped, paused or held). */
  runs(job: Job): boolean;
  /** Shutting down: the Manager is left as it is. */
  closing(): boolean;
}

export class ManagerFollower {
  readonly #manager: Manager;
  readonly #queue: FollowedQueue;
  /** The downloads given to the Manager and not taken back. */
  readonly #managed = new Set<Downloader>();
  /** Jobs added at the end of the queue since the Manager was last brought in line. */
  #appended: Job[] = [];
  /** Jobs that may have to leave the Manager (stopped, paused, held). */
  readonly #touched = new Set<Job>();
  /** Jobs the Manager must queue again (a stop() took them off its queue). */
  readonly #requeue = new Set<Job>();
  /** The waiting order changed otherwise than at its end: the Manager's order is redone. */
  #reorder = false;
  #syncScheduled = false;

  constructor(manager: Manager, queue: FollowedQueue) {
    this.#manager = manager;
    this.#queue = queue;
  }

  /** The job was added at the end of the queue. */
  appended(job: Job): void {
    this.#appended.push(job);
    this.#schedule();
  }

  /** The job changed (stopped, paused, held, started): it may have to leave the Manager. */
  touch(job: Job): void {
    this.#touched.add(job);
    this.#schedule();
  }

  /** The job is to be queued again by the Manager (unpaused, its options changed). */
  requeue(job: Job): void {
    this.#requeue.add(job);
    this.#schedule();
  }

  /** The waiting order changed. */
  reordered(): void {
    this.#reorder = true;
    this.#schedule();
  }

  /** The job's Downloader was replaced (the old one has stopped). */
  replaced(old: Downloader): void {
    this.#unmanage(old);
  }

  /** The job is gone (its result purged); its Downloader leaves once it has stopped. */
  forget(job: Job): void {
    this.#requeue.delete(job);
    this.#appended = this.#appended.filter((j) => j !== job);
    if (job.d.isAlive) void job.d.join().then(() => this.touch(job));
    else this.touch(job);
  }

  #schedule(): void {
    if (this.#syncScheduled) return;
    this.#syncScheduled = true;
    queueMicrotask(() => {
      this.#syncScheduled = false;
      if (!this.#queue.closing()) this.#sync();
    });
  }

  #manage(d: Downloader): void {
    this.#managed.add(d);
    this.#manager.add(d);
  }

  #unmanage(d: Downloader): void {
    if (this.#managed.delete(d)) this.#manager.remove(d);
  }

  #sync(): void {
    const runs = (job: Job): boolean => this.#queue.runs(job);
    const touched = [...this.#touched];
    this.#touched.clear();
    const appended = this.#appended;
    this.#appended = [];
    for (const job of touched) if (!job.d.isAlive && !runs(job)) this.#unmanage(job.d);
    // A job still stopping is requeued once it has stopped (its 'pause' brings us back here).
    const requeue = [...this.#requeue].filter((j) => !j.d.isAlive || j.result);
    const lost = touched.some((j) => runs(j) && !j.d.isAlive && !this.#managed.has(j.d));
    if (this.#reorder || requeue.length > 0 || lost) {
      this.#reorder = false;
      this.#resync(requeue);
      return;
    }
    // Added at the end of the queue: at the end of the Manager's too.
    for (const job of appended) {
      if (runs(job) && !this.#managed.has(job.d)) this.#manage(job.d);
    }
  }

  /** Redo the Manager's order from the first download out of place (or requeued) on. */
  #resync(requeue: Job[]): void {
    for (const j of requeue) this.#requeue.delete(j);
    const want = [...this.#queue.order()]
      .filter((j) => this.#queue.runs(j) && !j.d.isAlive)
      .map((j) => j.d);
    const have = this.#manager.downloads.filter((d) => !d.isAlive);
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
    for (const d of have.slice(keep)) if (!d.isAlive) this.#unmanage(d);
    // add() starts a download at once when a slot is free, so the first of the queue goes first.
    for (const d of want.slice(keep)) if (!d.isAlive) this.#manage(d);
  }
}
