// What many downloads show: on a terminal, bitpit's table redrawn in place (one row per download
// `s | speed | downloaded | percent | eta | name`, then a total row); otherwise one line per
// state change; with --json one JSON object per event on standard output.

import { basename } from 'node:path';
import { type Downloader, formatBytes, formatDuration, redactUrl } from '../index.js';

export function nameOf(d: Downloader): string {
  return typeof d.path === 'string' ? basename(d.path) : redactUrl(d.url);
}

/** One row in bitpit's format. */
export function row(d: Downloader, nameWidth = 40): string {
  const pct = d.size > 0 ? `${d.percentage.toFixed(1)}%` : '--';
  const name = nameOf(d);
  const shown = name.length > nameWidth ? `…${name.slice(-(nameWidth - 1))}` : name;
  return [
    d.state[0],
    `${formatBytes(d.speed)}/s`.padStart(11),
    formatBytes(d.downloaded).padStart(10),
    pct.padStart(6),
    formatDuration(d.eta).padStart(6),
    shown,
  ].join(' | ');
}

export function totalRow(downloads: readonly Downloader[]): string {
  let speed = 0;
  let downloaded = 0;
  let size = 0;
  let known = true;
  for (const d of downloads) {
    speed += d.speed;
    downloaded += d.downloaded;
    if (d.size < 0) known = false;
    else size += d.size;
  }
  const pct = known && size > 0 ? `${((100 * downloaded) / size).toFixed(1)}%` : '--';
  const eta = known && speed > 0 ? formatDuration((size - downloaded) / speed) : '--';
  const done = downloads.filter((d) => d.state === 'complete').length;
  return [
    'T',
    `${formatBytes(speed)}/s`.padStart(11),
    formatBytes(downloaded).padStart(10),
    pct.padStart(6),
    eta.padStart(6),
    `total (${done}/${downloads.length} complete)`,
  ].join(' | ');
}

/** Redraws the table in place on a terminal. */
export class LiveTable {
  readonly #stream: NodeJS.WriteStream;
  #lines = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  draw(downloads: readonly Downloader[]): void {
    const width = (this.#stream.columns ?? 100) - 1;
    const rows = [...downloads.map((d) => row(d)), totalRow(downloads)].map((r) =>
      r.slice(0, width),
    );
    let out = this.#lines > 0 ? `\x1b[${this.#lines}A` : '';
    for (const r of rows) out += `\x1b[2K${r}\n`;
    this.#stream.write(out);
    this.#lines = rows.length;
  }
}

/** A JSON object for an event, for scripts. */
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
    ...extra,
  });
}
