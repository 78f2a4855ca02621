// The engine's vocabulary shared with the public objects: the options one download runs
// with, the observer it reports to, its phases and its result.

import type { Requester } from '../net/client.js';
import type { ConnectionPool } from '../net/connection-pool.js';
import type { ProxyRoutes } from '../net/proxy.js';
import type { HttpSession } from '../net/session.js';
import type { TlsOptions } from '../net/tls.js';
import type { TokenBucket } from '../rate/token-bucket.js';
import type { ChecksumSpec } from './checksum.js';
import type { PieceHashes } from './metalink.js';
import type { OutputNames } from './output-names.js';
import type { ResourceInfo } from './resource.js';
import type { ByteRange } from './segment-plan.js';

export type EnginePhase = 'connect' | 'download' | 'verify' | 'done';

export interface EngineObserver {
  /** The probe answered; `path` is where the file will be. */
  resource?(info: ResourceInfo, path: string): void;
  /** About ten times a second while transferring, and once at the end. */
  progress?(received: number, total: number | undefined): void;
  connections?(open: number): void;
  /** With several sources: the connections transferring from each, about ten times a second. */
  sources?(open: number[]): void;
  verify?(bytes: number, total: number): void;
  phase?(phase: EnginePhase): void;
}

export interface EngineOptions {
  url: string;
  /**
   * Other URLs of the same file (mirrors), used at once beside `url` once their sample bytes
   * agree with those on disk (source-check.ts); `url` is probed first, the next if it fails.
   */
  mirrors?: readonly string[] | undefined;
  /**
   * A .part saved from another URL is continued from `url` when `url` passes the mirrors'
   * checks (same size, 64 KiB on disk compared); otherwise the download starts over.
   */
  refresh?: boolean | undefined;
  /** Piece hashes (Metalink): each piece verified as it lands, a bad one fetched again. */
  pieces?: PieceHashes | undefined;
  /** A first answer that is a Metalink document ends the run with a MetalinkAnswer (qget()). */
  followMetalink?: boolean | undefined;
  /** Output file; when absent the name comes from the server, placed in `dir`. */
  output?: string | undefined;
  dir?: string | undefined;
  override: boolean;
  maxConnections: number;
  /** Longest time (s) spent measuring the server's connection limit; 0 = off. */
  connectionTestSec: number;
  chunkBytes: number;
  maxPartBytes: number;
  minSplitBytes: number;
  tmpDir?: string | undefined;
  headers: Record<string, string>;
  checksum?: ChecksumSpec | undefined;
  timeoutMs: number;
  /** Consecutive failures of one range (without progress) before the download fails. */
  retries: number;
  /** Redirects the first request follows at most (default 10). */
  maxRedirects?: number | undefined;
  fsync: boolean;
  signal?: AbortSignal | undefined;
  /** Every request over this (a proxy, a mock …); no lean connections. */
  dispatcher?: Requester | undefined;
  /** Connections shared with other downloads (a Manager's); else the download has its own. */
  pool?: ConnectionPool | undefined;
  /** The proxies of the download's own pool (a shared pool has its own). */
  proxy?: ProxyRoutes | undefined;
  /** Credentials and cookies (net/session.ts); TLS rules for its own pool (net/tls.ts). */
  session?: HttpSession | undefined;
  tls?: TlsOptions | undefined;
  limiters?: readonly TokenBucket[];
  limiterOwner?: object;
  /** The names taken in this run (a Manager's): a taken output is renamed `name.1.ext`, … */
  outputNames?: OutputNames | undefined;
  /** Who holds the names this download takes (its Downloader); default: the job. */
  outputOwner?: object | undefined;
  observer?: EngineObserver;
  debug?: ((message: string) => void) | undefined;
  /** One line a user should see (work discarded, a name changed). */
  warn?: ((message: string) => void) | undefined;
}

/** One source of a download (its URL or a mirror) as reported. */
export interface SourceReport {
  url: string;
  /** pending: not checked yet; checking: its sample is on its way; active: in use; dropped. */
  state: 'pending' | 'checking' | 'active' | 'dropped';
  /** Most connections transferring at once from it (in the latest attempt). */
  connections: number;
  /** Bytes received from it (in the latest attempt). */
  bytes: number;
  /** Why it was dropped. */
  error?: string | undefined;
}

/** What DownloadJob.snapshot() shows: ranges on disk, and every connection with its range. */
export interface JobSnapshot {
  size: number | undefined;
  /** Byte ranges [start, end) confirmed on disk, merged. */
  done: ByteRange[];
  connections: {
    id: number;
    /** The range it works on: [start, end), received up to pos; absent between requests. */
    range?: { start: number; pos: number; end: number } | undefined;
    /** Bytes/s, once measured. */
    speed: number | undefined;
    transferring: boolean;
    lastError: string | undefined;
    /** The URL it downloads from (one of the sources). */
    source?: string | undefined;
  }[];
  /** The sources with their connections now (several with mirrors). */
  sources?: (SourceReport & { live: number })[] | undefined;
}

export interface DownloadResult {
  path: string;
  url: string;
  finalUrl: string;
  size: number;
  elapsedMs: number;
  /** Most connections transferring at once. */
  connections: number;
  /** Bytes that were already on disk from an earlier run. */
  resumedBytes: number;
  /** The per-client connection limit measured, if the server showed one. */
  connectionLimit: number | undefined;
  /** Every source of the download (one unless mirrors were given), what each did. */
  sources?: SourceReport[] | undefined;
}
