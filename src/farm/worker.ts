// A farm worker: BullMQ delivers jobs (at least once), a Manager downloads them (at most
// `concurrency` at once, one total rate limit, one connection pool), the output claim keeps two
// workers off one file, and the outcome decides the job: complete with its result, back to the
// queue (stopping, file busy, origin paused or at its limit), retry later, or fail for good.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DelayedError, type Job, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import { Downloader, type DownloaderOptions, FileExistsError, Manager } from '../index.js';
import { removeOrphanPart, sweepDebris } from './debris.js';
import { HostLimit } from './hosts.js';
import {
  backoffMs,
  type FarmJobData,
  type FarmResult,
  originOf,
  outcomeOf,
  placeOf,
} from './jobs.js';
import { DEFAULT_QUEUE, type FarmConnection } from './queue.js';

export interface FarmWorkerOptions extends FarmConnection {
  /** Folder the files go to (relative job folders are taken from it). Default: the working directory. */
  dir?: string | undefined;
  /** Downloads at once in this worker. Default 4. */
  concurrency?: number | undefined;
  /** Total bytes per second of this worker; 0 = unlimited. */
  rateLimit?: number | undefined;
  /** Most downloads from one origin at once over the whole farm; 0 = no limit. */
  perHost?: number | undefined;
  /** Options of every download (connections, timeout, headers...). */
  downloadOptions?: DownloaderOptions | undefined;
  /**
   * Seconds a job's lock lasts without renewal (renewed every half of it while the worker runs):
   * a dead worker's job goes back to the queue within about twice this. Default 30.
   */
  lockSeconds?: number | undefined;
  /** Times a job may stall (its worker died) before it fails. Default 5. */
  maxStalledCount?: number | undefined;
  /** Receives what happens to each job. */
  onEvent?: ((event: FarmEvent) => void) | undefined;
}

export type FarmEvent =
  | ({ event: 'completed'; id: string; url: string } & FarmResult)
  | { event: 'failed'; id: string; url: string; reason: string; final: boolean }
  | {
      event: 'returned';
      id: string;
      url: string;
      why: 'stopping' | 'busy' | 'host-limit' | 'paused';
      delayMs: number;
    };

export interface FarmWorkerStats {
  completed: number;
  failed: number;
  returned: number;
}

type FarmJob = Job<FarmJobData, FarmResult>;

/** Error thrown for a transient failure: BullMQ's backoff reads the server's Retry-After here. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

export class FarmWorker {
  readonly stats: FarmWorkerStats = { completed: 0, failed: 0, returned: 0 };
  readonly #o: FarmWorkerOptions;
  readonly #manager: Manager;
  readonly #worker: Worker<FarmJobData, FarmResult>;
  readonly #owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  #hosts: HostLimit | undefined;
  /** Folders made (or found) already: one mkdir per folder, not per job. */
  readonly #folders = new Set<string>();
  #stopping = false;
  #stopped: Promise<void> | undefined;

  constructor(options: FarmWorkerOptions) {
    this.#o = options;
    const concurrency = options.concurrency ?? 4;
    const lockMs = Math.round((options.lockSeconds ?? 30) * 1000);
    this.#manager = new Manager({
      maxRunning: concurrency,
      rateLimit: options.rateLimit ?? 0,
      // BullMQ retries (with backoff, across workers): no restarts of our own.
      restartWait: -1,
      downloadOptions: { ...options.downloadOptions, restartWait: -1 },
    });
    const workerOptions: WorkerOptions = {
      connection: { url: options.redis, maxRetriesPerRequest: null },
      concurrency,
      autorun: false,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: options.maxStalledCount ?? 5,
      name: this.#owner,
      settings: {
        backoffStrategy: (attemptsMade, _type, err) =>
          backoffMs(attemptsMade, err instanceof RetryLater ? err.retryAfterMs : undefined),
      },
    };
    if (options.prefix !== undefined) workerOptions.prefix = options.prefix;
    this.#worker = new Worker<FarmJobData, FarmResult>(
      options.queue ?? DEFAULT_QUEUE,
      (job, token) => this.#process(job, token),
      workerOptions,
    );
    // Connection trouble is retried by ioredis; a lost job lock shows up here too.
    this.#worker.on('error', () => {});
    this.#worker.on('completed', (job, result) => {
      this.stats.completed++;
      this.#emit({ event: 'completed', id: job.id ?? '', url: job.data.url, ...result });
    });
    this.#worker.on('failed', (job, err) => {
      if (job === undefined) return;
      this.stats.failed++;
      const final =
        err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      this.#emit({
        event: 'failed',
        id: job.id ?? '',
        url: job.data.url,
        reason: err.message,
        final,
      });
    });
  }

  /** Connect and start taking jobs; resolves once the worker is taking them. */
  async start(): Promise<void> {
    const limit = this.#o.perHost ?? 0;
    const client = await this.#worker.client;
    this.#hosts = new HostLimit(client, {
      prefix: `${this.#o.prefix ?? 'bull'}:${this.#o.queue ?? DEFAULT_QUEUE}`,
      perHost: limit,
      leaseMs: Math.max(5000, Math.round((this.#o.lockSeconds ?? 30) * 1000)),
      owner: this.#owner,
    });
    await sweepDebris(resolve(this.#o.dir ?? '.'));
    this.#manager.start();
    void this.#worker.run().catch(() => {});
    await this.#worker.waitUntilReady();
  }

  /**
   * Start nothing new, pause the running downloads (their `.part` and state saved), give their jobs
   * back to the queue, and disconnect. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      const closing = this.#worker.close();
      this.#manager.stopAll();
      await closing;
      this.#hosts?.close();
      await this.#manager.stop();
    })();
    return this.#stopped;
  }

  async #process(job: FarmJob, token: string | undefined): Promise<FarmResult> {
    const id = job.id ?? '';
    const { url } = job.data;
    if (this.#stopping) return this.#giveBack(job, token, 0, 'stopping');
    const origin = originOf(url);
    const hosts = this.#hosts!;
    const paused = await hosts.pausedFor(origin);
    if (paused > 0) return this.#giveBack(job, token, paused, 'paused');
    if (!(await hosts.acquire(origin, id))) {
      return this.#giveBack(job, token, 200 + Math.round(Math.random() * 600), 'host-limit');
    }
    try {
      return await this.#download(job, token, origin);
    } finally {
      await hosts.release(origin, id);
    }
  }

  async #download(job: FarmJob, token: string | undefined, origin: string): Promise<FarmResult> {
    const started = performance.now();
    const place = placeOf(job.data, this.#o.dir ?? '.');
    if (!this.#folders.has(place.dirPath)) {
      await mkdir(place.dirPath, { recursive: true });
      this.#folders.add(place.dirPath);
    }
    // Its last worker died: clear what that one left mid-claim (its .part is continued).
    if (job.stalledCounter > 0) await sweepDebris(place.dirPath);
    const d = new Downloader(job.data.url, { ...this.#manager.downloadOptions, ...place });
    const stopped = new Promise<void>((resolve) => {
      d.listen('state-changed', () => {
        if (d.state === 'complete' || d.state === 'error' || d.state === 'pause') resolve();
      });
    });
    this.#manager.add(d);
    if (this.#stopping) d.stop();
    await stopped;
    this.#manager.remove(d);
    const outcome = outcomeOf({
      state: d.state as 'complete' | 'error' | 'pause',
      error: d.lastError,
      redelivered: job.stalledCounter > 0 || job.attemptsMade > 0,
      random: Math.random(),
    });
    const seconds = (performance.now() - started) / 1000;
    const existing = d.lastError instanceof FileExistsError ? d.lastError.path : undefined;
    if (existing !== undefined) await removeOrphanPart(existing);
    switch (outcome.kind) {
      case 'complete': {
        const path = d.path as string;
        return { path, ...(await fileFacts(path)), seconds, finalUrl: d.finalUrl ?? d.url };
      }
      case 'found':
        return {
          path: outcome.path,
          ...(await fileFacts(outcome.path)),
          seconds,
          finalUrl: job.data.url,
          found: true,
        };
      case 'give-back':
        return this.#giveBack(job, token, outcome.delayMs, outcome.why);
      case 'fail':
        throw new UnrecoverableError(outcome.reason);
      case 'retry':
        if (outcome.pauseOrigin && outcome.retryAfterMs !== undefined) {
          await this.#hosts!.pause(origin, outcome.retryAfterMs);
        }
        throw new RetryLater(outcome.reason, outcome.retryAfterMs);
    }
  }

  /** Back to the queue after `delayMs`, not counted as an attempt. */
  async #giveBack(
    job: FarmJob,
    token: string | undefined,
    delayMs: number,
    why: 'stopping' | 'busy' | 'host-limit' | 'paused',
  ): Promise<never> {
    this.stats.returned++;
    this.#emit({ event: 'returned', id: job.id ?? '', url: job.data.url, why, delayMs });
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  }

  #emit(event: FarmEvent): void {
    this.#o.onEvent?.(event);
  }
}

/** The size and SHA-256 of a finished file (read once more: the engine does not hash). */
async function fileFacts(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { size: (await stat(path)).size, sha256: hash.digest('hex') };
}
