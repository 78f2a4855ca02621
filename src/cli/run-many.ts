// Many URLs from one command: a Manager with at most -m running and one total -r rate limit,
// a live table (terminal), a line per state change (otherwise) or JSON events (--json), a
// summary naming each failure, and Ctrl-C that pauses everything resumably.

import { resolve } from 'node:path';
import {
  Downloader,
  type DownloaderOptions,
  formatBytes,
  isQgetError,
  Manager,
  redactUrl,
} from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { InputEntry } from './input-file.js';
import type { CliOptions, Io } from './cli-options.js';
import { abortOnSignals, describeError } from './process.js';
import { canResume, interruptedNote } from './resume-note.js';
import { eventJson, LiveTable, nameOf } from './table-view.js';

export interface ManyOptions {
  maxRunning: number;
  json: boolean;
}

export async function runMany(
  entries: InputEntry[],
  options: DownloaderOptions,
  cli: CliOptions,
  many: ManyOptions,
  io: Io,
): Promise<number> {
  const tty = io.stderr.isTTY === true && !cli.quiet && !many.json;
  // Warnings (a name changed, another URL's bytes discarded): on a live table they would break
  // its redraw, so they are printed after it.
  const warnings: string[] = [];
  const onWarning = (message: string): void => {
    if (many.json) io.stdout.write(`${JSON.stringify({ event: 'warning', message })}\n`);
    else if (tty) warnings.push(message);
    else if (!cli.quiet) io.stderr.write(`qget: ${message}\n`);
  };
  const downloadOptions: DownloaderOptions = { ...options, onWarning };
  const manager = new Manager({
    maxRunning: many.maxRunning,
    rateLimit: cli.rateLimit ?? 0,
    restartWait: cli.retryWait,
    downloadOptions,
  });
  const downloads = entries.map(({ url, out, dir, mirrors, checksum, pieceHashes }) => {
    const own = checksum !== undefined || pieceHashes !== undefined;
    if (out === undefined && dir === undefined && !mirrors && !own) return manager.add(url);
    const folder =
      dir === undefined ? downloadOptions.dirPath : resolve(downloadOptions.dirPath ?? '.', dir);
    const options: DownloaderOptions = { ...downloadOptions, dirPath: folder, mirrors };
    if (checksum !== undefined) options.checksum = checksum;
    if (pieceHashes !== undefined) options.pieceHashes = pieceHashes;
    if (out !== undefined) options.path = resolve(folder ?? '.', out);
    return manager.add(new Downloader(url, options));
  });
  const table = tty ? new LiveTable(io.stderr) : undefined;
  const say = (line: string): void => {
    if (many.json) io.stdout.write(`${line}\n`);
    else if (!cli.quiet && !tty) io.stderr.write(`${line}\n`);
  };
  // Quiet, or drawn in the table: no line per state change (nor the listeners' cost per file).
  const lines = many.json || (!cli.quiet && !tty);
  for (const d of lines ? downloads : []) {
    d.listen('state-changed', (_d: Downloader, old: string) => {
      if (many.json) {
        const error =
          d.state === 'error' && d.lastError
            ? { code: d.lastError.code, message: d.lastError.message }
            : undefined;
        say(eventJson('state', d, { previous: old, ...(error ? { error } : {}) }));
      } else {
        const reason = d.state === 'error' && d.lastError ? `: ${d.lastError.message}` : '';
        say(`[${d.state}] ${nameOf(d)}${reason}`);
      }
    });
    if (many.json) {
      d.listen('size-changed', () => say(eventJson('size', d)));
      d.listen('speed-changed', () => say(eventJson('progress', d)));
    }
  }
  const redraw = table ? setInterval(() => table.draw(downloads), 500) : undefined;
  const controller = new AbortController();
  const dispose = abortOnSignals(controller, () => {
    manager.stopAll();
  });
  const started = performance.now();
  try {
    manager.start();
    await Promise.race([
      manager.onIdle(),
      new Promise<void>((resolve) =>
        controller.signal.addEventListener('abort', () => resolve(), { once: true }),
      ),
    ]);
    if (controller.signal.aborted) {
      manager.stopAll();
      await Promise.all(downloads.map((d) => d.join()));
    }
  } finally {
    if (redraw) clearInterval(redraw);
    table?.draw(downloads);
    table?.close();
    for (const message of warnings) io.stderr.write(`qget: ${message}\n`);
    dispose();
    await manager.stop();
  }
  return summarize(
    downloads,
    controller.signal.aborted,
    performance.now() - started,
    cli,
    many,
    io,
    options.tmpDir,
  );
}

async function summarize(
  downloads: Downloader[],
  interrupted: boolean,
  elapsedMs: number,
  cli: CliOptions,
  many: ManyOptions,
  io: Io,
  tmpDir: string | undefined,
): Promise<number> {
  const complete = downloads.filter((d) => d.state === 'complete');
  const failed = downloads.filter((d) => d.state === 'error');
  const bytes = complete.reduce((n, d) => n + Math.max(0, d.size), 0);
  if (many.json) {
    io.stdout.write(
      `${JSON.stringify({ event: 'summary', complete: complete.length, failed: failed.length, paused: downloads.length - complete.length - failed.length, bytes, seconds: elapsedMs / 1000 })}\n`,
    );
  } else if (!cli.quiet || failed.length > 0) {
    const seconds = (elapsedMs / 1000).toFixed(1);
    io.stderr.write(
      `${complete.length} of ${downloads.length} downloaded (${formatBytes(bytes)} in ${seconds} s)${failed.length ? `, ${failed.length} failed:` : ''}\n`,
    );
    for (const d of failed) {
      io.stderr.write(`  ${redactUrl(d.url)}: ${describeError(d.lastError, cli.debug)}\n`);
    }
  }
  if (interrupted) {
    const paused = downloads.filter((d) => d.state === 'pause');
    const resumable = await Promise.all(
      paused.map((d) => canResume(typeof d.path === 'string' ? d.path : undefined, tmpDir)),
    );
    const n = resumable.filter(Boolean).length;
    const note = paused.length > 0 ? interruptedNote(n, paused.length) : 'nothing was left to do.';
    io.stderr.write(`qget: interrupted; ${note}\n`);
    return EXIT.interrupted;
  }
  const first = failed[0]?.lastError;
  if (first) return isQgetError(first) ? exitCodeFor(first.code) : EXIT.internal;
  return complete.length === downloads.length ? EXIT.ok : EXIT.internal;
}
