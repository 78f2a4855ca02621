// One connection of the segmented round: its socket(s) and batch buffers, and the loop that
// takes a range, fetches it, and applies the failure policy's decision when a request fails.

import { AbortError, type QgetError, ResourceChangedError } from '../errors.js';
import { type Requester, toQgetError } from '../net/client.js';
import { bufferPair } from './batch-buffers.js';
import type { ConnectionGovernor } from './connection-governor.js';
import { decideFailure, type FailureDecision } from './failure-policy.js';
import { fetchContext, type WorkerResources } from './fetch-context.js';
import type { PartFile } from './part-file.js';
import { type OpenedAnswer, RangeFetch } from './range-fetch.js';
import type { ResourceInfo } from './resource.js';
import { crawlsBehind, requestSize, type SegmentScheduler } from './scheduler.js';
import type { Segment } from './segment-plan.js';
import { countsAgainstSource, decideSourceFailure } from './source-policy.js';
import type { Source } from './sources.js';
import { retryDelayFor, type Transfer } from './transfer.js';

/** What a worker works in: the segmented round (segmented.ts). */
export interface WorkerHost {
  readonly transfer: Transfer;
  readonly info: ResourceInfo;
  readonly part: PartFile;
  readonly scheduler: SegmentScheduler;
  readonly governor: ConnectionGovernor;
  /** The live workers' resources (their speeds tell a crawler). */
  readonly workers: Set<WorkerResources>;
  /** A number for a new worker (1, 2, …), naming its connection in snapshots. */
  newWorkerId(): number;
  /** Largest range for one request now (rate limits). */
  requestCap(): number;
  /** A rate limit is in force. */
  rated(): boolean;
  /** Seconds of transfer one request asks for (scheduler.ts requestSeconds). */
  requestSeconds(): number;
  /** A request of this round ended (its speed joins the crawl judgement's). */
  answered(fetch: RangeFetch): void;
  /** A request's answer started to flow (the crawl judgement looks at it soon). */
  transferring(fetch: RangeFetch): void;
  /** Work may have turned up for more connections: open them soon (not on the next tick). */
  wake(): void;
  /** A connection of `source` should leave (the source was dropped, or has more than its share). */
  yields(source: Source): boolean;
  /** Another source than `source` is in use or being checked. */
  othersUsable(source: Source): boolean;
  /** `source` is not used any more; its ranges go to the others. */
  drop(source: Source, reason: string): void;
  /** `source` served [start, end) (piece hashes blame who served a bad piece). */
  served(source: Source, start: number, end: number): void;
}

/** What a worker does next after a request. */
type Step = 'done' | 'retry' | 'wait' | 'stop' | 'reconnect';

/** A first range with its answer already open (the probe's). */
export interface Initial {
  segment: Segment;
  opened: OpenedAnswer;
}

export async function runWorker(
  host: WorkerHost,
  source: Source,
  initial?: Initial,
): Promise<void> {
  // A socket of its own (unless the caller gave a dispatcher), given back when the worker
  // leaves: open sockets then follow the live workers, which a per-client cap needs. Over
  // plain http that socket is a lean RangeConnection (see range-connection.ts): the probe's
  // for the worker that continues its answer, else one from the pool (kept alive from an
  // earlier download to the same origin, or new).
  const { transfer } = host;
  const info = source.info ?? host.info;
  const run = transfer.run;
  const pool = run.pool;
  const lean =
    initial?.opened.response.connection ??
    (pool && run.leanAllowed ? pool.lean(new URL(info.finalUrl)) : undefined);
  let own: Requester | undefined;
  const resources: WorkerResources = {
    dispatcher: () => {
      if (!pool) return run.dispatcher;
      own ??= pool.connection(info.finalUrl);
      return own;
    },
    lean,
    buffers: bufferPair(run.o.chunkBytes),
    id: host.newWorkerId(),
    source,
  };
  host.workers.add(resources);
  const limiters = run.o.limiters ?? [];
  for (const limiter of limiters) limiter.hold();
  try {
    await workLoop(host, source, info, initial, resources);
  } finally {
    for (const limiter of limiters) limiter.release();
    host.workers.delete(resources);
    resources.buffers.release();
    transfer.giveBack(lean);
    own?.destroy().catch(() => {});
  }
}

async function workLoop(
  host: WorkerHost,
  source: Source,
  info: ResourceInfo,
  initial: Initial | undefined,
  resources: WorkerResources,
): Promise<void> {
  const { transfer } = host;
  const backoff = AbortSignal.any([transfer.round.signal, source.dropped.signal]);
  const run = transfer.run;
  const requestBytes = (): number =>
    Math.min(host.requestCap(), requestSize(resources, run.o.maxPartBytes, host.requestSeconds()));
  let speed: number | undefined;
  let refusals = 0;
  let next: { segment: Segment; opened?: OpenedAnswer } | undefined = initial;
  while (!transfer.stopping && !transfer.fatal) {
    // Between requests: a dropped source's connections leave, and so do those above its share.
    if (next?.opened === undefined && host.yields(source)) return;
    const seg = next?.segment ?? host.scheduler.takeWork(speed);
    if (!seg) return;
    seg.active = true;
    // On the same kept-alive socket the connection's speed is known; a new socket is measured
    // afresh (the tick has a first estimate within 200 ms).
    seg.speed = resources.lean?.reusable && run.leanAllowed ? resources.speed : undefined;
    const ctx = fetchContext(transfer, info, host.part, resources, requestBytes);
    ctx.onTransferring = (f) => host.transferring(f);
    const fetch = new RangeFetch(ctx, seg);
    transfer.fetches.add(fetch);
    resources.fetch = fetch;
    const before = seg.pos;
    resources.from = before;
    let step: Step = 'done';
    let error: QgetError | undefined;
    try {
      await fetch.run(next?.opened);
      source.failuresInARow = 0;
      seg.failures = 0;
      transfer.ignoredInARow = 0;
      refusals = 0;
    } catch (err) {
      if (seg.pos > before) seg.failures = 0;
      // An answer cut short still counts against its source (a dying mirror cuts them all).
      if (fetch.started) refusals = 0;
      error = toQgetError(err, info.finalUrl);
      if (!(error instanceof AbortError)) resources.lastError = error.message;
      step = onFetchError(host, source, error, seg, fetch, before);
      if (step === 'wait') refusals++;
    } finally {
      seg.active = false;
      host.served(source, before, seg.pos);
      // A fast connection may finish before the meter's first window: its average then.
      const average = fetch.averageSpeed(performance.now());
      speed = seg.speed ?? average ?? speed;
      resources.speed = average ?? resources.speed;
      // The path's round trip, the shortest seen: one answer's wait can be long on a busy
      // server or machine, and requests sized for 20 of those would be needlessly large
      // (requestSize): a busy server loses nothing while one connection waits, and a cut
      // answer wastes what the server pushed of it.
      const rtt = fetch.rttMs;
      if (rtt !== undefined) resources.rttMs = Math.min(resources.rttMs ?? rtt, rtt);
      host.answered(fetch);
      transfer.fetches.delete(fetch);
      resources.fetch = undefined;
    }
    // A bounded request ended inside the segment: the same connection goes on with it.
    next = step === 'done' && seg.pos < seg.end && !seg.active ? { segment: seg } : undefined;
    if (step === 'reconnect') {
      run.debug(error?.message ?? 'reconnecting');
      resources.lean?.destroy();
      resources.speed = undefined;
      next = seg.pos < seg.end && !seg.active ? { segment: seg } : undefined;
      // Connections left for want of work may share this rest (stealing), now, not next tick.
      host.wake();
      continue;
    }
    if (isCrawler(host, resources)) {
      // Servers and paths pace connections unevenly; a fresh socket is the way out of a slow one.
      run.debug(
        `a connection crawls at ${Math.round((resources.speed ?? 0) / 1024)} KiB/s: reconnecting`,
      );
      resources.lean?.destroy();
      resources.speed = undefined;
      next = undefined;
    }
    if (step === 'stop') return;
    if (step === 'retry' || step === 'wait') {
      const attempt = step === 'retry' ? seg.failures : refusals;
      const waited = await transfer.sleep(retryDelayFor(attempt, error), backoff).then(
        () => true,
        () => false,
      );
      if (!waited) return;
    }
  }
}

/** Decide (failure-policy.ts) and apply: counters, the attempt's stop, the governor. */
function onFetchError(
  host: WorkerHost,
  source: Source,
  error: QgetError,
  seg: Segment,
  fetch: RangeFetch,
  before: number,
): Step {
  const { transfer } = host;
  const run = transfer.run;
  // A refusal is a per-client cap of this source's origin: only its own connections count.
  let others = 0;
  for (const w of host.workers) {
    if (w.source === source && w.fetch !== fetch && w.fetch?.transferring) others++;
  }
  const decision = decideFailure(error, {
    stopping: transfer.stopping || transfer.fatal !== undefined,
    ignoredInARow: transfer.ignoredInARow,
    ignoredTotal: transfer.ignoredTotal,
    rangedAnswers: transfer.rangedAnswers,
    otherVersionsInARow: transfer.otherVersionsInARow,
    otherVersionsTotal: transfer.otherVersionsTotal,
    untouched: seg.pos === before && !fetch.started,
    othersTransferring: others,
    failures: seg.failures,
    retries: run.o.retries,
  });
  if (dropsSource(host, source, error, decision)) {
    // Its range goes to the other sources, afresh.
    seg.failures = 0;
    return 'stop';
  }
  transfer.ignoredInARow = decision.ignoredInARow;
  transfer.ignoredTotal = decision.ignoredTotal;
  transfer.otherVersionsInARow = decision.otherVersionsInARow;
  transfer.otherVersionsTotal = decision.otherVersionsTotal;
  if (decision.failures !== seg.failures) {
    seg.failures = decision.failures;
    run.debug(
      `range ${seg.pos}-${seg.end - 1}: ${error.message} (failure ${seg.failures}/${run.o.retries})`,
    );
  }
  switch (decision.action) {
    case 'fallback':
      transfer.fallback = true;
      transfer.stop(undefined);
      return 'stop';
    case 'fatal':
      transfer.stop(error);
      return 'stop';
    case 'changed':
      transfer.stop(
        new ResourceChangedError(
          `the resource changed on the server (${error.message}, ${transfer.otherVersionsInARow} answers in a row)`,
        ),
      );
      return 'stop';
    case 'wait':
      if (source.governor.onRefusal(performance.now(), others)) {
        run.debug(
          `connection refused (${error.message}); settling at ${source.governor.limit} connections`,
        );
        return 'stop';
      }
      return 'wait';
    default:
      return decision.action;
  }
}

/** With other sources at hand, a failing source is dropped (source-policy.ts) rather than the download. */
function dropsSource(
  host: WorkerHost,
  source: Source,
  error: QgetError,
  decision: FailureDecision,
): boolean {
  if (source.state === 'dropped') return true;
  if (!countsAgainstSource(decision.action)) return false;
  const verdict = decideSourceFailure({
    action: decision.action,
    failuresInARow: source.failuresInARow,
    othersUsable: host.othersUsable(source),
  });
  source.failuresInARow++;
  if (verdict === 'keep') return false;
  host.drop(source, error.message);
  return true;
}

/** A worker far slower than its peers (not under a rate limit, where all look slow). */
function isCrawler(host: WorkerHost, resources: WorkerResources): boolean {
  const speed = resources.speed;
  if (speed === undefined || !resources.lean || host.rated()) return false;
  const others: number[] = [];
  for (const w of host.workers) if (w !== resources && w.speed !== undefined) others.push(w.speed);
  return crawlsBehind(speed, others);
}
