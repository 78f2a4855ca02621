// What one RangeFetch is given: the attempt's resource and .part, the worker's socket(s) and
// batch buffers, and the attempt's counters to report to.

import type { Requester } from '../net/client.js';
import type { RangeConnection } from '../net/range-connection.js';
import type { bufferPair } from './batch-buffers.js';
import type { PartFile } from './part-file.js';
import type { FetchContext, RangeFetch } from './range-fetch.js';
import type { ResourceInfo } from './resource.js';
import { SAMPLE_BYTES } from './source-policy.js';
import type { Source } from './sources.js';
import type { Transfer } from './transfer.js';

/** What a worker keeps across its requests: its socket(s), batch buffers and measurements. */
export interface WorkerResources {
  /** Its undici dispatcher (created on first use when it owns its socket). */
  dispatcher: () => Requester;
  lean: RangeConnection | undefined;
  /** Its two batch buffers, taken on first use and given back when the worker ends. */
  buffers: ReturnType<typeof bufferPair>;
  /** Bytes/s of its last request, once measured. */
  speed?: number | undefined;
  /** The shortest round trip (request to head) of its requests, ms. */
  rttMs?: number | undefined;
  /** For DownloadJob.snapshot(): a number naming the connection, its fetch, its last error. */
  id: number;
  fetch?: RangeFetch | undefined;
  lastError?: string | undefined;
  /** The source it downloads from (sources.ts), and where its request in flight started. */
  source?: Source | undefined;
  from?: number | undefined;
}

export function fetchContext(
  transfer: Transfer,
  info: ResourceInfo,
  part: PartFile,
  resources: WorkerResources,
  requestBytes: () => number,
): FetchContext {
  const run = transfer.run;
  const o = run.o;
  return {
    info,
    part,
    dispatcher: resources.dispatcher,
    connection: run.leanAllowed ? resources.lean : undefined,
    onUnsupported: (err) => {
      if (run.leanAllowed) run.debug(`${err.message}: back to undici for the ranges`);
      run.leanAllowed = false;
      run.pool?.undiciOnly(info.finalUrl);
    },
    batchBuffers: resources.buffers.get,
    headers: o.headers,
    session: o.session,
    chunkBytes: o.chunkBytes,
    limiters: o.limiters ?? [],
    limiterOwner: run.limiterOwner,
    now: () => performance.now(),
    onBytes: resources.source
      ? (n) => {
          transfer.received += n;
          resources.source!.bytes += n;
        }
      : (n) => {
          transfer.received += n;
        },
    // "In a row" in the order answers arrive: a 206 between the 200s shows ranges work,
    // even while the fetch that got it is still running.
    onRangeAnswered: (validated) => {
      transfer.ignoredInARow = 0;
      transfer.rangedAnswers++;
      transfer.otherVersionsInARow = 0;
      if (!validated) transfer.answersWithoutValidators++;
    },
    // Once another version has answered, If-Range only turns each of its answers into a whole
    // body (up to the socket buffers' worth pushed before the close): leave it out then, as long
    // as every answer of ours carried the validators that tell the versions apart.
    ifRange: () =>
      transfer.otherVersionsTotal === 0 ||
      transfer.rangedAnswers === 0 ||
      transfer.answersWithoutValidators > 0,
    requestBytes,
    earlyFlushBytes: () => (transfer.wantsSample ? SAMPLE_BYTES : Number.POSITIVE_INFINITY),
  };
}
