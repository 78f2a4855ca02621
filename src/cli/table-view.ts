// What many downloads show: on a terminal, a table redrawn in place (bitpit's columns: state,
// speed, downloaded, percent, ETA, name; then a total row), cut to the rows and columns the
// terminal has and redrawn when it is resized; otherwise one line per state change; with --json
// one JSON object per event on standard output. renderTable is pure: it is tested at any size.

import { basename } from 'node:path';
import {
  type Downloader,
  type DownloaderState,
  formatBytes,
  formatDuration,
  redactUrl,
} from '../index.js';
import { displayWidth, fitEnd, fitMiddle, linesTaken, padTo } from './text-fit.js';

export function nameOf(d: Downloader): string {
  return typeof d.path === 'string' ? basename(d.path) : redactUrl(d.url);
}

/** What one row shows, taken from a Downloader at one moment. */
export interface RowInfo {
  state: DownloaderState;
  speed: number;
  downloaded: number;
  /** -1 if unknown. */
  size: number;
  eta: number | null;
  name: string;
}

export function rowInfo(d: Downloader): RowInfo {
  return {
    state: d.state,
    speed: d.speed,
    downloaded: d.downloaded,
    size: d.size,
    eta: d.eta,
    name: nameOf(d),
  };
}

/** States in words (at most 7 letters, so the column stays narrow). */
export const STATE_WORDS: Record<DownloaderState, string> = {
  pause: 'waiting',
  start: 'opening',
  download: 'running',
  error: 'failed',
  complete: 'done',
};

interface Column {
  title: string;
  width: number;
  cell: (r: RowInfo) => string;
}

const percentOf = (downloaded: number, size: number): string =>
  size > 0 ? ((p) => (p >= 100 ? '100%' : `${p.toFixed(1)}%`))((100 * downloaded) / size) : '--';

const STATE: Column = { title: 'state', width: 7, cell: (r) => STATE_WORDS[r.state] };
const SPEED: Column = { title: 'speed', width: 10, cell: (r) => `${formatBytes(r.speed)}/s` };
const DONE: Column = { title: 'got', width: 9, cell: (r) => formatBytes(r.downloaded) };
const PERCENT: Column = { title: '%', width: 5, cell: (r) => percentOf(r.downloaded, r.size) };
/** `formatDuration`, at most 6 columns: `10h05m` fits, 100 hours and more are `>99h`. */
const etaText = (eta: number | null): string =>
  eta !== null && eta >= 100 * 3600 ? '>99h' : formatDuration(eta);
const ETA: Column = { title: 'eta', width: 6, cell: (r) => etaText(r.eta) };

/** Column sets from the widest to the narrowest; the first that leaves the name room is used. */
const LAYOUTS: Column[][] = [
  [STATE, SPEED, DONE, PERCENT, ETA],
  [STATE, SPEED, PERCENT, ETA],
  [STATE, PERCENT, ETA],
  [STATE, PERCENT],
  [STATE],
];
// A name narrower than this says little: the speed column goes first (the total row keeps it).
const NAME_MIN = 14;

function layoutFor(width: number): Column[] {
  for (const columns of LAYOUTS) {
    const fixed = columns.reduce((n, c) => n + c.width + 1, 0);
    if (fixed + NAME_MIN <= width) return columns;
  }
  return [STATE];
}

function line(columns: Column[], cells: string[], name: string, width: number): string {
  const parts = columns.map((c, i) => padTo(cells[i]!, c.width, i === 0 ? 'left' : 'right'));
  const fixed = columns.reduce((n, c) => n + c.width + 1, 0);
  return fitEnd(`${parts.join(' ')} ${fitMiddle(name, width - fixed)}`, width);
}

/** The total row's figures, as a row. */
function totalInfo(rows: readonly RowInfo[]): { info: RowInfo; label: string } {
  let speed = 0;
  let downloaded = 0;
  let size = 0;
  let known = true;
  for (const r of rows) {
    speed += r.speed;
    downloaded += r.downloaded;
    if (r.size < 0) known = false;
    else size += r.size;
  }
  const done = rows.filter((r) => r.state === 'complete').length;
  const failed = rows.filter((r) => r.state === 'error').length;
  const eta = known && speed > 0 ? (size - downloaded) / speed : null;
  const label = `total: ${done}/${rows.length} done${failed ? `, ${failed} failed` : ''}`;
  return {
    info: { state: 'download', speed, downloaded, size: known ? size : -1, eta, name: label },
    label,
  };
}

/** The total row's name cell: with no speed column, the total speed goes there first. */
function totalName(layout: Column[], speed: number, done: string, width: number): string {
  if (layout.includes(SPEED)) return done;
  const room = width - layout.reduce((n, c) => n + c.width + 1, 0);
  const full = `${formatBytes(speed)}/s, ${done}`;
  return displayWidth(full) <= room ? full : `${formatBytes(speed)}/s ${done.replace(/ .*/, '')}`;
}

/** When not all rows fit, the first in this order are shown: running, opening, failed, waiting, done. */
const PRIORITY: Record<DownloaderState, number> = {
  download: 0,
  start: 1,
  error: 2,
  pause: 3,
  complete: 4,
};

function hiddenSummary(hidden: readonly RowInfo[]): string {
  const counts = new Map<string, number>();
  for (const r of hidden)
    counts.set(STATE_WORDS[r.state], (counts.get(STATE_WORDS[r.state]) ?? 0) + 1);
  if (counts.size === 1) return `… and ${hidden.length} more ${[...counts.keys()][0]}`;
  const parts = [...counts].map(([word, n]) => `${n} ${word}`);
  return `… and ${hidden.length} more (${parts.join(', ')})`;
}

/**
 * The table's lines for a terminal of `columns` x `rows`: every line at most `columns - 1` wide
 * (the last column is left free so no terminal wraps) and at most `rows - 1` lines (the cursor
 * waits on the line below), so redrawing in place never scrolls.
 */
export function renderTable(rows: readonly RowInfo[], columns: number, height: number): string[] {
  const width = Math.max(1, columns - 1);
  const lines = Math.max(1, height - 1);
  const layout = layoutFor(width);
  const total = totalInfo(rows);
  const totalLine = line(
    layout,
    ['total', ...layout.slice(1).map((c) => c.cell(total.info))],
    totalName(layout, total.info.speed, total.label.slice('total: '.length), width),
    width,
  );
  const header = lines >= 5;
  const room = lines - 1 - (header ? 1 : 0);
  const out: string[] = [];
  if (header)
    out.push(
      line(
        layout,
        layout.map((c) => c.title),
        'name',
        width,
      ),
    );
  if (room > 0) {
    let shown: RowInfo[] = [...rows];
    let hidden: RowInfo[] = [];
    if (rows.length > room) {
      const order = rows
        .map((r, i) => ({ r, i }))
        .sort((a, b) => PRIORITY[a.r.state] - PRIORITY[b.r.state] || a.i - b.i)
        .map((x) => x.r);
      shown = order.slice(0, room - 1);
      hidden = order.slice(room - 1);
    }
    for (const r of shown)
      out.push(
        line(
          layout,
          layout.map((c) => c.cell(r)),
          r.name,
          width,
        ),
      );
    if (hidden.length > 0) out.push(fitEnd(hiddenSummary(hidden), width));
  }
  out.push(totalLine);
  return out;
}

/** What LiveTable needs of a terminal stream (a NodeJS.WriteStream has it). */
export interface TermStream {
  columns?: number;
  rows?: number;
  write(chunk: string): unknown;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

/**
 * Redraws the table in place on a terminal: back up over the lines drawn last time (counted at
 * the terminal's present width, since a narrower terminal may have wrapped them), erase to the
 * end of the screen, draw. It redraws at once when the terminal is resized.
 */
export class LiveTable {
  readonly #stream: TermStream;
  /** Widths of the lines drawn last, and the width of the terminal then. */
  #drawn: number[] = [];
  #last: readonly RowInfo[] = [];
  readonly #onResize = (): void => this.#paint();

  constructor(stream: TermStream) {
    this.#stream = stream;
    stream.on?.('resize', this.#onResize);
  }

  draw(downloads: readonly Downloader[]): void {
    this.drawRows(downloads.map(rowInfo));
  }

  drawRows(rows: readonly RowInfo[]): void {
    this.#last = rows;
    this.#paint();
  }

  /** Stop following resizes (the table stays on screen). */
  close(): void {
    this.#stream.off?.('resize', this.#onResize);
  }

  #paint(): void {
    const columns = this.#stream.columns ?? 80;
    const height = this.#stream.rows ?? 24;
    const lines = renderTable(this.#last, columns, height);
    const up = this.#drawn.reduce((n, w) => n + linesTaken(w, columns), 0);
    const back = up > 0 ? `\r\x1b[${up}A` : '\r';
    this.#stream.write(`${back}\x1b[J${lines.join('\n')}\n`);
    this.#drawn = lines.map(displayWidth);
  }
}

/** A JSON object for an event, for scripts. */
/** One source of a download with mirrors: its connections now and at most, its bytes. */
function sourceJson(s: NonNullable<Downloader['sources']>[number]): Record<string, unknown> {
  return {
    url: redactUrl(s.url),
    state: s.state,
    connections: s.live,
    maxConnections: s.connections,
    bytes: s.bytes,
    ...(s.error === undefined ? {} : { error: s.error }),
  };
}

export function eventJson(
  event: string,
  d: Downloader,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    event,
    time: new Date().toISOString(),
    url: redactUrl(d.url),
    path: typeof d.path === 'string' ? d.path : null,
    state: d.state,
    size: d.size,
    downloaded: d.downloaded,
    speed: Math.round(d.speed),
    ...(d.sources ? { sources: d.sources.map(sourceJson) } : {}),
    ...extra,
  });
}
