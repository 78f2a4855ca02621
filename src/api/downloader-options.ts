// The Downloader's options, shared with the Manager; their checks are in checks.ts.

import type { Writable } from 'node:stream';
import type { QgetOptions } from './qget.js';

/** Options passed through to the engine unchanged (see QgetOptions). */
export type EnginePassThrough = Pick<
  QgetOptions,
  | 'mirrors'
  | 'refresh'
  | 'headers'
  | 'userAgent'
  | 'checksum'
  | 'pieceHashes'
  | 'override'
  | 'dispatcher'
  | 'proxy'
  | 'noProxy'
  | 'retries'
  | 'maxRedirects'
  | 'maxConnections'
  | 'connectionTestSec'
  | 'maxPartMb'
  | 'tmpDir'
  | 'fsync'
  | 'debug'
  | 'onWarning'
  | 'auth'
  | 'netrc'
  | 'loadCookies'
  | 'saveCookies'
  | 'caCertificate'
  | 'insecure'
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

/** The options a Downloader hands to its engine as they are: all but its own. */
export function enginePassThrough(options: DownloaderOptions): EnginePassThrough {
  const {
    path: _p,
    dirPath: _d,
    rateLimit: _r,
    timeout: _t,
    updatePeriod: _u,
    restartWait: _w,
    chunkSize: _c,
    ...base
  } = options;
  return base;
}

/**
 * Options objects a Manager gives every download it creates (its own copy of downloadOptions):
 * the first Downloader made from one checks its engine options, the next ones do not (true once
 * checked). The checks do not depend on the URL (a proxy URL, a CA file, a checksum...); a value
 * changed meanwhile in an object they hold (headers) fails the download's start instead.
 */
const sharedOptions = new WeakMap<DownloaderOptions, boolean>();

/** `options` is handed to many Downloaders and never changed: its check is made once. */
export function shareOptions(options: DownloaderOptions): void {
  if (!sharedOptions.has(options)) sharedOptions.set(options, false);
}

/** Run `check` (which throws on a bad option) unless `options` is shared and passed it already. */
export function checkOnce(options: DownloaderOptions, check: () => void): void {
  if (sharedOptions.get(options) === true) return;
  check();
  if (sharedOptions.has(options)) sharedOptions.set(options, true);
}
