// The producer and the dashboard of a farm: enqueue a list (one job per URL, its id a hash of
// the URL and the output, so a list enqueued twice adds nothing), count the jobs by state, list
// the failed ones with their reasons, and put them back in the queue.

import { Queue, type QueueOptions } from 'bullmq';
import { type FarmEntry, type FarmJobData, type FarmResult, jobData, jobIdFor } from './jobs.js';

export const DEFAULT_QUEUE = 'qget';

export interface FarmConnection {
  /** `redis://[user:password@]host:port[/db]` (rediss:// for TLS). */
  redis: string;
  /** Queue name. Default `qget`. */
  queue?: string | undefined;
  /** Key prefix. Default `bull` (BullMQ's). */
  prefix?: string | undefined;
}

export interface EnqueueOptions extends FarmConnection {
  /** Folder for the files (relative ones are taken from each worker's folder). */
  dir?: string | undefined;
  /** Attempts per job before it fails (transient errors). Default 5. */
  attempts?: number | undefined;
}

export interface EnqueueResult {
  added: number;
  /** Jobs with the same id were already in the queue (waiting, running, done or failed). */
  existing: number;
  ids: string[];
}

export interface FailedJob {
  id: string;
  url: string;
  reason: string;
  attempts: number;
}

export interface QueueStatus {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  failedJobs: FailedJob[];
}

/** One connection for a short-lived queue handle. */
export function openQueue(c: FarmConnection): Queue<FarmJobData, FarmResult> {
  const options: QueueOptions = {
    // A short-lived command: a server that cannot be reached is an error, not a wait.
    connection: {
      url: c.redis,
      maxRetriesPerRequest: 3,
      connectTimeout: 5000,
      retryStrategy: (times: number) => (times > 3 ? null : 250 * times),
    },
  };
  if (c.prefix !== undefined) options.prefix = c.prefix;
  return new Queue<FarmJobData, FarmResult>(c.queue ?? DEFAULT_QUEUE, options);
}

const EXISTS = `
local found = {}
for i, key in ipairs(ARGV) do found[i] = redis.call('EXISTS', key) end
return found`;

/** Add one job per entry; entries whose job already exists are left as they are. */
export async function enqueue(
  entries: FarmEntry[],
  options: EnqueueOptions,
): Promise<EnqueueResult> {
  const queue = openQueue(options);
  try {
    const client = await queue.client;
    client.defineCommand('qgetExists', { numberOfKeys: 0, lua: EXISTS });
    // The same job twice in one list is one job.
    const jobs = new Map<string, FarmJobData>();
    for (const entry of entries) {
      const data = jobData(entry, options.dir);
      jobs.set(jobIdFor(data), data);
    }
    const ids = [...jobs.keys()];
    let added = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const found = (await client.runCommand(
        'qgetExists',
        batch.map((id) => queue.toKey(id)),
      )) as number[];
      const fresh = batch.filter((_, n) => Number(found[n]) === 0);
      if (fresh.length === 0) continue;
      await queue.addBulk(
        fresh.map((id) => ({
          name: 'download',
          data: jobs.get(id)!,
          opts: {
            jobId: id,
            attempts: options.attempts ?? 5,
            backoff: { type: 'qget' },
            // Kept: the result stays on the job, and a list enqueued again adds nothing.
            removeOnComplete: false,
            removeOnFail: false,
          },
        })),
      );
      added += fresh.length;
    }
    return { added, existing: ids.length - added, ids };
  } finally {
    await queue.close();
  }
}

/** The counts by state and every failed job with its reason. */
export async function queueStatus(options: FarmConnection): Promise<QueueStatus> {
  const queue = openQueue(options);
  try {
    const counts = await queue.getJobCounts(
      'waiting',
      'prioritized',
      'active',
      'delayed',
      'completed',
      'failed',
    );
    const failed = await queue.getFailed(0, -1);
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      failedJobs: failed
        .filter((job) => job !== undefined)
        .map((job) => ({
          id: job.id ?? '',
          url: job.data.url,
          reason: job.failedReason,
          attempts: job.attemptsMade,
        })),
    };
  } finally {
    await queue.close();
  }
}

/** Put every failed job back in the queue (attempts counted afresh); resolves how many. */
export async function retryFailed(options: FarmConnection): Promise<number> {
  const queue = openQueue(options);
  try {
    const failed = await queue.getFailed(0, -1);
    let n = 0;
    for (const job of failed) {
      if (job === undefined) continue;
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      n++;
    }
    return n;
  } finally {
    await queue.close();
  }
}
