// What one download shows while it runs: a bar redrawn in place on a terminal (fitted to its
// width, see renderBar), a plain line every few seconds otherwise, nothing with --quiet.

import { basename } from 'node:path';
import { formatBytes, formatDuration, ProgressState } from '../index.js';
import { SpeedMeter } from './speed-meter.js';
import { displayWidth, fitEnd, fitMiddle, linesTaken } from './text-fit.js';

export interface ViewOptions {
  stream: NodeJS.WriteStream;
  quiet: boolean;
  /** Redraw in place (a terminal) or print a line every `lineEveryMs`. */
  tty: boolean;
  lineEveryMs?: number;
}

/** The figures one bar shows. */
export interface BarInfo {
  name: string;
  bytes: number;
  /** Undefined when the size is unknown. */
  total: number | undefined;
  speed: number;
  eta: number | null;
  connections: number;
  /** With mirrors: the connections of each source (shown as 4+4+4 conn). */
  perSource?: readonly number[] | undefined;
}

/** `12 conn`, or per source with mirrors: `4+4+4 conn`. */
function connsOf(info: BarInfo): string {
  const per = info.perSource;
  return per && per.length > 1 ? `${per.join('+')} conn` : `${info.connections} conn`;
}

const BAR_MAX = 24;
const BAR_MIN = 5;
const NAME_MIN = 10;

function bar(pct: number, width: number): string {
  const filled = Math.floor((pct / 100) * width);
  return `[${`${'='.repeat(filled)}${filled < width ? '>' : ''}`.padEnd(width)}]`;
}

/**
 * The bar's line in at most `columns - 1` columns. What gives way, in order: the name (shortened
 * in the middle, down to 10 columns), the bar (down to 5, then gone), the connection count, the
 * byte counts, then the name altogether; the speed and the ETA stay.
 */
export function renderBar(info: BarInfo, columns: number): string {
  const width = Math.max(1, columns - 1);
  const speed = `${formatBytes(info.speed)}/s`;
  const conns = connsOf(info);
  if (info.total === undefined) {
    const tail = [formatBytes(info.bytes), speed, conns];
    for (let keep = tail.length; keep >= 2; keep--) {
      const rest = tail.slice(0, keep).join('  ');
      const room = width - displayWidth(rest) - 2;
      if (room >= Math.min(NAME_MIN, displayWidth(info.name)) || keep === 2) {
        return fitEnd(room > 0 ? `${fitMiddle(info.name, room)}  ${rest}` : rest, width);
      }
    }
  }
  const total = info.total ?? 0;
  const pct = Math.min(100, (100 * info.bytes) / Math.max(1, total));
  const percent = `${pct.toFixed(1).padStart(5)}%`;
  const sizes = `${formatBytes(info.bytes)}/${formatBytes(total)}`;
  const eta = `ETA ${formatDuration(info.eta)}`;
  // Candidate layouts, from the fullest down; the first whose fixed part leaves the name its
  // minimum (or the whole name if shorter) wins and the name takes what is left.
  const nameMin = Math.min(NAME_MIN, displayWidth(info.name));
  const tails: Array<(barWidth: number) => string> = [
    (b) => `${percent} ${bar(pct, b)} ${sizes}  ${speed}  ${eta}  ${conns}`,
    (b) => `${percent} ${bar(pct, b)} ${sizes}  ${speed}  ${eta}`,
    (b) => `${percent} ${bar(pct, b)} ${speed}  ${eta}`,
  ];
  for (const tail of tails) {
    for (let b = BAR_MAX; b >= BAR_MIN; b--) {
      const rest = tail(b);
      const room = width - displayWidth(rest) - 1;
      if (room >= nameMin) return `${fitMiddle(info.name, room)} ${rest}`.trimStart();
    }
  }
  const bare = `${percent}  ${speed}  ${eta}`;
  const room = width - displayWidth(bare) - 1;
  return fitEnd(room >= 4 ? `${fitMiddle(info.name, room)} ${bare}` : bare.trimStart(), width);
}

export class ProgressView {
  readonly #o: ViewOptions;
  readonly #meter = new SpeedMeter();
  #lastDraw = 0;
  /** Width of the line drawn last (0: none on screen). */
  #drawnWidth = 0;
  #last: BarInfo | undefined;
  readonly #onResize = (): void => this.#paint();

  constructor(options: ViewOptions) {
    this.#o = options;
    if (options.tty && !options.quiet) options.stream.on('resize', this.#onResize);
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
    const total = progress.totalBytes > 0 ? progress.totalBytes : undefined;
    const info: BarInfo = {
      name: progress.path ? basename(progress.path) : '',
      bytes,
      total,
      speed: this.#meter.speed,
      eta: this.#meter.eta(bytes, total),
      connections: progress.connections,
      perSource: progress.sourceConnections,
    };
    if (this.#o.tty) {
      this.#last = info;
      this.#paint();
    } else {
      this.#o.stream.write(`${plainLine(info)}\n`);
    }
  }

  /** Redraw the line in place; after a resize a longer old line may have wrapped. */
  #paint(): void {
    if (!this.#last) return;
    const columns = this.#o.stream.columns ?? 80;
    const line = renderBar(this.#last, columns);
    const up = this.#drawnWidth > 0 ? linesTaken(this.#drawnWidth, columns) - 1 : 0;
    this.#o.stream.write(`\r${up > 0 ? `\x1b[${up}A` : ''}\x1b[J${line}`);
    this.#drawnWidth = Math.max(1, displayWidth(line));
  }

  /** End the in-place line before anything else is printed. */
  finish(): void {
    if (this.#o.tty && !this.#o.quiet) this.#o.stream.off('resize', this.#onResize);
    if (this.#drawnWidth > 0) this.#o.stream.write('\n');
    this.#drawnWidth = 0;
    this.#last = undefined;
  }
}

/** The line printed every few seconds when standard error is not a terminal. */
function plainLine(info: BarInfo): string {
  const speed = `${formatBytes(info.speed)}/s`;
  const conns = connsOf(info);
  if (info.total === undefined) {
    return `${info.name}  ${formatBytes(info.bytes)}  ${speed}  ${conns}`;
  }
  const pct = Math.min(100, (100 * info.bytes) / info.total);
  return `${info.name}: ${pct.toFixed(1)}% ${formatBytes(info.bytes)} of ${formatBytes(info.total)} at ${speed}, ETA ${formatDuration(info.eta)}, ${conns}`;
}

/** One download's view on stderr (a bar on a terminal, lines otherwise) and the progress it draws. */
export function progressOnStderr(
  io: { stderr: NodeJS.WriteStream },
  quiet: boolean,
): { view: ProgressView; progress: ProgressState } {
  const view = new ProgressView({ stream: io.stderr, quiet, tty: io.stderr.isTTY === true });
  const progress = new ProgressState({ onDownloadProgress: (p) => view.update(p) });
  return { view, progress };
}
