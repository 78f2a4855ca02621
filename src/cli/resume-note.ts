// What an interrupted download tells the user: whether running the same command again resumes
// it. The engine keeps a control file (`<output>.qget`, or `<name>.<tag>.qget` in --tmp) only
// when the server honours ranges; without one the next run starts over.

import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

/** Where the engine keeps `output`'s resume state (src/engine/download-job.ts, #pathsFor). */
export function controlPathFor(output: string, tmpDir: string | undefined): string {
  if (!tmpDir) return `${output}.qget`;
  const tag = createHash('sha256').update(output).digest('hex').slice(0, 8);
  return join(resolve(tmpDir), `${basename(output)}.${tag}.qget`);
}

/** Whether an interrupted download of `output` can be resumed by running the command again. */
export async function canResume(
  output: string | undefined,
  tmpDir: string | undefined,
): Promise<boolean> {
  if (output === undefined) return false;
  return stat(controlPathFor(output, tmpDir)).then(
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
