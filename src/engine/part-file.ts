// The `.part` file: positional writes of whole batches, and the mapping of local I/O failures
// (ENOSPC, EACCES, EROFS, a missing folder) onto one clear LocalIoError.

import { fstatSync } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { LocalIoError } from '../errors.js';
import { errorCode } from '../net/client.js';

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOENT: 'the folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'the path is a folder',
  EFBIG: 'the file is too large for the file system',
  EIO: 'an I/O error occurred',
};

/** One sentence for a failed local operation on `path`. */
export function localIoError(err: unknown, action: string, path: string): LocalIoError {
  if (err instanceof LocalIoError) return err;
  const code = errorCode(err);
  const reason = (code && REASONS[code]) ?? (err instanceof Error ? err.message : String(err));
  return new LocalIoError(`cannot ${action} ${path}: ${reason}${code ? ` (${code})` : ''}`, {
    cause: err,
  });
}

/** Whether something is at `path`; any failure but ENOENT is a LocalIoError. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw localIoError(err, 'inspect', path);
  }
}

export class PartFile {
  readonly path: string;
  readonly #fh: FileHandle;
  /**
   * When set, a background fdatasync starts after this many bytes were written since the last,
   * so the final flush before the rename has little left to do.
   */
  flushEvery = 0;
  #dirty = 0;
  #flushing: Promise<void> | undefined;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  /**
   * Open, creating it if needed; without `truncate` the bytes in it are kept, so earlier bytes
   * can be resumed.
   */
  static async open(path: string, options: { truncate?: boolean } = {}): Promise<PartFile> {
    if (options.truncate) {
      try {
        return new PartFile(path, await open(path, 'w+'));
      } catch (err) {
        throw localIoError(err, 'create', path);
      }
    }
    try {
      return new PartFile(path, await open(path, 'r+'));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw localIoError(err, 'open', path);
    }
    try {
      return new PartFile(path, await open(path, 'wx+'));
    } catch (err) {
      throw localIoError(err, 'create', path);
    }
  }

  /** The size on disk: an fstat of the open file, in memory, so not worth a file-thread trip. */
  async size(): Promise<number> {
    try {
      return fstatSync(this.#fh.fd).size;
    } catch (err) {
      throw localIoError(err, 'read', this.path);
    }
  }

  /** `length` bytes at `position` (fewer at the end of the file). */
  async read(position: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let got = 0;
    try {
      while (got < length) {
        const { bytesRead } = await this.#fh.read(out, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      throw localIoError(err, 'read', this.path);
    }
    return out.subarray(0, got);
  }

  /** Write `buffers` back to back starting at `position`, finishing partial writes. */
  async write(buffers: Buffer[], position: number): Promise<void> {
    try {
      let pending = buffers;
      let pos = position;
      while (pending.length > 0) {
        const { bytesWritten } =
          pending.length === 1
            ? await this.#fh.write(pending[0]!, 0, pending[0]!.length, pos)
            : await this.#fh.writev(pending, pos);
        pos += bytesWritten;
        this.#dirty += bytesWritten;
        pending = dropBytes(pending, bytesWritten);
      }
      if (this.flushEvery > 0 && this.#dirty >= this.flushEvery && !this.#flushing) {
        this.#dirty = 0;
        // Errors show at the final sync(), which must succeed before the rename.
        this.#flushing = this.#fh
          .datasync()
          .catch(() => {})
          .finally(() => {
            this.#flushing = undefined;
          });
      }
    } catch (err) {
      throw localIoError(err, 'write to', this.path);
    }
  }

  async truncate(size = 0): Promise<void> {
    try {
      await this.#fh.truncate(size);
    } catch (err) {
      throw localIoError(err, 'truncate', this.path);
    }
  }

  async sync(): Promise<void> {
    await this.#flushing;
    try {
      await this.#fh.datasync();
    } catch (err) {
      throw localIoError(err, 'flush', this.path);
    }
  }

  async close(): Promise<void> {
    await this.#flushing;
    await this.#fh.close().catch(() => {});
  }
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  let left = count;
  let i = 0;
  while (i < buffers.length && left >= buffers[i]!.length) {
    left -= buffers[i]!.length;
    i++;
  }
  const rest = buffers.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}
