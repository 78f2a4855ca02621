// Decisions about the sources of one download (mirrors), as pure functions over plain records
// so every case is tested without a network: how many connections each source gets, which one
// a new connection goes to, who wins when the sources' sample bytes disagree, and when a
// failing source is dropped.

import type { FailureAction } from './failure-policy.js';

/** A source's first range overlaps at least this much of what is already on disk. */
export const SAMPLE_BYTES = 64 * 1024;
/** Failures in a row (no good answer between them) after which a source is dropped. */
export const SOURCE_FAILURE_LIMIT = 3;

/** What the connection split needs to know about one source. */
export interface SourceLoad {
  /** Not dropped: it has a share of the connections (kept for it while it is being checked). */
  usable: boolean;
  /** Checked and in use: it may get connections now. */
  ready: boolean;
  /** Connections it may have now (its governor's target: ramp, measured per-client limit). */
  cap: number;
  /** Connections working for it now. */
  live: number;
}

/**
 * The connections each source should have, `total` in all: an even split over the usable
 * sources (earlier sources get the remainder), none above its cap; what a capped source cannot
 * take goes to the others. A source still being checked has its share kept for it, so the
 * first source does not open connections that would have to leave a moment later.
 */
export function fairShares(total: number, sources: readonly SourceLoad[]): number[] {
  const shares = sources.map(() => 0);
  let left = Math.max(0, Math.floor(total));
  for (;;) {
    const open = sources
      .map((_s, i) => i)
      .filter((i) => sources[i]!.usable && shares[i]! < sources[i]!.cap);
    if (left === 0 || open.length === 0) return shares;
    const each = Math.max(1, Math.floor(left / open.length));
    for (const i of open) {
      if (left === 0) break;
      const give = Math.min(each, sources[i]!.cap - shares[i]!, left);
      shares[i]! += give;
      left -= give;
    }
  }
}

/**
 * The source a new connection goes to: the usable one furthest below its share (the earlier on
 * a tie); -1 when every source has its share.
 */
export function chooseSource(shares: readonly number[], sources: readonly SourceLoad[]): number {
  let best = -1;
  let bestGap = 0;
  sources.forEach((s, i) => {
    const gap = (shares[i] ?? 0) - s.live;
    if (s.ready && s.live < s.cap && gap > bestGap) {
      best = i;
      bestGap = gap;
    }
  });
  return best;
}

/** Whether a source has more connections than its share while another lacks some. */
export function overShare(
  index: number,
  shares: readonly number[],
  sources: readonly SourceLoad[],
): boolean {
  const mine = sources[index];
  if (!mine || mine.live <= (shares[index] ?? 0)) return false;
  return sources.some((s, i) => i !== index && s.ready && s.live < (shares[i] ?? 0));
}

/** The verdict on sample bytes several sources served for the same range. */
export interface SampleVerdict {
  /** Indexes of the sources whose bytes win. */
  winners: number[];
  /** Indexes of the sources whose bytes differ from the winners' (dropped). */
  losers: number[];
}

/**
 * Several sources served the same range: `digests[i]` is source i's (undefined: it gave none,
 * it takes no part). The largest group of equal digests wins; on a tie, the group of the
 * earliest source (the first URL). With `expected` (a checksum or piece hash of that range),
 * that decides instead: its group wins, everyone else loses.
 */
export function judgeSamples(
  digests: readonly (string | undefined)[],
  expected?: string,
): SampleVerdict {
  const groups = new Map<string, number[]>();
  digests.forEach((d, i) => {
    if (d === undefined) return;
    const group = groups.get(d);
    if (group) group.push(i);
    else groups.set(d, [i]);
  });
  let winner: string | undefined = expected;
  if (winner === undefined) {
    let best: number[] = [];
    for (const [digest, members] of groups) {
      if (
        members.length > best.length ||
        (members.length === best.length && members[0]! < best[0]!)
      ) {
        best = members;
        winner = digest;
      }
    }
  }
  const winners = winner === undefined ? [] : (groups.get(winner) ?? []);
  const losers: number[] = [];
  digests.forEach((d, i) => {
    if (d !== undefined && d !== winner) losers.push(i);
  });
  return { winners, losers };
}

/** What is known about a failure of one source's request. */
export interface SourceFailureFacts {
  /** What the download's failure policy decided for it (failure-policy.ts). */
  action: FailureAction;
  /** The source's failures in a row before this one. */
  failuresInARow: number;
  /** Another source is usable (verified or being verified, not dropped). */
  othersUsable: boolean;
}

/**
 * keep: the decision stands as for a single source; drop: the source is dropped and its ranges
 * go to the others. A source is dropped, while another remains, on what would end the download
 * (a permanent error, a changed resource, ignored ranges, retries exhausted) or after
 * SOURCE_FAILURE_LIMIT failures in a row. The last source is never dropped: its failure is the
 * download's.
 */
export function decideSourceFailure(facts: SourceFailureFacts): 'keep' | 'drop' {
  if (!facts.othersUsable) return 'keep';
  switch (facts.action) {
    case 'fatal':
    case 'changed':
    case 'fallback':
      return 'drop';
    case 'retry':
      return facts.failuresInARow + 1 >= SOURCE_FAILURE_LIMIT ? 'drop' : 'keep';
    default:
      return 'keep';
  }
}

/** A source this much slower per connection than the fastest other one… */
export const SLOW_SOURCE_FRACTION = 0.1;
/** …for this long (ms) is dropped as far slower than the others. */
export const SLOW_SOURCE_MS = 3000;

/**
 * Whether a source is far slower than the others: its speed per transferring connection under
 * SLOW_SOURCE_FRACTION of the fastest other source's (bytes/s, undefined: not measured).
 */
export function farSlower(
  mine: number | undefined,
  others: readonly (number | undefined)[],
): boolean {
  const best = Math.max(0, ...others.filter((s): s is number => s !== undefined));
  return mine !== undefined && best > 0 && mine < SLOW_SOURCE_FRACTION * best;
}

/** Whether an error action counts as a failure of the source (not a stop, crawl or refusal). */
export function countsAgainstSource(action: FailureAction): boolean {
  return action !== 'stop' && action !== 'reconnect' && action !== 'wait';
}

/**
 * The range a new source's first request asks for, to be compared with what is on disk:
 * SAMPLE_BYTES (the whole file when smaller) at the start of the first confirmed range that
 * holds that many; undefined while none does.
 */
export function sampleRange(
  size: number,
  confirmed: readonly (readonly [number, number])[],
): [number, number] | undefined {
  const want = Math.min(SAMPLE_BYTES, size);
  if (want <= 0) return undefined;
  for (const [s, e] of confirmed) if (e - s >= want) return [s, s + want];
  return undefined;
}
