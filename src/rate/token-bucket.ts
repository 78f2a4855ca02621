// Rate limiting shared by every connection of one or many downloads: a debt-model token bucket
// with byte-fair queuing across owners, one timer at most, and an injectable clock.
import { InvalidOptionError } from '../errors.js';

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface TokenBucketOptions {
  /** Bytes that may pass at once after an idle spell. Default: 0.1 s of `rate`, at least 16 KiB. */
  burst?: number;
  clock?: Clock;
}

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface OwnerQueue {
  waiters: Waiter[];
  /** Virtual finish time: bytes granted to this owner on the shared fair-queuing clock. */
  finish: number;
}

const MIN_BURST = 16 * 1024;
/**
 * Seconds of rate a late timer may catch up on while requests wait. A busy event loop wakes the
 * bucket late; the time it slept with requests waiting was demand, not idleness, so its tokens
 * are kept (up to this bound, so a suspended process does not burst for minutes) and the rate
 * holds on a loaded machine. Half a second: 1 s let a stalled client take 1.15x the rate over a
 * 3 s window (seen in CI); a timer 150 ms late or a 400 ms round trip is still made up.
 */
const CATCH_UP_SECONDS = 0.5;
const DEFAULT_OWNER = {};

function checkRate(rate: number): void {
  if (!Number.isFinite(rate) || rate < 0) {
    throw new InvalidOptionError(
      `the rate limit must be a non-negative number of bytes per second, not ${rate}.`,
    );
  }
}

/**
 * Grants bytes at `rate` per second (0 = unlimited). A request is granted as soon as the balance
 * is not negative and then takes all it asked for, so the balance may go into debt: chunks larger
 * than the burst still pass, and the long-run rate is exact.
 *
 * Waiting requests are grouped by owner and served by start-time fair queuing, a byte-weighted
 * round-robin: two downloads sharing the bucket each get half, however many connections each has,
 * and an owner that asks for less leaves the rest to the others.
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  readonly #explicitBurst: boolean;
  readonly #clock: Clock;
  #tokens: number;
  #lastRefill: number;
  /** Owners with waiters, in the order they queued up; ties go to the earlier one. */
  readonly #queues = new Map<object, OwnerQueue>();
  /** Finish tags of owners that are not waiting, so a brief gap does not wipe their account. */
  readonly #idleFinish = new WeakMap<object, number>();
  /** The fair-queuing clock: the start tag of the last grant. */
  #virtualTime = 0;
  #timer: unknown;
  #timerSet = false;
  /** Connections at work under this bucket (hold/release), asking or between requests. */
  #holders = 0;

  constructor(rate: number, options: TokenBucketOptions = {}) {
    checkRate(rate);
    if (options.burst !== undefined && !(Number.isFinite(options.burst) && options.burst > 0)) {
      throw new InvalidOptionError(
        `the burst must be a positive number of bytes, not ${options.burst}.`,
      );
    }
    this.#rate = rate;
    this.#explicitBurst = options.burst !== undefined;
    this.#burst = options.burst ?? defaultBurst(rate);
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.#burst;
    this.#lastRefill = this.#clock.now();
  }

  get rate(): number {
    return this.#rate;
  }

  /** Changes the rate at once; waiters are re-examined, and all released if `rate` is 0. */
  setRate(rate: number): void {
    checkRate(rate);
    this.#refill();
    const wasUnlimited = this.#rate === 0;
    this.#rate = rate;
    if (!this.#explicitBurst) this.#burst = defaultBurst(rate);
    // Unlimited mode keeps no account, so limiting starts afresh.
    this.#tokens = wasUnlimited ? this.#burst : Math.min(this.#tokens, this.#burst);
    this.#lastRefill = this.#clock.now();
    this.#cancelTimer();
    this.#pump();
  }

  /**
   * A connection starts working under this bucket: while any does, the time between its
   * requests (a round trip, long on a busy machine) is demand, not idleness, and its tokens are
   * kept as for waiting requests. Each hold is ended by one release.
   */
  hold(): void {
    this.#refill();
    this.#holders++;
  }

  release(): void {
    this.#refill();
    this.#holders = Math.max(0, this.#holders - 1);
  }

  /**
   * Asks for `bytes`. Returns undefined when they may be used right away (no promise on the hot
   * path), else a promise resolved when granted, or rejected with `signal.reason` on abort.
   */
  take(
    bytes: number,
    owner: object = DEFAULT_OWNER,
    signal?: AbortSignal,
  ): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#rate === 0 || !(bytes > 0)) return undefined;
    this.#refill();
    if (this.#queues.size === 0 && this.#tokens >= 0) {
      this.#tokens -= bytes;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, signal, onAbort: undefined };
      let queue = this.#queues.get(owner);
      if (!queue) {
        const finish = Math.max(this.#idleFinish.get(owner) ?? 0, this.#virtualTime);
        queue = { waiters: [], finish };
        this.#queues.set(owner, queue);
      }
      queue.waiters.push(waiter);
      if (signal) {
        waiter.onAbort = () => this.#abort(owner, waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      if (!this.#timerSet) this.#pump();
    });
  }

  #refill(): void {
    const now = this.#clock.now();
    if (this.#rate > 0) {
      // Requests waiting now have waited since the last refill (every take refills before it
      // queues), and held connections have worked since then (hold and release refill): that
      // span was demand, and its tokens are not cut to the idle burst.
      const busy = this.#queues.size > 0 || this.#holders > 0;
      const cap = busy ? Math.max(this.#burst, this.#rate * CATCH_UP_SECONDS) : this.#burst;
      this.#tokens = Math.min(cap, this.#tokens + ((now - this.#lastRefill) * this.#rate) / 1000);
    }
    this.#lastRefill = now;
  }

  /** Grants what the balance allows, then sleeps until the debt is paid off. */
  #pump(): void {
    this.#refill();
    while (this.#queues.size > 0 && (this.#rate === 0 || this.#tokens >= 0)) {
      this.#grantNext();
    }
    if (this.#queues.size === 0 || this.#timerSet) return;
    // Floating-point refill may land a hair short of zero; the 1 ms floor keeps that from spinning.
    const ms = Math.max(1, Math.ceil((-this.#tokens * 1000) / this.#rate));
    this.#timerSet = true;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerSet = false;
      this.#timer = undefined;
      this.#pump();
    }, ms);
  }

  #grantNext(): void {
    let owner: object | undefined;
    let queue: OwnerQueue | undefined;
    for (const [candidate, candidateQueue] of this.#queues) {
      if (!queue || candidateQueue.finish < queue.finish) {
        owner = candidate;
        queue = candidateQueue;
      }
    }
    const waiter = queue!.waiters.shift()!;
    this.#virtualTime = queue!.finish;
    queue!.finish += waiter.bytes;
    if (queue!.waiters.length === 0) this.#retire(owner!, queue!);
    if (this.#rate > 0) this.#tokens -= waiter.bytes;
    this.#release(waiter);
    waiter.resolve();
  }

  #retire(owner: object, queue: OwnerQueue): void {
    this.#queues.delete(owner);
    this.#idleFinish.set(owner, queue.finish);
  }

  #release(waiter: Waiter): void {
    if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
  }

  #abort(owner: object, waiter: Waiter): void {
    const queue = this.#queues.get(owner);
    const index = queue ? queue.waiters.indexOf(waiter) : -1;
    if (!queue || index < 0) return;
    queue.waiters.splice(index, 1);
    if (queue.waiters.length === 0) this.#retire(owner, queue);
    if (this.#queues.size === 0) this.#cancelTimer();
    waiter.reject(waiter.signal!.reason);
  }

  #cancelTimer(): void {
    if (!this.#timerSet) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerSet = false;
    this.#timer = undefined;
  }
}

function defaultBurst(rate: number): number {
  return Math.max(MIN_BURST, rate * 0.1);
}
