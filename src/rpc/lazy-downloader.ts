// The Downloader of a download added to the daemon, made when it is needed (job.ts) rather than
// at the add: a Downloader checks its URL and options when it is made, so the first download
// with given options is made at once (and its errors are the add's), and the next ones with the
// same options, which only the file name and URL tell apart, have their URL checked now and are
// made later. An error found only then fails the download (see queue.ts).

// The option checks of every surface (internal, like errors.ts: no state, no I/O).
import { checkUrl } from '../api/checks.js';
import { Downloader, type DownloaderOptions } from '../index.js';

const MAX_KEPT = 1024;

/** Options a Downloader was made with (as JSON, without the path). */
const checked = new Set<string>();

/** The Downloader (made now), or how to make it later. */
export function lazyDownloader(
  url: string,
  options: DownloaderOptions,
): Downloader | (() => Downloader) {
  const key = keyOf(options);
  if (key !== undefined && checked.has(key)) {
    checkUrl(url);
    return () => new Downloader(url, options);
  }
  const d = new Downloader(url, options);
  if (key !== undefined) {
    if (checked.size >= MAX_KEPT) checked.clear();
    checked.add(key);
  }
  return d;
}

/** Plain data only: options holding functions or objects of their own are made at once. */
function keyOf(options: DownloaderOptions): string | undefined {
  let key = '';
  for (const [name, value] of Object.entries(options)) {
    if (name === 'path' || value === undefined) continue;
    if (typeof value === 'function') return undefined;
    if (value !== null && typeof value === 'object') {
      const proto = Object.getPrototypeOf(value);
      // Headers, proxies, credentials: flat records of strings.
      if (proto !== Object.prototype) return undefined;
      for (const inner of Object.values(value)) {
        if (inner !== null && typeof inner === 'object') return undefined;
      }
      key += `${name}=${JSON.stringify(value)}\n`;
    } else {
      key += `${name}=${JSON.stringify(value)}\n`;
    }
  }
  return key;
}
