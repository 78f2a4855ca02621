// Where a download's partial bytes and resume state live: `<output>.part` and `<output>.qget`
// beside the output, or `<name>.<tag>.part`/`.qget` in a separate folder (`tmpDir`), the tag a
// hash of the output path so two outputs of one name in different folders do not meet there.

import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';

export interface StatePaths {
  /** The partial file, written in place and renamed to the output when complete. */
  partPath: string;
  /** The control file: what of the `.part` is confirmed, and of which version. */
  controlPath: string;
}

/** The `.part` and control file of a download saved as `output`. */
export function statePaths(output: string, tmpDir?: string | undefined): StatePaths {
  let partPath = `${output}.part`;
  if (tmpDir) {
    const tag = createHash('sha256').update(output).digest('hex').slice(0, 8);
    partPath = join(resolve(tmpDir), `${basename(output)}.${tag}.part`);
  }
  return { partPath, controlPath: partPath.replace(/\.part$/, '.qget') };
}
