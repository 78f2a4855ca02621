// How the Manager follows the daemon's queue (queue.ts): the Manager holds the running downloads
// and the first few waiting ones (WINDOW), in queue order; paused, stopped and held ones and the
// rest of the queue are not in it, and their Downloaders are not even made (job.ts) until they
// come near the front. So adding to a long queue costs the Manager nothing, and a download that
// starts or stops brings in the next one. A change of the order ahead (a position given,
// changePosition, a pause moving a download to the front, an unpause) redoes the Manager's
// waiting downloads from the first one out of place. Done in a microtask after the changes, never
// while a Downloader is emitting (the Manager listens to the same signal).

import type { Downloader, Manager } from '../index.js';
import type { Job } from './job.js';

/** Waiting downloads the Manager holds beyond the running ones. */
const WINDOW = 16;

/** No jobs (never changed). */
const NONE: readonly Job[] = Object.freeze([]);

const RESOLVED = Promise.resolve();

export interface FollowedQueue {
  /** The jobs not stopped, in queue order. */
  order(): Iterable<Job>;
  /** Whether the job belongs in the Manager (not stopped, paused or held). */
  runs(job: Job): boolean;
  /** Shutting down: the Manager is left as it is. */
  closing(): boolean;
  /** The job's Downloader could not be made (its options, found wrong only now). */
  failed(job: Job, error: unknown): void;
  /** The job has stopped for good and its Downloader is out of the Manager: compact it. */
  settled(job: Job): void;
}

export class ManagerFollower {
  readonly #manager: Manager;
  readonly #queue: FollowedQueue;
  /** The downloads given to the Manager and not taken back. */
  readonly #managed = new Set<Downloader>();
  /** Jobs added at the end of the queue since the Manager was last brought in line. */
  #appended: Job[] = [];
  /**
   * The last walk went through the whole queue without filling the Manager: until something
   * else changes, only the jobs appended since may run (all paused: no walk per add).
   */
  #exhausted = false;
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
    const d = job.made;
    if (d?.isAlive) void d.join().then(() => this.touch(job));
    else this.touch(job);
  }

  #schedule(): void {
    if (this.#syncScheduled) return;
    this.#syncScheduled = true;
    // A promise's microtask, not queueMicrotask(): that one makes an AsyncResource and a bound
    // function each time, and an add schedules one (10,000 adds, 10,000 of them to collect).
    void RESOLVED.then(this.#scheduled);
  }

  readonly #inManager = (d: Downloader): boolean => this.#managed.has(d);

  readonly #scheduled = (): void => {
    this.#syncScheduled = false;
    if (!this.#queue.closing()) this.#sync();
  };

  #manage(d: Downloader): void {
    this.#managed.add(d);
    this.#manager.add(d);
  }

  #unmanage(d: Downloader): void {
    if (this.#managed.delete(d)) this.#manager.remove(d);
  }

  #sync(): void {
    // After each add (the usual case) nothing was touched nor requeued: nothing is allocated.
    const touched = this.#touched.size > 0 ? [...this.#touched] : NONE;
    this.#touched.clear();
    for (const job of touched) {
      const d = job.made;
      if (d?.isAlive || this.#queue.runs(job)) continue;
      if (d) this.#unmanage(d);
      if (job.result) this.#queue.settled(job);
    }
    // A job still stopping is requeued once it has stopped (its 'pause' brings us back here).
    const requeue =
      this.#requeue.size > 0 ? [...this.#requeue].filter((j) => !j.alive || j.result) : NONE;
    if (this.#reorder || requeue.length > 0) {
      this.#reorder = false;
      this.#resync(requeue);
    } else if (touched.length > 0 || !this.#exhausted) {
      this.#fill(this.#queue.order());
    } else if (this.#appended.length > 0) {
      this.#fill(this.#appended);
    }
    if (this.#appended.length > 0) this.#appended = [];
  }

  /** How many of the Manager's downloads wait: those not running (a few, see WINDOW). */
  #waitingInManager(): number {
    let n = 0;
    for (const d of this.#managed) if (!d.isAlive) n++;
    return n;
  }

  /**
   * The next `count` jobs in queue order that belong in the Manager and are not in it or
   * running (their Downloaders made now); the walk passes only the running, the paused and
   * those already in the Manager.
   */
  #next(count: number, skip: (d: Downloader) => boolean, walk: Iterable<Job>): readonly Job[] {
    if (count <= 0) return NONE;
    const found: Job[] = [];
    this.#exhausted = false;
    for (const job of walk) {
      if (!this.#queue.runs(job) || job.alive) continue;
      const made = job.made;
      if (made && skip(made)) continue;
      try {
        void job.d;
      } catch (err) {
        this.#queue.failed(job, err);
        continue;
      }
      found.push(job);
      if (found.length >= count) return found;
    }
    this.#exhausted = true;
    return found;
  }

  /** Top the Manager up to WINDOW waiting downloads, in queue order, from `walk`. */
  #fill(walk: Iterable<Job>): void {
    for (;;) {
      const next = this.#next(WINDOW - this.#waitingInManager(), this.#inManager, walk);
      if (next.length === 0) return;
      // add() starts a download at once when a slot is free: those started make room for more.
      for (const job of next) this.#manage(job.d);
    }
  }

  /** Redo the Manager's waiting downloads from the first one out of place (or requeued) on. */
  #resync(requeue: readonly Job[]): void {
    for (const j of requeue) this.#requeue.delete(j);
    const again = new Set(requeue.map((j) => j.made));
    const want = this.#next(WINDOW, () => false, this.#queue.order()).map((j) => j.d);
    const have = this.#manager.downloads.filter((d) => !d.isAlive);
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
    for (const d of want.slice(keep)) if (!d.isAlive) this.#manage(d);
    this.#fill(this.#queue.order());
  }
}
