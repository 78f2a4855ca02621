// What a Downloader shows of its progress, all derived from four figures it keeps (size, bytes
// downloaded, speed, rate limit): remaining, ratio, percentage, ETA, bitpit's human-readable
// pairs and its progress bar. No state of its own: the Downloader (and its run) own the figures.

import { Emitter, type SignalMap } from './emitter.js';
import { humanReadable } from '../units.js';

/** bitpit's human-readable pair: `[9.865234375, 'KB']`, `[2, 'MB/s']`. */
export type HumanReadable = [value: number, suffix: string];

/** bitpit's bar(): floor(ratio × width) `char`s padded with spaces; `unknown` × width if unknown. */
export function progressBar(ratio: number, width = 30, char = '=', unknown = '?'): string {
  if (!(ratio >= 0)) return unknown.repeat(width);
  return char.repeat(Math.floor(width * Math.min(ratio, 1))).padEnd(width);
}

export abstract class DownloadFigures<S extends SignalMap<S>> extends Emitter<S> {
  /** Total bytes, -1 while unknown. */
  abstract get size(): number;

  /** Bytes downloaded so far (for a stream: bytes handed to it). */
  abstract get downloaded(): number;

  /** Bytes per second over the last update period. */
  abstract get speed(): number;

  /** Bytes per second, 0 = unlimited. */
  abstract get rateLimit(): number;

  /** Bytes still to download, -1 while the size is unknown. */
  get remaining(): number {
    return this.size >= 0 ? Math.max(0, this.size - this.downloaded) : -1;
  }

  /** downloaded / size; 1 for an empty file, -1 while the size is unknown. */
  get ratio(): number {
    if (this.size === 0) return 1;
    return this.size > 0 ? this.downloaded / this.size : -1;
  }

  get percentage(): number {
    return 100 * this.ratio;
  }

  /** Seconds to completion at the current speed; null when unknown (no size or no speed). */
  get eta(): number | null {
    const remaining = this.remaining;
    if (remaining < 0) return null;
    if (remaining === 0) return 0;
    return this.speed > 0 ? remaining / this.speed : null;
  }

  get humanSize(): HumanReadable {
    return human(this.size);
  }

  get humanDownloaded(): HumanReadable {
    return human(this.downloaded);
  }

  get humanRemaining(): HumanReadable {
    return human(this.remaining);
  }

  get humanSpeed(): HumanReadable {
    return human(this.speed, '/s');
  }

  get humanRateLimit(): HumanReadable {
    return human(this.rateLimit, '/s');
  }

  /** bitpit's progress bar: `bar(8)` at 25% is `'==      '`, and `'????????'` with no size. */
  bar(width = 30, char = '=', unknown = '?'): string {
    return progressBar(this.ratio, width, char, unknown);
  }
}

function human(n: number, suffix = ''): HumanReadable {
  const [value, unit] = humanReadable(n) as HumanReadable;
  return [value, unit + suffix];
}
