// How long to wait before retrying a request: Retry-After parsing (RFC 9110 §10.2.3) and
// capped exponential backoff with jitter.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT".
const IMF_OR_RFC850 =
  /^[a-z]+,\s*(\d{1,2})[\s-]([a-z]{3})[\s-](\d{2}|\d{4})\s+(\d{2}):(\d{2}):(\d{2})\s+GMT$/i;
// asctime "Sun Nov  6 08:49:37 1994", which is UTC even though it does not say so.
const ASCTIME = /^[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})$/i;

/** Milliseconds since the epoch for an HTTP-date; undefined for anything else. */
function parseHttpDate(text: string): number | undefined {
  const imf = IMF_OR_RFC850.exec(text);
  const asc = imf ? null : ASCTIME.exec(text);
  // [day, month, year, hours, minutes, seconds]
  const fields = imf
    ? imf.slice(1, 7)
    : asc
      ? [asc[2], asc[1], asc[6], asc[3], asc[4], asc[5]]
      : [];
  const monthIndex = MONTHS.indexOf(fields[1]?.toLowerCase() ?? '');
  if (monthIndex < 0) return undefined;
  let [day = 0, , year = 0, h = 0, m = 0, s = 0] = fields.map(Number);
  // RFC 9110 asks to read a two-digit year as within 50 years; for retries, "recent" is enough.
  if (fields[2]?.length === 2) year += year < 50 ? 2000 : 1900;
  if (day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  // s = 60 is a leap second; Date.UTC would roll it into the next minute, which is close enough.
  return Date.UTC(year, monthIndex, day, h, m, s);
}

/**
 * Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (a past date means 0).
 * Undefined for a missing or unreadable value.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isFinite(seconds) ? seconds : undefined;
  }
  const date = parseHttpDate(text);
  if (date === undefined || Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

export interface RetryDelayOptions {
  /** 1 for the first retry. */
  attempt: number;
  /** Delay before the first retry, before jitter. Default 250 ms. */
  baseMs?: number;
  /** Ceiling for the exponential delay, before jitter. Default 10 000 ms. */
  maxMs?: number;
  /** From the server's Retry-After; when present it replaces the backoff. */
  retryAfterSeconds?: number | undefined;
  /** Source of randomness in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

/** A server's Retry-After is obeyed up to this; beyond it we would rather fail or try again. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Milliseconds before retry number `attempt`: `base * 2^(attempt-1)` capped at `maxMs`, then
 * jittered into [50%, 100%] so many connections failing together do not retry together.
 * A Retry-After wins outright (capped at 60 s) and is not jittered: waiting less would defy it.
 */
export function retryDelay(options: RetryDelayOptions): number {
  const { retryAfterSeconds } = options;
  if (
    retryAfterSeconds !== undefined &&
    Number.isFinite(retryAfterSeconds) &&
    retryAfterSeconds >= 0
  ) {
    return Math.min(retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
  }
  const baseMs = Math.max(0, options.baseMs ?? 250);
  const maxMs = Math.max(0, options.maxMs ?? 10_000);
  const attempt = Math.max(1, Math.floor(options.attempt) || 1);
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  const random = Math.min(1, Math.max(0, (options.random ?? Math.random)()));
  return Math.round(ceiling * (0.5 + 0.5 * random));
}
