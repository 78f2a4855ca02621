// net/headers.ts: the one home of the header rules (Content-Length, Content-Range, response
// heads, "Name: value" lines), and Downloader.updateSize() following the same size rule (D3).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Downloader } from '../src/api/downloader.js';
import { InvalidOptionError, parseHeaderLines } from '../src/index.js';
import {
  contentLength,
  flattenHeadLines,
  flattenHeaders,
  lowerCaseKeys,
  parseContentRange,
  parseUnsatisfiedRange,
} from '../src/net/headers.js';

describe('contentLength', () => {
  it('reads digits only, for an identity encoding only', () => {
    assert.equal(contentLength({ 'content-length': '123' }), 123);
    assert.equal(contentLength({ 'content-length': ' 0 ' }), 0);
    assert.equal(contentLength({ 'content-length': '123', 'content-encoding': 'IDENTITY' }), 123);
    assert.equal(contentLength({ 'content-length': '123', 'content-encoding': 'gzip' }), undefined);
    for (const raw of [undefined, '', '-1', '1e3', '12a', '0x10', '1.5']) {
      assert.equal(contentLength({ 'content-length': raw }), undefined, String(raw));
    }
  });
});

describe('Content-Range', () => {
  it('parses a satisfied range and rejects anything inconsistent', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 99, total: 1000 });
    assert.deepEqual(parseContentRange('BYTES 5-5/*'), { start: 5, end: 5, total: undefined });
    for (const v of [
      undefined,
      '',
      'bytes */1000',
      'bytes 9-0/10',
      'bytes 0-10/10',
      'items 0-1/2',
    ]) {
      assert.equal(parseContentRange(v), undefined, String(v));
    }
  });

  it('reads the total of an unsatisfied range only', () => {
    assert.equal(parseUnsatisfiedRange('bytes */1000'), 1000);
    assert.equal(parseUnsatisfiedRange('bytes */0'), 0);
    assert.equal(parseUnsatisfiedRange('bytes 0-1/2'), undefined);
    assert.equal(parseUnsatisfiedRange(undefined), undefined);
  });
});

describe('response heads', () => {
  it('flattens undici heads and raw lines by one rule: lower-case names, first value wins', () => {
    assert.deepEqual(
      flattenHeaders({ ETag: '"a"', 'set-cookie': ['x=1', 'y=2'], empty: undefined }),
      {
        etag: '"a"',
        'set-cookie': 'x=1',
        empty: undefined,
      },
    );
    assert.deepEqual(
      flattenHeadLines(['Content-Length: 10', 'X-A:  one ', 'x-a: two', 'no colon', ': nameless']),
      { 'content-length': '10', 'x-a': 'one' },
    );
  });

  it('lower-cases request header names', () => {
    assert.deepEqual(lowerCaseKeys({ 'User-Agent': 'a', Accept: '*/*' }), {
      'user-agent': 'a',
      accept: '*/*',
    });
  });
});

describe('parseHeaderLines (public)', () => {
  it('turns "Name: value" lines into lower-cased headers, a later line winning', () => {
    assert.deepEqual(parseHeaderLines(['X-Token: a:b ', 'Accept:*/*', 'x-token: c']), {
      'x-token': 'c',
      accept: '*/*',
    });
    assert.deepEqual(parseHeaderLines(['X-Empty:']), { 'x-empty': '' });
  });

  it('rejects a line without a colon or with a name that is not an HTTP token', () => {
    for (const line of ['NoColon', ': value', 'Bad Name: v', 'Bad(Name): v', '']) {
      assert.throws(
        () => parseHeaderLines([line]),
        (err: unknown) =>
          err instanceof InvalidOptionError &&
          err.code === 'ERR_INVALID_OPTION' &&
          err.message === `"${line}" is not a header; write "Name: value".`,
        line,
      );
    }
  });
});

describe('Downloader.updateSize() follows the engine rule (D3)', () => {
  const heads: Record<string, Record<string, string>> = {
    '/gzip': { 'content-length': '123', 'content-encoding': 'gzip' },
    '/plain': { 'content-length': '123' },
    '/range': { 'content-range': 'bytes 0-9/456', 'content-length': '10' },
    '/unsatisfied': { 'content-range': 'bytes */789' },
  };
  const server = createServer((req, res) => {
    res.writeHead(200, heads[req.url ?? ''] ?? {});
    res.end();
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a compressed length is no size; a Content-Range total is', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sizeOf = (path: string) => new Downloader(`${base}${path}`).updateSize();
    assert.equal(await sizeOf('/gzip'), -1);
    assert.equal(await sizeOf('/plain'), 123);
    assert.equal(await sizeOf('/range'), 456);
    assert.equal(await sizeOf('/unsatisfied'), 789);
  });
});
