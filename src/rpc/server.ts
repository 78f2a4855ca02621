// The transports: POST /jsonrpc (one call or a batch), GET /jsonrpc?method=…&id=…&params=<base64>
// (and jsoncallback), WebSocket on /jsonrpc for calls and notifications. Also what a browser may
// do: CORS only with --rpc-allow-origin-all; a page of another site is refused unless that or a
// secret is set; on loopback, a Host other than localhost is refused (DNS rebinding). The web page
// (web.ts) is served at / under the same checks.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { INVALID_REQUEST, type JsonRpc, PARSE_ERROR, type RpcReply } from './protocol.js';
import { replyPieces } from './reply-json.js';
import { isWebPath, webFile, webHeaders } from './web.js';

export interface RpcServerOptions {
  port: number;
  /** Listen on every interface; default loopback only (127.0.0.1 and ::1). */
  listenAll: boolean;
  /** Send `Access-Control-Allow-Origin: *` and answer CORS preflights. */
  allowOriginAll: boolean;
  /** A secret is set: pages of other sites may call (they still need the token). */
  secretSet: boolean;
  /** Largest request body or WebSocket message, in bytes. */
  maxRequestSize: number;
  /** Delay before answering a call refused for its token (aria2 waits 1 s). */
  unauthorizedDelayMs: number;
}

const PATH = '/jsonrpc';
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export class RpcServer {
  readonly #rpc: JsonRpc;
  readonly #options: RpcServerOptions;
  readonly #servers: Server[] = [];
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<WebSocket>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #port = 0;

  constructor(rpc: JsonRpc, options: RpcServerOptions) {
    this.#rpc = rpc;
    this.#options = options;
    // Messages up to twice the limit are read and answered with an error; longer ones close.
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: 2 * options.maxRequestSize,
      perMessageDeflate: false,
    });
  }

  get port(): number {
    return this.#port;
  }

  /** Listen; resolves the port (useful with port 0). Rejects with the listen error. */
  async listen(): Promise<number> {
    const hosts = this.#options.listenAll ? ['::'] : ['127.0.0.1', '::1'];
    for (const [i, host] of hosts.entries()) {
      const server = this.#createServer();
      try {
        this.#port = await listenOn(server, host, i === 0 ? this.#options.port : this.#port);
        this.#servers.push(server);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const noIpv6 = code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL';
        if (host === '::' && noIpv6) {
          this.#port = await listenOn(server, '0.0.0.0', this.#options.port);
          this.#servers.push(server);
        } else if (i === 0 || !noIpv6) {
          await this.close();
          throw err;
        }
      }
    }
    return this.#port;
  }

  /** Send a notification to every WebSocket client. */
  notify(method: string, params: unknown[]): void {
    const text = JSON.stringify({ jsonrpc: '2.0', method, params });
    for (const ws of this.#clients) if (ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  async close(): Promise<void> {
    for (const ws of this.#clients) ws.close(1001, 'shutting down');
    const closed = Promise.all(
      this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    for (const s of this.#servers) s.closeIdleConnections();
    // Answers in flight (the reply to aria2.shutdown) get a moment to go out.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
    for (const s of this.#servers) s.closeAllConnections();
    for (const ws of this.#clients) ws.terminate();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await closed;
  }

  #createServer(): Server {
    const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 });
    server.on('request', (req, res) => this.#onRequest(req, res));
    server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    return server;
  }

  // ---- HTTP ----

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => {});
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1).split('#')[0]!;
    const page = isWebPath(path);
    const refusal = path === PATH || page ? this.#refusal(req) : 'not found';
    if (refusal !== undefined) {
      plain(res, refusal === 'not found' ? 404 : 403, refusal);
      return;
    }
    if (page) {
      servePage(req, res, path);
      return;
    }
    if (this.#options.allowOriginAll) res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      this.#preflight(req, res);
    } else if (req.method === 'GET') {
      this.#onGet(query, res);
    } else if (req.method === 'POST') {
      this.#onPost(req, res);
    } else {
      res.setHeader('Allow', 'GET, POST, OPTIONS');
      plain(res, 405, 'method not allowed');
    }
  }

  #preflight(req: IncomingMessage, res: ServerResponse): void {
    if (
      this.#options.allowOriginAll &&
      req.headers.origin &&
      req.headers['access-control-request-method']
    ) {
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
      res.setHeader('Access-Control-Max-Age', '1728000');
      const asked = req.headers['access-control-request-headers'];
      if (asked) res.setHeader('Access-Control-Allow-Headers', asked);
    }
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  }

  #onPost(req: IncomingMessage, res: ServerResponse): void {
    const limit = this.#options.maxRequestSize;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      this.#tooLarge(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        this.#tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return;
      void this.#rpc
        .handleText(Buffer.concat(chunks).toString('utf8'))
        .then((reply) => this.#send(res, reply));
    });
    req.on('error', () => {});
  }

  #tooLarge(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Connection', 'close');
    this.#send(res, tooLargeReply(this.#options.maxRequestSize, 413));
    // The rest of the body is not read; the connection closes once the answer is out.
    res.on('finish', () => req.destroy());
  }

  #onGet(query: string, res: ServerResponse): void {
    const q = new Map<string, string>();
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      if (eq > 0) q.set(part.slice(0, eq), percentDecode(part.slice(eq + 1)));
    }
    const callback = q.get('jsoncallback');
    if (callback !== undefined && !/^[A-Za-z_$][\w$.]{0,99}$/.test(callback)) {
      this.#send(res, errorReply(INVALID_REQUEST, 'Invalid jsoncallback.', 400));
      return;
    }
    const method = q.get('method');
    const params = q.get('params');
    // params is base64 (standard or URL-safe); '+' must not have become a space.
    const decoded =
      params === undefined
        ? undefined
        : Buffer.from(params.replace(/ /g, '+'), 'base64').toString('utf8');
    if (method === undefined || method === '') {
      // No method: params holds a whole request or a batch (aria2 does the same).
      void this.#rpc.handleText(decoded ?? '').then((reply) => this.#send(res, reply, callback));
      return;
    }
    const request: Record<string, unknown> = { method };
    const id = q.get('id');
    // aria2 puts the id into the request as JSON text; a bare word is taken as a string here.
    if (id !== undefined) request.id = jsonOr(id, id);
    if (decoded !== undefined && decoded !== '') {
      const value = jsonOr(decoded, PARSE_FAILED);
      if (value === PARSE_FAILED) {
        this.#send(res, errorReply(PARSE_ERROR, 'Parse error.', 500), callback);
        return;
      }
      request.params = value;
    }
    void this.#rpc.handleValue(request).then((reply) => this.#send(res, reply, callback));
  }

  #send(res: ServerResponse, reply: RpcReply, callback?: string): void {
    const write = (): void => {
      if (res.destroyed || res.headersSent) return;
      // Bytes, not text, in pieces: a 450 KB answer is neither encoded as one string nor copied
      // into one buffer; its pieces (the kept list of statuses) go out as they are.
      const body =
        callback !== undefined
          ? replyPieces(reply.body, `${callback}(`, ')')
          : replyPieces(reply.body);
      let length = 0;
      for (const piece of body) length += piece.length;
      res.writeHead(reply.status, {
        'Content-Type': callback !== undefined ? 'text/javascript' : 'application/json-rpc',
        'Content-Length': String(length),
        'Cache-Control': 'no-cache',
      });
      if (body.length === 1) {
        res.end(body[0]);
        return;
      }
      res.cork();
      for (const piece of body) res.write(piece);
      res.end();
    };
    this.#later(reply.unauthorized, write);
  }

  /** Run `fn` now, or after the unauthorized delay (which slows down guessing the secret). */
  #later(unauthorized: boolean, fn: () => void): void {
    const delay = this.#options.unauthorizedDelayMs;
    if (!unauthorized || delay <= 0) {
      fn();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, delay);
    this.#timers.add(timer);
  }

  /** Why this request is refused (a short reason), or undefined. */
  #refusal(req: IncomingMessage): string | undefined {
    const host = req.headers.host;
    if (!this.#options.listenAll && host !== undefined) {
      const name = host.startsWith('[')
        ? host.slice(0, host.indexOf(']') + 1)
        : host.split(':')[0]!;
      if (!LOOPBACK_HOSTS.has(name.toLowerCase())) return 'forbidden: not a loopback Host';
    }
    if (this.#options.allowOriginAll || this.#options.secretSet) return undefined;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let sameOrigin = false;
      try {
        sameOrigin = new URL(origin).host === host;
      } catch {}
      if (!sameOrigin) return 'forbidden: a page of another origin (see --rpc-allow-origin-all)';
    }
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      return 'forbidden: a page of another site (see --rpc-allow-origin-all)';
    }
    return undefined;
  }

  // ---- WebSocket ----

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    const refusal = path === PATH ? this.#refusal(req) : 'not found';
    if (refusal !== undefined) {
      const status = refusal === 'not found' ? '404 Not Found' : '403 Forbidden';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
  }

  #onSocket(ws: WebSocket): void {
    this.#clients.add(ws);
    ws.on('close', () => this.#clients.delete(ws));
    ws.on('error', () => {});
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      const replied =
        buf.length > this.#options.maxRequestSize
          ? Promise.resolve(tooLargeReply(this.#options.maxRequestSize, 200))
          : this.#rpc.handleText(buf.toString('utf8'));
      void replied.then((reply) =>
        this.#later(reply.unauthorized, () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          // One text message, in as many frames as pieces (no copy into one buffer).
          const body = replyPieces(reply.body);
          body.forEach((piece, i) => {
            ws.send(piece, { binary: false, fin: i === body.length - 1 });
          });
        }),
      );
    });
  }
}

/** The web page's files: GET and HEAD only, under the page's security headers. */
function servePage(req: IncomingMessage, res: ServerResponse, path: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    plain(res, 405, 'method not allowed');
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204, webHeaders(req.headers.host));
    res.end();
    return;
  }
  const file = webFile(path);
  if (file === undefined) {
    plain(res, 503, 'the web page is not built (npm run build)');
    return;
  }
  res.writeHead(200, {
    ...webHeaders(req.headers.host),
    'Content-Type': file.type,
    'Content-Length': String(file.body.length),
  });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host === '::1' }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text) + 1),
  });
  res.end(`${text}\n`);
}

function errorReply(code: number, message: string, status: number): RpcReply {
  return {
    body: { id: null, jsonrpc: '2.0', error: { code, message } },
    status,
    unauthorized: false,
  };
}

function tooLargeReply(limit: number, status: number): RpcReply {
  return errorReply(
    INVALID_REQUEST,
    `Request too large: the limit is ${limit} bytes (--rpc-max-request-size).`,
    status,
  );
}

/** Percent-decoding that leaves '+' alone (base64 uses it), as aria2 does. */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const PARSE_FAILED = Symbol('parse failed');

function jsonOr<T>(text: string, fallback: T): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
