// What the command line means to the library: the parsed options (CliOptions), the streams a
// mode writes to (Io), the -H lines as headers, and the two public option vocabularies they map
// onto (qget()'s QgetOptions for one URL, the Downloader's for the Manager and the daemon).
// Every CLI mode imports these from here, never from main.ts.

import { InvalidArgumentError } from 'commander';
import type { DownloaderOptions, QgetOptions } from '../index.js';
import type { DaemonCliOptions } from './daemon-options.js';

export interface CliOptions extends DaemonCliOptions {
  output?: string;
  dir?: string;
  force: boolean;
  connections: number;
  test: number;
  bytes?: number;
  part?: number;
  tmp?: string;
  debug: boolean;
  header: string[];
  /** --mirror: other URLs of the one file given. */
  mirror: string[];
  /** -M: a Metalink document's path. */
  metalink?: string;
  /** --refresh: the new URL of -o's interrupted download. */
  refresh?: string;
  userAgent?: string;
  checksum?: string;
  timeout: number;
  retries: number;
  maxRedirects: number;
  retryWait: number;
  rateLimit?: number;
  quiet: boolean;
  fsync: boolean;
  inputFile?: string;
  maxRunning: number;
  json: boolean;
  /** --proxy ('' turns proxies off). */
  proxy?: string;
  /** --no-proxy (--noproxy). */
  noproxy?: string;
  user?: string;
  netrc?: boolean;
  netrcFile?: string;
  loadCookies?: string;
  saveCookies?: string;
  caCertificate?: string;
  insecure?: boolean;
}

/** -u, --netrc, --netrc-file, the cookie files and TLS as library options (both vocabularies). */
export function sessionArgs(
  opts: CliOptions,
): Pick<
  QgetOptions,
  'auth' | 'netrc' | 'loadCookies' | 'saveCookies' | 'caCertificate' | 'insecure'
> {
  return {
    auth: opts.user,
    // --netrc-file implies --netrc, as in curl.
    netrc: opts.netrcFile ?? opts.netrc,
    loadCookies: opts.loadCookies,
    saveCookies: opts.saveCookies,
    caCertificate: opts.caCertificate,
    insecure: opts.insecure,
  };
}

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/**
 * The -H lines as headers; a bad line is a usage error. The library loads here (not when the
 * command starts), so `--version` and `--help` stay fast.
 */
export async function headerArgs(lines: string[]): Promise<Record<string, string>> {
  const { parseHeaderLines } = await import('../index.js');
  try {
    return parseHeaderLines(lines);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function toDownloaderOptions(
  opts: CliOptions,
  headers: Record<string, string>,
): DownloaderOptions {
  return {
    // -o and --checksum come with one URL only (checked above); a list of one or --json runs
    // that URL here too.
    path: opts.output,
    checksum: opts.checksum,
    ...(opts.refresh !== undefined ? { refresh: true } : {}),
    dirPath: opts.dir,
    override: opts.force,
    maxConnections: opts.connections,
    connectionTestSec: opts.test,
    chunkSize: opts.bytes,
    maxPartMb: opts.part,
    tmpDir: opts.tmp,
    headers,
    userAgent: opts.userAgent,
    timeout: opts.timeout,
    retries: opts.retries,
    maxRedirects: opts.maxRedirects,
    fsync: opts.fsync,
    debug: opts.debug,
    proxy: opts.proxy,
    noProxy: opts.noproxy,
    ...sessionArgs(opts),
  };
}

export function toLibraryOptions(opts: CliOptions, headers: Record<string, string>): QgetOptions {
  return {
    filepath: opts.output,
    dir: opts.dir,
    ...(opts.mirror.length > 0 ? { mirrors: opts.mirror } : {}),
    ...(opts.refresh !== undefined ? { refresh: true } : {}),
    override: opts.force,
    maxConnections: opts.connections,
    connectionTestSec: opts.test,
    chunkBytes: opts.bytes,
    maxPartMb: opts.part,
    tmpDir: opts.tmp,
    headers,
    userAgent: opts.userAgent,
    checksum: opts.checksum,
    timeout: opts.timeout,
    retries: opts.retries,
    maxRedirects: opts.maxRedirects,
    rateLimit: opts.rateLimit,
    fsync: opts.fsync,
    proxy: opts.proxy,
    noProxy: opts.noproxy,
    ...sessionArgs(opts),
  };
}
