// `-o -`: one URL written to standard output as one ordered stream (the Downloader's Writable
// mode), with progress on stderr; Ctrl-C stops it and exits 130.

import { basename } from 'node:path';
import { AbortError, Downloader, type DownloaderOptions, isQgetError } from '../index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { CliOptions, Io } from './cli-options.js';
import { progressOnStderr } from './progress-view.js';
import { abortOnSignals, describeError } from './process.js';

export async function runToStdout(
  url: string,
  options: DownloaderOptions,
  cli: CliOptions,
  io: Io,
): Promise<number> {
  const { view, progress } = progressOnStderr(io, cli.quiet);
  progress.path = basename(new URL(url).pathname) || url;
  const d = new Downloader(url, {
    ...options,
    path: io.stdout,
    rateLimit: cli.rateLimit ?? 0,
    updatePeriod: 0.2,
  });
  const report = (): void =>
    progress.updateDownload(d.downloaded, d.size >= 0 ? d.size : undefined);
  d.listen('speed-changed', report);
  const controller = new AbortController();
  const dispose = abortOnSignals(controller, () => d.stop());
  try {
    d.start();
    await d.join();
    report();
    view.finish();
    if (d.state === 'complete') return EXIT.ok;
    const error = d.state === 'pause' ? new AbortError() : d.lastError;
    if (error instanceof AbortError) {
      io.stderr.write('qget: interrupted; what was written to standard output is incomplete.\n');
      return EXIT.interrupted;
    }
    io.stderr.write(`qget: error: ${describeError(error, cli.debug)}\n`);
    return isQgetError(error) ? exitCodeFor(error.code) : EXIT.internal;
  } finally {
    dispose();
  }
}
