// THE option checks of every surface (qget(), Downloader, Manager, the daemon): one error class,
// InvalidOptionError (ERR_INVALID_OPTION, exit code 2 in the CLI), and one message format in
// p-queue's wording: "Expected `name` to be <what>, got <value> (<type>)".

import type { Writable } from 'node:stream';
import { InvalidOptionError } from '../errors.js';
import { parseHttpUrl } from '../net/client.js';

/** Smallest batch / write size: below it every write is a system call for a few bytes. */
export const MIN_CHUNK_BYTES = 1024;

/** A value as the messages show it: `-1 (number)`, `"x" (string)`, `null`, `object`. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" (string)`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${value} (${typeof value})`;
  return value === null ? 'null' : typeof value;
}

/** The one message format: Expected `name` to be <expected>, got <value>. */
export function optionError(name: string, expected: string, value: unknown): InvalidOptionError {
  return new InvalidOptionError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
}

/** A finite number (from `min` when given; strictly above it when `exclusive`), or the fallback. */
export function checkNumber(
  name: string,
  value: unknown,
  fallback: number,
  min?: number,
  exclusive = false,
): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (min === undefined || (exclusive ? value > min : value >= min));
  if (!ok) {
    const range =
      min === undefined
        ? 'a finite number'
        : `a number ${exclusive ? 'above' : 'from'} ${min}${exclusive ? '' : ' and up'}`;
    throw optionError(name, range, value);
  }
  return value;
}

/** A whole number from `min` up, or the fallback. */
export function checkInteger(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw optionError(name, `an integer from ${min} and up`, value);
  }
  return value;
}

/** An integer from 0 up (0 = no limit), or 0. */
export function checkCount(name: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw optionError(name, 'an integer from 0 and up (0 = no limit)', value);
  }
  return value;
}

/** A plain object (an options bag), or undefined. */
export function checkObject<T extends object>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw optionError(name, 'an object', value);
  return value as T;
}

/** An http(s) URL string; a string that is not one is an InvalidUrlError. */
export function checkUrl(url: unknown): string {
  if (typeof url !== 'string') throw optionError('url', 'a string', url);
  parseHttpUrl(url);
  return url;
}

/** A Writable stream (duck-typed: Duplex and Transform streams qualify too). */
export function isWritable(value: unknown): value is Writable {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Writable).write === 'function' &&
    typeof (value as Writable).on === 'function'
  );
}

export function checkPath(path: unknown): string | Writable | undefined {
  if (path === undefined || path === null) return undefined;
  if (typeof path === 'string' ? path !== '' : isWritable(path)) return path as string | Writable;
  throw optionError('path', 'a non-empty string or a Writable stream', path);
}
