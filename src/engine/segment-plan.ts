// The split/steal decisions over byte ranges, as pure functions over plain segment records.
// A segment owns [start, end); `pos` is the next byte to receive and `flushed` the end of what
// is confirmed on disk. Stealing only ever moves a segment's `end` down, never below `pos`.

/** A half-open byte range [start, end). */
export type ByteRange = readonly [start: number, end: number];

export interface Segment {
  readonly id: number;
  /** Moves up only when a piece hash fails (pieces.ts): its bytes are fetched again. */
  start: number;
  end: number;
  /** Next byte to receive: [start, pos) has been accepted for writing. */
  pos: number;
  /** [start, flushed) is confirmed written to the .part. */
  flushed: number;
  /** A connection is currently assigned to this segment. */
  active: boolean;
  /** Measured receive speed in bytes/s of the connection working on it, once known. */
  speed: number | undefined;
  /** Consecutive failed attempts without progress. */
  failures: number;
  /** Exclusive end of what the request in flight asked for; `pos` when none is. */
  requestEnd: number;
  /**
   * Never split: a piece fetched again after bytes of several sources failed its hash is
   * fetched by one connection, so its next check names the source that lied.
   */
  whole?: boolean;
}

export function remaining(segment: Segment): number {
  return Math.max(0, segment.end - segment.pos);
}

/** A fresh segment [start, end) with nothing received yet. */
export function newSegment(id: number, start: number, end: number): Segment {
  return {
    id,
    start,
    end,
    pos: start,
    flushed: start,
    active: false,
    speed: undefined,
    failures: 0,
    requestEnd: start,
  };
}

/** Total bytes in `ranges`. */
export function sumRanges(ranges: readonly ByteRange[]): number {
  return ranges.reduce((n, [s, e]) => n + (e - s), 0);
}

/** Merge overlapping or touching ranges; drops empty ones. */
export function mergeRanges(ranges: Iterable<ByteRange>): ByteRange[] {
  const sorted = [...ranges].filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** The parts of [0, size) not covered by `done`. */
export function missingRanges(size: number, done: Iterable<ByteRange>): ByteRange[] {
  const out: ByteRange[] = [];
  let cursor = 0;
  for (const [s, e] of mergeRanges(done)) {
    const start = Math.max(0, Math.min(s, size));
    const end = Math.max(0, Math.min(e, size));
    if (start > cursor) out.push([cursor, start]);
    cursor = Math.max(cursor, end);
  }
  if (cursor < size) out.push([cursor, size]);
  return out;
}

/**
 * Cut the missing ranges into at most about `pieces` ranges (more only when `maxPart` forces
 * it), none below `minSplit` unless the range itself is smaller. Largest ranges are cut first
 * so the connections start with similar amounts of work.
 */
export function splitRanges(
  missing: readonly ByteRange[],
  pieces: number,
  minSplit: number,
  maxPart = 0,
): ByteRange[] {
  const out: [number, number][] = missing.filter(([s, e]) => e > s).map(([s, e]) => [s, e]);
  const target = Math.max(1, Math.floor(pieces));
  for (;;) {
    let largest = -1;
    for (let i = 0; i < out.length; i++) {
      const cur = out[i]!;
      const best = largest === -1 ? undefined : out[largest]!;
      if (best === undefined || cur[1] - cur[0] > best[1] - best[0]) largest = i;
    }
    if (largest === -1) break;
    const [s, e] = out[largest]!;
    const tooBig = maxPart > 0 && e - s > maxPart;
    if (!tooBig && (out.length >= target || e - s < 2 * minSplit)) break;
    const mid = s + Math.ceil((e - s) / 2);
    out.splice(largest, 1, [s, mid], [mid, e]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

export interface StealOptions {
  /** Smallest range worth a new request between connections of similar speed. */
  minSteal: number;
  /** The stealing connection's own measured speed (bytes/s), when known. */
  thiefSpeed: number | undefined;
  /**
   * A victim whose estimated time left exceeds this (seconds) may be split below `minSteal`:
   * a crawling connection near the end must not decide the finish time.
   */
  crawlSeconds?: number;
  /** A first estimate of an active segment's speed before its meter has one (bytes/s). */
  estimate?: (segment: Segment) => number | undefined;
  /**
   * Whether the answer of an active segment finds bytes waiting at each read (the server is
   * ahead of us): a split inside its request would throw away what the server already pushed
   * into the socket buffers, tens of MiB on loopback, and gain nothing when we are the slow side.
   */
  backlogged?: (segment: Segment) => boolean;
}

export interface StealDecision {
  segment: Segment;
  /** The victim keeps [pos, splitAt); the thief takes [splitAt, end). */
  splitAt: number;
}

const ALIGN = 4096;
/** A victim this close (in seconds) to the end of its request is split there, keeping its socket. */
const KEEP_SOCKET_SECONDS = 0.5;
/**
 * A victim that finishes all it has within this (seconds) is not split inside its request: that
 * would cost its socket, and the bytes the server already pushed into the socket buffers, to save
 * less than the new request's own delay.
 */
export const MIN_STEAL_SECONDS = 0.2;
/** …and a victim not measured yet, within this at the typical (or the thief's) speed. */
export const FRESH_STEAL_SECONDS = 0.05;
/**
 * A victim under this share of the thief's speed crawls: it is split when it has more than
 * CRAWL_STEAL_SECONDS left (and more than twice what the thief needs for the part it takes),
 * whatever MIN_STEAL_SECONDS and `crawlSeconds` say. At the end of a download a small range
 * left to a crawling answer decides the finish, and what the server pushed of it is little.
 */
const FAR_SLOWER = 0.25;
export const CRAWL_STEAL_SECONDS = 0.05;

/**
 * Pick the active segment that will take longest to finish and the point to split it at so
 * both connections finish together: the victim keeps a share proportional to its speed.
 * With unknown or equal speeds that is the upper half of the largest remaining range.
 */
export function chooseSteal(
  segments: Iterable<Segment>,
  options: StealOptions,
): StealDecision | null {
  const { minSteal, thiefSpeed } = options;
  const crawlSeconds = options.crawlSeconds ?? 0.3;
  // Under a rate limit (crawlSeconds infinite) nobody is a crawler.
  const crawlerSeconds = Number.isFinite(crawlSeconds)
    ? Math.min(crawlSeconds, CRAWL_STEAL_SECONDS)
    : crawlSeconds;
  const known: number[] = [];
  const candidates: Segment[] = [];
  const speeds = new Map<Segment, number | undefined>();
  for (const seg of segments) {
    if (!seg.active || remaining(seg) <= 0 || seg.whole) continue;
    candidates.push(seg);
    const speed = seg.speed ?? options.estimate?.(seg);
    speeds.set(seg, speed);
    if (speed !== undefined && speed > 0) known.push(speed);
  }
  if (candidates.length === 0) return null;
  const typical = median(known);
  const thief = thiefSpeed !== undefined && thiefSpeed > 0 ? thiefSpeed : typical;
  // How long the whole pool needs for what is left, at the speeds known: a slow victim keeps
  // no more than it can do in that time, since every idle connection will come for the rest.
  let poolBytes = 0;
  let poolSpeed = thief ?? 0;
  for (const seg of candidates) {
    poolBytes += remaining(seg);
    poolSpeed += speeds.get(seg) ?? typical ?? 0;
  }
  const poolSeconds = poolSpeed > 0 ? poolBytes / poolSpeed : Number.POSITIVE_INFINITY;

  let best: StealDecision | null = null;
  let bestTime = -1;
  for (const seg of candidates) {
    const left = remaining(seg);
    const measured = speeds.get(seg);
    const victimSpeed = measured ?? typical;
    let keepShare = 0.5;
    // A stalled victim gives up everything, whatever is known about the thief.
    if (victimSpeed !== undefined && victimSpeed <= 0) keepShare = 0;
    else if (victimSpeed !== undefined && thief !== undefined) {
      keepShare = victimSpeed / (victimSpeed + thief);
    }
    let keep = Math.ceil(left * keepShare);
    if (victimSpeed !== undefined && victimSpeed > 0) {
      keep = Math.min(keep, Math.ceil(victimSpeed * poolSeconds));
    }
    // A victim not measured yet (its answer has not come, or just came) is not known to be
    // slow: it keeps a page at least, or two fresh connections could take a range from each
    // other back and forth without a byte arriving.
    if (seg.speed === undefined) keep = Math.max(keep, ALIGN);
    // Page-aligned splits, rounding towards the thief (the faster or equal one); a victim
    // that would keep less than a page keeps nothing, or its crawl would decide the finish.
    let splitAt = keep < ALIGN ? seg.pos : seg.pos + keep - ((seg.pos + keep) % ALIGN);
    // A split inside the victim's request costs its socket (it has to stop mid-answer); when
    // the victim reaches the end of that request soon anyway, split there instead.
    if (
      seg.requestEnd > splitAt &&
      seg.requestEnd < seg.end &&
      victimSpeed !== undefined &&
      victimSpeed > 0 &&
      (seg.requestEnd - seg.pos) / victimSpeed <= KEEP_SOCKET_SECONDS
    ) {
      splitAt = seg.requestEnd;
    }
    // A backlogged victim is split at the end of its request, or not at all.
    if (splitAt < seg.requestEnd && options.backlogged?.(seg)) {
      if (seg.requestEnd >= seg.end) continue;
      splitAt = seg.requestEnd;
    }
    const stolen = seg.end - splitAt;
    const crawler =
      measured !== undefined &&
      thief !== undefined &&
      measured < FAR_SLOWER * thief &&
      left / measured > Math.max(crawlerSeconds, (2 * stolen) / thief);
    // A victim not measured yet (its answer just came, or is on its way) is taken to go at the
    // typical speed here, or the thief's when no speed is known: at the end of a fast download
    // (requests too short for any meter) fresh requests would otherwise be cut in halves one
    // after the other, each cut wasting what the server had pushed of it.
    // Those get FRESH_STEAL_SECONDS (not known to be fast, they might crawl).
    const pace = victimSpeed ?? thief;
    const minSeconds = measured === undefined ? FRESH_STEAL_SECONDS : MIN_STEAL_SECONDS;
    if (
      pace !== undefined &&
      pace > 0 &&
      splitAt < seg.requestEnd &&
      left / pace < minSeconds &&
      !crawler
    ) {
      continue;
    }
    // Without any measured speed only the size rule applies.
    const timeLeft =
      victimSpeed === undefined
        ? 0
        : victimSpeed <= 0
          ? Number.POSITIVE_INFINITY
          : left / victimSpeed;
    // A stalled victim's tail is worth taking at any size: page-aligned splits made while its
    // speed was unknown can leave it less than a page, which it would hold until its timeout.
    const worthIt =
      stolen >= minSteal ||
      ((timeLeft > crawlSeconds || crawler) && stolen >= ALIGN) ||
      (victimSpeed !== undefined && victimSpeed <= 0 && stolen > 0);
    if (!worthIt) continue;
    // Unknown speeds compare by bytes left; known ones by time left.
    const score = victimSpeed === undefined ? left : timeLeft;
    if (score > bestTime) {
      bestTime = score;
      best = { segment: seg, splitAt };
    }
  }
  return best;
}

/** The middle of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
