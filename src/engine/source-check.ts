// Agreement before use: a new source's first request asks for a range already on disk (from
// another source), and its bytes are compared with those before it may write anything. Its
// size must be the download's; its validators are recorded as its own (If-Range per source).
// When several sources answer, the majority of equal samples wins (on a tie the first URL's):
// losers are dropped with one warning line; bytes on disk that lose mean the download starts
// over without their source (SourceOutvotedError).

import { createHash } from 'node:crypto';
import { AbortError, NetworkError, type QgetError, ResourceChangedError } from '../errors.js';
import { statusError, toQgetError } from '../net/client.js';
import { redactUrl } from '../net/credentials.js';
import type { PartFile } from './part-file.js';
import { describeResource, type ResourceInfo } from './resource.js';
import type { Source } from './sources.js';
import { judgeSamples } from './source-policy.js';
import { openRunAnswer, retryDelayFor, type Transfer } from './transfer.js';

/** The bytes on disk lost the vote: the download starts over without these sources. */
export class SourceOutvotedError extends ResourceChangedError {
  readonly losers: string[];
  constructor(losers: string[]) {
    super(
      `the other sources agree on other bytes than ${losers.map(redactUrl).join(', ')}: starting over without it`,
    );
    this.name = 'SourceOutvotedError';
    this.losers = losers;
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
 * one that differs is held (no share kept for it) until every sample is in, then the vote:
 * the differing ones are dropped through `drop`, or SourceOutvotedError is thrown when the
 * sources agreeing among themselves outnumber those of the disk.
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
  const disk = createHash('sha256')
    .update(await part.read(start, end - start))
    .digest('hex');
  const samples = await Promise.all(
    candidates.map((s) =>
      fetchSample(
        transfer,
        s.url,
        info,
        start,
        end,
        AbortSignal.any([transfer.round.signal, s.dropped.signal]),
      ).then(
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
  const verdict = judgeSamples([disk, ...samples.map((s) => s?.digest)]);
  if (verdict.losers.includes(0)) {
    const losers = [...onDisk.map((s) => s.url)];
    samples.forEach((s, i) => {
      if (s?.digest === disk) losers.push(candidates[i]!.url);
    });
    throw new SourceOutvotedError(losers);
  }
  samples.forEach((sample, i) => {
    const s = candidates[i]!;
    if (sample && s.state === 'checking' && sample.digest !== disk) {
      drop(s, `serves other bytes than the other sources at ${start}-${end - 1}`);
    }
  });
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
  const { o } = transfer.run;
  const headers = { ...o.headers, range: `bytes=${start}-${end - 1}` };
  for (let attempt = 1; ; attempt++) {
    try {
      return await sampleOnce(transfer, url, info, start, end, headers, signal);
    } catch (err) {
      if (err instanceof SourceRefused) throw err;
      const error: QgetError = toQgetError(err, url, signal);
      if (error instanceof AbortError || !error.transient || attempt > o.retries) throw error;
      await transfer.sleep(retryDelayFor(attempt, error), signal);
    }
  }
}

async function sampleOnce(
  transfer: Transfer,
  url: string,
  info: Pick<ResourceInfo, 'size' | 'filename'>,
  start: number,
  end: number,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Sample> {
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
    const hash = createHash('sha256');
    let got = 0;
    for (;;) {
      const chunk = await res.read();
      if (chunk === null) break;
      const take = Math.min(chunk.length, end - start - got);
      hash.update(chunk.subarray(0, take));
      got += take;
    }
    if (got < end - start)
      throw new NetworkError(`the connection closed early at byte ${start + got}`);
    // Its own name does not matter: the file is named from the first source.
    return {
      info: { ...mine, filename: info.filename, acceptRanges: true },
      digest: hash.digest('hex'),
    };
  } finally {
    transfer.drop(res);
  }
}
