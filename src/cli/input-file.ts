// URLs from `-i FILE` (or `-` for standard input): one per line, `#` starts a comment.

import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';

export function parseUrlList(content: string): string[] {
  return content
    .split(/\r?\n/)
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line.length > 0);
}

export async function readUrlList(
  file: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<string[]> {
  return parseUrlList(file === '-' ? await text(stdin) : await readFile(file, 'utf8'));
}
