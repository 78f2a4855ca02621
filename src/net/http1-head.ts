// HTTP/1.x heads for the lean RangeConnection (range-connection.ts): the request head it sends, and
// the response status line and headers parsed into a RangeResponse, and how its body is framed
// (Content-Length, chunked, or the end of the connection). Pure: no socket here.

import type { Socket } from 'node:net';
import { flattenHeadLines, repeatedHeaders } from './headers.js';

/** The server answered in a way this client does not parse (HTTP/0.9, gzip coding …). */
export class UnsupportedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedResponseError';
  }
}

/** A socket failure, with an errno-like `code` the engine classifies (refusal, transient). */
export function socketError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

export interface RangeResponse {
  statusCode: number;
  /** Lower-case names, first value only. */
  headers: Record<string, string | undefined>;
  /** The headers a session reads every value of (Set-Cookie, WWW-Authenticate). */
  repeated: Record<string, string[]>;
  /** Body bytes to come; -1 when chunked or delimited by the end of the connection. */
  length: number;
}

/** How the end of a body is known. */
export type Framing = 'length' | 'chunked' | 'close';

export interface ParsedHead {
  response: RangeResponse;
  framing: Framing;
  /** The socket may carry another request after this answer. */
  keepAlive: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Gathers a response head from the socket's reads. Usually the whole head is in one read, and is
 * parsed where it lies; the rest of the read is body, a view the socket (paused until the next
 * read()) leaves alone. A head cut across reads is gathered in copies.
 */
/** The code of a head longer than MAX_HEAD_BYTES: permanent (error-map.ts). */
export const HEADERS_OVERFLOW = 'ERR_QGET_HEADERS_OVERFLOW';

export class HeadGatherer {
  readonly #max: number;
  #parts: Buffer[] = [];
  #bytes = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Forget a partial head (a new request). */
  reset(): void {
    this.#parts = [];
    this.#bytes = 0;
  }

  /**
   * Add one read: the head's text (without its final CRLFCRLF) and the bytes after it once the
   * head is complete, else undefined. Throws a HEADERS_OVERFLOW error once more than `max` bytes
   * came without the end of the head.
   */
  take(view: Buffer): { head: string; rest: Buffer } | undefined {
    this.#bytes += view.length;
    const all = this.#parts.length === 0 ? view : Buffer.concat([...this.#parts, view]);
    const end = all.indexOf(CRLFCRLF);
    if (end < 0 && this.#bytes <= this.#max) {
      this.#parts = [Buffer.from(all)];
      return undefined;
    }
    this.reset();
    if (end < 0 || end > this.#max) {
      throw socketError('response headers too large', HEADERS_OVERFLOW);
    }
    return { head: all.toString('latin1', 0, end), rest: all.subarray(end + 4) };
  }
}

/** Parse a response head (without its final CRLFCRLF); throws UnsupportedResponseError. */
export function parseResponseHead(text: string): ParsedHead {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
  if (!status)
    throw new UnsupportedResponseError(`not an HTTP/1.x answer: ${JSON.stringify(lines[0])}`);
  const headers = flattenHeadLines(lines.slice(1));
  const repeated = repeatedHeaders(lines.slice(1));
  const statusCode = Number(status[2]);
  const connection = headers.connection?.toLowerCase() ?? '';
  const keepAlive =
    status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
  if (statusCode < 200 || statusCode === 204 || statusCode === 304) {
    return { response: { statusCode, headers, repeated, length: 0 }, framing: 'length', keepAlive };
  }
  const coding = headers['transfer-encoding'];
  if (coding !== undefined) {
    if (coding.toLowerCase() !== 'chunked') {
      throw new UnsupportedResponseError(`Transfer-Encoding: ${coding}`);
    }
    return {
      response: { statusCode, headers, repeated, length: -1 },
      framing: 'chunked',
      keepAlive,
    };
  }
  const length = headers['content-length'];
  if (length === undefined) {
    return {
      response: { statusCode, headers, repeated, length: -1 },
      framing: 'close',
      keepAlive: false,
    };
  }
  if (!/^\d+$/.test(length)) throw new UnsupportedResponseError(`Content-Length: ${length}`);
  return {
    response: { statusCode, headers, repeated, length: Number(length) },
    framing: 'length',
    keepAlive,
  };
}

/** The size a chunk-size line gives (extensions ignored); undefined when it is not one. */
export function parseChunkSize(line: string): number | undefined {
  const size = /^([0-9a-fA-F]{1,13})[ \t]*(;.*)?$/.exec(line);
  return size ? Number.parseInt(size[1]!, 16) : undefined;
}

/** How a connection reaches its origin through a proxy (see connection-pool.ts). */
export interface LeanRoute {
  /** Request lines in absolute form (to an HTTP proxy), with this Proxy-Authorization. */
  absolute: boolean;
  proxyAuthorization?: string | undefined;
  /** The proxy to connect to (an http:// one); else `open` gives the socket. */
  host?: string;
  port?: number;
  /** A socket ready for the request (a SOCKS tunnel, TLS to an https:// proxy), paused. */
  open?: (signal: AbortSignal) => Promise<Socket>;
  /** A failed connection to `host:port`, as the user should read it. */
  connectError?: (err: Error) => Error;
}

/** The request head of `GET path` (without the blank line that ends it), as `route` wants it. */
export function requestHead(
  url: URL,
  path: string,
  headers: Record<string, string>,
  route: LeanRoute | undefined,
): string {
  const target = route?.absolute ? `${url.origin}${path}` : path;
  let text = `GET ${target} HTTP/1.1\r\n`;
  let host = false;
  for (const [name, value] of Object.entries(headers)) {
    text += `${name}: ${value}\r\n`;
    if (name.toLowerCase() === 'host') host = true;
  }
  if (!host) text += `host: ${url.host}\r\n`;
  if (route?.proxyAuthorization) text += `proxy-authorization: ${route.proxyAuthorization}\r\n`;
  return text;
}
