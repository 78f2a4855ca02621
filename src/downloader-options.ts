// The Downloader's options and the precise TypeErrors for bad ones (p-queue style), shared with
// the Manager.

import type { Writable } from 'node:stream';
import { parseHttpUrl } from './net/client.js';
import type { QgetOptions } from './qget.js';

/** Options passed through to the engine unchanged (see QgetOptions). */
export type EnginePassThrough = Pick<
  QgetOptions,
  | 'headers'
  | 'userAgent'
  | 'checksum'
  | 'override'
  | 'dispatcher'
  | 'retries'
  | 'maxConnections'
  | 'connectionTestSec'
  | 'maxPartMb'
  | 'tmpDir'
  | 'fsync'
  | 'debug'
  | 'onWarning'
>;

export interface DownloaderOptions extends EnginePassThrough {
  /**
   * Where the bytes go: a file path (downloaded over many connections into `<path>.part`, resumed
   * from it), or a Writable that receives them in order over one connection and is never ended.
   * Default: the name the server gives, in `dirPath`.
   */
  path?: string | Writable | undefined;
  /** Folder for a server-named file. Default: the working directory. */
  dirPath?: string | undefined;
  /** Bytes per second, 0 = unlimited. Changes apply at once. */
  rateLimit?: number | undefined;
  /** Seconds without a byte before a connection is dropped. Default 10. */
  timeout?: number | undefined;
  /** Seconds between 'speed-changed' signals. Default 1. */
  updatePeriod?: number | undefined;
  /** Seconds to wait before restarting after a transient error; negative = never. Default -1. */
  restartWait?: number | undefined;
  /** Most bytes per write (gathered per connection for a file). Default 256 KiB. */
  chunkSize?: number | undefined;
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

export function checkUrl(url: unknown): string {
  if (typeof url !== 'string') {
    throw new TypeError(`Expected \`url\` to be a string, got ${describe(url)}`);
  }
  parseHttpUrl(url);
  return url;
}

export function checkPath(path: unknown): string | Writable | undefined {
  if (path === undefined || path === null) return undefined;
  if (typeof path === 'string' ? path !== '' : isWritable(path)) return path as string | Writable;
  throw new TypeError(
    `Expected \`path\` to be a non-empty string or a Writable stream, got ${describe(path)}`,
  );
}

/** A finite number (above `min` when given; strictly above it when `exclusive`), or the fallback. */
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
    throw new TypeError(`Expected \`${name}\` to be ${range}, got ${describe(value)}`);
  }
  return value;
}

export function checkInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(
      `Expected \`${name}\` to be an integer from 1 and up, got ${describe(value)}`,
    );
  }
  return value;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" (string)`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${value} (${typeof value})`;
  return value === null ? 'null' : typeof value;
}

/** An integer from 0 up (0 = no limit), or 0. */
export function checkCount(name: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `Expected \`${name}\` to be an integer from 0 and up (0 = no limit), got ${describe(value)}`,
    );
  }
  return value;
}
