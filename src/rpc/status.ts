// aria2's result shapes for one download: tellStatus (with its `keys` filter), getFiles,
// getUris, getServers; every number a decimal string. Also aria2's error codes (its exit
// codes) for a qget error.

import { isAbsolute, relative } from 'node:path';
// errorCode is internal (not in the public API): the one walk down a cause chain.
import { errorCode } from '../errors.js';
import { HttpStatusError, type QgetError, type QgetErrorCode, redactUrls } from '../index.js';

export type Aria2Status = 'active' | 'waiting' | 'paused' | 'error' | 'complete' | 'removed';

/** What the status shapes need to know about one download. */
export interface StatusSource {
  gid: string;
  status: Aria2Status;
  /** As given, credentials included, as aria2 shows them (the RPC secret guards them). */
  uris: readonly string[];
  dir: string;
  /** Absolute path of the file (the name the server gave once known). */
  path: string;
  /** Total bytes, -1 while unknown. */
  size: number;
  downloaded: number;
  /** Bytes per second. */
  speed: number;
  /** Connections receiving now (before the engine runs: the most the download may use). */
  connections: number;
  /** For a stopped download: aria2's error code (0 complete, 31 removed) and message. */
  errorCode?: number | undefined;
  errorMessage?: string | undefined;
  /** Byte ranges [start, end) on disk, sorted and merged, as far as known. */
  done?: readonly ByteRange[] | undefined;
  /** With several URIs: the sources in use, each with its connections and speed now. */
  servers?: readonly ServerLoad[] | undefined;
}

export interface ServerLoad {
  uri: string;
  connections: number;
  /** Bytes per second. */
  speed: number;
}

/** The sources in use of a download's segments (DownloadJob.snapshot()), with their loads. */
export function serverLoads(snapshot: {
  sources?: readonly { url: string; state: string; live: number }[] | undefined;
  connections: readonly { source?: string | undefined; speed: number | undefined }[];
}): ServerLoad[] | undefined {
  if (!snapshot.sources) return undefined;
  return snapshot.sources
    .filter((s) => s.state === 'active')
    .map((s) => ({
      uri: s.url,
      connections: s.live,
      speed: snapshot.connections
        .filter((c) => c.source === s.url)
        .reduce((n, c) => n + (c.speed ?? 0), 0),
    }));
}

export type ByteRange = readonly [start: number, end: number];

/** aria2 reports pieces of 1 MiB for plain HTTP downloads of this kind. */
const PIECE_LENGTH = 1024 * 1024;

const stopped = (s: Aria2Status): boolean => s === 'error' || s === 'complete' || s === 'removed';

export function fileEntries(src: StatusSource): Record<string, unknown>[] {
  const length = Math.max(0, src.size);
  return [
    {
      index: '1',
      path: src.path,
      length: String(length),
      completedLength: String(completedLength(src)),
      selected: 'true',
      uris: uriEntries(src),
    },
  ];
}

export function uriEntries(src: StatusSource): Record<string, string>[] {
  // The first URI is the one qget downloads from; aria2 marks URIs it has tried as "used".
  const running = src.status !== 'waiting' && src.status !== 'paused';
  return src.uris.map((uri, i) => ({
    uri,
    // Mirrors in use (several URIs) are used too.
    status: running && (i === 0 || src.servers?.some((s) => s.uri === uri)) ? 'used' : 'waiting',
  }));
}

export function serverEntries(src: StatusSource): Record<string, unknown>[] {
  if (src.servers) {
    // One entry per source in use; `connections` is qget's own key (aria2 has none).
    const servers = src.servers.map((s) => ({
      uri: src.uris.find((u) => u === s.uri) ?? s.uri,
      currentUri: s.uri,
      downloadSpeed: String(Math.round(s.speed)),
      connections: String(s.connections),
    }));
    return [{ index: '1', servers }];
  }
  return [
    {
      index: '1',
      servers: [
        {
          uri: src.uris[0] ?? '',
          currentUri: src.uris[0] ?? '',
          downloadSpeed: String(Math.round(src.speed)),
        },
      ],
    },
  ];
}

function completedLength(src: StatusSource): number {
  if (src.status === 'complete' && src.size >= 0) return src.size;
  return Math.max(0, src.downloaded);
}

/** tellStatus: every key, or only those in `keys` (unknown names are left out, as in aria2). */
export function statusShape(src: StatusSource, keys?: readonly string[]): Record<string, unknown> {
  const active = src.status === 'active';
  const size = Math.max(0, src.size);
  const all: Record<string, unknown> = {
    gid: src.gid,
    status: src.status,
    totalLength: String(size),
    completedLength: String(completedLength(src)),
    uploadLength: '0',
    downloadSpeed: String(active ? Math.round(src.speed) : 0),
    uploadSpeed: '0',
    connections: String(active ? src.connections : 0),
    pieceLength: String(PIECE_LENGTH),
    numPieces: String(Math.ceil(size / PIECE_LENGTH)),
    dir: src.dir,
    files: fileEntries(src),
  };
  if (size > 0) all.bitfield = bitfield(src.done ?? [], size, PIECE_LENGTH);
  if (stopped(src.status)) {
    all.errorCode = String(src.errorCode ?? 0);
    // Never a password, whoever built the message.
    all.errorMessage = redactUrls(src.errorMessage ?? '');
  }
  if (keys === undefined || keys.length === 0) return all;
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (Object.hasOwn(all, key)) picked[key] = all[key];
  return picked;
}

/**
 * aria2's bitfield: one bit per piece, set when the whole piece is on disk; the most significant
 * bit of the first byte is piece 0, padded with zero bits to whole bytes, in hex. `done` is
 * sorted and merged.
 */
export function bitfield(done: readonly ByteRange[], size: number, pieceLength: number): string {
  const pieces = Math.ceil(size / pieceLength);
  const bytes = Buffer.alloc(Math.ceil(pieces / 8));
  let r = 0;
  for (let i = 0; i < pieces; i++) {
    const start = i * pieceLength;
    const end = Math.min(size, start + pieceLength);
    while (r < done.length && done[r]![1] <= start) r++;
    const range = done[r];
    if (range && range[0] <= start && range[1] >= end) bytes[i >> 3]! |= 0x80 >> (i & 7);
  }
  return bytes.toString('hex');
}

/** The file's name relative to its folder, for `out` (undefined when it is not inside). */
export function outName(dir: string, path: string): string | undefined {
  const rel = relative(dir, path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? undefined : rel;
}

// ---- aria2's error codes (https://aria2.github.io/manual/en/html/aria2c.html#exit-status) ----

export const ARIA2_FINISHED = 0;
export const ARIA2_REMOVED = 31;

/** Every code mapped (a new one does not compile until it is); the first two are refined above. */
const BY_CODE: Record<QgetErrorCode, number> = {
  ERR_HTTP_STATUS: 22,
  ERR_LOCAL_IO: 17,
  ERR_INVALID_URL: 28,
  ERR_INVALID_OPTION: 28,
  ERR_TIMEOUT: 2,
  ERR_NETWORK: 6,
  ERR_TOO_MANY_REDIRECTS: 23,
  ERR_RANGE_MISMATCH: 22,
  ERR_RESOURCE_CHANGED: 22,
  ERR_SIZE_MISMATCH: 22,
  ERR_CHECKSUM: 32,
  ERR_FILE_EXISTS: 13,
  // aria2: "aria2 was downloading same file".
  ERR_OUTPUT_BUSY: 11,
  // aria2: "network problem" and "authorization failed".
  ERR_PROXY: 6,
  ERR_PROXY_AUTH: 24,
  ERR_ABORTED: 7,
};

/** aria2's exit code for the error that stopped a download. */
export function aria2ErrorCode(error: QgetError | null | undefined): number {
  if (!error) return 1;
  if (error instanceof HttpStatusError) {
    const status = error.statusCode;
    if (status === 404) return 3; // resource not found
    if (status === 401 || status === 407) return 24; // authorization failed
    if (status === 503) return 29; // service unavailable
    return 22; // HTTP protocol error
  }
  if (error.code === 'ERR_NETWORK' && causeCode(error) === 'ENOTFOUND') return 19;
  if (error.code === 'ERR_LOCAL_IO') {
    const cause = causeCode(error);
    if (cause === 'ENOSPC') return 9; // not enough disk space
    if (cause === 'ENOENT' || cause === 'EACCES' || cause === 'EROFS') return 16; // create error
    return 17; // file I/O error
  }
  return BY_CODE[error.code] ?? 1;
}

/** The system code (ENOSPC, ENOTFOUND …) under a QgetError, skipping the ERR_* codes above it. */
function causeCode(error: QgetError): string | undefined {
  return errorCode(error, (code) => !code.startsWith('ERR_'));
}
