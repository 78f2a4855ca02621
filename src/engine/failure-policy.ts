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

/** Consecutive 200s to ranged requests after which ranges are considered gone. */
export const IGNORED_RANGE_LIMIT = 3;

/**
 * retry: the range failed, back off and try it again; wait: this connection was refused (by a
 * per-client cap), back off without blaming the range; stop: leave quietly (the attempt is
 * stopping anyway); reconnect: drop the socket and go on with the same range at once;
 * fallback: the server ignores ranges, go on as one stream; fatal: this error ends the attempt.
 */
export type FailureAction = 'retry' | 'wait' | 'stop' | 'reconnect' | 'fallback' | 'fatal';

export interface FailureFacts {
  /** The attempt is stopping or has already failed. */
  stopping: boolean;
  /** Ranged requests answered with a 200 in a row before this error. */
  ignoredInARow: number;
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
  let { ignoredInARow, failures } = facts;
  if (facts.stopping || error instanceof AbortError) {
    return { action: 'stop', ignoredInARow, failures };
  }
  if (error instanceof CrawlError) return { action: 'reconnect', ignoredInARow, failures };
  if (error instanceof RangeMismatchError && error.ignoredRange) {
    ignoredInARow++;
    if (ignoredInARow >= IGNORED_RANGE_LIMIT)
      return { action: 'fallback', ignoredInARow, failures };
  }
  if (!error.transient) return { action: 'fatal', ignoredInARow, failures };
  // The connection is refused, not the range: it says nothing about the range's health.
  if (isRefusal(error) && facts.untouched && facts.othersTransferring > 0) {
    return { action: 'wait', ignoredInARow, failures };
  }
  failures++;
  return { action: failures > facts.retries ? 'fatal' : 'retry', ignoredInARow, failures };
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
  if (error instanceof HttpStatusError) return error.statusCode === 503 || error.statusCode === 429;
  if (error instanceof NetworkError) {
    const code = errorCode(error.cause);
    return code !== undefined && REFUSAL_CODES.has(code);
  }
  return false;
}
