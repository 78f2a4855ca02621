// What one download shows while it runs: a bar redrawn in place on a terminal, a plain line
// every few seconds otherwise, nothing with --quiet.

import { basename } from 'node:path';
import { formatBytes, formatDuration, type ProgressState } from '../index.js';
import { SpeedMeter } from './speed-meter.js';

export interface ViewOptions {
  stream: NodeJS.WriteStream;
  quiet: boolean;
  /** Redraw in place (a terminal) or print a line every `lineEveryMs`. */
  tty: boolean;
  lineEveryMs?: number;
}

export class ProgressView {
  readonly #o: ViewOptions;
  readonly #meter = new SpeedMeter();
  #lastDraw = 0;
  #drawn = false;

  constructor(options: ViewOptions) {
    this.#o = options;
  }

  /** Feed from ProgressState.onDownloadProgress. */
  update(progress: ProgressState): void {
    if (this.#o.quiet) return;
    const now = performance.now();
    const bytes = progress.getDownloadBytes();
    this.#meter.add(bytes, now);
    const every = this.#o.tty ? 200 : (this.#o.lineEveryMs ?? 5000);
    if (now - this.#lastDraw < every) return;
    this.#lastDraw = now;
    const line = this.#line(progress, bytes);
    if (this.#o.tty) {
      const width = this.#o.stream.columns ?? 100;
      this.#o.stream.write(`\r${line.slice(0, width - 1).padEnd(width - 1)}`);
      this.#drawn = true;
    } else {
      this.#o.stream.write(`${line}\n`);
    }
  }

  #line(progress: ProgressState, bytes: number): string {
    const total = progress.totalBytes > 0 ? progress.totalBytes : undefined;
    const name = progress.path ? basename(progress.path) : '';
    const speed = `${formatBytes(this.#meter.speed)}/s`;
    const eta = formatDuration(this.#meter.eta(bytes, total));
    const conns = `${progress.connections} conn`;
    if (total === undefined) return `${name}  ${formatBytes(bytes)}  ${speed}  ${conns}`;
    const pct = Math.min(100, (100 * bytes) / total);
    if (!this.#o.tty) {
      return `${name}: ${pct.toFixed(1)}% ${formatBytes(bytes)} of ${formatBytes(total)} at ${speed}, ETA ${eta}, ${conns}`;
    }
    const width = 24;
    const filled = Math.floor((pct / 100) * width);
    const bar = `${'='.repeat(filled)}${filled < width ? '>' : ''}`.padEnd(width);
    return `${name} ${pct.toFixed(1).padStart(5)}% [${bar}] ${formatBytes(bytes)}/${formatBytes(total)}  ${speed}  ETA ${eta}  ${conns}`;
  }

  /** End the in-place line before anything else is printed. */
  finish(): void {
    if (this.#drawn) this.#o.stream.write('\n');
    this.#drawn = false;
  }
}
