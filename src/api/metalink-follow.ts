// A Downloader's run that follows a Metalink answer (a URL answering application/metalink4+xml),
// as qget() does: the file the document names is downloaded instead, from its URLs at once, with
// its checksum and piece hashes. A Downloader is one file: of a document naming several, the
// first is downloaded and one warning line says so (qgetMetalink() or `qget -M` take them all).
// Into a Writable (one ordered connection) the document must name one file: its bytes go to the
// stream, from its first URL that answers, checked against its whole-file hash and its piece hashes
// as each piece passes (a bad one ends the download there); several files are an error (a stream
// cannot hold them).

import { join } from 'node:path';
import { parseChecksum } from '../engine/checksum.js';
import { DownloadJob, type DownloadResult, type EngineOptions } from '../engine/download-job.js';
import { MetalinkAnswer } from '../engine/metalink-answer.js';
import type { StreamRunOptions, StreamTarget } from '../engine/stream-target.js';
import { AbortError, InvalidOptionError } from '../errors.js';
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

/** One run of a Downloader into `stream` (`run`: its options): the URL's answer, or the file a
 * Metalink answer names, once followed (and in later runs). Resolves with the size. */
export async function runStreamFollowingMetalink(
  stream: StreamTarget,
  run: StreamRunOptions,
): Promise<number> {
  if (stream.followed === undefined) {
    try {
      return await stream.run({ ...run, followMetalink: true });
    } catch (err) {
      if (!(err instanceof MetalinkAnswer)) throw err;
      const files = await readMetalink(err.xml);
      if (files.length > 1) {
        throw new InvalidOptionError(
          `${err.url} answered a Metalink document naming ${files.length} files (${files.map((f) => f.name).join(', ')}): a Downloader writing to a stream takes one file; download them with qgetMetalink() or qget -M`,
        );
      }
      const f = files[0]!;
      stream.followed = {
        urls: [f.url, ...f.mirrors],
        size: f.size,
        checksum: run.checksum ?? (f.checksum ? parseChecksum(f.checksum) : undefined),
        pieces: f.pieceHashes,
      };
    }
  }
  const { urls, size, checksum, pieces } = stream.followed;
  // One connection: the URLs in turn while nothing is in the stream; once bytes are, the
  // stream continues only from the URL that gave them (its validators).
  for (let i = 0; ; i++) {
    const url = urls[i]!;
    try {
      return await stream.run({
        ...run,
        url,
        knownSize: size ?? run.knownSize ?? -1,
        checksum,
        pieces,
        followMetalink: false,
      });
    } catch (err) {
      if (stream.written > 0) {
        // Later runs continue from this URL.
        stream.followed.urls = [url, ...urls.filter((u) => u !== url)];
        throw err;
      }
      if (err instanceof AbortError || i + 1 >= urls.length) throw err;
    }
  }
}
