// Value parsers for command-line options, shared by the download and daemon modes: each
// turns a string into a value or throws commander's InvalidArgumentError with one sentence.

import { InvalidArgumentError } from 'commander';
// units.js is part of the public API; imported directly so parsing does not load undici.
import { parseSize } from '../units.js';

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

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
