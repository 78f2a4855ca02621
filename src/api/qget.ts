// The one-call API of the Python qget, in TypeScript: validated options in, a Promise of the
// result out. Everything else lives in the engine.

import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { type DownloadResult, DownloadJob, type EngineOptions } from '../engine/download-job.js';
import { parseChecksum } from '../engine/checksum.js';
import type { PieceHashes } from '../engine/metalink.js';
import { MetalinkAnswer } from '../engine/metalink-answer.js';
import { AbortError, InvalidOptionError, isQgetError } from '../errors.js';
import { redactUrls } from '../net/credentials.js';
import { MAX_REDIRECTS, parseHttpUrl } from '../net/client.js';
import { lowerCaseKeys } from '../net/headers.js';
import { type ProxyByScheme, ProxyRoutes } from '../net/proxy.js';
import { checkInteger, checkNumber, MIN_CHUNK_BYTES } from './checks.js';
import {
  checkPieceHashes,
  type MetalinkFileOutcome,
  MetalinkFilesError,
  readMetalink,
} from './metalink-downloads.js';
import type { ProgressState } from './progress.js';
import type { HttpSession } from '../net/session.js';
import { TokenBucket } from '../rate/token-bucket.js';
import { VERSION } from '../version.js';
import {
  Cookies,
  loadCookies,
  newSession,
  type SessionOptionsIn,
  saveCookies,
  tlsOptions,
} from './session-options.js';

/** What qget says it is, unless told otherwise (`userAgent`, or a User-Agent header). */
export const DEFAULT_USER_AGENT = `qget/${VERSION}`;

export interface QgetOptions extends SessionOptionsIn {
  /**
   * Other URLs of the same file (mirrors): used at once beside `url`, each once its first answer
   * has the same size and its bytes of a range already downloaded are the same; a source that
   * disagrees or fails is dropped (one warning) and its ranges go to the others. `maxConnections`
   * is the total over all sources.
   */
  mirrors?: readonly string[] | undefined;
  /**
   * Link refresh: a `.part` saved from another URL (an expired link) is continued from `url`
   * when `url` serves the same file (same size, 64 KiB on disk compared byte for byte); else
   * the download starts over. Default false: another URL's `.part` is discarded.
   */
  refresh?: boolean | undefined;
  /** Output path. Default: the name the server gives, in `dir` (or the working directory). */
  filepath?: string | undefined;
  /** Folder for a server-named output file. */
  dir?: string | undefined;
  /** Replace an existing output file. Default false: an existing file is an error. */
  override?: boolean | undefined;
  /** Receives download and finalize progress. */
  progress?: ProgressState | undefined;
  /** Most simultaneous connections. Default 16. */
  maxConnections?: number | undefined;
  /** Longest time (s) spent measuring the server's connection limit while downloading; 0 = off. Default 5. */
  connectionTestSec?: number | undefined;
  /**
   * Bytes gathered per connection before one write. Each connection holds two such batches (one
   * being written, one filling), so memory is bounded by 2 × connections × chunkBytes. Default 256 KiB.
   */
  chunkBytes?: number | undefined;
  /** Largest range asked for in one request, in MiB; 0 = no limit (default). */
  maxPartMb?: number | undefined;
  /** Folder for the `.part` file and its state. Default: beside the output. */
  tmpDir?: string | undefined;
  /** Log decisions (retries, steals, limits) to stderr, or to the given function. */
  debug?: boolean | ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Extra request headers. Authorization, Cookie and Proxy-Authorization go to the origin of
   * `url` only: a redirect elsewhere drops them. A User-Agent here wins over `userAgent`.
   */
  headers?: Record<string, string> | undefined;
  /** The User-Agent header. Default `qget/<version>`. */
  userAgent?: string | undefined;
  /** `sha256=<hex>` (also sha1, sha512, md5): verified before the file is put in place. */
  checksum?: string | undefined;
  /**
   * Piece hashes (a Metalink's): each piece is hashed as soon as it is on disk, a bad one is
   * fetched again and the source that served it dropped; with mirrors they also decide which
   * source is right when their bytes disagree. Ignored when their count does not fit the size.
   */
  pieceHashes?: PieceHashes | undefined;
  /** Seconds without a byte before a connection is dropped and its range continued elsewhere. Default 10. */
  timeout?: number | undefined;
  /** Consecutive failures of one range before the download fails. Default 5. */
  retries?: number | undefined;
  /** Redirects followed at most; one more (or a redirect loop) is ERR_TOO_MANY_REDIRECTS. Default 10. */
  maxRedirects?: number | undefined;
  /** Bytes per second for this download; 0 = unlimited. */
  rateLimit?: number | undefined;
  /** fdatasync the file before the rename. Default true. */
  fsync?: boolean | undefined;
  /**
   * The proxy: `http://`, `https://`, `socks5://` or `socks5h://` (the proxy resolves names),
   * with `user:password@` for its credentials. `false` or '' for none; `{ http, https }` for
   * one per scheme (a missing one: direct). Default: from the
   * environment, as curl reads it (http_proxy, https_proxy, all_proxy, no_proxy; see README).
   * Ignored when `dispatcher` is given.
   */
  proxy?: string | false | ProxyByScheme | undefined;
  /** Hosts that go direct: `*`, names (with their subdomains), IPs, CIDR ranges, comma-separated. Default: no_proxy from the environment. */
  noProxy?: string | undefined;
  /**
   * An undici dispatcher to share connections between downloads. Its own TLS settings apply:
   * with it, `caCertificate` or `insecure: true` is an InvalidOptionError.
   */
  dispatcher?: Dispatcher | undefined;
  /** Receives one line a user should see: saved bytes of another URL discarded, a name changed. */
  onWarning?: ((message: string) => void) | undefined;
}

export interface QgetResult extends DownloadResult {}

const MIN_SPLIT = 1024 * 1024;

/** The `timeout` option (seconds, 0 = none) in ms, as timers take it. */
export function timeoutMs(seconds: number): number {
  return seconds > 0 ? seconds * 1000 : 2 ** 31 - 1;
}

/** A header value that cannot end the header line it is written into. */
function headerValue(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '' || /[\r\n\0]/.test(value)) {
    throw new InvalidOptionError(
      `Expected \`${name}\` to be a non-empty string on one line, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The `mirrors` option: http(s) URLs (each parsed as `url` is). */
function checkMirrors(mirrors: readonly string[] | undefined): string[] | undefined {
  if (mirrors === undefined) return undefined;
  if (!Array.isArray(mirrors) || mirrors.some((m) => typeof m !== 'string')) {
    throw new InvalidOptionError(
      `Expected \`mirrors\` to be an array of URLs, got ${JSON.stringify(mirrors)}`,
    );
  }
  for (const m of mirrors) parseHttpUrl(m);
  return [...mirrors];
}

/** Turn public options into the engine's, with defaults and InvalidOptionErrors (checks.ts). */
export function engineOptions(
  url: string,
  options: QgetOptions = {},
  session: HttpSession = newSession(url, options, new Cookies()),
): EngineOptions {
  const log =
    typeof options.debug === 'function'
      ? options.debug
      : options.debug
        ? (message: string) => console.error(`qget: ${message}`)
        : undefined;
  const debug = log && ((message: string) => log(redactUrls(message)));
  const timeout = checkNumber('timeout', options.timeout, 10, 0);
  const rateLimit = checkNumber('rateLimit', options.rateLimit, 0, 0);
  const progress = options.progress;
  return {
    url,
    mirrors: checkMirrors(options.mirrors),
    refresh: options.refresh === true,
    output: options.filepath,
    dir: options.dir,
    override: options.override ?? false,
    maxConnections: checkInteger('maxConnections', options.maxConnections, 16),
    connectionTestSec: checkNumber('connectionTestSec', options.connectionTestSec, 5, 0),
    chunkBytes: checkInteger('chunkBytes', options.chunkBytes, 256 * 1024, MIN_CHUNK_BYTES),
    maxPartBytes: Math.round(checkNumber('maxPartMb', options.maxPartMb, 0, 0) * 1024 * 1024),
    minSplitBytes: MIN_SPLIT,
    tmpDir: options.tmpDir,
    // Like curl: -A (userAgent) sets the User-Agent, a User-Agent header overrides it.
    headers: {
      'accept-encoding': 'identity',
      'user-agent': headerValue('userAgent', options.userAgent, DEFAULT_USER_AGENT),
      ...lowerCaseKeys(options.headers ?? {}),
    },
    checksum: options.checksum === undefined ? undefined : parseChecksum(options.checksum),
    pieces: checkPieceHashes(options.pieceHashes),
    timeoutMs: timeoutMs(timeout),
    retries: checkInteger('retries', options.retries, 5, 0),
    maxRedirects: checkInteger('maxRedirects', options.maxRedirects, MAX_REDIRECTS, 0),
    fsync: options.fsync ?? true,
    signal: options.signal,
    dispatcher: options.dispatcher,
    proxy: new ProxyRoutes({ proxy: options.proxy, noProxy: options.noProxy }),
    session,
    tls: tlsOptions(options),
    limiters: rateLimit > 0 ? [new TokenBucket(rateLimit)] : [],
    debug,
    warn: options.onWarning,
    observer: progress
      ? {
          resource: (_info, path) => {
            progress.path = path;
          },
          progress: (bytes, total) => progress.updateDownload(bytes, total),
          connections: (n) => {
            progress.connections = n;
          },
          sources: (n) => {
            progress.sourceConnections = n;
          },
          verify: (bytes, total) => progress.updateRewrite(bytes, total),
        }
      : {},
  };
}

/**
 * Download `url` over many connections into `options.filepath` (or a server-given name).
 * Resolves once the file is complete, verified and in place; an aborted or failed download
 * leaves a `.part` and its state for the next call to continue.
 */
export async function qget(url: string, options: QgetOptions = {}): Promise<QgetResult> {
  try {
    return await runJob(url, options, { followMetalink: true });
  } catch (err) {
    if (!(err instanceof MetalinkAnswer)) throw err;
    // A Metalink document (application/metalink4+xml): the files it names, from its sources.
    const [first] = await qgetMetalink(err.xml, options);
    return first!;
  }
}

/**
 * Download the files a Metalink document names (RFC 5854 `.meta4` or v3 `.metalink`, its text):
 * each from its URLs at once (the first as `url`, the others as mirrors), verified by its
 * whole-file hash (sha-256 preferred) and its piece hashes as pieces land. Saved as `filepath`
 * when the document names one file and it is given, else under its name in `dir`. One file after
 * the other, each tried whatever became of the ones before: resolves with one result per file,
 * in the document's order, when all are complete; else rejects, once every file was tried, with
 * a MetalinkFilesError (the first failure's code; `files`: each file's result or error). An abort
 * (`signal`) ends it at once with its AbortError.
 */
export async function qgetMetalink(xml: string, options: QgetOptions = {}): Promise<QgetResult[]> {
  const files = await readMetalink(xml);
  const outcomes: MetalinkFileOutcome[] = [];
  for (const f of files) {
    const filepath =
      files.length === 1 && options.filepath !== undefined
        ? options.filepath
        : join(options.dir ?? '.', f.name);
    const own: QgetOptions = {
      filepath,
      mirrors: [...f.mirrors, ...(options.mirrors ?? [])],
      checksum: options.checksum ?? f.checksum,
      pieceHashes: f.pieceHashes,
    };
    try {
      const result = await runJob(f.url, { ...options, ...own }, {});
      outcomes.push({ name: f.name, path: filepath, ok: true, result });
    } catch (err) {
      if (!isQgetError(err) || err instanceof AbortError) throw err;
      outcomes.push({ name: f.name, path: filepath, ok: false, error: err });
    }
  }
  if (outcomes.some((o) => !o.ok)) throw new MetalinkFilesError(outcomes);
  return outcomes.flatMap((o) => (o.ok ? [o.result] : []));
}

async function runJob(
  url: string,
  options: QgetOptions,
  extra: Partial<EngineOptions>,
): Promise<QgetResult> {
  const cookies = new Cookies();
  const engine = { ...engineOptions(url, options, newSession(url, options, cookies)), ...extra };
  await loadCookies(options, cookies);
  let result: QgetResult;
  try {
    result = await new DownloadJob(engine).run();
  } catch (err) {
    // The cookies are saved either way (as curl does); the download's error is the one told.
    await saveCookies(options, cookies).catch(() => {});
    throw err;
  }
  await saveCookies(options, cookies);
  return result;
}
