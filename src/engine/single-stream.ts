// The mode for servers without ranges (or that stopped honouring them), and for a small file the
// probe's answer carries whole: one stream of the whole body written from byte 0, started again
// from byte 0 after a transient failure.

import {
  type Answer,
  discardBody,
  openRequest,
  statusError,
  toQgetError,
  undiciAnswer,
} from '../net/client.js';
import { bufferPair } from './batch-buffers.js';
import { fetchContext, type WorkerResources } from './fetch-context.js';
import type { PartFile } from './part-file.js';
import { RangeFetch } from './range-fetch.js';
import {
  checkValidators,
  checkWholeLength,
  parseContentRange,
  type ResourceInfo,
} from './resource.js';
import type { EngineOptions } from './engine-options.js';
import type { ProbeResult } from './probe.js';
import { type ByteRange, newSegment, type Segment } from './segment-plan.js';
import { retryDelayFor, type Transfer } from './transfer.js';

/**
 * A file the probe's answer carries whole (from byte 0 to its end, at most this size) is read as
 * one stream: no segmented round (scheduler, sources, governor, workers, ramp and crawl timers)
 * for a body that is all in one answer. After a failure it starts again from byte 0.
 */
const WHOLE_ANSWER_BYTES = 1024 * 1024;

/** Whether the probe's answer is all of a small file with nothing else to weigh (wholeAnswer). */
export function wholeAnswer(
  o: Pick<EngineOptions, 'pieces'>,
  probed: Pick<ProbeResult, 'info' | 'start' | 'servedEnd'>,
  done: readonly ByteRange[],
  others: readonly string[],
): boolean {
  const size = probed.info.size;
  return (
    size !== undefined &&
    size > 0 &&
    size <= WHOLE_ANSWER_BYTES &&
    probed.start === 0 &&
    probed.servedEnd === size &&
    done.length === 0 &&
    others.length === 0 &&
    o.pieces === undefined
  );
}

/**
 * Download the whole body over `transfer` (a fresh one: its counters start at 0), going on with
 * `probe`'s answer when given. Returns `info`, with the size now known when it was not.
 */
export async function runSingleStream(
  transfer: Transfer,
  info: ResourceInfo,
  part: PartFile,
  probe: Answer | undefined,
): Promise<ResourceInfo> {
  const run = transfer.run;
  const seg = newSegment(0, 0, info.size ?? Number.POSITIVE_INFINITY);
  transfer.segments.push(seg);
  const single: WorkerResources = {
    dispatcher: () => run.dispatcher,
    id: 0,
    lean: undefined,
    buffers: bufferPair(run.o.chunkBytes),
  };
  try {
    await streamWhole(transfer, info, part, seg, single, probe);
  } finally {
    single.buffers.release();
  }
  if (info.size !== undefined) return info;
  await part.truncate(seg.pos);
  return { ...info, size: seg.pos };
}

/** The attempts of runSingleStream, each from byte 0. */
async function streamWhole(
  transfer: Transfer,
  info: ResourceInfo,
  part: PartFile,
  seg: Segment,
  single: WorkerResources,
  probe: Answer | undefined,
): Promise<void> {
  const { o, abort, debug } = transfer.run;
  // Never asked for: one answer is read whole, over undici.
  const requestBytes = (): number => Number.POSITIVE_INFINITY;
  let response = probe;
  // Every attempt starts again from byte 0: only getting further than ever before is progress.
  let furthest = 0;
  for (let failures = 0; ; ) {
    const fetch = new RangeFetch(fetchContext(transfer, info, part, single, requestBytes), seg);
    transfer.fetches.add(fetch);
    seg.active = true;
    try {
      const res = response ?? (await openWhole(transfer, info));
      response = undefined;
      transfer.received -= seg.pos - seg.start;
      seg.pos = 0;
      seg.flushed = 0;
      try {
        await fetch.run({ response: res, servedEnd: info.size ?? Number.POSITIVE_INFINITY });
      } finally {
        transfer.drop(res);
      }
      break;
    } catch (err) {
      const error = toQgetError(err, info.finalUrl, abort.signal);
      if (!error.transient || abort.signal.aborted) throw error;
      failures = seg.pos > furthest ? 1 : failures + 1;
      furthest = Math.max(furthest, seg.pos);
      if (failures > o.retries) throw error;
      debug(`stream failed (${error.message}); starting it again from byte 0`);
      await transfer.sleep(retryDelayFor(failures, error), abort.signal);
    } finally {
      seg.active = false;
      transfer.fetches.delete(fetch);
    }
  }
}

/** A plain GET of the whole resource, checked against the probe. */
async function openWhole(transfer: Transfer, info: ResourceInfo): Promise<Answer> {
  const { o, dispatcher, abort } = transfer.run;
  const res = await openRequest(info.finalUrl, {
    dispatcher,
    userUrl: o.url,
    headers: o.headers,
    session: o.session,
    signal: abort.signal,
  });
  try {
    const fromZero =
      res.statusCode === 206 && parseContentRange(res.headers['content-range'])?.start === 0;
    if (res.statusCode !== 200 && !fromZero) throw statusError(res);
    checkValidators(info, res.headers);
    if (res.statusCode === 200) checkWholeLength(info, res.headers);
  } catch (err) {
    discardBody(res.body);
    throw err;
  }
  return undiciAnswer(res);
}
