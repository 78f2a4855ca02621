// Agreement before use: a new source's first request asks for a range already on disk (from
// another source), and its bytes are compared with those before it may write anything. Its
// size must be the download's; its validators are recorded as its own (If-Range per source).
// When the samples disagree, hashes decide where they can (Metalink piece hashes, or a checksum
// of a file no larger than a span: sample-hashes.ts): each side's bytes of the hashed span are
// hashed and the side that matches wins, whatever its numbers. Else the majority of equal
// samples wins (on a tie the first URL's), and under a whole-file checksum the choice is noted
// for the checksum's error. Losers are dropped with one warning line; bytes on disk that lose
// mean the download starts over without their source (SourceOutvotedError).

import { createHash } from 'node:crypto';
import { AbortError, NetworkError, type QgetError, ResourceChangedError } from '../errors.js';
import { statusError, toQgetError } from '../net/client.js';
import { redactUrl } from '../net/credentials.js';
import type { PartFile } from './part-file.js';
import { describeResource, type ResourceInfo } from './resource.js';
import {
  type HashedSpan,
  hashedSpan,
  hashedWinner,
  SpanHasher,
  type SpanResult,
} from './sample-hashes.js';
import { mergeRanges } from './segment-plan.js';
import type { Source } from './sources.js';
import { judgeSamples } from './source-policy.js';
import { openRunAnswer, retryDelayFor, type Transfer } from './transfer.js';

/** The bytes on disk lost the vote: the download starts over without these sources. */
export class SourceOutvotedError extends ResourceChangedError {
  readonly losers: string[];
  /** Every loser was already dropped with its own warning: no other line is due. */
  readonly told: boolean;
  /** `named`: the losers not yet warned about (the message names those). */
  constructor(losers: string[], byHash = false, named: string[] = losers) {
    const who = (named.length > 0 ? named : losers).map(redactUrl).join(', ');
    super(
      byHash
        ? `the hashes back other bytes than those of ${who}: starting over without it`
        : `the other sources agree on other bytes than ${who}: starting over without it`,
    );
    this.name = 'SourceOutvotedError';
    this.losers = losers;
    this.told = named.length === 0;
  }
}

/** Why a source is not used (its sample could not be had, or is not the resource's). */
export class SourceRefused extends Error {}

export interface Sample {
  info: ResourceInfo;
  digest: string;
}

/**
 * Check `candidates` against the bytes `[start, end)` on disk, which came from `onDisk`. A
 * source whose sample equals them is active at once (`ready` is told, to give it connections);
 * one that differs is held (no share kept for it) until every sample is in, then the decision:
 * by the hashes when they can judge the range (decideByHashes), else by the vote. The losers
 * are dropped through `drop`, or SourceOutvotedError is thrown when the bytes on disk lose.
 */
export async function checkSources(
  transfer: Transfer,
  part: PartFile,
  info: ResourceInfo,
  range: readonly [number, number],
  onDisk: readonly Source[],
  candidates: readonly Source[],
  drop: (source: Source, reason: string) => void,
  ready: () => void,
): Promise<void> {
  for (const s of candidates) s.state = 'checking';
  const [start, end] = range;
  transfer.run.debug(`checking ${candidates.length} source(s) against bytes ${start}-${end - 1}`);
  const disk = createHash('sha256')
    .update(await part.read(start, end - start))
    .digest('hex');
  const samples = await Promise.all(
    candidates.map((s) =>
      fetchSample(transfer, s.url, info, start, end, sourceSignal(transfer, s)).then(
        (sample) => {
          if (sample.digest === disk && s.state === 'checking' && !transfer.stopping) {
            s.info = sample.info;
            s.state = 'active';
            transfer.run.debug(`${redactUrl(s.url)} serves the same bytes: in use`);
            ready();
          } else {
            s.held = true;
          }
          return sample;
        },
        (err: unknown) => {
          if (transfer.run.abort.signal.aborted || transfer.stopping) return undefined;
          drop(s, err instanceof SourceRefused ? err.message : toQgetError(err, s.url).message);
          return undefined;
        },
      ),
    ),
  );
  if (transfer.stopping) return;
  const digests = [disk, ...samples.map((s) => s?.digest)];
  if (new Set(digests.filter((d) => d !== undefined)).size < 2) return;
  const { pieces, checksum } = transfer.run.o;
  const span = hashedSpan(info.size ?? 0, range, pieces, checksum);
  const expected = span
    ? await decideByHashes(transfer, part, info, span, range, disk, onDisk, candidates, samples)
    : undefined;
  if (transfer.stopping) return;
  const where = `${start}-${end - 1}`;
  if (span && expected === undefined) {
    transfer.run.debug(`no source's bytes ${where} match the hashes: the majority decides`);
  }
  const verdict = judgeSamples(digests, expected);
  if (!span && checksum) {
    // A whole-file checksum cannot judge 64 KiB of a larger file: the majority decided, and a
    // wrong choice shows only at the end, where this note names it (download-job.ts).
    const lost = verdict.losers.map((i) =>
      i === 0 ? 'the bytes on disk' : candidates[i - 1]!.url,
    );
    transfer.run.votes.push(
      `the sources disagreed on bytes ${where} and the majority was kept (${lost.map(redactUrl).join(', ')} set aside): the majority served wrong bytes`,
    );
  }
  const byHash = expected !== undefined;
  if (verdict.losers.includes(0)) {
    const losers = [...onDisk];
    samples.forEach((s, i) => {
      if (s?.digest === disk) losers.push(candidates[i]!);
    });
    // One warning a source: those dropped already (a bad piece) were named then.
    const named = losers.filter((s) => s.state !== 'dropped').map((s) => s.url);
    // Out of this round from now on: a piece of theirs failing its hash while the round winds
    // down is no news (a loaded run warned twice about a liar).
    for (const s of losers) {
      s.state = 'dropped';
      s.error ??= 'outvoted';
    }
    throw new SourceOutvotedError(
      losers.map((s) => s.url),
      byHash,
      named,
    );
  }
  samples.forEach((sample, i) => {
    const s = candidates[i]!;
    if (sample && s.state === 'checking' && sample.digest !== disk) {
      drop(
        s,
        byHash
          ? `its bytes ${where} fail the ${span!.kind === 'pieces' ? 'piece hash' : 'checksum'}`
          : `serves other bytes than the other sources at ${where}`,
      );
    }
  });
}

/** Aborted with the round or when `s` is dropped. */
function sourceSignal(transfer: Transfer, s: Source): AbortSignal {
  return AbortSignal.any([transfer.round.signal, s.dropped.signal]);
}

/**
 * The sample digest the hashes back, or undefined: for each distinct sample, its side's bytes
 * of `span` are hashed, those of the disk read from the .part when all of them are there (else
 * fetched from a source on disk), those of a candidate fetched from it.
 */
async function decideByHashes(
  transfer: Transfer,
  part: PartFile,
  info: ResourceInfo,
  span: HashedSpan,
  range: readonly [number, number],
  disk: string,
  onDisk: readonly Source[],
  candidates: readonly Source[],
  samples: readonly (Sample | undefined)[],
): Promise<string | undefined> {
  const sides = new Map<string, Source | undefined>([[disk, undefined]]);
  samples.forEach((s, i) => {
    if (s && !sides.has(s.digest)) sides.set(s.digest, candidates[i]);
  });
  const covered = mergeRanges(transfer.confirmed()).some(
    ([s, e]) => s <= span.start && e >= span.end,
  );
  const hashSide = async (digest: string, source: Source | undefined): Promise<SpanResult> => {
    if (digest === disk && covered) return hashDisk(part, span, range);
    const from = source ?? onDisk[0];
    if (!from) throw new SourceRefused('no source of the bytes on disk is left');
    const signal = sourceSignal(transfer, from);
    return fetchRange(transfer, from.url, info, span.start, span.end, signal, () => {
      const h = new SpanHasher(span, range);
      return { update: (c) => h.update(c), finish: () => h.result() };
    }).then((r) => r.result);
  };
  const results = await Promise.all(
    [...sides].map(([digest, source]) =>
      hashSide(digest, source).then(
        (result) => ({ digest, result }),
        (err: unknown) => {
          transfer.run.debug(`the hashed bytes of a source could not be had: ${String(err)}`);
          return { digest, result: undefined };
        },
      ),
    ),
  );
  return hashedWinner(results);
}

/** The span's bytes as they are in the .part. */
async function hashDisk(
  part: PartFile,
  span: HashedSpan,
  range: readonly [number, number],
): Promise<SpanResult> {
  const h = new SpanHasher(span, range);
  const step = 1024 * 1024;
  for (let at = span.start; at < span.end; at += step) {
    h.update(await part.read(at, Math.min(step, span.end - at)));
  }
  return h.result();
}

/** Where the bytes of a range go as they arrive (a fresh one per attempt). */
interface RangeSink<T> {
  update(chunk: Uint8Array): void;
  finish(): T;
}

/** The bytes `[start, end)` of `url`, retried while transient; its own resource record. */
export async function fetchSample(
  transfer: Transfer,
  url: string,
  info: Pick<ResourceInfo, 'size' | 'filename'>,
  start: number,
  end: number,
  signal: AbortSignal,
): Promise<Sample> {
  const got = await fetchRange(transfer, url, info, start, end, signal, () => {
    const hash = createHash('sha256');
    return { update: (c) => hash.update(c), finish: () => hash.digest('hex') };
  });
  return { info: got.info, digest: got.result };
}

/** `[start, end)` of `url` fed to a sink, retried while transient; the source's own record. */
async function fetchRange<T>(
  transfer: Transfer,
  url: string,
  info: Pick<ResourceInfo, 'size' | 'filename'>,
  start: number,
  end: number,
  signal: AbortSignal,
  sink: () => RangeSink<T>,
): Promise<{ info: ResourceInfo; result: T }> {
  const { o } = transfer.run;
  const headers = { ...o.headers, range: `bytes=${start}-${end - 1}` };
  for (let attempt = 1; ; attempt++) {
    try {
      return await rangeOnce(transfer, url, info, start, end, headers, signal, sink());
    } catch (err) {
      if (err instanceof SourceRefused) throw err;
      const error: QgetError = toQgetError(err, url, signal);
      if (error instanceof AbortError || !error.transient || attempt > o.retries) throw error;
      await transfer.sleep(retryDelayFor(attempt, error), signal);
    }
  }
}

async function rangeOnce<T>(
  transfer: Transfer,
  url: string,
  info: Pick<ResourceInfo, 'size' | 'filename'>,
  start: number,
  end: number,
  headers: Record<string, string>,
  signal: AbortSignal,
  sink: RangeSink<T>,
): Promise<{ info: ResourceInfo; result: T }> {
  const res = await openRunAnswer(transfer.run, url, headers, signal);
  try {
    if (res.statusCode === 200) throw new SourceRefused('does not serve byte ranges');
    if (res.statusCode !== 206) throw statusError(res);
    let mine: ResourceInfo;
    try {
      mine = describeResource(url, res, start);
    } catch (err) {
      throw new SourceRefused((err as Error).message);
    }
    if (mine.size !== info.size) {
      throw new SourceRefused(`reports a size of ${mine.size ?? 'unknown'}, not ${info.size}`);
    }
    const range = res.headers['content-range'] ?? '';
    if (!range.startsWith(`bytes ${start}-${end - 1}/`)) {
      throw new SourceRefused(`answered bytes=${start}-${end - 1} with Content-Range "${range}"`);
    }
    let got = 0;
    for (;;) {
      const chunk = await res.read();
      if (chunk === null) break;
      const take = Math.min(chunk.length, end - start - got);
      sink.update(chunk.subarray(0, take));
      got += take;
    }
    if (got < end - start)
      throw new NetworkError(`the connection closed early at byte ${start + got}`);
    // Its own name does not matter: the file is named from the first source.
    return {
      info: { ...mine, filename: info.filename, acceptRanges: true },
      result: sink.finish(),
    };
  } finally {
    transfer.drop(res);
  }
}
