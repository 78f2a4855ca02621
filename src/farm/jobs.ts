// What a farm job is, and the pure decisions about it: its id (a hash of the URL and the output
// path, so a list enqueued twice adds nothing), where a worker saves it, and what a finished
// download means for the job (complete, give back, retry, fail for good). No Redis here.

import { createHash } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { FileExistsError, HttpStatusError, type QgetError } from '../errors.js';

/** A job's data, as stored in Redis. */
export interface FarmJobData {
  url: string;
  /** File name (the input file's `out=`); absent: the name the server gives. */
  out?: string;
  /**
   * Folder (`-d` of `qget enqueue` joined with the input file's `dir=`), kept as given: a relative
   * one is taken from each worker's own folder, an absolute one is used as it is.
   */
  dir?: string;
}

/** What a completed job records. */
export interface FarmResult {
  path: string;
  size: number;
  sha256: string;
  /** Seconds the download took in the worker that completed it. */
  seconds: number;
  /** The URL that served the bytes (after redirects). */
  finalUrl: string;
  /** The file was already complete when this delivery began (a worker died after saving it). */
  found?: boolean;
}

/** The input file's entry, as `enqueue` takes it. */
export interface FarmEntry {
  url: string;
  out?: string | undefined;
  dir?: string | undefined;
}

/** The job's data from an entry and `qget enqueue -d`. */
export function jobData(entry: FarmEntry, dir?: string): FarmJobData {
  const data: FarmJobData = { url: entry.url };
  const folder =
    entry.dir === undefined
      ? dir
      : dir === undefined || isAbsolute(entry.dir)
        ? entry.dir
        : join(dir, entry.dir);
  if (folder !== undefined && folder !== '') data.dir = folder;
  if (entry.out !== undefined && entry.out !== '') data.out = entry.out;
  return data;
}

/**
 * The job id: the same URL to the same output is the same job. Server-named outputs are keyed by
 * their folder (`dir/`). Hex, so it never holds the `:` BullMQ reserves.
 */
export function jobIdFor(data: FarmJobData): string {
  const output = join(data.dir ?? '.', data.out ?? '');
  const key = data.out === undefined ? `${output}/` : output;
  return createHash('sha256').update(data.url).update('\0').update(key).digest('hex').slice(0, 32);
}

/** Where a worker whose folder is `base` saves the job: its folder and, if named, its path. */
export function placeOf(data: FarmJobData, base: string): { dirPath: string; path?: string } {
  const dirPath = data.dir === undefined ? resolve(base) : resolve(base, data.dir);
  return data.out === undefined ? { dirPath } : { dirPath, path: resolve(dirPath, data.out) };
}

/** The origin (scheme, host, port) a per-host limit counts. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** What a worker does with a job once its download stopped. */
export type Outcome =
  | { kind: 'complete' }
  /** The file is already there from an earlier delivery of this job: complete with it. */
  | { kind: 'found'; path: string }
  /** Back to the queue without counting an attempt, after `delayMs`. */
  | { kind: 'give-back'; delayMs: number; why: 'stopping' | 'busy' }
  /** Fail this attempt; BullMQ retries it (after `retryAfterMs` if the server said so). */
  | { kind: 'retry'; reason: string; retryAfterMs?: number; pauseOrigin?: boolean }
  /** Fail the job for good. */
  | { kind: 'fail'; reason: string };

export interface StoppedDownload {
  state: 'complete' | 'error' | 'pause';
  error: QgetError | null;
  /** This job was delivered before (it stalled, or an attempt failed). */
  redelivered: boolean;
  /** Jitter in [0, 1): spreads the give-backs of many workers. */
  random: number;
}

/** How long a job whose output another worker holds waits before it is tried again. */
export const BUSY_DELAY_MS = 2000;

export function outcomeOf(s: StoppedDownload): Outcome {
  if (s.state === 'complete') return { kind: 'complete' };
  if (s.state === 'pause' || s.error === null) {
    return { kind: 'give-back', delayMs: 0, why: 'stopping' };
  }
  const err = s.error;
  const reason = `${err.code}: ${err.message}`;
  switch (err.code) {
    case 'ERR_OUTPUT_BUSY':
      // Another worker has it (or a dead one on another host: see docs/farm.md).
      return {
        kind: 'give-back',
        delayMs: Math.round(BUSY_DELAY_MS * (1 + s.random)),
        why: 'busy',
      };
    case 'ERR_FILE_EXISTS':
      if (s.redelivered && err instanceof FileExistsError) return { kind: 'found', path: err.path };
      return { kind: 'fail', reason };
    case 'ERR_ABORTED':
      return { kind: 'give-back', delayMs: 0, why: 'stopping' };
  }
  if (!err.transient) return { kind: 'fail', reason };
  if (
    err instanceof HttpStatusError &&
    err.retryAfter !== undefined &&
    (err.statusCode === 429 || err.statusCode === 503)
  ) {
    return { kind: 'retry', reason, retryAfterMs: err.retryAfter * 1000, pauseOrigin: true };
  }
  return { kind: 'retry', reason };
}

/** BullMQ's backoff for a failed attempt: the server's Retry-After, else exponential from 1 s. */
export function backoffMs(attemptsMade: number, retryAfterMs: number | undefined): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return retryAfterMs;
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attemptsMade - 1));
}

/** `redis://[user:pass@]host[:port][/db]` (or rediss://), checked before connecting. */
export function checkRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a Redis URL (redis://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`"${url}" is not a Redis URL (redis://host:port)`);
  }
  return url;
}
