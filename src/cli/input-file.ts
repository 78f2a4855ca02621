// `-i FILE` (or `-` for standard input): aria2's input-file format, so a list written for
// aria2c (or a qget daemon session) works as it is. One URI line per download (TAB-separated
// URIs: the first, then its mirrors), optionally followed by indented ` out=NAME` / ` dir=DIR` lines;
// `#` starts a comment.

import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import type { PieceHashes } from '../index.js';
import { parseSession } from '../rpc/session.js';

export interface InputEntry {
  url: string;
  /** Other URLs of the same file (TAB-separated on its line). */
  mirrors?: string[];
  /** File name (aria2's `out`). */
  out?: string;
  /** Folder (aria2's `dir`). */
  dir?: string;
  /** `<algorithm>=<hex>` (-M: the Metalink document's whole-file hash). */
  checksum?: string;
  /** Piece hashes (-M: the Metalink document's). */
  pieceHashes?: PieceHashes;
}

export function parseInputList(content: string): InputEntry[] {
  // Friendlier than aria2 for hand-written lists: a trailing " # note" after a URL, and an
  // indented URL (aria2 would read any indented line as an option).
  const cleaned = content
    .replace(/^[ \t]+(?=[a-z][a-z0-9+.-]*:\/\/)/gim, '')
    .replace(/^(\S.*?)\s+#.*$/gm, '$1');
  return parseSession(cleaned).flatMap(({ uris, options }) => {
    const url = uris[0];
    if (url === undefined) return [];
    const entry: InputEntry = { url };
    if (uris.length > 1) entry.mirrors = uris.slice(1);
    for (const [key, value] of options) {
      if (key === 'out') entry.out = value;
      if (key === 'dir') entry.dir = value;
    }
    return [entry];
  });
}

export async function readInputList(
  file: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<InputEntry[]> {
  return parseInputList(file === '-' ? await text(stdin) : await readFile(file, 'utf8'));
}
