// A Downloader's run that follows a Metalink answer (a URL answering application/metalink4+xml),
// as qget() does: the file the document names is downloaded instead, from its URLs at once, with
// its checksum and piece hashes. A Downloader is one file: of a document naming several, the
// first is downloaded and one warning line says so (qgetMetalink() or `qget -M` take them all).

import { parseChecksum } from '../engine/checksum.js';
import { DownloadJob, type DownloadResult, type EngineOptions } from '../engine/download-job.js';
import { MetalinkAnswer } from '../engine/metalink-answer.js';
import { join } from 'node:path';
import { readMetalink } from './metalink-downloads.js';

/** Run `options`' download; `started` is told each DownloadJob (the first, then the followed). */
export async function runFollowingMetalink(
  options: EngineOptions,
  started: (job: DownloadJob) => void,
): Promise<DownloadResult> {
  const first = new DownloadJob({ ...options, followMetalink: true });
  started(first);
  try {
    return await first.run();
  } catch (err) {
    if (!(err instanceof MetalinkAnswer)) throw err;
    const [f, ...others] = await readMetalink(err.xml);
    if (others.length > 0) {
      options.warn?.(
        `${err.url} names ${others.length + 1} files: downloading ${f!.name} only (qget -M or qgetMetalink() download them all)`,
      );
    }
    const followed = new DownloadJob({
      ...options,
      url: f!.url,
      mirrors: [...f!.mirrors, ...(options.mirrors ?? [])],
      output: options.output ?? join(options.dir ?? '.', f!.name),
      checksum: options.checksum ?? (f!.checksum ? parseChecksum(f!.checksum) : undefined),
      pieces: options.pieces ?? f!.pieceHashes,
      followMetalink: false,
    });
    started(followed);
    return await followed.run();
  }
}
