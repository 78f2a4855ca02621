// Link refresh: a .part saved from another URL (an expired signed link) is continued from the
// URL given now only when that URL passes the checks a mirror passes (source-check.ts): the
// same size, and 64 KiB already on disk served byte for byte the same, compared before anything
// of it is written. The saved state then becomes the new URL's, with its own validators.

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { toQgetError } from '../net/client.js';
import { redactUrl } from '../net/credentials.js';
import type { SavedResume } from './resume-store.js';
import { missingRanges } from './segment-plan.js';
import { fetchSample, SourceRefused } from './source-check.js';
import { sampleRange } from './source-policy.js';
import type { Transfer } from './transfer.js';

/**
 * The saved state `resume` (from another URL) as `url`'s when `url` serves the same bytes;
 * undefined (after one warning line) when it does not, and the download starts over.
 */
export async function adoptSaved(
  transfer: Transfer,
  resume: SavedResume,
  url: string,
  warn: (message: string) => void,
): Promise<SavedResume | undefined> {
  const { foreign } = resume;
  // Whatever source the saved validators were from, they are `url`'s from now on.
  const { source: _source, ...saved } = resume.saved;
  const size = saved.size;
  if (!foreign || size === null) return undefined;
  const refuse = (reason: string): undefined => {
    warn(
      `${redactUrl(url)} does not continue ${foreign.partPath} (saved from ${redactUrl(saved.url)}): ${reason}; starting over`,
    );
    return undefined;
  };
  const range = sampleRange(size, foreign.ranges);
  if (!range) return refuse('too little on disk to compare');
  const [start, end] = range;
  let digest: string;
  let info: Awaited<ReturnType<typeof fetchSample>>['info'];
  try {
    const sample = await fetchSample(
      transfer,
      url,
      { size, filename: '' },
      start,
      end,
      transfer.run.abort.signal,
    );
    ({ digest, info } = sample);
  } catch (err) {
    if (!(err instanceof SourceRefused)) throw toQgetError(err, url, transfer.run.abort.signal);
    return refuse(err.message);
  }
  if (digest !== (await diskDigest(foreign.partPath, start, end))) {
    return refuse(`other bytes at ${start}-${end - 1}`);
  }
  transfer.run.debug(`${redactUrl(url)} serves the bytes saved from ${redactUrl(saved.url)}`);
  const [first, last] = missingRanges(size, foreign.ranges)[0] ?? [size - 1, size];
  return {
    path: resume.path,
    saved: {
      ...saved,
      url,
      finalUrl: info.finalUrl,
      etag: info.etag ?? null,
      lastModified: info.lastModified ?? null,
      ranges: foreign.ranges.map(([s, e]) => [s, e]),
    },
    start: first,
    end: last,
  };
}

async function diskDigest(path: string, start: number, end: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return createHash('sha256').update(buf.subarray(0, got)).digest('hex');
  } finally {
    await fh.close();
  }
}
