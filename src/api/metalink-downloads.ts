// A Metalink document as the downloads it names: for each file its URL and mirrors (by
// priority), a safe file name, its whole-file checksum (as the `checksum` option takes it) and
// its piece hashes. Shared by qgetMetalink(), a Downloader following a Metalink answer, the
// command line's -M and the daemon's addMetalink.

import { digestHexLength } from '../engine/checksum.js';
import { sanitizeFilename } from '../engine/filename.js';
import { type MetalinkFile, type PieceHashes, parseMetalink } from '../engine/metalink.js';
import type { DownloadResult } from '../engine/download-job.js';
import { InvalidOptionError, QgetError } from '../errors.js';

/** One file of a Metalink document, as a download of it takes it. */
export interface MetalinkDownload {
  /** The file's name in the document, made a safe file name (no folder). */
  name: string;
  /** Its most preferred http(s) URL. */
  url: string;
  /** Its other http(s) URLs, most preferred first. */
  mirrors: string[];
  size: number | undefined;
  /** The strongest whole-file hash given, as `checksum` takes it (`sha256=<hex>`). */
  checksum: string | undefined;
  /** Its piece hashes, when they match its size. */
  pieceHashes: PieceHashes | undefined;
}

/** The downloads `files` name; an InvalidOptionError for a file with no http(s) URL. */
export function metalinkDownloads(files: readonly MetalinkFile[]): MetalinkDownload[] {
  return files.map((f) => {
    const [first, ...rest] = f.urls.map((u) => u.url);
    if (first === undefined) {
      throw new InvalidOptionError(`the Metalink document gives no http(s) URL for ${f.name}`);
    }
    const pieces =
      f.pieces &&
      f.size !== undefined &&
      f.pieces.hashes.length === Math.ceil(f.size / f.pieces.length)
        ? f.pieces
        : undefined;
    return {
      name: sanitizeFilename(f.name),
      url: first,
      mirrors: rest,
      size: f.size,
      checksum: f.hash && `${f.hash.algorithm}=${f.hash.digest}`,
      pieceHashes: pieces,
    };
  });
}

/** The downloads a Metalink document's text names (parseMetalink, then metalinkDownloads). */
export async function readMetalink(xml: string): Promise<MetalinkDownload[]> {
  return metalinkDownloads(await parseMetalink(xml));
}

const ALGORITHMS = new Set(['sha256', 'sha1', 'sha512', 'md5']);

/** The `pieceHashes` option: an algorithm, a piece length and lower-case hex digests. */
export function checkPieceHashes(p: PieceHashes | undefined): PieceHashes | undefined {
  if (p === undefined) return undefined;
  const ok =
    typeof p === 'object' &&
    p !== null &&
    ALGORITHMS.has(p.algorithm) &&
    Number.isSafeInteger(p.length) &&
    p.length > 0 &&
    Array.isArray(p.hashes) &&
    p.hashes.length > 0 &&
    p.hashes.every((h) => typeof h === 'string' && /^[0-9a-f]+$/.test(h));
  if (!ok) {
    throw new InvalidOptionError(
      'Expected `pieceHashes` to be { algorithm, length, hashes } (sha256, sha1, sha512 or md5; a positive piece length; lower-case hex digests)',
    );
  }
  // A digest of another length would fail every piece instead of being refused here.
  const digits = digestHexLength(p.algorithm);
  const wrong = p.hashes.findIndex((h) => h.length !== digits);
  if (wrong >= 0) {
    throw new InvalidOptionError(
      `Expected every \`pieceHashes\` digest to have ${digits} hex digits for ${p.algorithm}; digest ${wrong} has ${p.hashes[wrong]!.length}`,
    );
  }
  return { algorithm: p.algorithm, length: p.length, hashes: [...p.hashes] };
}

/** What became of one file of a Metalink document (`MetalinkFilesError.files`). */
export type MetalinkFileOutcome =
  | { name: string; path: string; ok: true; result: DownloadResult }
  | { name: string; path: string; ok: false; error: QgetError };

/**
 * Files of a Metalink document failed; qgetMetalink() tried every file first. Its `code`,
 * `transient` and `cause` are the first failure's (in the document's order), so the command
 * line exits with that failure's code; `files` says what became of each file.
 */
export class MetalinkFilesError extends QgetError {
  readonly files: readonly MetalinkFileOutcome[];

  constructor(files: readonly MetalinkFileOutcome[]) {
    const failed = files.flatMap((f) => (f.ok ? [] : [f]));
    const first = failed[0]!.error;
    const message =
      files.length === 1
        ? first.message
        : `${failed.length} of ${files.length} files of the Metalink document failed: ${failed.map((f) => `${f.name}: ${f.error.message}`).join('; ')}`;
    super(first.code, message, { cause: first, transient: first.transient });
    this.name = 'MetalinkFilesError';
    this.files = files;
  }
}
