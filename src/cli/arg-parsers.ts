// Value parsers for command-line options, shared by the download and daemon modes: each
// turns a string into a value or throws commander's InvalidArgumentError with one sentence.

import { InvalidArgumentError } from 'commander';
// units.js is part of the public API; imported directly so parsing does not load undici.
import { parseSize } from '../units.js';
// As units.js: redactUrl is public (index.ts), imported directly to keep parsing light.
import { redactUrl } from '../net/credentials.js';

export function intArg(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || n < min) {
      throw new InvalidArgumentError(`Expected a whole number from ${min} and up.`);
    }
    return n;
  };
}

export function secondsArg(allowNegative = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (!allowNegative && n < 0)) {
      throw new InvalidArgumentError('Expected a number of seconds.');
    }
    return n;
  };
}

/** Sizes and rates such as 500K, 2M, 1.5G (a rate may end in /s). */
export function sizeArg(value: string): number {
  try {
    return parseSize(value.replace(/\/s$/i, ''));
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** --part: a number of MiB, fractions allowed (0 = no limit). */
export function mibArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('Expected a number of MiB from 0 and up (0 = no limit).');
  }
  return n;
}

/** --bytes: a size of at least 1K (the library's smallest write batch). */
export function bytesArg(value: string): number {
  const n = sizeArg(value);
  if (n < 1024) {
    throw new InvalidArgumentError('Expected a size of 1K (1024 bytes) or more, such as 256K.');
  }
  return n;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * A URL typed without a scheme (`example.com/file.iso`) is taken as https://; `note` is called
 * with a sentence saying so. A URL with any scheme is left as it is (and refused later if it is
 * not http or https).
 */
export function withScheme(url: string, note?: (message: string) => void): string {
  const trimmed = url.trim();
  if (trimmed === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return url;
  const fixed = `https://${trimmed.replace(/^\/\//, '')}`;
  note?.(`"${redactUrl(url)}" has no scheme: taking it as ${redactUrl(fixed)}`);
  return fixed;
}
