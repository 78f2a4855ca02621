// `qget --enable-rpc`: the aria2 JSON-RPC daemon from the command line. Reads `-i` in aria2's
// input-file format, listens until aria2.shutdown, SIGINT or SIGTERM, then stops cleanly
// (downloads paused resumably, the session saved). A second signal exits at once.

import { readFile } from 'node:fs/promises';
import { text as readStream } from 'node:stream/consumers';
import { setFlagsFromString } from 'node:v8';
import { InvalidArgumentError } from 'commander';
import { startDaemon } from '../rpc/daemon.js';
import { parseSession, type SessionEntry } from '../rpc/session.js';
import { VERSION } from '../version.js';
import { EXIT } from './exit-codes.js';
import { type CliOptions, type Io, toDownloaderOptions } from './cli-options.js';
import { abortOnSignals } from './process.js';

export async function runDaemon(
  urls: string[],
  opts: CliOptions,
  headers: Record<string, string>,
  io: Io,
): Promise<number> {
  if (opts.output !== undefined) {
    throw new InvalidArgumentError(
      '-o names one file: with --enable-rpc give each download an out option.',
    );
  }
  if (opts.checksum !== undefined) {
    throw new InvalidArgumentError(
      '--checksum applies to one download: with --enable-rpc give each download a checksum option.',
    );
  }
  const session: SessionEntry[] =
    opts.inputFile === undefined ? [] : await readInputFile(opts.inputFile);
  session.push(...urls.map((uri) => ({ uris: [uri], options: [], line: 0 })));
  const port = opts.rpcListenPort ?? 6800;
  const heap = heapFlag([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]);
  if (heap !== undefined) setFlagsFromString(heap);
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon({
      port,
      listenAll: opts.rpcListenAll,
      allowOriginAll: opts.rpcAllowOriginAll,
      secret: opts.rpcSecret,
      maxRequestSize: opts.rpcMaxRequestSize,
      dir: opts.dir,
      maxConcurrentDownloads: opts.maxConcurrentDownloads,
      maxOverallDownloadLimit: opts.maxOverallDownloadLimit ?? opts.rateLimit,
      saveSession: opts.saveSession,
      downloadOptions: toDownloaderOptions(opts, headers),
      session,
      version: VERSION,
      log: (message) => io.stderr.write(`qget: ${message}\n`),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      io.stderr.write(`qget: cannot listen on port ${port}: ${(err as Error).message}\n`);
      return EXIT.localIo;
    }
    throw err;
  }
  if (!opts.quiet) {
    io.stderr.write(`qget: aria2 JSON-RPC on ${daemon.url} (WebSocket on the same path)\n`);
    io.stderr.write(`qget: web page on ${daemon.url.replace(/jsonrpc$/, '')}\n`);
  }
  const dispose = abortOnSignals(new AbortController(), () => void daemon.shutdown());
  try {
    await daemon.closed;
  } finally {
    dispose();
  }
  return EXIT.ok;
}

/**
 * How much V8 lets the heap grow past what the last full collection left, in percent (its own
 * rule allows up to 4x). A daemon completing downloads for days allocates ~140 KB per download,
 * most of it short-lived, and under V8's rule its RSS grew by 38% from 1,000 completed and
 * purged downloads to 100,000 with 10-20 MiB alive; at 50% by 13%, for more CPU per download
 * (docs/architecture.md, "The daemon under load"). Set at run time (V8 reads it at every full
 * collection), so the daemon starts as before.
 */
const HEAP_GROWING_PERCENT = 50;

/**
 * The V8 flag the daemon sets, or undefined when node was started with one of its own
 * (`args`: node's own arguments and NODE_OPTIONS' words).
 */
export function heapFlag(execArgv: readonly string[]): string | undefined {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return undefined;
  return `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

async function readInputFile(file: string): Promise<SessionEntry[]> {
  let content: string;
  try {
    content = file === '-' ? await readStream(process.stdin) : await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parseSession(content);
  } catch (err) {
    throw new InvalidArgumentError(`${file}: ${(err as Error).message}`);
  }
}
