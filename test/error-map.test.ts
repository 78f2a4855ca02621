// Tests for src/net/error-map.ts: what a failure below qget becomes (no network).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError, NetworkError, TimeoutError } from '../src/errors.js';
import { toQgetError } from '../src/net/error-map.js';

const URL_ = 'http://example.test:8080/f.bin';

function coded(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('toQgetError', () => {
  it('says an answer cut before its Content-Length in words, and tries again', () => {
    const e = toQgetError(coded('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), URL_);
    assert.ok(e instanceof NetworkError);
    assert.equal(e.transient, true);
    assert.match(
      e.message,
      /^example\.test:8080 closed the connection before the end of its answer/,
    );
    assert.doesNotMatch(e.message, /UND_ERR/);
  });

  it('names timeouts and unresolvable hosts; a host that does not exist is not tried again', () => {
    const t = toQgetError(coded('UND_ERR_CONNECT_TIMEOUT'), URL_);
    assert.ok(t instanceof TimeoutError);
    assert.equal(t.message, 'connecting to example.test:8080 timed out');
    const n = toQgetError(coded('ENOTFOUND'), URL_);
    assert.equal(n.message, 'cannot resolve host example.test');
    assert.equal(n.transient, false);
  });

  it('other socket failures are worth another try; Node usage errors are not', () => {
    assert.equal(toQgetError(coded('ECONNRESET'), URL_).transient, true);
    assert.equal(toQgetError(coded('ERR_INVALID_ARG_TYPE'), URL_).transient, false);
  });

  it('an abort stays an abort, with the signal reason when it is a QgetError', () => {
    assert.ok(toQgetError(coded('UND_ERR_ABORTED'), URL_) instanceof AbortError);
    const controller = new AbortController();
    const reason = new TimeoutError('no data');
    controller.abort(reason);
    assert.equal(toQgetError(new Error('x'), URL_, controller.signal), reason);
  });
});
