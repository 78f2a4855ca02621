// What an interrupted download tells the user: whether running the same command again resumes
// it. The engine keeps a control file (`<output>.qget`, or `<name>.<tag>.qget` in --tmp) only
// when the server honours ranges; without one the next run starts over.

import { stat } from 'node:fs/promises';
import { statePaths } from '../index.js';

/** Whether an interrupted download of `output` can be resumed by running the command again. */
export async function canResume(
  output: string | undefined,
  tmpDir: string | undefined,
): Promise<boolean> {
  if (output === undefined) return false;
  return stat(statePaths(output, tmpDir).controlPath).then(
    () => true,
    () => false,
  );
}

/** The sentence after "qget: interrupted; ". */
export function interruptedNote(resumable: number, total: number): string {
  if (total > 1 && resumable === total) {
    return 'partial downloads are kept: run the same command again to resume.';
  }
  if (total > 1 && resumable > 0) {
    return `${resumable} of ${total} partial downloads can resume: run the same command again; the others will start over (their servers do not accept ranges).`;
  }
  if (resumable > 0) return 'the partial download is kept: run the same command again to resume.';
  return total > 1
    ? 'the servers do not accept ranges: running the command again starts these downloads over.'
    : 'the server does not accept ranges: running the command again starts the download over.';
}
