// The last step: check the complete `.part` (length, optional fsync and checksum), then move it
// onto the output path without ever clobbering an existing file unless asked to, across
// devices when `tmpDir` is elsewhere, and remove the control file.

import { copyFile, link, rename, rm } from 'node:fs/promises';
import { FileExistsError, SizeMismatchError } from '../errors.js';
import { errorCode } from '../net/client.js';
import { verifyChecksum } from './checksum.js';
import type { EngineObserver, EngineOptions } from './engine-options.js';
import { localIoError, type PartFile, pathExists } from './part-file.js';
import type { ResourceInfo } from './resource.js';
import type { ResumeStore } from './resume-store.js';

export interface Finished {
  o: Pick<EngineOptions, 'fsync' | 'checksum' | 'chunkBytes' | 'override'>;
  observer: EngineObserver;
  signal: AbortSignal;
  info: ResourceInfo;
  part: PartFile;
  store: Pick<ResumeStore, 'partPath' | 'remove'>;
  /** Bytes received, for the last progress report. */
  received: number;
}

/** Length check, optional fsync and checksum, the move onto `path`; returns the size. */
export async function finish(f: Finished, path: string): Promise<number> {
  const { o, observer, info, part, store } = f;
  observer.progress?.(f.received, info.size);
  observer.phase?.('verify');
  if (o.fsync) await part.sync();
  const size = info.size ?? 0;
  const onDisk = await part.size();
  if (onDisk !== size) {
    throw new SizeMismatchError(`the downloaded file has ${onDisk} bytes, expected ${size}`);
  }
  // Elsewhere than on Windows a file may be moved while open: its close and the move are sent to
  // the file threads together (one wait instead of two). Its bytes are flushed already (fsync).
  const closing = part.close();
  if (process.platform === 'win32') await closing;
  if (o.checksum) {
    await verifyChecksum(store.partPath, o.checksum, {
      chunkBytes: o.chunkBytes,
      onProgress: (bytes) => observer.verify?.(bytes, size),
      signal: f.signal,
    });
  }
  observer.verify?.(size, size);
  try {
    await moveIntoPlace(store.partPath, path, o.override);
  } finally {
    await closing;
  }
  await store.remove();
  return size;
}

/**
 * Put `part` at `output`. With `override` an existing file is replaced atomically; without it
 * a hard link claims the name only if it is free (no check-then-rename race).
 */
export async function moveIntoPlace(
  part: string,
  output: string,
  override: boolean,
): Promise<void> {
  if (override) {
    try {
      await rename(part, output);
      return;
    } catch (err) {
      if (errorCode(err) !== 'EXDEV') throw localIoError(err, 'rename to', output);
    }
    await copyAcross(part, output, true);
    return;
  }
  try {
    await link(part, output);
    await rm(part, { force: true });
    return;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EEXIST') throw new FileExistsError(output);
    // File systems without hard links, or another device: check, then move.
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') {
      throw localIoError(err, 'create', output);
    }
  }
  if (await pathExists(output)) throw new FileExistsError(output);
  try {
    await rename(part, output);
  } catch (err) {
    if (errorCode(err) !== 'EXDEV') throw localIoError(err, 'rename to', output);
    await copyAcross(part, output, false);
  }
}

/** Copy to a temporary name beside the output, then rename: the output is never half-written. */
async function copyAcross(part: string, output: string, override: boolean): Promise<void> {
  const tmp = `${output}.qget-tmp`;
  try {
    await copyFile(part, tmp);
    if (!override && (await pathExists(output))) throw new FileExistsError(output);
    await rename(tmp, output);
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof FileExistsError) throw err;
    throw localIoError(err, 'copy to', output);
  }
  await rm(part, { force: true });
}
