// The folders downloads go to, made (mkdir -p) when a download is added: one mkdir serves every
// add to the same folder for a second, so 10,000 adds to one folder touch the disk about once
// (a folder removed meanwhile is made again at the next add after that second).

import { mkdir } from 'node:fs/promises';

const FRESH_MS = 1000;
const MAX_KEPT = 256;

const made = new Map<string, { at: number; done: Promise<unknown> }>();

/** Make `path` and its parents; rejects as mkdir does. */
export function makeFolder(path: string): Promise<unknown> {
  const now = performance.now();
  const known = made.get(path);
  if (known && now - known.at < FRESH_MS) return known.done;
  if (made.size >= MAX_KEPT) made.clear();
  const done = mkdir(path, { recursive: true });
  made.set(path, { at: now, done });
  // A failure is not kept: the next add tries again.
  done.catch(() => made.delete(path));
  return done;
}
