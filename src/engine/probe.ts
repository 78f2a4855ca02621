// The first request of an attempt: `Range: bytes=0-` (or the first missing range with If-Range
// when resuming), retried while transient. It tells what the resource is, and its answer is
// kept for the first connection to go on reading.

import { RangeMismatchError } from '../errors.js';
import { type Answer, statusError, toQgetError } from '../net/client.js';
import type { ControlState } from './control-file.js';
import { sameResource } from './control-file.js';
import {
  describeResource,
  ifRangeValue,
  parseContentRange,
  parseUnsatisfiedRange,
  type ResourceInfo,
} from './resource.js';
import type { SavedResume } from './resume-store.js';
import { openRunAnswer, retryDelayFor, type Transfer } from './transfer.js';

export interface ProbeResult {
  /** An answer to go on reading; none when resuming and the saved state does not apply. */
  response: Answer | undefined;
  info: ResourceInfo;
  start: number;
  /** Exclusive end of the bytes the response carries. */
  servedEnd?: number;
}

/**
 * Probe the resource. When resuming, an answer that does not continue the saved state (200,
 * 416, other size or validators) yields no response. `cap` is the largest range to ask for
 * (unbounded unless under a rate limit).
 */
export async function probe(
  transfer: Transfer,
  resume: Pick<SavedResume, 'start' | 'end' | 'saved'> | undefined,
  cap: number,
  url = transfer.run.o.url,
): Promise<ProbeResult> {
  const { o, debug } = transfer.run;
  const signal = transfer.run.abort.signal;
  const start = resume?.start ?? 0;
  const end = Math.min(resume?.end ?? Number.POSITIVE_INFINITY, start + cap);
  const range = Number.isFinite(end) ? `bytes=${start}-${end - 1}` : 'bytes=0-';
  const headers: Record<string, string> = { ...o.headers, range };
  const ifRange = resume && ifRangeValue(savedValidators(resume.saved));
  if (ifRange) headers['if-range'] = ifRange;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await openRunAnswer(transfer.run, url, headers, signal);
      if (
        !resume &&
        res.statusCode === 416 &&
        parseUnsatisfiedRange(res.headers['content-range']) === 0
      ) {
        transfer.drop(res);
        const info = describeResource(url, { ...res, statusCode: 200 });
        return { response: undefined, info: { ...info, size: 0 }, start };
      }
      // Resuming, a 200 or a 416 says the saved state does not apply (described as a 200).
      const stale = resume !== undefined && (res.statusCode === 200 || res.statusCode === 416);
      if (!stale && res.statusCode !== 200 && res.statusCode !== 206) {
        transfer.drop(res);
        throw statusError(res);
      }
      let info: ResourceInfo;
      try {
        info = describeResource(url, stale ? { ...res, statusCode: 200 } : res, start);
      } catch (err) {
        transfer.drop(res);
        // An answer that cannot continue the saved state (a part sent as a 200, a bad
        // Content-Range): a fresh probe finds out more.
        if (resume && err instanceof RangeMismatchError)
          return probe(transfer, undefined, cap, url);
        throw err;
      }
      if (stale || (resume && !sameResource(resume.saved, info))) {
        transfer.drop(res);
        return { response: undefined, info, start };
      }
      return { response: res, info, start, servedEnd: servedEnd(res, info) };
    } catch (err) {
      // A range answer qget cannot use (multipart/byteranges it cannot read, a bad
      // Content-Range): the resource comes as one plain GET stream instead.
      if (!resume && err instanceof RangeMismatchError && !signal.aborted) {
        debug(`${err.message}: one plain GET instead`);
        return plainGet(transfer, url);
      }
      const error = toQgetError(err, url, signal);
      if (!error.transient || attempt > o.retries || signal.aborted) throw error;
      debug(`probe failed (${error.message}); retry ${attempt}/${o.retries}`);
      await transfer.sleep(retryDelayFor(attempt, error), signal);
    }
  }
}

/** The whole resource without a Range: its answer is read as one stream (no ranges). */
async function plainGet(transfer: Transfer, url: string): Promise<ProbeResult> {
  const run = transfer.run;
  const res = await openRunAnswer(run, url, run.o.headers, run.abort.signal);
  if (res.statusCode !== 200) {
    transfer.drop(res);
    throw statusError(res);
  }
  return { response: res, info: describeResource(url, res), start: 0 };
}

/** Where the bytes of a probe's answer end: its Content-Range, else the whole resource. */
function servedEnd(res: Answer, info: ResourceInfo): number {
  const range = parseContentRange(res.headers['content-range']);
  return res.statusCode === 206 && range ? range.end + 1 : (info.size ?? Number.POSITIVE_INFINITY);
}

function savedValidators(saved: ControlState): {
  etag: string | undefined;
  lastModified: string | undefined;
} {
  return { etag: saved.etag ?? undefined, lastModified: saved.lastModified ?? undefined };
}
