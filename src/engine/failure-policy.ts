// What a connection does after one of its requests failed, decided from the error and a few
// facts about the attempt: a pure function, so every case is tested without a network. The
// worker applies the decision (worker.ts).

import {
  AbortError,
  HttpStatusError,
  NetworkError,
  type QgetError,
  RangeMismatchError,
} from '../errors.js';
import { errorCode } from '../net/client.js';
import { OtherVersionError } from './resource.js';

/** Consecutive 200s to ranged requests after which ranges are considered gone. */
export const IGNORED_RANGE_LIMIT = 3;
/**
 * 200s to ranged requests in all after which ranges are unreliable, when they are at least
 * IGNORED_RANGE_SHARE of the ranged answers: a balancer with one backend that ignores ranges
 * answers every second or third request with the whole body, never three in a row. Each such
 * answer is closed at once, but a server (above all on a fast path) has pushed up to its socket
 * buffers' worth of it by then: one stream costs less than going on.
 */
export const IGNORED_RANGE_TOTAL = 2;
export const IGNORED_RANGE_SHARE = 0.25;
/**
 * Answers of another version in a row (none of ours between them, in the order answers arrive)
 * after which the resource is taken to have changed for good. Fewer are a balancer over
 * backends at different versions: only those ranges are retried.
 */
export const OTHER_VERSION_LIMIT = 6;
/**
 * Answers of another version the attempt tolerates beyond its own answered ranges: a balancer
 * alternating between two versions answers about one of ours per other one, and is waited
 * out; far more of the other version than of ours ends the attempt safely (its bytes saved).
 */
export const OTHER_VERSION_SLACK = 16;

/**
 * retry: the range failed, back off and try it again; wait: this connection was refused (by a
 * per-client cap), back off without blaming the range; stop: leave quietly (the attempt is
 * stopping anyway); reconnect: drop the socket and go on with the same range at once;
 * fallback: the server ignores ranges, go on as one stream; fatal: this error ends the attempt;
 * changed: the resource changed on the server for good, the download starts over.
 */
export type FailureAction =
  | 'retry'
  | 'wait'
  | 'stop'
  | 'reconnect'
  | 'fallback'
  | 'fatal'
  | 'changed';

export interface FailureFacts {
  /** The attempt is stopping or has already failed. */
  stopping: boolean;
  /** Ranged requests answered with a 200 in a row before this error. */
  ignoredInARow: number;
  /** Ranged requests answered with a 200 in all, before this error. */
  ignoredTotal: number;
  /** Ranged requests answered as asked (206) in all. */
  rangedAnswers: number;
  /** Answers of another version of the resource in a row before this error. */
  otherVersionsInARow: number;
  /** Answers of another version in all, before this error. */
  otherVersionsTotal: number;
  /** The fetch neither received a byte of its range nor got a valid answer. */
  untouched: boolean;
  /** Other connections of the attempt transferring right now. */
  othersTransferring: number;
  /** Consecutive failures of the range without progress, before this one. */
  failures: number;
  /** Failures of one range the download tolerates. */
  retries: number;
}

export interface FailureDecision {
  action: FailureAction;
  /** The counters after this error. */
  ignoredInARow: number;
  ignoredTotal: number;
  otherVersionsInARow: number;
  otherVersionsTotal: number;
  failures: number;
}

/** Ends a fetch whose connection crawls far behind its peers, so it goes on over a fresh one. */
export class CrawlError extends NetworkError {
  constructor() {
    super('the connection crawls far behind the others: going on over a fresh one');
    this.name = 'CrawlError';
  }
}

export function decideFailure(error: QgetError, facts: FailureFacts): FailureDecision {
  let { ignoredInARow, ignoredTotal, otherVersionsInARow, otherVersionsTotal, failures } = facts;
  const decide = (action: FailureAction): FailureDecision => ({
    action,
    ignoredInARow,
    ignoredTotal,
    otherVersionsInARow,
    otherVersionsTotal,
    failures,
  });
  if (facts.stopping || error instanceof AbortError) return decide('stop');
  if (error instanceof CrawlError) return decide('reconnect');
  if (error instanceof OtherVersionError) {
    otherVersionsInARow++;
    otherVersionsTotal++;
    if (otherVersionsInARow >= OTHER_VERSION_LIMIT) return decide('changed');
    if (otherVersionsTotal > facts.rangedAnswers + OTHER_VERSION_SLACK) return decide('fatal');
    // The balancer's choice, not the range's health: retried without counting against it.
    return decide('retry');
  }
  if (error instanceof RangeMismatchError && error.ignoredRange) {
    ignoredInARow++;
    ignoredTotal++;
    if (ignoredInARow >= IGNORED_RANGE_LIMIT) return decide('fallback');
    const share = ignoredTotal / (ignoredTotal + facts.rangedAnswers);
    if (ignoredTotal >= IGNORED_RANGE_TOTAL && share >= IGNORED_RANGE_SHARE) {
      return decide('fallback');
    }
    // The whole body says nothing about the range: retried without counting against it.
    return decide('retry');
  }
  // The connection is refused, not the range: it says nothing about the range's health. A 403
  // is one of a cap's shapes too; a link that expired for good ends the attempt once no other
  // connection transfers.
  if (isRefusal(error) && facts.untouched && facts.othersTransferring > 0) return decide('wait');
  if (!error.transient) return decide('fatal');
  failures++;
  return decide(failures > facts.retries ? 'fatal' : 'retry');
}

const REFUSAL_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'UND_ERR_SOCKET',
  'EPIPE',
  'ERR_QGET_SOCKET_CLOSED',
]);

/** The shapes a server's per-client connection cap takes. */
export function isRefusal(error: QgetError): boolean {
  if (error instanceof HttpStatusError) {
    return error.statusCode === 503 || error.statusCode === 429 || error.statusCode === 403;
  }
  if (error instanceof NetworkError) {
    const code = errorCode(error.cause);
    return code !== undefined && REFUSAL_CODES.has(code);
  }
  return false;
}
