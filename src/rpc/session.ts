// aria2's input-file format, read by `-i` and written by `--save-session`: a line of URIs (mirrors
// separated by TABs), then its options, one ` key=value` per line, indented:
//
//   https://example.com/file.iso
//    gid=2089b05ecca3d829
//    dir=/downloads
//    out=file.iso
//
// Lines starting with `#` are comments. aria2 keeps no piece hashes in a session (it saves a
// Metalink download by its URIs and `checksum`); qget adds its own line for them:
//
//    qget-piece-hashes=sha256:262144:<hex>,<hex>,...
//
// (algorithm, piece length, one digest per piece), so a download added by addMetalink and
// restored with -i still checks each piece.

import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import type { PieceHashes } from '../index.js';

export interface SessionEntry {
  uris: string[];
  /** In file order; a key (header) may repeat. */
  options: [key: string, value: string][];
  /** 1-based line of the URIs, for messages. */
  line: number;
}

export class SessionFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionFormatError';
  }
}

export function parseSession(text: string): SessionEntry[] {
  const entries: SessionEntry[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    if (/^[ \t]/.test(raw)) {
      const entry = entries.at(-1);
      const line = raw.trim();
      const eq = line.indexOf('=');
      if (!entry || eq <= 0) {
        throw new SessionFormatError(
          `line ${i + 1}: expected a URI, or an indented key=value option after one`,
        );
      }
      entry.options.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
      return;
    }
    const uris = raw
      .split('\t')
      .map((u) => u.trim())
      .filter((u) => u !== '');
    entries.push({ uris, options: [], line: i + 1 });
  });
  return entries;
}

/** Values with a line break cannot be written (the options never hold one: see readOptions). */
export function formatSession(entries: readonly Omit<SessionEntry, 'line'>[]): string {
  let text = '';
  for (const { uris, options } of entries) {
    if (uris.some((u) => /[\t\r\n]/.test(u))) continue;
    text += `${uris.join('\t')}\n`;
    for (const [key, value] of options) {
      if (/[\r\n]/.test(key + value)) continue;
      text += ` ${key}=${value}\n`;
    }
  }
  return text;
}

/** Replace `path` atomically: a reader sees the old file or the new one, never half of one. */
export async function writeSessionFile(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode: 0o600 });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** The session line of a download's piece hashes (qget's own: aria2 has none). */
export const PIECE_HASHES_KEY = 'qget-piece-hashes';

const DIGEST_HEX: Record<PieceHashes['algorithm'], number> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};

export function formatPieceHashes(p: PieceHashes): string {
  return `${p.algorithm}:${p.length}:${p.hashes.join(',')}`;
}

export function parsePieceHashes(value: string): PieceHashes {
  const [algorithm, length, list, ...rest] = value.split(':');
  const hex = DIGEST_HEX[algorithm as PieceHashes['algorithm']];
  const hashes = (list ?? '').split(',');
  const n = Number(length);
  if (
    hex === undefined ||
    rest.length > 0 ||
    !Number.isSafeInteger(n) ||
    n <= 0 ||
    !hashes.every((h) => h.length === hex && /^[0-9a-f]+$/.test(h))
  ) {
    throw new SessionFormatError(
      `${PIECE_HASHES_KEY} must be <md5|sha1|sha256|sha512>:<piece length>:<hex digest>,... (one digest per piece)`,
    );
  }
  return { algorithm: algorithm as PieceHashes['algorithm'], length: n, hashes };
}

/** An entry's option lines without its piece hashes, and those (the last such line). */
export function takePieceHashes(options: readonly [string, string][]): {
  options: [string, string][];
  pieceHashes: PieceHashes | undefined;
} {
  let pieceHashes: PieceHashes | undefined;
  const rest: [string, string][] = [];
  for (const [key, value] of options) {
    if (key === PIECE_HASHES_KEY) pieceHashes = parsePieceHashes(value);
    else rest.push([key, value]);
  }
  return { options: rest, pieceHashes };
}
