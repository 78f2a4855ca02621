// The hot path for ranged GETs: one keep-alive HTTP/1.1 connection whose socket reads into one
// reused buffer (net/tls `onread`), handing the body out as views that are valid until the next
// read. No allocation per chunk, no stream machinery: memory stays flat whatever the file size.
// Only what a ranged download over plain http needs is handled (Content-Length bodies); any
// other framing is an UnsupportedResponseError, and the engine goes back to undici for the rest
// of the download. https stays on undici.

import { connect as netConnect, type Socket } from 'node:net';

const READ_BUFFER = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The server answered in a way this client does not parse (chunked, no length, HTTP/2 …). */
export class UnsupportedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedResponseError';
  }
}

/** A socket failure, with an errno-like `code` the engine classifies (refusal, transient). */
function socketError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

export interface RangeResponse {
  statusCode: number;
  /** Lower-case names, first value only. */
  headers: Record<string, string | undefined>;
  /** Body bytes to come. */
  length: number;
}

type Pending = { resolve: (value: Buffer | null) => void; reject: (err: Error) => void };

export class RangeConnection {
  readonly #url: URL;
  readonly #timeoutMs: number;
  readonly #readBuffer = Buffer.allocUnsafe(READ_BUFFER);
  #socket: Socket | undefined;
  #connected = false;
  /** Requests already answered on this socket (a failure on a reused socket is retried once). */
  #served = 0;
  #state: 'idle' | 'head' | 'body' | 'dead' = 'idle';
  #head: Buffer[] = [];
  #headBytes = 0;
  #onHead: { resolve: (r: RangeResponse) => void; reject: (err: Error) => void } | undefined;
  #bodyLeft = 0;
  #keepAlive = true;
  /** Body bytes that came with the head, handed out by the first read(). */
  #early: Buffer | undefined;
  #reader: Pending | undefined;
  #error: Error | undefined;

  constructor(url: string | URL, timeoutMs: number) {
    this.#url = new URL(url);
    if (this.#url.protocol !== 'http:')
      throw new TypeError('RangeConnection speaks plain http only');
    this.#timeoutMs = timeoutMs;
  }

  /** Send `GET path` with the given header lines; resolves once status and headers arrived. */
  async request(
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<RangeResponse> {
    if (this.#state === 'head' || this.#state === 'body') this.destroy();
    const reused = this.reusable;
    try {
      return await this.#send(path, headers, signal);
    } catch (err) {
      // A keep-alive socket the server closed meanwhile: one fresh try, as browsers do.
      if (reused && !signal.aborted && !(err instanceof UnsupportedResponseError)) {
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
    const socket = this.#socket && this.#state === 'idle' ? this.#socket : this.#connect();
    let text = `GET ${path} HTTP/1.1\r\nhost: ${this.#url.host}\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    this.#state = 'head';
    this.#head = [];
    this.#headBytes = 0;
    this.#early = undefined;
    this.#error = undefined;
    return new Promise<RangeResponse>((resolve, reject) => {
      const onAbort = (): void => this.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#onHead = {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (err) => {
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

  /** The next piece of the body, or null at its end. The view is valid until the next call. */
  read(): Promise<Buffer | null> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#early) {
      const early = this.#early;
      this.#early = undefined;
      return Promise.resolve(early);
    }
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
    const port = Number(this.#url.port) || 80;
    const host = this.#url.hostname.replace(/^\[|\]$/g, '');
    const onread = {
      buffer: this.#readBuffer,
      callback: (n: number, buf: Buffer) => this.#onRead(n, buf),
    };
    const socket = netConnect({ host, port, onread });
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#served = 0;
    const timer = setTimeout(() => {
      if (!this.#connected && this.#socket === socket) {
        this.destroy(socketError(`connecting to ${this.#url.host} timed out`, 'ETIMEDOUT'));
      }
    }, this.#timeoutMs);
    timer.unref();
    socket.once('connect', () => {
      this.#connected = true;
      clearTimeout(timer);
    });
    socket.on('error', (err) => {
      if (this.#socket === socket) this.destroy(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#socket !== socket) return;
      const midway = this.#state === 'head' || this.#state === 'body';
      this.#socket = undefined;
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
      if (!this.#inBody()) return false;
      if (view.length > 0) {
        // Copied: the read buffer is reused by the next read.
        this.#early = Buffer.from(view.subarray(0, Math.min(view.length, this.#bodyLeft)));
        this.#consumed(this.#early.length);
      }
      return false;
    }
    if (this.#state !== 'body' || !this.#reader) {
      // Bytes nobody asked for (a server talking out of turn): the socket cannot be trusted.
      if (n > 0 && this.#state !== 'body')
        this.destroy(socketError('unexpected data from the server', 'ERR_QGET_PROTOCOL'));
      return false;
    }
    const take = Math.min(view.length, this.#bodyLeft);
    const reader = this.#reader;
    this.#reader = undefined;
    const chunk = view.subarray(0, take);
    this.#consumed(take);
    if (view.length > take)
      this.destroy(socketError('more data than the body length', 'ERR_QGET_PROTOCOL'));
    reader.resolve(chunk);
    return false;
  }

  /** (A method, so the compiler does not narrow the state across the calls that change it.) */
  #inBody(): boolean {
    return this.#state === 'body';
  }

  #consumed(bytes: number): void {
    this.#bodyLeft -= bytes;
    if (this.#bodyLeft > 0) return;
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
    this.#head.push(Buffer.from(view));
    this.#headBytes += view.length;
    const all = this.#head.length === 1 ? this.#head[0]! : Buffer.concat(this.#head);
    const end = all.indexOf(CRLFCRLF);
    if (end < 0) {
      if (this.#headBytes > MAX_HEAD)
        this.destroy(new UnsupportedResponseError('response headers too large'));
      return undefined;
    }
    this.#head = [];
    this.#headBytes = 0;
    const rest = all.subarray(end + 4);
    let response: RangeResponse;
    try {
      response = this.#parseHead(all.subarray(0, end).toString('latin1'));
    } catch (err) {
      this.destroy(err as Error);
      return undefined;
    }
    if (response.statusCode < 200) {
      // 100 Continue, 103 Early Hints …: the real answer follows.
      return rest.length > 0 ? this.#takeHead(rest) : undefined;
    }
    this.#bodyLeft = response.length;
    this.#state = response.length > 0 ? 'body' : 'idle';
    if (response.length === 0) this.#consumed(0);
    const head = this.#onHead;
    this.#onHead = undefined;
    head?.resolve(response);
    return rest;
  }

  #parseHead(text: string): RangeResponse {
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!status)
      throw new UnsupportedResponseError(`not an HTTP/1.x answer: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string | undefined> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (headers[name] === undefined) headers[name] = line.slice(colon + 1).trim();
    }
    const statusCode = Number(status[2]);
    const connection = headers.connection?.toLowerCase() ?? '';
    this.#keepAlive =
      status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    if (statusCode < 200 || statusCode === 204 || statusCode === 304) {
      return { statusCode, headers, length: 0 };
    }
    if (headers['transfer-encoding'] !== undefined) {
      throw new UnsupportedResponseError(`Transfer-Encoding: ${headers['transfer-encoding']}`);
    }
    const length = headers['content-length'];
    if (length === undefined || !/^\d+$/.test(length)) {
      throw new UnsupportedResponseError('no Content-Length');
    }
    return { statusCode, headers, length: Number(length) };
  }
}
