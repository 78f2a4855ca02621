// Tests for src/engine/failure-policy.ts: what a connection does after a failed request, as a
// table of errors and facts about the attempt, and which errors count as a refused connection.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbortError,
  HttpStatusError,
  NetworkError,
  type QgetError,
  RangeMismatchError,
  SizeMismatchError,
  TimeoutError,
} from '../src/errors.js';
import {
  CrawlError,
  decideFailure,
  type FailureDecision,
  type FailureFacts,
  IGNORED_RANGE_LIMIT,
  IGNORED_RANGE_TOTAL,
  isRefusal,
  OTHER_VERSION_LIMIT,
  OTHER_VERSION_SLACK,
} from '../src/engine/failure-policy.js';
import { OtherVersionError } from '../src/engine/resource.js';

const URL = 'http://127.0.0.1/file';

/** A facts record: a healthy attempt, an untouched fetch, nobody else transferring. */
function facts(fields: Partial<FailureFacts> = {}): FailureFacts {
  return {
    stopping: false,
    ignoredInARow: 0,
    ignoredTotal: 0,
    rangedAnswers: 0,
    otherVersionsInARow: 0,
    otherVersionsTotal: 0,
    untouched: true,
    othersTransferring: 0,
    failures: 0,
    retries: 5,
    ...fields,
  };
}

function refused(code: string): NetworkError {
  return new NetworkError('the connection was refused', {
    cause: Object.assign(new Error(code), { code }),
  });
}

const ignored = (): RangeMismatchError =>
  new RangeMismatchError('the server sent the whole body', true);

const other = (): OtherVersionError => new OtherVersionError('ETag "a" became "b"');

const table: [what: string, error: QgetError, facts: FailureFacts, expected: FailureDecision][] = [
  [
    'another version answered: that range is retried, counted in a row, not against the range',
    other(),
    facts({ otherVersionsInARow: 2, otherVersionsTotal: 4, rangedAnswers: 3, failures: 1 }),
    {
      action: 'retry',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 3,
      otherVersionsTotal: 5,
      failures: 1,
    },
  ],
  [
    'other versions in a row up to the limit: the resource changed for good',
    other(),
    facts({ otherVersionsInARow: OTHER_VERSION_LIMIT - 1 }),
    {
      action: 'changed',
      ignoredInARow: 0,
      ignoredTotal: 0,
      otherVersionsInARow: OTHER_VERSION_LIMIT,
      otherVersionsTotal: 1,
      failures: 0,
    },
  ],
  [
    'far more answers of another version than of ours: fatal, the bytes on disk kept',
    other(),
    facts({ otherVersionsTotal: OTHER_VERSION_SLACK + 3, rangedAnswers: 3 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 1,
      otherVersionsTotal: OTHER_VERSION_SLACK + 4,
      failures: 0,
    },
  ],
  [
    'a refusal while others transfer: wait, the range is not blamed',
    refused('ECONNRESET'),
    facts({ othersTransferring: 3, failures: 2 }),
    {
      action: 'wait',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 2,
    },
  ],
  [
    'a 503 while others transfer: wait',
    new HttpStatusError(503, URL),
    facts({ othersTransferring: 1 }),
    {
      action: 'wait',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a 403 to a new connection while others transfer (a cap answering 403): wait',
    new HttpStatusError(403, URL),
    facts({ othersTransferring: 2 }),
    {
      action: 'wait',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a 403 with nobody else transferring (an expired link): fatal',
    new HttpStatusError(403, URL),
    facts({ othersTransferring: 0 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a 404 while others transfer: fatal (no cap answers so)',
    new HttpStatusError(404, URL),
    facts({ othersTransferring: 2 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a refusal with nobody else transferring: the range failed',
    refused('ECONNREFUSED'),
    facts({ othersTransferring: 0 }),
    {
      action: 'retry',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 1,
    },
  ],
  [
    'a reset after bytes arrived is no refusal: the range failed',
    refused('ECONNRESET'),
    facts({ othersTransferring: 3, untouched: false }),
    {
      action: 'retry',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 1,
    },
  ],
  [
    'the first ignored range: counted, and the range retried without blaming it',
    ignored(),
    facts({ failures: 5 }),
    {
      action: 'retry',
      ignoredTotal: 1,
      ignoredInARow: 1,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 5,
    },
  ],
  [
    'the third ignored range in a row: fall back to one stream',
    ignored(),
    facts({ ignoredInARow: IGNORED_RANGE_LIMIT - 1, ignoredTotal: 2, rangedAnswers: 90 }),
    {
      action: 'fallback',
      ignoredTotal: 3,
      ignoredInARow: IGNORED_RANGE_LIMIT,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'ignored ranges alternating with answered ones: fall back at the second',
    ignored(),
    facts({ ignoredTotal: IGNORED_RANGE_TOTAL - 1, rangedAnswers: 2 }),
    {
      action: 'fallback',
      ignoredTotal: IGNORED_RANGE_TOTAL,
      ignoredInARow: 1,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a rare ignored range among many answered ones: retried',
    ignored(),
    facts({ ignoredTotal: 1, rangedAnswers: 40 }),
    {
      action: 'retry',
      ignoredTotal: 2,
      ignoredInARow: 1,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a range mismatch that is not an ignored range does not count',
    new RangeMismatchError('Content-Range 0-9 for 10-19', false),
    facts({ ignoredInARow: 2 }),
    {
      action: 'retry',
      ignoredTotal: 0,
      ignoredInARow: 2,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 1,
    },
  ],
  [
    'a non-transient error ends the attempt, counters unchanged',
    new HttpStatusError(404, URL),
    facts({ failures: 1 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 1,
    },
  ],
  [
    'a non-transient error ends the attempt even while others transfer',
    new SizeMismatchError('the downloaded file has 3 bytes, expected 4'),
    facts({ othersTransferring: 4 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a transient error within the retries: retry',
    new TimeoutError('no data received for 30 s'),
    facts({ failures: 4, retries: 5 }),
    {
      action: 'retry',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 5,
    },
  ],
  [
    'retries exhausted: the error ends the attempt',
    new TimeoutError('no data received for 30 s'),
    facts({ failures: 5, retries: 5 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 6,
    },
  ],
  [
    'no retries at all: the first failure ends the attempt',
    new HttpStatusError(500, URL),
    facts({ retries: 0 }),
    {
      action: 'fatal',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 1,
    },
  ],
  [
    'a crawling connection: reconnect, nothing counted',
    new CrawlError(),
    facts({ failures: 3, ignoredInARow: 1 }),
    {
      action: 'reconnect',
      ignoredTotal: 0,
      ignoredInARow: 1,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 3,
    },
  ],
  [
    'an abort: stop quietly',
    new AbortError(),
    facts({ failures: 1 }),
    {
      action: 'stop',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 1,
    },
  ],
  [
    'any error once the attempt is stopping: stop quietly (even a crawl or an ignored range)',
    ignored(),
    facts({ stopping: true, ignoredInARow: IGNORED_RANGE_LIMIT - 1 }),
    {
      action: 'stop',
      ignoredTotal: 0,
      ignoredInARow: IGNORED_RANGE_LIMIT - 1,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
  [
    'a crawl while stopping: stop',
    new CrawlError(),
    facts({ stopping: true }),
    {
      action: 'stop',
      ignoredTotal: 0,
      ignoredInARow: 0,
      otherVersionsInARow: 0,
      otherVersionsTotal: 0,
      failures: 0,
    },
  ],
];

describe('decideFailure', () => {
  for (const [what, error, f, expected] of table) {
    it(what, () => {
      assert.deepEqual(decideFailure(error, f), expected);
    });
  }

  it('does not change the facts it is given', () => {
    const f = facts({ ignoredInARow: 1, failures: 1 });
    decideFailure(ignored(), f);
    assert.deepEqual(f, facts({ ignoredInARow: 1, failures: 1 }));
  });
});

describe('isRefusal', () => {
  it('knows the shapes of a per-client connection cap', () => {
    assert.equal(isRefusal(new HttpStatusError(503, URL)), true);
    assert.equal(isRefusal(new HttpStatusError(429, URL)), true);
    assert.equal(isRefusal(new HttpStatusError(403, URL)), true);
    for (const code of [
      'ECONNRESET',
      'ECONNREFUSED',
      'UND_ERR_SOCKET',
      'EPIPE',
      'ERR_QGET_SOCKET_CLOSED',
    ]) {
      assert.equal(isRefusal(refused(code)), true, code);
    }
  });

  it('is not fooled by other failures', () => {
    assert.equal(isRefusal(new HttpStatusError(500, URL)), false);
    assert.equal(isRefusal(new HttpStatusError(404, URL)), false);
    assert.equal(isRefusal(refused('ETIMEDOUT')), false);
    assert.equal(isRefusal(new NetworkError('closed early')), false);
    assert.equal(isRefusal(new TimeoutError('no data')), false);
  });
});
