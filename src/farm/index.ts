// `qget/farm`: many workers on many machines downloading one queue kept in Redis by BullMQ.
// A separate entry point: the core package (`qget`) never loads BullMQ.

export {
  DEFAULT_QUEUE,
  type EnqueueOptions,
  type EnqueueResult,
  enqueue,
  type FailedJob,
  type FarmConnection,
  type QueueStatus,
  queueStatus,
  retryFailed,
} from './queue.js';
export {
  type FarmEvent,
  FarmWorker,
  type FarmWorkerOptions,
  type FarmWorkerStats,
} from './worker.js';
export { type FarmEntry, type FarmJobData, type FarmResult, jobIdFor } from './jobs.js';
