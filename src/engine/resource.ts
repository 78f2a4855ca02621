// What the probe learns about a resource (size, range support, validators, name) and the pure
// checks every later response must pass before a byte of it is written.

import { RangeMismatchError, ResourceChangedError } from '../errors.js';
import {
  type ContentRange,
  contentLength,
  type FlatHeaders,
  parseContentRange,
  parseUnsatisfiedRange,
} from '../net/headers.js';
import { filenameFromResponse } from './filename.js';

// The engine imports these from here; their rules live in net/headers.ts.
export { type ContentRange, parseContentRange, parseUnsatisfiedRange };

type Headers = FlatHeaders;

export interface ResourceInfo {
  /** The URL the user asked for. */
  url: string;
  /** The URL that answered after redirects; ranged requests go there. */
  finalUrl: string;
  /** Total size in bytes, undefined when the server did not tell. */
  size: number | undefined;
  /** The server answered the probe's Range with a 206 and a known total. */
  acceptRanges: boolean;
  etag: string | undefined;
  lastModified: string | undefined;
  /** Safe file name from Content-Disposition or the final URL. */
  filename: string;
}

/** Describe the resource from the probe's answer (a 200 or a 206 to `Range: bytes=<start>-`). */
export function describeResource(
  url: string,
  res: { statusCode: number; headers: Headers; url: string },
  start = 0,
): ResourceInfo {
  const { headers } = res;
  let size: number | undefined;
  let acceptRanges = false;
  if (res.statusCode === 206) {
    const range = parseContentRange(headers['content-range']);
    if (range?.start !== start) {
      throw new RangeMismatchError(
        `the server answered bytes=${start}- with Content-Range "${headers['content-range'] ?? ''}"`,
        false,
        { transient: false },
      );
    }
    if (range.total === undefined) {
      // A part of a resource of unknown size (`bytes 0-1048575/*`): read to its end it would
      // pass for the whole file, and the rest cannot be asked for by ranges.
      throw new RangeMismatchError(
        `the server answered bytes=${start}- with a part of unknown size (Content-Range "${headers['content-range']}")`,
        false,
        { transient: false },
      );
    }
    size = range.total;
    acceptRanges = true;
  } else {
    size = contentLength(headers);
    // A 200 that names a part of the resource (`Content-Range: bytes 0-1048575/3145745`) is a
    // 206 sent with the wrong status: its body is not the whole file.
    const range = parseContentRange(headers['content-range']);
    if (
      range &&
      (range.start !== 0 || range.total === undefined || range.end + 1 !== range.total)
    ) {
      throw new RangeMismatchError(
        `the server answered ${res.statusCode} with a part of the resource (Content-Range "${headers['content-range']}")`,
        false,
        { transient: false },
      );
    }
  }
  return {
    url,
    finalUrl: res.url,
    size,
    acceptRanges,
    etag: headers.etag,
    lastModified: headers['last-modified'],
    filename: filenameFromResponse({
      contentDisposition: headers['content-disposition'],
      url: res.url,
    }),
  };
}

export function isStrongEtag(etag: string | undefined): etag is string {
  return etag !== undefined && !etag.startsWith('W/') && etag.startsWith('"');
}

/** `If-Range` for a ranged request: a strong ETag, else Last-Modified, else nothing. */
export function ifRangeValue(
  info: Pick<ResourceInfo, 'etag' | 'lastModified'>,
): string | undefined {
  if (isStrongEtag(info.etag)) return info.etag;
  return info.lastModified;
}

/** An answer carries a validator of the probe's (so a change of version would show on it). */
export function namesVersion(info: Validators, headers: Headers): boolean {
  return (
    (info.etag !== undefined && headers.etag === info.etag) ||
    (info.lastModified !== undefined && headers['last-modified'] === info.lastModified)
  );
}

/** The validators of one version of a resource (as far as a response tells). */
export interface Validators {
  etag: string | undefined;
  lastModified: string | undefined;
}

/**
 * Why `b` is another version than `a`, or undefined when nothing says so (RFC 9110 §8.8).
 * Two strong ETags must be equal. A weak ETag (W/"…") is no byte identity: several backends
 * behind one name give different weak tags for the same bytes, so a weak tag only counts when
 * no Last-Modified speaks for the version, and then compares weakly (the opaque tags). Two
 * Last-Modified dates must be equal. A validator one side lacks says nothing.
 */
export function versionConflict(a: Validators, b: Validators): string | undefined {
  const lmKnown = a.lastModified !== undefined && b.lastModified !== undefined;
  if (a.etag !== undefined && b.etag !== undefined && a.etag !== b.etag) {
    const weak = !isStrongEtag(a.etag) || !isStrongEtag(b.etag);
    if (!weak || (!lmKnown && opaqueTag(a.etag) !== opaqueTag(b.etag))) {
      return `ETag ${a.etag} became ${b.etag}`;
    }
  }
  if (lmKnown && a.lastModified !== b.lastModified) {
    return `Last-Modified ${a.lastModified} became ${b.lastModified}`;
  }
  return undefined;
}

/** An ETag without its weakness indicator. */
function opaqueTag(etag: string): string {
  return etag.startsWith('W/') ? etag.slice(2) : etag;
}

/** Throws ResourceChangedError when a response's validators name another version than the probe's. */
export function checkValidators(info: Validators, headers: Headers): void {
  const conflict = versionConflict(info, {
    etag: headers.etag,
    lastModified: headers['last-modified'],
  });
  if (conflict) throw new ResourceChangedError(`the resource changed on the server (${conflict})`);
}

/**
 * An answer to a ranged request from another version of the resource than the probe's (a
 * balancer over backends at different versions). Refused before a byte of it is written; the
 * range is retried, so the bytes on disk stay of one version. Many in a row (no answer of ours
 * between them) mean the resource really changed (see failure-policy.ts).
 */
export class OtherVersionError extends RangeMismatchError {
  constructor(conflict: string) {
    super(`another version of the resource answered (${conflict})`, false);
    this.name = 'OtherVersionError';
  }
}

/** A whole-body answer (200) whose length differs from the probe's size is another version. */
export function checkWholeLength(info: Pick<ResourceInfo, 'size'>, headers: Headers): void {
  const len = contentLength(headers);
  if (info.size !== undefined && len !== undefined && len !== info.size) {
    throw new ResourceChangedError(
      `the resource changed on the server (size ${info.size} became ${len})`,
    );
  }
}

/**
 * Check the answer to `Range: bytes=start-(end-1)` before any byte of it is written: a 206
 * starting at `start`, the same total, the same validators. A 200 is a RangeMismatchError with
 * `ignoredRange`; other validators are an OtherVersionError (this range is retried), another
 * total a ResourceChangedError. Servers may serve less
 * than asked (RFC 9110 §14.1.2); the returned exclusive end says how much this answer carries.
 */
export function checkRangeResponse(
  info: ResourceInfo,
  res: { statusCode: number; headers: Headers },
  start: number,
  end: number,
): number {
  const conflict = versionConflict(info, {
    etag: res.headers.etag,
    lastModified: res.headers['last-modified'],
  });
  if (conflict) throw new OtherVersionError(conflict);
  if (res.statusCode === 200) {
    checkWholeLength(info, res.headers);
    throw new RangeMismatchError(
      `the server ignored the range ${start}-${end - 1} (answered 200)`,
      true,
    );
  }
  const range = parseContentRange(res.headers['content-range']);
  if (range?.total !== undefined && info.size !== undefined && range.total !== info.size) {
    throw new ResourceChangedError(
      `the resource changed on the server (size ${info.size} became ${range.total})`,
    );
  }
  if (!range || range.start !== start || range.end > end - 1 || range.total === undefined) {
    throw new RangeMismatchError(
      `asked for bytes ${start}-${end - 1} but got Content-Range "${res.headers['content-range'] ?? ''}"`,
      false,
    );
  }
  const served = range.end + 1;
  const len = contentLength(res.headers);
  if (len !== undefined && len !== served - start) {
    throw new RangeMismatchError(
      `Content-Range ${start}-${range.end} does not match Content-Length ${len}`,
      false,
    );
  }
  return served;
}
