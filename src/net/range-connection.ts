// The hot path for ranged GETs: one keep-alive HTTP/1.1 connection whose socket reads into one
// reused buffer (net/tls `onread`), handing the body out as views valid until the next read: no
// allocation per chunk, no streams, flat memory. Bodies framed by Content-Length, chunked coding
// or the connection's end are read; anything else is an UnsupportedResponseError (the engine then
// uses undici for that origin, as for https). Through an HTTP proxy: absolute-form request lines
// to the proxy; through SOCKS, a tunnel socket read by 'data' events.

import { connect as netConnect, type Socket } from 'node:net';
import {
  type Framing,
  HEADERS_OVERFLOW,
  HeadGatherer,
  type LeanRoute,
  parseResponseHead,
  type RangeResponse,
  requestHead,
  socketError,
  UnsupportedResponseError,
} from './http1-head.js';
import { ChunkedBody } from './chunked-body.js';
import { MAX_HEAD_BYTES } from './headers.js';
import { errorCode } from '../errors.js';

export { HEADERS_OVERFLOW, type LeanRoute, type RangeResponse, UnsupportedResponseError };

const READ_BUFFER = 256 * 1024;

type Pending = { resolve: (value: Buffer | null) => void; reject: (err: Error) => void };

export class RangeConnection {
  readonly #url: URL;
  readonly #timeoutMs: number;
  readonly #route: LeanRoute | undefined;
  readonly #readBuffer = Buffer.allocUnsafe(READ_BUFFER);
  #socket: Socket | undefined;
  #connected = false;
  /** How long the socket took to connect, ms: the path's round trip without the server's delay. */
  #connectMs: number | undefined;
  /** Requests already answered on this socket (a failure on a reused socket is retried once). */
  #served = 0;
  #state: 'idle' | 'head' | 'body' | 'dead' = 'idle';
  readonly #head = new HeadGatherer(MAX_HEAD_BYTES);
  #onHead: { resolve: (r: RangeResponse) => void; reject: (err: Error) => void } | undefined;
  #framing: Framing = 'length';
  /** Bytes left of the body (framing 'length'). */
  #bodyLeft = 0;
  /** Where a chunked body is (framing 'chunked'). */
  readonly #chunked = new ChunkedBody();
  #keepAlive = true;
  /**
   * Received bytes of the body not decoded yet (those that came with the head, or the rest of a
   * read holding several chunks): a view of the read buffer, which the paused socket leaves
   * alone until read() resumes it.
   */
  #pending: Buffer | undefined;
  #reader: Pending | undefined;
  #error: Error | undefined;

  constructor(url: string | URL, timeoutMs: number, route?: LeanRoute) {
    this.#url = new URL(url);
    if (this.#url.protocol !== 'http:')
      throw new TypeError('RangeConnection speaks plain http only');
    this.#timeoutMs = timeoutMs;
    this.#route = route;
  }

  /** Send `GET path` with the given header lines; resolves once status and headers arrived. */
  async request(
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<RangeResponse> {
    if (this.busy) this.destroy();
    const reused = this.reusable;
    try {
      return await this.#send(path, headers, signal);
    } catch (err) {
      // A keep-alive socket the server closed meanwhile: one fresh try, as browsers do.
      const fresh = err instanceof UnsupportedResponseError || errorCode(err) === HEADERS_OVERFLOW;
      if (reused && !signal.aborted && !fresh) {
        this.destroy();
        return this.#send(path, headers, signal);
      }
      throw err;
    }
  }

  #send(
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<RangeResponse> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#socket && this.#state === 'idle')
      return this.#write(this.#socket, path, headers, signal);
    const open = this.#route?.open;
    if (!open) return this.#write(this.#connect(), path, headers, signal);
    this.#socket?.destroy();
    this.#socket = undefined;
    return open(signal).then((socket) => {
      if (signal.aborted) {
        socket.destroy();
        throw signal.reason;
      }
      return this.#write(this.#attach(socket, true), path, headers, signal);
    });
  }

  #write(
    socket: Socket,
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<RangeResponse> {
    const text = requestHead(this.#url, path, headers, this.#route);
    this.#state = 'head';
    this.#head.reset();
    this.#pending = undefined;
    this.#error = undefined;
    return new Promise<RangeResponse>((resolve, reject) => {
      const onAbort = (): void => this.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        this.destroy(
          socketError(
            `no answer from ${this.#url.host} in ${Math.round(this.#timeoutMs / 1000)} s`,
            'ERR_QGET_HEADERS_TIMEOUT',
          ),
        );
      }, this.#timeoutMs);
      this.#onHead = {
        resolve: (r) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (err) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      socket.write(`${text}\r\n`);
      socket.resume();
    });
  }

  /** An open socket that has answered before and is free: the next request goes over it. */
  get reusable(): boolean {
    return this.#socket !== undefined && this.#state === 'idle' && this.#served > 0;
  }

  /** A response is on its way or being read. */
  get busy(): boolean {
    return this.#state === 'head' || this.#state === 'body';
  }

  /** How long the open socket took to connect (ms), when this connection dialled it. */
  get connectMs(): number | undefined {
    return this.#socket ? this.#connectMs : undefined;
  }

  /** `scheme://host:port` this connection talks to. */
  get origin(): string {
    return this.#url.origin;
  }

  /** Drop the rest of the current response (and the socket with it); a finished one keeps it. */
  abandon(reason?: Error): void {
    if (this.busy) this.destroy(reason);
  }

  /** Whether an open socket keeps the process alive (an idle pooled one does not). */
  keepsAlive(yes: boolean): void {
    if (yes) this.#socket?.ref();
    else this.#socket?.unref();
  }

  /** The next piece of the body, or null at its end. The view is valid until the next call. */
  read(): Promise<Buffer | null> {
    while (this.#pending && !this.#error) {
      const data = this.#decodePending();
      if (data) return Promise.resolve(data);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#state !== 'body') return Promise.resolve(null);
    return new Promise<Buffer | null>((resolve, reject) => {
      this.#reader = { resolve, reject };
      this.#socket!.resume();
    });
  }

  /** Drop the socket (an early stop, an abort, or the end of use). */
  destroy(err?: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#connected = false;
    this.#served = 0;
    const failure = err ?? socketError('the connection was closed', 'ERR_QGET_SOCKET_CLOSED');
    this.#fail(failure);
    this.#state = 'idle';
    socket?.destroy();
  }

  #connect(): Socket {
    this.#socket?.destroy();
    const route = this.#route;
    const port = route?.port ?? (Number(this.#url.port) || 80);
    const host = (route?.host ?? this.#url.hostname).replace(/^\[|\]$/g, '');
    const onread = {
      buffer: this.#readBuffer,
      callback: (n: number, buf: Buffer) => this.#onRead(n, buf),
    };
    return this.#attach(netConnect({ host, port, onread }), false);
  }

  /** Watch a socket (connecting, or `ready` from a tunnel, read by 'data' events) as this one's. */
  #attach(socket: Socket, ready: boolean): Socket {
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#served = 0;
    this.#connected = ready;
    this.#connectMs = undefined;
    const dialled = performance.now();
    if (ready) {
      socket.on('data', (chunk: Buffer) => {
        if (!this.#onRead(chunk.length, chunk)) socket.pause();
      });
    }
    const timer = setTimeout(() => {
      if (!this.#connected && this.#socket === socket) {
        this.destroy(socketError(`connecting to ${this.#url.host} timed out`, 'ETIMEDOUT'));
      }
    }, this.#timeoutMs);
    timer.unref();
    socket.once('connect', () => {
      this.#connected = true;
      if (this.#socket === socket) this.#connectMs = performance.now() - dialled;
      clearTimeout(timer);
    });
    socket.on('error', (err) => {
      if (this.#socket !== socket) return;
      const connectError = this.#route?.connectError;
      this.destroy(!this.#connected && connectError ? connectError(err) : err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#socket !== socket) return;
      const midway = this.busy;
      this.#socket = undefined;
      if (this.#state === 'body' && this.#framing === 'close' && !this.#pending) {
        // The end of a body delimited by the end of the connection.
        this.#state = 'idle';
        const reader = this.#reader;
        this.#reader = undefined;
        reader?.resolve(null);
        return;
      }
      if (midway) {
        this.#fail(socketError('the server closed the connection early', 'ERR_QGET_SOCKET_CLOSED'));
      }
      this.#state = 'idle';
    });
    return socket;
  }

  #fail(err: Error): void {
    this.#error = err;
    this.#state = 'dead';
    const head = this.#onHead;
    const reader = this.#reader;
    this.#onHead = undefined;
    this.#reader = undefined;
    head?.reject(err);
    reader?.reject(err);
  }

  /** Called by the socket for every read into #readBuffer; false pauses the socket. */
  #onRead(n: number, buf: Buffer): boolean {
    let view = buf.subarray(0, n);
    if (this.#state === 'head') {
      const rest = this.#takeHead(view);
      if (rest === undefined) return this.#state === 'head';
      view = rest;
      if (view.length > 0 && this.#inBody()) this.#pending = view;
      else if (view.length > 0) this.#dropSocket();
      return false;
    }
    if (this.#state !== 'body' || !this.#reader) {
      // Bytes nobody asked for (a server talking out of turn): the socket cannot be trusted.
      if (n > 0 && this.#state !== 'body') this.#protocolError('unexpected data from the server');
      return false;
    }
    this.#pending = view;
    while (this.#pending && !this.#error) {
      const data = this.#decodePending();
      if (data) {
        const reader = this.#reader;
        this.#reader = undefined;
        reader.resolve(data);
        return false;
      }
    }
    if (this.#error) return false;
    if (this.#state === 'body') return true;
    // A chunked body ended inside this read (its trailers), with no data in it.
    const reader = this.#reader;
    this.#reader = undefined;
    reader.resolve(null);
    return false;
  }

  /** (A method, so the compiler does not narrow the state across the calls that change it.) */
  #inBody(): boolean {
    return this.#state === 'body';
  }

  /**
   * Takes the next piece of body data out of #pending (undefined when what it held was framing
   * only); bytes after the end of the body make the socket unusable.
   */
  #decodePending(): Buffer | undefined {
    const view = this.#pending!;
    this.#pending = undefined;
    if (this.#framing === 'close') return view.length > 0 ? view : undefined;
    if (this.#framing === 'length') {
      const take = Math.min(view.length, this.#bodyLeft);
      this.#bodyLeft -= take;
      if (this.#bodyLeft === 0) this.#bodyDone();
      if (view.length > take) this.#dropSocket();
      return take > 0 ? view.subarray(0, take) : undefined;
    }
    const chunked = this.#chunked;
    const data = chunked.decode(view);
    if (data !== undefined) {
      this.#pending = chunked.rest;
      return data;
    }
    if (chunked.error !== undefined) this.#protocolError(chunked.error);
    else {
      if (chunked.done) this.#bodyDone();
      if (chunked.extra) this.#dropSocket();
    }
    return undefined;
  }

  /**
   * More bytes than the answer had (a server talking out of turn): the body is complete, but the
   * socket cannot carry another request.
   */
  #dropSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }

  #protocolError(message: string): void {
    this.destroy(socketError(message, 'ERR_QGET_PROTOCOL'));
  }

  /** The body ended: the socket is free for the next request (or closed, if the server said so). */
  #bodyDone(): void {
    this.#state = 'idle';
    this.#served++;
    if (!this.#keepAlive) {
      const socket = this.#socket;
      this.#socket = undefined;
      socket?.end();
    }
  }

  /** Gathers the head; returns the bytes after it once complete, else undefined. */
  #takeHead(view: Buffer): Buffer | undefined {
    let response: RangeResponse;
    let rest: Buffer;
    try {
      const got = this.#head.take(view);
      if (got === undefined) return undefined;
      rest = got.rest;
      const parsed = parseResponseHead(got.head);
      response = parsed.response;
      this.#framing = parsed.framing;
      this.#keepAlive = parsed.keepAlive;
    } catch (err) {
      this.destroy(err as Error);
      return undefined;
    }
    if (response.statusCode < 200) {
      // 100 Continue, 103 Early Hints …: the real answer follows.
      return rest.length > 0 ? this.#takeHead(rest) : undefined;
    }
    this.#bodyLeft = response.length;
    this.#chunked.reset();
    this.#state = 'body';
    if (response.length === 0) this.#bodyDone();
    const head = this.#onHead;
    this.#onHead = undefined;
    head?.resolve(response);
    return rest;
  }
}
