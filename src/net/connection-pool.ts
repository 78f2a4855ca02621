// Connections kept open between requests and between downloads: one undici Agent (https, HEAD,
// answers the lean client does not read) and idle lean RangeConnections per origin over plain
// http. A download of its own creates one and destroys it at the end; a Manager shares one
// among its downloads, so a queue of small files to one host runs on warm sockets.

import {
  type Answer,
  createConnection,
  openRequest,
  parseHttpUrl,
  type Requester,
  RedirectTrail,
  toQgetError,
  undiciAnswer,
} from './client.js';
import { type ProxyRoutes, proxyAuthorization } from './proxy.js';
import { createRequester } from './proxy-dispatcher.js';
import { connectProxy, openTunnel, proxyConnectError, tunnelRefused } from './tunnel.js';
import { noteAnswer, requestHeaders } from './credentials.js';
import { singlePart } from './multipart.js';
import {
  type LeanRoute,
  RangeConnection,
  type RangeResponse,
  UnsupportedResponseError,
} from './range-connection.js';
import type { HttpSession } from './session.js';
import type { TlsOptions } from './tls.js';

/** Idle lean connections kept at most (each holds a 64 KiB read buffer). */
const MAX_IDLE = 64;
/** A redirect's body is read to keep its socket when it is at most this long. */
const MAX_DRAIN = 64 * 1024;

export interface PoolOptions {
  /** The undici Agent's sockets per origin. */
  connections: number;
  /** Connect and response-headers timeout, ms. */
  timeoutMs: number;
  /** Which proxy each URL goes through (default: none). */
  proxy?: ProxyRoutes | undefined;
  /** Certificates trusted besides the usual roots, or no check (tls.ts). */
  tls?: TlsOptions | undefined;
}

export class ConnectionPool {
  /** undici, loaded at its first request. */
  readonly agent: Requester;
  readonly #timeoutMs: number;
  readonly #proxy: ProxyRoutes | undefined;
  readonly #tls: TlsOptions | undefined;
  readonly #idle = new Map<string, RangeConnection[]>();
  #idleCount = 0;
  /** Origins that answered in a way the lean client does not read: undici from then on. */
  readonly #undiciOnly = new Set<string>();
  #closed = false;

  constructor(options: PoolOptions) {
    this.agent = createRequester(options);
    this.#timeoutMs = options.timeoutMs;
    this.#proxy = options.proxy;
    this.#tls = options.tls;
  }

  /**
   * One keep-alive undici connection of its own to the origin of `url` (see createConnection),
   * through the proxy if any, with the pool's TLS rules.
   */
  connection(url: string): Requester {
    const tls = this.#tls;
    if (this.#proxy === undefined || this.#proxy.none) {
      return createConnection(url, { timeoutMs: this.#timeoutMs, tls });
    }
    return createRequester({ connections: 1, timeoutMs: this.#timeoutMs, proxy: this.#proxy, tls });
  }

  /** The proxy `url` goes through, if any. */
  proxyFor(url: URL) {
    return this.#proxy?.for(url);
  }

  /** Whether answers for `url` come from an HTTP proxy (its 407 is the proxy's). */
  httpProxied(url: URL): boolean {
    const kind = this.#proxy?.for(url)?.kind;
    return url.protocol === 'http:' && (kind === 'http' || kind === 'https');
  }

  /** How a lean connection to `url` goes through the proxy, if any. */
  #route(url: URL): LeanRoute | undefined {
    const proxy = this.#proxy?.for(url);
    if (!proxy) return undefined;
    const timeoutMs = this.#timeoutMs;
    if (proxy.kind === 'http') {
      return {
        absolute: true,
        proxyAuthorization: proxyAuthorization(proxy),
        host: proxy.host,
        port: proxy.port,
        connectError: (err) => proxyConnectError(proxy, err),
      };
    }
    if (proxy.kind === 'https') {
      return {
        absolute: true,
        proxyAuthorization: proxyAuthorization(proxy),
        open: (signal) => connectProxy(proxy, { timeoutMs, signal, tls: this.#tls }),
      };
    }
    const port = Number(url.port) || 80;
    return {
      absolute: false,
      open: (signal) =>
        openTunnel(proxy, url.hostname, port, { timeoutMs, signal, tls: this.#tls }),
    };
  }

  /**
   * A lean connection to the origin of `url`, a kept-alive idle one when there is one; undefined
   * when that origin goes through undici (https, or an answer the lean client cannot read).
   */
  lean(url: URL): RangeConnection | undefined {
    if (url.protocol !== 'http:' || this.#closed || this.#undiciOnly.has(url.origin)) {
      return undefined;
    }
    const idle = this.#idle.get(url.origin);
    while (idle && idle.length > 0) {
      const connection = idle.pop()!;
      this.#idleCount--;
      if (connection.reusable) {
        connection.keepsAlive(true);
        return connection;
      }
      connection.destroy();
    }
    return new RangeConnection(url, this.#timeoutMs, this.#route(url));
  }

  /** Done with `connection`: kept for the next request to its origin when it can carry one. */
  release(connection: RangeConnection): void {
    if (this.#closed || !connection.reusable || this.#idleCount >= MAX_IDLE) {
      connection.destroy();
      return;
    }
    connection.keepsAlive(false);
    const idle = this.#idle.get(connection.origin);
    if (idle) idle.push(connection);
    else this.#idle.set(connection.origin, [connection]);
    this.#idleCount++;
  }

  /** The origin of `url` answered in a way the lean client does not read. */
  undiciOnly(url: string | URL): void {
    this.#undiciOnly.add(new URL(url).origin);
  }

  /** Close the idle connections and, once its requests are done, the agent. */
  async close(): Promise<void> {
    this.#dropIdle();
    await this.agent.close();
  }

  /** Close everything now. */
  async destroy(): Promise<void> {
    this.#dropIdle();
    await this.agent.destroy();
  }

  #dropIdle(): void {
    this.#closed = true;
    for (const idle of this.#idle.values()) for (const connection of idle) connection.destroy();
    this.#idle.clear();
    this.#idleCount = 0;
  }
}

/** The response of a lean connection as an Answer; the connection stays with the answer. */
export function leanAnswer(
  connection: RangeConnection,
  response: RangeResponse,
  url: string,
): Answer {
  return {
    statusCode: response.statusCode,
    headers: response.headers,
    url,
    read: () => connection.read(),
    discard: (reason) => connection.abandon(reason),
    connection,
  };
}

export interface AnswerOptions {
  /** Lean connections from here when the URL allows (none: every request over `dispatcher`). */
  pool: ConnectionPool | undefined;
  dispatcher: Requester;
  headers: Record<string, string>;
  /** Credentials, Digest state and cookies (session.ts). */
  session?: HttpSession | undefined;
  signal: AbortSignal;
  /** Redirects followed at most (default MAX_REDIRECTS). */
  maxRedirects?: number | undefined;
}

/**
 * GET `url` following redirects: over a lean connection of the pool while the URLs are plain
 * http and the answers are ones it reads, else over undici. An answer with a connection hands
 * that connection to the caller, who gives it back to the pool (or drops it). `url` is the URL
 * the user gave: only its origin gets the credentials (credentials.ts).
 */
export async function openAnswer(url: string, options: AnswerOptions): Promise<Answer> {
  const { pool, signal } = options;
  // undici follows the rest of the way (https, or an origin the lean client cannot read).
  const trail = new RedirectTrail(url, options.maxRedirects);
  const overUndici = async (from: string): Promise<Answer> =>
    singlePart(
      undiciAnswer(
        await openRequest(from, { ...options, userUrl: url, followRedirects: true, trail }),
      ),
    );
  let current = url;
  const { session } = options;
  let again = false;
  for (;;) {
    const target = parseHttpUrl(current);
    const connection = pool?.lean(target);
    if (!connection) return overUndici(current);
    let response: RangeResponse;
    try {
      response = await connection.request(
        `${target.pathname}${target.search}`,
        requestHeaders(target, url, options.headers, session),
        signal,
      );
    } catch (err) {
      connection.destroy();
      if (err instanceof UnsupportedResponseError && !signal.aborted) {
        pool!.undiciOnly(current);
        return overUndici(current);
      }
      throw toQgetError(err, current, signal);
    }
    // Cookies kept (a redirect's too); a Digest challenge answered once.
    const { statusCode, repeated } = response;
    const retry = await noteAnswer(session, current, url, options.headers, statusCode, repeated);
    again = retry && !again;
    if (again) {
      await drain(connection, response);
      pool!.release(connection);
      continue;
    }
    let next: string | undefined;
    try {
      if (response.statusCode === 407 && pool!.httpProxied(target)) {
        throw tunnelRefused(pool!.proxyFor(target)!, 407, target.host);
      }
      next = trail.next(current, response.statusCode, response.headers);
    } catch (err) {
      connection.destroy();
      throw err;
    }
    if (next === undefined) return singlePart(leanAnswer(connection, response, current));
    await drain(connection, response);
    pool!.release(connection);
    current = next;
  }
}

/** Read a short body to its end so the socket can carry the next request; drop a long one. */
async function drain(connection: RangeConnection, response: RangeResponse): Promise<void> {
  if (response.length > MAX_DRAIN) {
    connection.destroy();
    return;
  }
  try {
    let budget = MAX_DRAIN;
    for (let piece = await connection.read(); piece; piece = await connection.read()) {
      budget -= piece.length;
      if (budget < 0) {
        connection.destroy();
        return;
      }
    }
  } catch {
    connection.destroy();
  }
}
