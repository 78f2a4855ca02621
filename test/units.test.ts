// Tests for src/units.ts: size parsing, bitpit's humanReadable, CLI formatting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionError } from '../src/errors.js';
import { formatBytes, formatDuration, humanReadable, parseSize } from '../src/units.js';
import { KiB, MiB } from './helpers/content.js';

describe('parseSize', () => {
  it('reads plain bytes and binary multiples', () => {
    assert.equal(parseSize('500'), 500);
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('500K'), 500 * KiB);
    assert.equal(parseSize('2M'), 2 * MiB);
    assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('1T'), 1024 ** 4);
    assert.equal(parseSize('.5k'), 512);
    assert.equal(parseSize(' 3 M '), 3 * MiB);
  });

  it('accepts B and iB suffixes in any case', () => {
    for (const text of ['2MiB', '2MB', '2m', '2mb', '2mib', '2M']) {
      assert.equal(parseSize(text), 2 * MiB, text);
    }
    assert.equal(parseSize('500B'), 500);
    assert.equal(parseSize('500b'), 500);
  });

  it('rounds fractional bytes', () => {
    assert.equal(parseSize('1.1K'), 1126);
    assert.equal(parseSize('0.5'), 1);
  });

  it('throws InvalidOptionError with a sentence for garbage', () => {
    for (const text of [
      '',
      ' ',
      'abc',
      'NaN',
      'Infinity',
      '1X',
      '1iB',
      'K',
      '1..2',
      '1e3',
      '2 MiBs',
    ]) {
      assert.throws(
        () => parseSize(text),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.code === 'ERR_INVALID_OPTION' &&
          error.message.includes(`"${text}"`) &&
          error.message.endsWith('.'),
        text,
      );
    }
  });

  it('rejects negative and absurdly large sizes', () => {
    assert.throws(() => parseSize('-5M'), /cannot be negative/);
    assert.throws(() => parseSize('99999999E'), /too large/);
  });
});

describe('humanReadable', () => {
  it('matches bitpit examples', () => {
    assert.deepEqual(humanReadable(10102), [9.865234375, 'KiB']);
    assert.deepEqual(humanReadable(999), [999, 'B']);
    assert.deepEqual(humanReadable(1000), [0.9765625, 'KiB']);
    assert.deepEqual(humanReadable(0), [0, 'B']);
  });

  it('goes up the suffixes and stops at YiB', () => {
    assert.deepEqual(humanReadable(5 * MiB), [5, 'MiB']);
    assert.deepEqual(humanReadable(1000 * MiB), [1000 / 1024, 'GiB']);
    const [value, suffix] = humanReadable(1024 ** 10);
    assert.equal(suffix, 'YiB');
    assert.equal(value, 1024 ** 2);
  });

  it('honours digits', () => {
    assert.deepEqual(humanReadable(10102, 5), [10102, 'B']);
    assert.deepEqual(humanReadable(100, 2), [100 / 1024, 'KiB']);
    assert.deepEqual(humanReadable(99, 2), [99, 'B']);
  });

  it('keeps the sign of negative numbers', () => {
    assert.deepEqual(humanReadable(-10102), [-9.865234375, 'KiB']);
    assert.deepEqual(humanReadable(-999), [-999, 'B']);
  });

  it('maps null and undefined to [null, null]', () => {
    assert.deepEqual(humanReadable(null), [null, null]);
    assert.deepEqual(humanReadable(undefined), [null, null]);
  });
});

describe('formatBytes', () => {
  it('shows three significant digits with binary units', () => {
    assert.equal(formatBytes(10102), '9.87 KiB');
    assert.equal(formatBytes(256 * MiB), '256 MiB');
    assert.equal(formatBytes(1.5 * MiB), '1.50 MiB');
    assert.equal(formatBytes(15.25 * 1024 ** 3), '15.3 GiB');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1024), '1.00 KiB');
    assert.equal(formatBytes(-2048), '-2.00 KiB');
    assert.equal(formatBytes(Number.NaN), '--');
  });
});

describe('formatDuration', () => {
  it('formats hours, minutes and seconds compactly', () => {
    assert.equal(formatDuration(3720), '1h02m');
    assert.equal(formatDuration(185), '3m05s');
    assert.equal(formatDuration(42), '42s');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(59.6), '1m00s');
    assert.equal(formatDuration(90000), '25h00m');
  });

  it('shows -- when the duration is unknown', () => {
    assert.equal(formatDuration(null), '--');
    assert.equal(formatDuration(Number.POSITIVE_INFINITY), '--');
    assert.equal(formatDuration(Number.NaN), '--');
    assert.equal(formatDuration(-1), '--');
  });
});
