// Sockets through a proxy: a connection to the proxy itself (TCP, or TLS for an https:// proxy),
// and a tunnel to a target through it, by HTTP CONNECT or by SOCKS5 (RFC 1928, with the
// user/password method of RFC 1929). socks5 resolves the target's name here, socks5h lets the
// proxy resolve it. Every failure is a ProxyError / ProxyAuthError naming the proxy (password
// masked): the user learns it was the proxy, not the server.

import { isIP, connect as netConnect, type Socket } from 'node:net';
import { errorCode, NetworkError, ProxyAuthError, ProxyError } from '../errors.js';
import { type ProxyTarget, proxyAuthorization } from './proxy.js';
import type { TlsOptions } from './tls.js';

export interface TunnelOptions {
  /** Connect plus handshake, ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /**
   * The trust rules for an https:// proxy's own certificate: those of the download
   * (--ca-certificate, --insecure), as for the servers.
   */
  tls?: TlsOptions | undefined;
}

/** Codes that mean nobody is there: retrying the same proxy soon will not help. */
const DEAD = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** The error for a failed connection to the proxy. */
export function proxyConnectError(proxy: ProxyTarget, err: unknown): ProxyError {
  const code = errorCode(err) ?? (err instanceof Error ? err.message : String(err));
  return new ProxyError(`cannot connect to the proxy ${proxy.shown} (${code})`, {
    cause: err,
    transient: !DEAD.has(code),
  });
}

/** A connected socket to the proxy itself, paused. */
export async function connectProxy(proxy: ProxyTarget, options: TunnelOptions): Promise<Socket> {
  // Loaded when used: the command line starts without node:tls.
  const secure =
    proxy.kind === 'https'
      ? { tls: await import('node:tls'), rules: await import('./tls.js') }
      : undefined;
  return withDeadline(proxy, options, (settle) => {
    const socket =
      secure !== undefined
        ? secure.tls.connect({
            host: proxy.host,
            port: proxy.port,
            servername: isIP(proxy.host) === 0 ? proxy.host : undefined,
            ALPNProtocols: ['http/1.1'],
            ...secure.rules.tlsConnectOptions(options.tls),
          })
        : netConnect({ host: proxy.host, port: proxy.port });
    socket.setNoDelay(true);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.pause();
      settle(undefined, socket);
    });
    socket.once('error', (err) => {
      const code = errorCode(err);
      if (secure && code !== undefined && secure.rules.isCertificateCode(code)) {
        settle(
          new ProxyError(
            `TLS: the certificate of the proxy ${proxy.shown} is not trusted (${err.message}); ${secure.rules.UNTRUSTED_HINT}`,
            { cause: err, transient: false },
          ),
        );
        return;
      }
      settle(proxyConnectError(proxy, err));
    });
    return socket;
  });
}

/** A socket to `host:port` through `proxy` (CONNECT or SOCKS5), paused, ready for the target's bytes. */
export async function openTunnel(
  proxy: ProxyTarget,
  host: string,
  port: number,
  options: TunnelOptions,
): Promise<Socket> {
  const target = host.replace(/^\[|\]$/g, '');
  // socks5: the name is resolved here (before the clock of the proxy starts).
  let address = target;
  if (proxy.kind === 'socks5' && isIP(target) === 0) {
    try {
      const { lookup } = await import('node:dns/promises');
      address = (await lookup(target)).address;
    } catch (cause) {
      throw new NetworkError(`cannot resolve host ${target}`, { cause, transient: false });
    }
  }
  const socket = await connectProxy(proxy, options);
  try {
    return await withDeadline(proxy, options, (settle) => {
      const reader = new Reader(socket, (err) => settle(err));
      const handshake =
        proxy.kind === 'socks5' || proxy.kind === 'socks5h'
          ? socksHandshake(socket, reader, proxy, address, port)
          : connectHandshake(socket, reader, proxy, target, port);
      handshake.then(
        () => {
          reader.detach();
          settle(undefined, socket);
        },
        (err: Error) => settle(err),
      );
      return socket;
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Run `start` until it settles, with the timeout and the abort signal; the socket dies on failure. */
function withDeadline(
  proxy: ProxyTarget,
  options: TunnelOptions,
  start: (settle: (err: Error | undefined, socket?: Socket) => void) => Socket,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    let done = false;
    let socket: Socket | undefined;
    const settle = (err: Error | undefined, ok?: Socket): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) {
        socket?.destroy();
        reject(err);
      } else resolve(ok!);
    };
    const onAbort = (): void => settle(options.signal!.reason as Error);
    const timer = setTimeout(
      () =>
        settle(
          new ProxyError(
            `the proxy ${proxy.shown} did not answer in ${Math.round(options.timeoutMs / 1000)} s`,
            { transient: true },
          ),
        ),
      options.timeoutMs,
    );
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket = start(settle);
    if (done) socket.destroy();
  });
}

/** Reads exact byte counts off a socket during a handshake. */
class Reader {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #want:
    | { test: (b: Buffer) => number; resolve: (b: Buffer) => void; reject: (e: Error) => void }
    | undefined;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#check();
  };
  readonly #onEnd: () => void;
  readonly #onError: (err: Error) => void;

  constructor(socket: Socket, fail: (err: Error) => void) {
    this.#socket = socket;
    this.#onEnd = () => fail(new Error('the proxy closed the connection during the handshake'));
    this.#onError = (err) => fail(err);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.resume();
  }

  /** Resolves with the bytes once `test` says how many make a whole message (0: not yet). */
  take(test: (b: Buffer) => number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { test, resolve, reject };
      this.#check();
    });
  }

  exactly(n: number): Promise<Buffer> {
    return this.take((b) => (b.length >= n ? n : 0));
  }

  #check(): void {
    const want = this.#want;
    if (!want) return;
    let n: number;
    try {
      n = want.test(this.#buffer);
    } catch (err) {
      this.#want = undefined;
      want.reject(err as Error);
      return;
    }
    if (n === 0) return;
    this.#want = undefined;
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    want.resolve(out);
  }

  /** Hand the socket on, paused, with any bytes read past the handshake put back. */
  detach(): void {
    this.#socket.pause();
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('error', this.#onError);
    if (this.#buffer.length > 0) this.#socket.unshift(this.#buffer);
  }
}

const MAX_HEAD = 16 * 1024;

async function connectHandshake(
  socket: Socket,
  reader: Reader,
  proxy: ProxyTarget,
  host: string,
  port: number,
): Promise<void> {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const auth = proxyAuthorization(proxy);
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`,
  );
  const head = await reader.take((b) => {
    const end = b.indexOf('\r\n\r\n');
    if (end >= 0) return end + 4;
    if (b.length > MAX_HEAD) throw new ProxyError(`the proxy ${proxy.shown} sent a head too large`);
    return 0;
  });
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1'));
  if (!status) {
    throw new ProxyError(`the proxy ${proxy.shown} did not answer the CONNECT in HTTP`);
  }
  const code = Number(status[1]);
  if (code >= 200 && code < 300) return;
  throw tunnelRefused(proxy, code, authority);
}

/** The error for a proxy answering a CONNECT (or an absolute-form request) with `status`. */
export function tunnelRefused(proxy: ProxyTarget, status: number, target: string): Error {
  if (status === 407) {
    return new ProxyAuthError(
      proxy.username === undefined
        ? `the proxy ${proxy.shown} needs credentials (407): add user:password@ to the proxy URL`
        : `the proxy ${proxy.shown} refused the credentials (407)`,
    );
  }
  return new ProxyError(`the proxy ${proxy.shown} refused the tunnel to ${target} (${status})`, {
    transient: status === 502 || status === 503 || status === 504,
  });
}

const SOCKS_REPLIES: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

async function socksHandshake(
  socket: Socket,
  reader: Reader,
  proxy: ProxyTarget,
  host: string,
  port: number,
): Promise<void> {
  const withAuth = proxy.username !== undefined || proxy.password !== undefined;
  socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]));
  const [version, method] = await reader.exactly(2);
  if (version !== 5) throw new ProxyError(`the proxy ${proxy.shown} does not speak SOCKS5`);
  if (method === 0xff) {
    throw new ProxyAuthError(
      withAuth
        ? `the SOCKS proxy ${proxy.shown} accepts none of the methods offered (user/password, none)`
        : `the SOCKS proxy ${proxy.shown} needs credentials: add user:password@ to the proxy URL`,
    );
  }
  if (method === 2) {
    const user = Buffer.from(proxy.username ?? '', 'utf8');
    const pass = Buffer.from(proxy.password ?? '', 'utf8');
    if (user.length > 255 || pass.length > 255) {
      throw new ProxyAuthError(`the SOCKS proxy ${proxy.shown}: user or password too long`);
    }
    socket.write(
      Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]),
    );
    const [, status] = await reader.exactly(2);
    if (status !== 0)
      throw new ProxyAuthError(`the SOCKS proxy ${proxy.shown} refused the credentials`);
  } else if (method !== 0) {
    throw new ProxyError(`the SOCKS proxy ${proxy.shown} chose an unknown method (${method})`);
  }
  socket.write(socksRequest(host, port));
  const reply = await reader.take(socksReplyLength);
  if (reply[1] !== 0) {
    const reason = SOCKS_REPLIES[reply[1]!] ?? `reply ${reply[1]}`;
    throw new ProxyError(
      `the SOCKS proxy ${proxy.shown} refused the tunnel to ${host}:${port} (${reason})`,
      { transient: reply[1] === 1 || reply[1] === 6 },
    );
  }
}

/** CONNECT request for a name (socks5h), an IPv4 or an IPv6 address. */
export function socksRequest(host: string, port: number): Buffer {
  const family = isIP(host);
  let address: Buffer;
  if (family === 4) {
    address = Buffer.from([1, ...host.split('.').map(Number)]);
  } else if (family === 6) {
    address = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
  } else {
    const name = Buffer.from(host, 'utf8');
    address = Buffer.concat([Buffer.from([3, name.length]), name]);
  }
  const portBytes = Buffer.from([port >> 8, port & 0xff]);
  return Buffer.concat([Buffer.from([5, 1, 0]), address, portBytes]);
}

function ipv6Bytes(host: string): Buffer {
  const [head = '', tail = ''] = host.split('::');
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16));
  const front = parse(head);
  const back = host.includes('::') ? parse(tail) : [];
  const groups = [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(g, i * 2);
  return out;
}

/** The length of a whole SOCKS5 reply at the start of `b`, or 0 when more bytes are needed. */
function socksReplyLength(b: Buffer): number {
  if (b.length < 5) return 0;
  const type = b[3];
  const length = type === 1 ? 10 : type === 4 ? 22 : type === 3 ? 7 + b[4]! : 10;
  return b.length >= length ? length : 0;
}
