// The Downloader of a download added to the daemon, made when it is needed (job.ts) rather than
// at the add: a Downloader checks its URL and options when it is made, so the first download
// with a given option set is made at once (and its errors are the add's), and the next ones
// with the same set, which only the file name and URL tell apart, have their URL checked now and
// their Downloader options worked out and the Downloader made later. An error found only then
// fails the download (see queue.ts).

// The option checks of every surface (internal, like errors.ts: no state, no I/O).
import { checkUrl } from '../api/checks.js';
import { Downloader, type DownloaderOptions } from '../index.js';

const MAX_KEPT = 1024;

/** Option sets a Downloader was made with (see lazyDownloader's `set`). */
const checked = new Set<string>();

/**
 * The Downloader (made now), or how to make it later. `set` names the option set apart from the
 * file name and URL (undefined: made now whatever it is); `options` works the options out.
 */
export function lazyDownloader(
  url: string,
  set: string | undefined,
  options: () => DownloaderOptions,
): Downloader | (() => Downloader) {
  if (set !== undefined && checked.has(set)) {
    checkUrl(url);
    return () => new Downloader(url, options());
  }
  const d = new Downloader(url, options());
  if (set !== undefined) {
    if (checked.size >= MAX_KEPT) checked.clear();
    checked.add(set);
  }
  return d;
}
