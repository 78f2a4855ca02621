// The last step: move a complete, verified `.part` onto the output path without ever
// clobbering an existing file unless asked to, across devices when `tmpDir` is elsewhere.

import { copyFile, link, rename, rm, stat } from 'node:fs/promises';
import { FileExistsError } from '../errors.js';
import { errorCode } from '../net/client.js';
import { localIoError } from './part-file.js';

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw localIoError(err, 'inspect', path);
  }
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
