// The resume state beside the `.part`: what was asked, what answered, and the byte ranges
// confirmed on disk. Written atomically (temp file + rename) so a crash leaves the old or the
// new state, never half of one.

import { readFileSync, statSync } from 'node:fs';
import { type FileHandle, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hasUserinfo } from '../net/credentials.js';
import { isStrongEtag, type ResourceInfo, versionConflict } from './resource.js';
import { type ByteRange, mergeRanges } from './segment-plan.js';

export interface ControlState {
  version: 1;
  /** The download's URL as given (with mirrors: the first, even when another was probed). */
  url: string;
  /**
   * The source whose answer `finalUrl` and the validators are from, when it is not `url` (the
   * first URL did not answer and a mirror was probed): a later run asks it with If-Range.
   */
  source?: string;
  finalUrl: string;
  size: number | null;
  acceptRanges: boolean;
  etag: string | null;
  lastModified: string | null;
  /** Half-open [start, end) ranges whose bytes are in the .part. */
  ranges: [number, number][];
  updatedAt: string;
}

/** The state to save; `url`: the download's URL as given, when the probe asked another. */
export function controlState(
  info: ResourceInfo,
  ranges: Iterable<ByteRange>,
  url = info.url,
): ControlState {
  return {
    version: 1,
    url,
    ...(url === info.url ? {} : { source: info.url }),
    finalUrl: info.finalUrl,
    size: info.size ?? null,
    acceptRanges: info.acceptRanges,
    etag: info.etag ?? null,
    lastModified: info.lastModified ?? null,
    ranges: mergeRanges(ranges).map(([s, e]) => [s, e]),
    updatedAt: new Date().toISOString(),
  };
}

/** The saved state, or undefined when there is none or it is unreadable. */
export async function loadControl(path: string): Promise<ControlState | undefined> {
  return (await readControl(path)).state;
}

/** The saved state (undefined when there is none or it is unreadable), and whether a file is there. */
export async function readControl(
  path: string,
): Promise<{ state: ControlState | undefined; found: boolean }> {
  // Most downloads have none: one stat here spares a trip through the file threads (and an error).
  if (!controlExists(path)) return { state: undefined, found: false };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { state: undefined, found: (err as NodeJS.ErrnoException).code !== 'ENOENT' };
  }
  return { state: parseControl(text), found: true };
}

/**
 * readControl() synchronously (for decisions that must not yield): the state (undefined when
 * none or unreadable), and whether a file is there.
 */
export function lookControlSync(path: string): { state: ControlState | undefined; found: boolean } {
  if (!controlExists(path)) return { state: undefined, found: false };
  try {
    return { state: parseControl(readFileSync(path, 'utf8')), found: true };
  } catch (err) {
    return { state: undefined, found: (err as NodeJS.ErrnoException).code !== 'ENOENT' };
  }
}

/** Whether something is at `path`: false only for ENOENT (a stat that throws no error then). */
function controlExists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

function parseControl(text: string): ControlState | undefined {
  try {
    const data = JSON.parse(text) as Partial<ControlState>;
    if (data.version !== 1 || !Array.isArray(data.ranges) || typeof data.url !== 'string')
      return undefined;
    const ranges = data.ranges.filter(
      (r): r is [number, number] =>
        Array.isArray(r) &&
        Number.isSafeInteger(r[0]) &&
        Number.isSafeInteger(r[1]) &&
        r[1] > r[0] &&
        r[0] >= 0,
    );
    const state: ControlState = { ...(data as ControlState), ranges };
    if (typeof state.source !== 'string') delete state.source;
    return state;
  } catch {
    return undefined;
  }
}

/**
 * Whether saved state describes the same version of the resource as a fresh probe, so its
 * ranges may be kept. Any difference in size or validators means the bytes are stale.
 */
export function sameResource(saved: ControlState, info: ResourceInfo): boolean {
  if (!info.acceptRanges || !saved.acceptRanges) return false;
  if (saved.size !== (info.size ?? null)) return false;
  const before = { etag: saved.etag ?? undefined, lastModified: saved.lastModified ?? undefined };
  // A validator that came or went is a difference, except a weak ETag (see versionConflict).
  if ((before.lastModified === undefined) !== (info.lastModified === undefined)) return false;
  if (isStrongEtag(before.etag) !== isStrongEtag(info.etag)) return false;
  if (versionConflict(before, info) !== undefined) return false;
  // Without any validator a same-size different file cannot be told apart: do not trust it.
  return info.etag !== undefined || info.lastModified !== undefined;
}

/**
 * Whether saved state was written for this download's source: the URL as given, or the final
 * URL after redirects. Bytes of another URL are another file, however alike the validators.
 */
export function sameSource(saved: ControlState, url: string, finalUrl?: string): boolean {
  return (
    saved.url === url ||
    saved.finalUrl === url ||
    (finalUrl !== undefined && (saved.finalUrl === finalUrl || saved.url === finalUrl))
  );
}

/**
 * Whether the saved validators are from `url`'s answers (If-Range may be sent to it): the
 * source it names, else its URL or final URL.
 */
export function validatorsOf(saved: ControlState, url: string): boolean {
  return saved.source !== undefined ? saved.source === url : sameSource(saved, url);
}

export async function saveControl(path: string, state: ControlState): Promise<void> {
  const tmp = `${path}.tmp`;
  // A URL with a password in it is for the owner's eyes only.
  const secret = [state.url, state.finalUrl, state.source].some((u) => u && hasUserinfo(u));
  const text = `${JSON.stringify(state)}\n`;
  try {
    await writeFile(tmp, text, secret ? { mode: 0o600 } : undefined);
    await rename(tmp, path);
  } catch (err) {
    // A failed save leaves no temp file beside the state.
    await unlink(tmp).catch(() => {});
    // A full disk has no room for a second copy, but the state's own blocks are there: written
    // in place, so what is on disk stays counted (a torn write is unreadable JSON: start over).
    if (!(await overwriteInPlace(path, text))) throw err;
  }
}

/** Writes `text` over the file at `path` within its current size (padded); false if it cannot. */
async function overwriteInPlace(path: string, text: string): Promise<boolean> {
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'r+');
    const old = (await file.stat()).size;
    const bytes = Buffer.byteLength(text);
    if (bytes > old) return false;
    // Spaces after the JSON keep it readable and need no new block.
    const body = Buffer.alloc(old, ' ');
    body.write(text.trimEnd());
    body[old - 1] = 0x0a;
    await file.write(body, 0, old, 0);
    return true;
  } catch {
    return false;
  } finally {
    await file?.close().catch(() => {});
  }
}

export async function removeControl(path: string): Promise<void> {
  await Promise.all([unlinkIfThere(path), unlinkIfThere(`${path}.tmp`)]);
}

async function unlinkIfThere(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
