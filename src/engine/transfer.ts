// The state of one download split in two by lifetime. `Run`: what the whole run shares and what
// outlives its restarts (options, the caller's abort, connections, whether lean connections are
// still allowed). `Transfer`: the state of one attempt's connections, a new object per attempt
// (and for the single stream after a fallback), so nothing of it survives a restart by accident.

import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, HttpStatusError, type QgetError } from '../errors.js';
import type { Answer, Requester } from '../net/client.js';
import { type ConnectionPool, openAnswer } from '../net/connection-pool.js';
import type { RangeConnection } from '../net/range-connection.js';
import { retryDelay } from '../net/retry-delay.js';
import type { EngineObserver, EngineOptions } from './engine-options.js';
import type { RangeFetch } from './range-fetch.js';
import type { ByteRange, Segment } from './segment-plan.js';

/** Shared by every attempt of one run. */
export interface Run {
  readonly o: EngineOptions;
  readonly observer: EngineObserver;
  readonly debug: (message: string) => void;
  /** Aborted by the caller's signal. */
  readonly abort: AbortController;
  /** Lean connections and the agent, unless the caller gave a dispatcher. */
  readonly pool: ConnectionPool | undefined;
  readonly dispatcher: Requester;
  /** Who this download's bytes are counted for in the shared rate limiters. */
  readonly limiterOwner: object;
  /** Ranged requests over plain http use the lean RangeConnection until a server needs undici. */
  leanAllowed: boolean;
  /**
   * Votes of the sources the majority decided while a whole-file checksum could not judge
   * them (source-check.ts): named by the checksum's error should the file fail it.
   */
  readonly votes: string[];
}

/**
 * A request of this run outside the connections' ranges (the probe, a plain GET, a mirror's
 * sample): its pool and dispatcher, credentials and cookies, and redirect limit.
 */
export function openRunAnswer(
  run: Run,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Answer> {
  const { o, pool, dispatcher } = run;
  return openAnswer(url, {
    pool,
    dispatcher,
    headers,
    session: o.session,
    signal,
    maxRedirects: o.maxRedirects,
  });
}

export class Transfer {
  readonly run: Run;
  /** Aborted when this attempt's connections must stop (failure, fallback, abort). */
  readonly round = sharedController();
  /** The failure that ends the attempt, once there is one. */
  fatal: QgetError | undefined;
  stopping = false;
  /** The server stopped honouring ranges: the attempt goes on as one stream. */
  fallback = false;
  /** Bytes accepted in this attempt, including those resumed from disk. */
  received = 0;
  /** Bytes that were already on disk when the attempt started. */
  resumed = 0;
  /** Ranges already on disk when the attempt started (not segments). */
  done: ByteRange[] = [];
  /** The ranges being downloaded; only ever added to. */
  readonly segments: Segment[] = [];
  /** Ranged requests answered with a 200 in a row, in the order answers arrive. */
  ignoredInARow = 0;
  /** Ranged requests answered 200 / as asked, in all (failure-policy.ts). */
  ignoredTotal = 0;
  rangedAnswers = 0;
  /** Ranged requests answered by another version of the resource in a row (failure-policy.ts). */
  otherVersionsInARow = 0;
  /** …and in all. */
  otherVersionsTotal = 0;
  /** Ranged answers accepted that named no validator of the probe's (no ETag, no Last-Modified). */
  answersWithoutValidators = 0;
  /**
   * Sources wait for bytes on disk to compare their samples with (source-check.ts): a batch is
   * written once it holds SAMPLE_BYTES instead of waiting to be full, so they join sooner.
   */
  wantsSample = false;
  readonly fetches = new Set<RangeFetch>();

  constructor(run: Run) {
    this.run = run;
  }

  /** Stop every connection; `error` (if any) becomes the attempt's failure. */
  stop(error: QgetError | undefined): void {
    if (error && !this.fatal) this.fatal = error;
    const abort = this.run.abort;
    if (error instanceof AbortError && !abort.signal.aborted) abort.abort(error);
    this.stopping = true;
    const reason = error ?? new AbortError('stopped');
    if (!this.round.signal.aborted) this.round.abort(reason);
    for (const fetch of this.fetches) fetch.abort(reason);
  }

  /** Bytes confirmed on disk (those of confirmed()), counted without building ranges. */
  flushedBytes(): number {
    let bytes = 0;
    for (const s of this.segments) if (s.flushed > s.start) bytes += s.flushed - s.start;
    return bytes;
  }

  /** The ranges confirmed on disk: never a byte that is not in the .part. */
  confirmed(): ByteRange[] {
    const ranges: ByteRange[] = [...this.done];
    for (const s of this.segments) if (s.flushed > s.start) ranges.push([s.start, s.flushed]);
    return ranges;
  }

  /** A backoff that ends early, with the attempt's failure, when `signal` aborts. */
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw this.fatal ?? new AbortError();
    }
  }

  /** Done with an answer: the rest of its body dropped, its lean connection back to the pool. */
  drop(answer: Answer | undefined): void {
    if (!answer) return;
    answer.discard();
    this.giveBack(answer.connection);
  }

  /** A lean connection back to the pool it came from (lean connections only come from one). */
  giveBack(connection: RangeConnection | undefined): void {
    if (connection) this.run.pool?.release(connection);
  }
}

/** The wait before retry `attempt`, honouring a Retry-After. */
export function retryDelayFor(attempt: number, error: QgetError | undefined): number {
  const retryAfterSeconds = error instanceof HttpStatusError ? error.retryAfter : undefined;
  return retryDelay({ attempt, retryAfterSeconds });
}

/**
 * A controller whose signal every connection listens to at once (each request, each backoff
 * sleep): more than Node's default of 10 listeners is expected, not a leak.
 */
export function sharedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
