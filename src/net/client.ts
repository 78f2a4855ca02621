// The HTTP layer: a keep-alive undici Agent and single owned connections, one request with
// optional redirect following; undici / socket failures become qget's errors (error-map.ts).
// undici itself is loaded on first use: downloads over plain http go over the lean
// RangeConnection and never need it, and loading it is a sizeable share of a short run.

import type { Dispatcher } from 'undici';
import {
  HttpStatusError,
  InvalidUrlError,
  NetworkError,
  TooManyRedirectsError,
} from '../errors.js';
import { noteAnswer, requestHeaders } from './credentials.js';
import { flattenHeaders, MAX_HEAD_BYTES } from './headers.js';
import { toQgetError } from './error-map.js';
import type { RangeConnection } from './range-connection.js';
import { parseRetryAfter } from './retry-delay.js';
import type { HttpSession } from './session.js';
import { type TlsOptions, tlsConnectOptions } from './tls.js';

/** Redirects followed by default (`maxRedirects`). */
export const MAX_REDIRECTS = 10;

export interface AgentOptions {
  /** Sockets per origin. */
  connections: number;
  /** Connect and response-headers timeout, ms. */
  timeoutMs: number;
  /** Certificates trusted besides the usual roots, or no check at all (tls.ts). */
  tls?: TlsOptions | undefined;
}

export function socketOptions(timeoutMs: number, tls?: TlsOptions) {
  return {
    pipelining: 1,
    keepAliveTimeout: 10_000,
    headersTimeout: timeoutMs,
    bodyTimeout: 0,
    maxHeaderSize: MAX_HEAD_BYTES,
    connect: { timeout: timeoutMs, ...tlsConnectOptions(tls) },
  };
}

/**
 * What qget asks of a dispatcher: one request at a time, then closing. A user's undici Dispatcher
 * is one; so are the lazily created ones below.
 */
export interface Requester {
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

let undiciModule: Promise<typeof import('undici')> | undefined;

/** The undici module, imported on first use. */
export function loadUndici(): Promise<typeof import('undici')> {
  undiciModule ??= import('undici');
  return undiciModule;
}

/** A dispatcher created (and undici loaded) at its first request. */
class LazyDispatcher implements Requester {
  readonly #create: (undici: typeof import('undici')) => Dispatcher;
  #dispatcher: Dispatcher | undefined;
  #closed = false;

  constructor(create: (undici: typeof import('undici')) => Dispatcher) {
    this.#create = create;
  }

  async request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    const undici = await loadUndici();
    if (this.#closed) throw new undici.errors.ClientDestroyedError();
    this.#dispatcher ??= this.#create(undici);
    return this.#dispatcher.request(options);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#dispatcher?.close();
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    await this.#dispatcher?.destroy();
  }
}

/** A keep-alive pool; body stalls are watched by the engine itself (rate limiting pauses reads). */
export function createAgent(options: AgentOptions): Requester {
  return new LazyDispatcher(
    (undici) =>
      new undici.Agent({
        connections: Math.max(1, options.connections),
        ...socketOptions(options.timeoutMs, options.tls),
      }),
  );
}

/**
 * One keep-alive connection to the origin of `url`, for a download connection that owns its
 * socket: an undici pool hands requests to its first free client even when that one has no
 * socket, so it opens new connections while idle ones still hold a server's per-client slots.
 */
export function createConnection(
  url: string,
  options: Pick<AgentOptions, 'timeoutMs' | 'tls'>,
): Requester {
  const origin = new URL(url).origin;
  return new LazyDispatcher(
    (undici) => new undici.Client(origin, socketOptions(options.timeoutMs, options.tls)),
  );
}

export interface OpenOptions {
  dispatcher: Requester;
  headers: Record<string, string>;
  /**
   * The URL the user gave: only its origin gets the credentials (the credential headers and
   * its userinfo as Basic auth; see credentials.ts). Required so that no request to a final URL
   * forgets where it came from.
   */
  userUrl: string;
  /** Credentials, Digest state and cookies (session.ts). */
  session?: HttpSession | undefined;
  signal?: AbortSignal | undefined;
  followRedirects?: boolean;
  /** Redirects followed at most (default MAX_REDIRECTS). */
  maxRedirects?: number | undefined;
  /** The redirects already followed on the way here (openAnswer's, going on over undici). */
  trail?: RedirectTrail | undefined;
  method?: 'GET' | 'HEAD';
}

export interface OpenedResponse {
  statusCode: number;
  /** Lower-case names, first value only. */
  headers: Record<string, string | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered, after redirects. */
  url: string;
}

/**
 * A response whose body is read piece by piece, over undici or over a lean RangeConnection: what
 * the engine validates and reads. `discard` drops what is left of the body.
 */
export interface Answer {
  statusCode: number;
  /** Lower-case names, first value only. */
  headers: Record<string, string | undefined>;
  /** The URL that answered, after redirects. */
  url: string;
  /** The next piece (valid until the next call), or null at the end. */
  read(): Promise<Buffer | null>;
  discard(reason?: Error): void;
  /** The lean connection it came over; whoever takes the answer owns it. */
  connection?: RangeConnection | undefined;
}

/** An undici response as an Answer. */
export function undiciAnswer(response: OpenedResponse): Answer {
  const iterator = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  return {
    statusCode: response.statusCode,
    headers: response.headers,
    url: response.url,
    read: async () => {
      const next = await iterator.next();
      return next.done ? null : next.value;
    },
    discard: (reason) => discardBody(response.body, reason),
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Parse and check a user-supplied URL. */
export function parseHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new InvalidUrlError(url, { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidUrlError(url);
  return parsed;
}

/** Send one request; follows up to `maxRedirects` redirects (relative Location too) if asked. */
export async function openRequest(url: string, options: OpenOptions): Promise<OpenedResponse> {
  const trail = options.trail ?? new RedirectTrail(url, options.maxRedirects);
  let current = url;
  const { session, userUrl } = options;
  const method = options.method ?? 'GET';
  let again = false;
  for (;;) {
    let res: Dispatcher.ResponseData;
    try {
      const target = new URL(current);
      res = await options.dispatcher.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method,
        headers: requestHeaders(target, userUrl, options.headers, session, method),
        signal: options.signal ?? null,
      });
    } catch (err) {
      throw toQgetError(err, current, options.signal);
    }
    // Cookies kept (a redirect's too); a Digest challenge answered once.
    const retry = await noteAnswer(
      session,
      current,
      userUrl,
      options.headers,
      res.statusCode,
      res.headers,
    );
    again = retry && !again;
    if (again) {
      discardBody(res.body);
      continue;
    }
    const headers = flattenHeaders(res.headers);
    let next: string | undefined;
    try {
      next = options.followRedirects ? trail.next(current, res.statusCode, headers) : undefined;
    } catch (err) {
      discardBody(res.body);
      throw err;
    }
    if (next !== undefined) {
      discardBody(res.body);
      current = next;
      continue;
    }
    return { statusCode: res.statusCode, headers, body: res.body, url: current };
  }
}

/**
 * The redirects one request follows: where it started, the URLs it has been to, how many hops.
 * A redirect to a URL already visited is a loop; more than `max` hops is too many.
 */
export class RedirectTrail {
  readonly start: string;
  readonly max: number;
  readonly #seen = new Set<string>();

  constructor(start: string, max = MAX_REDIRECTS) {
    this.start = start;
    this.max = max;
    this.#seen.add(new URL(start).href);
  }

  /**
   * Where a redirect answer from `current` points, checked (a TooManyRedirectsError for a loop
   * or one hop too many); undefined when the answer is not a redirect.
   */
  next(
    current: string,
    statusCode: number,
    headers: Record<string, string | undefined>,
  ): string | undefined {
    if (!REDIRECTS.has(statusCode) || !headers.location) return undefined;
    let next: string;
    try {
      next = new URL(headers.location, current).href;
    } catch (cause) {
      throw new NetworkError(`bad redirect Location "${headers.location}" from ${current}`, {
        cause,
        transient: false,
      });
    }
    parseHttpUrl(next);
    if (this.#seen.has(next)) throw TooManyRedirectsError.loop(current, next);
    if (this.#seen.size > this.max) throw new TooManyRedirectsError(this.start, this.max);
    this.#seen.add(next);
    return next;
  }
}

/**
 * Throw a response body away (with `reason`, if any). undici reports a destroy as an 'error' event,
 * which would crash the process with nobody listening.
 */
export function discardBody(body: OpenedResponse['body'] | undefined, reason?: Error): void {
  if (!body || body.destroyed) return;
  body.on('error', () => {});
  body.destroy(reason);
}

/** The error for a status we do not accept; transient for 408/429/5xx, with Retry-After. */
export function statusError(res: Pick<Answer, 'statusCode' | 'headers' | 'url'>): HttpStatusError {
  const error = new HttpStatusError(
    res.statusCode,
    res.url,
    parseRetryAfter(res.headers['retry-after']),
  );
  if (res.statusCode >= 300 && res.statusCode < 400 && !res.headers.location) {
    error.message += ': a redirect without a Location to follow';
  }
  return error;
}

// The engine imports these from here.
export { errorCode } from '../errors.js';
export { toQgetError };
