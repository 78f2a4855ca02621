// aria2's input-file format, read by `-i` and written by `--save-session`: a line of URIs (mirrors
// separated by TABs), then its options, one ` key=value` per line, indented:
//
//   https://example.com/file.iso
//    gid=2089b05ecca3d829
//    dir=/downloads
//    out=file.iso
//
// Lines starting with `#` are comments.

import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

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
