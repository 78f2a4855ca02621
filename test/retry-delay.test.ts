// Tests for src/net/retry-delay.ts: Retry-After parsing and backoff with jitter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter, retryDelay } from '../src/net/retry-delay.js';

const NOW = Date.UTC(1994, 10, 6, 8, 49, 0); // 37 s before the RFC's example date

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('120', NOW), 120);
    assert.equal(parseRetryAfter(' 0 ', NOW), 0);
    assert.equal(parseRetryAfter('99999999999999999999', NOW), 1e20);
  });

  it('reads the three HTTP-date forms as UTC', () => {
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW), 37);
    assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW), 37);
    assert.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', NOW), 37);
    assert.equal(parseRetryAfter('sun, 06 nov 1994 08:50:00 gmt', NOW), 60);
  });

  it('rounds partial seconds up and clamps past dates to 0', () => {
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW + 36_500), 1);
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW + 3_600_000), 0);
  });

  it('returns undefined for garbage', () => {
    for (const value of [
      undefined,
      '',
      'soon',
      '-5',
      '1.5',
      '+3',
      '1e3',
      'Sun, 06 Foo 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 25:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 PST',
      '9'.repeat(400),
    ]) {
      assert.equal(parseRetryAfter(value, NOW), undefined, String(value));
    }
  });
});

describe('retryDelay', () => {
  const top = () => 0.999999999;
  const bottom = () => 0;

  it('doubles from the base and caps at maxMs', () => {
    assert.equal(retryDelay({ attempt: 1, random: top }), 250);
    assert.equal(retryDelay({ attempt: 2, random: top }), 500);
    assert.equal(retryDelay({ attempt: 3, random: top }), 1000);
    assert.equal(retryDelay({ attempt: 6, random: top }), 8000);
    assert.equal(retryDelay({ attempt: 7, random: top }), 10_000);
    assert.equal(retryDelay({ attempt: 5000, random: top }), 10_000);
    assert.equal(retryDelay({ attempt: 3, baseMs: 100, maxMs: 300, random: top }), 300);
  });

  it('jitters between 50% and 100% of the backoff', () => {
    assert.equal(retryDelay({ attempt: 3, random: bottom }), 500);
    assert.equal(retryDelay({ attempt: 3, random: () => 0.5 }), 750);
    for (let i = 0; i < 200; i++) {
      const delay = retryDelay({ attempt: 4 });
      assert.ok(delay >= 1000 && delay <= 2000, String(delay));
    }
  });

  it('treats attempts below 1 as the first retry', () => {
    assert.equal(retryDelay({ attempt: 0, random: top }), 250);
    assert.equal(retryDelay({ attempt: -3, random: top }), 250);
  });

  it('lets Retry-After win, unjittered and capped at 60 s', () => {
    assert.equal(retryDelay({ attempt: 1, retryAfterSeconds: 5, random: bottom }), 5000);
    assert.equal(retryDelay({ attempt: 9, retryAfterSeconds: 0, random: top }), 0);
    assert.equal(retryDelay({ attempt: 1, retryAfterSeconds: 3600 }), 60_000);
    assert.equal(retryDelay({ attempt: 2, retryAfterSeconds: undefined, random: top }), 500);
    assert.equal(retryDelay({ attempt: 2, retryAfterSeconds: Number.NaN, random: top }), 500);
  });
});
