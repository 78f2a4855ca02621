// Tests for src/engine/resource.ts: what the probe learns, and the checks every ranged answer
// must pass before a byte of it is written.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkRangeResponse,
  describeResource,
  ifRangeValue,
  parseContentRange,
  OtherVersionError,
  type ResourceInfo,
  versionConflict,
} from '../src/engine/resource.js';
import { RangeMismatchError, ResourceChangedError } from '../src/errors.js';

const URL_ = 'http://example.test/dir/file.bin';
const ETAG = '"abc"';
const LM = 'Mon, 01 Jan 2024 00:00:00 GMT';

const info: ResourceInfo = {
  url: URL_,
  finalUrl: URL_,
  size: 1000,
  acceptRanges: true,
  etag: ETAG,
  lastModified: LM,
  filename: 'file.bin',
};

function partial(start: number, end: number, total: number | '*' = 1000) {
  return {
    statusCode: 206,
    headers: {
      'content-range': `bytes ${start}-${end}/${total}`,
      'content-length': String(end - start + 1),
      etag: ETAG,
      'last-modified': LM,
    } as Record<string, string | undefined>,
  };
}

describe('parseContentRange', () => {
  it('reads bytes a-b/total and bytes a-b/*', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 99, total: 1000 });
    assert.deepEqual(parseContentRange('Bytes 10-19/*'), { start: 10, end: 19, total: undefined });
  });

  it('rejects unsatisfied, reversed, out-of-total and malformed values', () => {
    for (const value of [
      undefined,
      '',
      'bytes */1000',
      'bytes 20-10/1000',
      'bytes 0-1000/1000',
      'bytes 0-99',
      'items 0-99/1000',
      'bytes -5-99/1000',
    ]) {
      assert.equal(parseContentRange(value), undefined, String(value));
    }
  });
});

describe('describeResource', () => {
  it('takes size and range support from a 206 to bytes=0-', () => {
    const r = describeResource(URL_, {
      ...partial(0, 999),
      url: 'http://example.test/final/other.bin',
    });
    assert.equal(r.size, 1000);
    assert.equal(r.acceptRanges, true);
    assert.equal(r.etag, ETAG);
    assert.equal(r.lastModified, LM);
    assert.equal(r.url, URL_);
    assert.equal(r.finalUrl, 'http://example.test/final/other.bin');
    assert.equal(r.filename, 'other.bin');
  });

  it('a 200 means no ranges; its length is the size, absent when chunked or encoded', () => {
    const r = describeResource(URL_, {
      statusCode: 200,
      headers: { 'content-length': '1234' },
      url: URL_,
    });
    assert.equal(r.acceptRanges, false);
    assert.equal(r.size, 1234);
    assert.equal(
      describeResource(URL_, { statusCode: 200, headers: {}, url: URL_ }).size,
      undefined,
    );
    const gz = describeResource(URL_, {
      statusCode: 200,
      headers: { 'content-length': '10', 'content-encoding': 'gzip' },
      url: URL_,
    });
    assert.equal(gz.size, undefined);
  });

  it('a 206 with an unknown total, or not starting at 0, is an error (a plain GET follows)', () => {
    // Read to its end, a part of unknown size would pass for the whole file.
    assert.throws(
      () => describeResource(URL_, { ...partial(0, 99, '*'), url: URL_ }),
      (err: unknown) => err instanceof RangeMismatchError && !err.transient,
    );
    assert.throws(
      () => describeResource(URL_, { ...partial(5, 99), url: URL_ }),
      (err: unknown) => err instanceof RangeMismatchError && !err.transient,
    );
  });

  it('a 200 naming a part in its Content-Range is an error; one naming the whole is not', () => {
    for (const [start, end, total] of [
      [0, 99, 1000],
      [5, 999, 1000],
      [0, 99, '*'],
    ] as const) {
      assert.throws(
        () => describeResource(URL_, { ...partial(start, end, total), statusCode: 200, url: URL_ }),
        (err: unknown) => err instanceof RangeMismatchError && !err.transient,
      );
    }
    const whole = describeResource(URL_, { ...partial(0, 999), statusCode: 200, url: URL_ });
    assert.equal(whole.size, 1000);
  });

  it('names the file from Content-Disposition before the URL', () => {
    const r = describeResource(URL_, {
      statusCode: 200,
      headers: {
        'content-disposition': 'attachment; filename="a.bin"; filename*=UTF-8\'\'%C3%A9t%C3%A9.bin',
      },
      url: URL_,
    });
    assert.equal(r.filename, 'été.bin');
  });
});

describe('checkRangeResponse', () => {
  it('accepts the exact range and returns its exclusive end', () => {
    assert.equal(checkRangeResponse(info, partial(100, 199), 100, 200), 200);
  });

  it('accepts a shorter range than asked and says where it ends', () => {
    assert.equal(checkRangeResponse(info, partial(100, 149), 100, 200), 150);
  });

  it('a 200 to a ranged request is a RangeMismatchError with ignoredRange', () => {
    const res = {
      statusCode: 200,
      headers: { 'content-length': '1000', etag: ETAG, 'last-modified': LM },
    };
    assert.throws(
      () => checkRangeResponse(info, res, 100, 200),
      (err: unknown) => err instanceof RangeMismatchError && err.ignoredRange && err.transient,
    );
  });

  it('a 200 of another length is a changed resource', () => {
    const res = { statusCode: 200, headers: { 'content-length': '999' } };
    assert.throws(() => checkRangeResponse(info, res, 100, 200), ResourceChangedError);
  });

  it('a range starting elsewhere, reaching past the request or without a total is refused', () => {
    for (const res of [partial(101, 199), partial(100, 200), partial(100, 199, '*')]) {
      assert.throws(
        () => checkRangeResponse(info, res, 100, 200),
        (err: unknown) => err instanceof RangeMismatchError && !err.ignoredRange,
        res.headers['content-range'],
      );
    }
    const noRange = { statusCode: 206, headers: {} };
    assert.throws(() => checkRangeResponse(info, noRange, 100, 200), RangeMismatchError);
  });

  it('a Content-Length that disagrees with Content-Range is refused', () => {
    const res = partial(100, 199);
    res.headers['content-length'] = '50';
    assert.throws(() => checkRangeResponse(info, res, 100, 200), RangeMismatchError);
  });

  it('another total means the resource changed; other validators, another version', () => {
    assert.throws(
      () => checkRangeResponse(info, partial(100, 199, 2000), 100, 200),
      ResourceChangedError,
    );
    const etag = partial(100, 199);
    etag.headers.etag = '"def"';
    assert.throws(() => checkRangeResponse(info, etag, 100, 200), OtherVersionError);
    const lm = partial(100, 199);
    lm.headers['last-modified'] = 'Tue, 02 Jan 2024 00:00:00 GMT';
    assert.throws(() => checkRangeResponse(info, lm, 100, 200), OtherVersionError);
    // Even a 200 with new validators is another version, not merely an ignored range.
    const whole = { statusCode: 200, headers: { etag: '"def"', 'content-length': '1000' } };
    assert.throws(
      () => checkRangeResponse(info, whole, 100, 200),
      (err) => err instanceof OtherVersionError && !err.ignoredRange,
    );
    // A weak ETag of another backend with the same Last-Modified: the same bytes.
    const weak = partial(100, 199);
    weak.headers.etag = 'W/"backend-2"';
    assert.equal(checkRangeResponse({ ...info, etag: 'W/"backend-1"' }, weak, 100, 200), 200);
  });

  it('missing validators on a later answer are not a change', () => {
    const res = partial(100, 199);
    delete res.headers.etag;
    delete res.headers['last-modified'];
    assert.equal(checkRangeResponse(info, res, 100, 200), 200);
  });
});

describe('ifRangeValue', () => {
  it('sends a strong ETag, else Last-Modified, else nothing', () => {
    assert.equal(ifRangeValue({ etag: ETAG, lastModified: LM }), ETAG);
    assert.equal(ifRangeValue({ etag: 'W/"weak"', lastModified: LM }), LM);
    assert.equal(ifRangeValue({ etag: 'W/"weak"', lastModified: undefined }), undefined);
    assert.equal(ifRangeValue({ etag: undefined, lastModified: LM }), LM);
    assert.equal(ifRangeValue({ etag: undefined, lastModified: undefined }), undefined);
  });
});

describe('versionConflict', () => {
  const LM1 = 'Mon, 01 Jan 2024 00:00:00 GMT';
  const LM2 = 'Mon, 01 Jan 2024 01:00:00 GMT';
  const v = (etag?: string, lastModified?: string) => ({ etag, lastModified });
  const table: [string, ReturnType<typeof v>, ReturnType<typeof v>, boolean][] = [
    ['equal strong ETags', v('"a"', LM1), v('"a"', LM1), false],
    ['different strong ETags', v('"a"', LM1), v('"b"', LM1), true],
    ['different strong ETags, no dates', v('"a"'), v('"b"'), true],
    ['weak ETags differ, same Last-Modified (backends)', v('W/"a"', LM1), v('W/"b"', LM1), false],
    ['weak and strong differ, same Last-Modified', v('"a"', LM1), v('W/"b"', LM1), false],
    ['weak ETags differ, Last-Modified differs', v('W/"a"', LM1), v('W/"b"', LM2), true],
    ['weak ETags differ, no dates: weak comparison', v('W/"a"'), v('W/"b"'), true],
    ['weak and strong of one tag, no dates: weakly equal', v('W/"a"'), v('"a"'), false],
    ['same ETag, Last-Modified differs', v('"a"', LM1), v('"a"', LM2), true],
    ['one side without validators says nothing', v('"a"', LM1), v(), false],
  ];
  for (const [what, a, b, conflict] of table) {
    it(what, () => assert.equal(versionConflict(a, b) !== undefined, conflict));
  }
});
