// Every error qget raises: one base class with a stable string `code` and a `cause`,
// subclasses that only set `name` and `code`, and a guard. The CLI maps codes to exit codes.
// A message never shows a URL's password: every one is masked (`user:***@`) on the way in.

import { redactUrl, redactUrls } from './net/credentials.js';

export type QgetErrorCode =
  | 'ERR_INVALID_URL'
  | 'ERR_INVALID_OPTION'
  | 'ERR_HTTP_STATUS'
  | 'ERR_NETWORK'
  | 'ERR_TIMEOUT'
  | 'ERR_TOO_MANY_REDIRECTS'
  | 'ERR_RANGE_MISMATCH'
  | 'ERR_RESOURCE_CHANGED'
  | 'ERR_SIZE_MISMATCH'
  | 'ERR_CHECKSUM'
  | 'ERR_FILE_EXISTS'
  | 'ERR_LOCAL_IO'
  | 'ERR_OUTPUT_BUSY'
  | 'ERR_PROXY'
  | 'ERR_PROXY_AUTH'
  | 'ERR_ABORTED';

export interface QgetErrorOptions {
  cause?: unknown;
  /** Whether retrying the same request later may succeed. */
  transient?: boolean;
}

export class QgetError extends Error {
  readonly code: QgetErrorCode;
  /** True when a retry (of the range, or of the whole download) may succeed. */
  readonly transient: boolean;

  constructor(code: QgetErrorCode, message: string, options: QgetErrorOptions = {}) {
    super(redactUrls(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QgetError';
    this.code = code;
    this.transient = options.transient ?? false;
  }
}

export class InvalidUrlError extends QgetError {
  constructor(url: string, options: QgetErrorOptions = {}) {
    super('ERR_INVALID_URL', `"${url}" is not a valid http(s) URL`, options);
    this.name = 'InvalidUrlError';
  }
}

export class InvalidOptionError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_INVALID_OPTION', message, options);
    this.name = 'InvalidOptionError';
  }
}

/** Statuses worth another try: the server may answer differently later. */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

export class HttpStatusError extends QgetError {
  readonly statusCode: number;
  /** The URL that answered, its password masked (see redactUrl). */
  readonly url: string;
  /** Seconds from a `Retry-After` header, when the server sent one. */
  readonly retryAfter: number | undefined;

  constructor(
    statusCode: number,
    url: string,
    retryAfter?: number,
    options: QgetErrorOptions = {},
  ) {
    super('ERR_HTTP_STATUS', `the server answered ${statusCode} for ${url}`, {
      transient: TRANSIENT_STATUSES.has(statusCode),
      ...options,
    });
    this.name = 'HttpStatusError';
    this.statusCode = statusCode;
    this.url = redactUrl(url);
    this.retryAfter = retryAfter;
  }
}

export class NetworkError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_NETWORK', message, { transient: true, ...options });
    this.name = 'NetworkError';
  }
}

export class TimeoutError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_TIMEOUT', message, { transient: true, ...options });
    this.name = 'TimeoutError';
  }
}

/** More redirects than allowed (`maxRedirects`), or a redirect back to a URL already visited. */
export class TooManyRedirectsError extends QgetError {
  /** `url`: where the request started; `max`: the redirects allowed. */
  constructor(url: string, max: number, options: QgetErrorOptions = {}) {
    super('ERR_TOO_MANY_REDIRECTS', `too many redirects (${max}) from ${url}`, options);
    this.name = 'TooManyRedirectsError';
  }

  /** `from` redirects to `to`, a URL the request has already been to. */
  static loop(from: string, to: string): TooManyRedirectsError {
    const error = new TooManyRedirectsError(from, 0);
    error.message = redactUrls(`redirect loop: ${from} redirects back to ${to}`);
    return error;
  }
}

/** A ranged response that does not match what was asked (status, Content-Range, total). */
export class RangeMismatchError extends QgetError {
  /** The server answered 200 (whole body) to a ranged request. */
  readonly ignoredRange: boolean;

  constructor(message: string, ignoredRange: boolean, options: QgetErrorOptions = {}) {
    super('ERR_RANGE_MISMATCH', message, { transient: true, ...options });
    this.name = 'RangeMismatchError';
    this.ignoredRange = ignoredRange;
  }
}

export class ResourceChangedError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_RESOURCE_CHANGED', message, options);
    this.name = 'ResourceChangedError';
  }
}

export class SizeMismatchError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_SIZE_MISMATCH', message, options);
    this.name = 'SizeMismatchError';
  }
}

export class ChecksumError extends QgetError {
  constructor(algorithm: string, expected: string, actual: string, options: QgetErrorOptions = {}) {
    super(
      'ERR_CHECKSUM',
      `${algorithm} checksum mismatch: expected ${expected}, got ${actual}`,
      options,
    );
    this.name = 'ChecksumError';
  }
}

export class FileExistsError extends QgetError {
  readonly path: string;

  constructor(path: string, options: QgetErrorOptions = {}) {
    super('ERR_FILE_EXISTS', `${path} already exists (use --force to overwrite it)`, options);
    this.name = 'FileExistsError';
    this.path = path;
  }
}

export class LocalIoError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_LOCAL_IO', message, options);
    this.name = 'LocalIoError';
  }
}

/** Another download (another process, or another download in this one) is writing this output. */
export class OutputBusyError extends QgetError {
  readonly path: string;

  constructor(path: string, holder: string, options: QgetErrorOptions = {}) {
    super('ERR_OUTPUT_BUSY', `${path} is being downloaded by ${holder}`, options);
    this.name = 'OutputBusyError';
    this.path = path;
  }
}

/**
 * The proxy failed: qget cannot connect to it, or it refused the tunnel (CONNECT, SOCKS). Its
 * URL is named with the password masked.
 */
export class ProxyError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_PROXY', message, options);
    this.name = 'ProxyError';
  }
}

/** The proxy asks for credentials (407, or a SOCKS proxy without a method we offer) or refused them. */
export class ProxyAuthError extends QgetError {
  constructor(message: string, options: QgetErrorOptions = {}) {
    super('ERR_PROXY_AUTH', message, options);
    this.name = 'ProxyAuthError';
  }
}

export class AbortError extends QgetError {
  constructor(message = 'the download was aborted', options: QgetErrorOptions = {}) {
    super('ERR_ABORTED', message, options);
    this.name = 'AbortError';
  }
}

export function isQgetError(value: unknown): value is QgetError {
  return value instanceof QgetError;
}

/**
 * The first string `code` along an error's cause chain (undici wraps socket errors), or the first
 * one `accept` takes. Internal: not exported by index.ts.
 */
export function errorCode(
  err: unknown,
  accept: (code: string) => boolean = () => true,
): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur !== null && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && accept(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
