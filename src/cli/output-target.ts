// Where the command's download(s) go, settled before any request: `-o` naming a folder (an
// existing one, or any path ending in a slash) means "into that folder", and a missing `-d`
// folder is created, as aria2c and wget do.

import { mkdir, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { LocalIoError } from '../index.js';

/** The settled `-o`/`-d` pair: `output` is a file path, `-` (standard output) or undefined. */
export interface OutputTarget {
  output: string | undefined;
  dir: string | undefined;
}

export async function settleOutput(target: OutputTarget): Promise<OutputTarget> {
  let { output, dir } = target;
  if (output !== undefined && output !== '-') {
    // -o is taken from the working directory, as a file path would be.
    if (output.endsWith('/') || output.endsWith(sep) || (await isFolder(resolve(output)))) {
      dir = resolve(output);
      output = undefined;
    }
  }
  if (dir !== undefined) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new LocalIoError(`cannot create the folder ${dir}${code ? ` (${code})` : ''}`, {
        cause: err,
      });
    }
  }
  return { output, dir };
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
