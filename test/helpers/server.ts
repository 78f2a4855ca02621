// Deterministic local HTTP server for tests and benchmarks. Everything it does wrong (503s,
// connection caps, cut or stalled bodies, ignored ranges, content changing mid-download) it does
// itself, on purpose, according to `config` — which tests may change while it runs.

import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type BodyPlan, type Pacer, writeBody } from './body.js';
import { type ContentSource, makeContent, virtualContent } from './content.js';
import { checkDigest, type DigestConfig, digestChallenge } from './digest-server.js';

export interface ServerConfig {
  /** What is served. Assigning it directly changes the bytes but NOT the validators (a silent
   * change); use `setContent` for a change the client can notice. */
  content: Buffer;
  /** When set, served instead of `content` (for files too big to hold in memory). */
  source: ContentSource | null;
  /** Current ETag header value, null = none. Default '"v1-<size>"'; setContent bumps it. */
  etag: string | null;
  /** Current Last-Modified header value, null = none. Default a fixed date; setContent bumps it. */
  lastModified: string | null;
  /** Honour Range (206, Accept-Ranges: bytes); false → always 200 full body, no Accept-Ranges. */
  ranges: boolean;
  /** false → no Content-Length, chunked transfer encoding. */
  sendLength: boolean;
  /** Content-Type of content answers. */
  contentType: string;
  /** Content-Disposition on the content path (`/named/*` falls back to a default). */
  contentDisposition: string | null;
  /** Bytes/s cap per TCP connection, 0 = unthrottled. */
  ratePerConnection: number;
  /** Every Nth accepted connection runs at ratePerConnection / slowFactor (0 = off). */
  slowEvery: number;
  slowFactor: number;
  /** Every Nth content response with a body runs at ratePerConnection / slowFactor, whatever
   * its connection (a cache miss behind a CDN: every request is a new draw), 0 = off. */
  slowResponseEvery: number;
  /** Cap on concurrently open TCP connections per client address, 0 = unlimited. */
  maxConnections: number;
  /** How a request on a connection over the cap is refused. */
  capMode: '503' | '403' | 'reset';
  /** The next K requests (any path) get 503 + Retry-After. */
  fail503First: number;
  retryAfterSeconds: number;
  /** Content bodies longer than this are cut (socket destroyed) after this many bytes, 0 = off… */
  cutAfterBytes: number;
  /** …for this many responses. */
  cutTimes: number;
  /** Content bodies longer than this stop (socket kept open) after this many bytes, 0 = off… */
  stallAfterBytes: number;
  /** …for this many responses. */
  stallTimes: number;
  /** Every K-th ranged content request is answered 200 with the full body, 0 = off. */
  ignoreRangeEvery: number;
  /** After N requests the content is replaced by other bytes of the same size, and the
   * validators change (once), 0 = off. */
  changeAfterRequests: number;
  /** Every content response carries a new weak ETag (W/"r<n>"), while the bytes and
   * Last-Modified stay: several backends behind one name. */
  weakEtagPerResponse: boolean;
  /** A second version of the same size (a balancer over backends at different versions)… */
  otherContent: Buffer | null;
  /** …served to content request k when `versionPattern[k % length]` is 'B' ('AB' alternates,
   * 'AAB' serves B to every third). Version B has its own ETag and Last-Modified. */
  versionPattern: string;
  /** Serve https with this key and certificate (PEM), fixed when the server starts. */
  tls: { key: string; cert: string } | null;
  /** Content requests without exactly this Authorization header get 401, null = open. */
  authorization: string | null;
  /** Content requests need this Digest auth (checked by digest-server.ts), null = none. */
  digest: DigestConfig | null;
  /** Each redirect answer sets the cookie `hop<N>=v<N>` (N: the hops left), Path=/. */
  redirectCookies: boolean;
  /** Set-Cookie values sent with every content answer. */
  setCookie: string[];
  /** Content answers carry about this many bytes of padding headers (X-Pad-<n>), 0 = none. */
  headerBytes: number;
  /** 206 answers as multipart/byteranges: 'one' part (with its Content-Range), or 'broken'
   * (a part head without Content-Range); null = plain 206. */
  multipart: 'one' | 'broken' | null;
  /** 206 answers give no total: `Content-Range: bytes a-b/*` (size unknown to the server). */
  unknownTotal: boolean;
  /** 206 answers are sent with status 200 (the part and its Content-Range, the wrong status). */
  partAs200: boolean;
}

export interface RequestRecord {
  id: number;
  method: string;
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  headers: IncomingHttpHeaders;
  /** Status sent; 0 when the connection was reset without an answer. */
  status: number;
  bytesSent: number;
  /** Which version answered a content request ('B': otherContent, see versionPattern). */
  version?: 'A' | 'B';
  socketId: number;
  /** Date.now() when the request arrived / when its response finished or was destroyed. */
  start: number;
  end?: number;
}

export interface ServerStats {
  connectionsAccepted: number;
  maxOpenConnections: number;
  openConnections: number;
  bytesSent: number;
  /** Requests refused because their connection was over maxConnections. */
  refused: number;
}

export interface TestServer {
  url: string;
  fileUrl: string;
  config: ServerConfig;
  requests: RequestRecord[];
  stats: ServerStats;
  setContent(buf: Buffer): void;
  reset(): void;
  close(): Promise<void>;
}

const BASE_DATE = Date.UTC(2024, 0, 1);
const httpDate = (version: number): string =>
  new Date(BASE_DATE + (version - 1) * 3_600_000).toUTCString();
const makeEtag = (version: number, size: number): string => `"v${version}-${size}"`;

interface Conn {
  id: number;
  client: string;
  admitted: boolean;
  pacer: Pacer;
}

export async function startServer(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  let version = 1;
  const content = overrides.content ?? makeContent(1024 * 1024);
  const config: ServerConfig = {
    content,
    source: null,
    etag: makeEtag(version, overrides.source?.size ?? content.length),
    lastModified: httpDate(version),
    ranges: true,
    sendLength: true,
    contentDisposition: null,
    contentType: 'application/octet-stream',
    ratePerConnection: 0,
    slowEvery: 0,
    slowFactor: 30,
    slowResponseEvery: 0,
    maxConnections: 0,
    capMode: '503',
    fail503First: 0,
    retryAfterSeconds: 1,
    cutAfterBytes: 0,
    cutTimes: 1,
    stallAfterBytes: 0,
    stallTimes: 1,
    ignoreRangeEvery: 0,
    changeAfterRequests: 0,
    weakEtagPerResponse: false,
    otherContent: null,
    versionPattern: '',
    tls: null,
    authorization: null,
    digest: null,
    redirectCookies: false,
    setCookie: [],
    headerBytes: 0,
    multipart: null,
    unknownTotal: false,
    partAs200: false,
    ...overrides,
  };
  const requests: RequestRecord[] = [];
  const stats: ServerStats = {
    connectionsAccepted: 0,
    maxOpenConnections: 0,
    openConnections: 0,
    bytesSent: 0,
    refused: 0,
  };
  const faults = {
    requests: 0,
    failed503: 0,
    cuts: 0,
    stalls: 0,
    ranged: 0,
    changed: false,
    contents: 0,
    bodies: 0,
  };
  const sockets = new Set<Socket>();
  const conns = new WeakMap<Socket, Conn>();
  const admitted = new Map<string, number>(); // client address → admitted open connections
  let nextSocketId = 1;
  let nextRequestId = 1;

  const size = (): number => config.source?.size ?? config.content.length;
  const read = (start: number, end: number): Buffer =>
    config.source ? config.source.read(start, end) : config.content.subarray(start, end);

  function setContent(buf: Buffer): void {
    config.content = buf;
    config.source = null;
    bumpVersion();
  }
  function bumpVersion(): void {
    version++;
    if (config.etag !== null) config.etag = makeEtag(version, size());
    if (config.lastModified !== null) config.lastModified = httpDate(version);
  }

  function tryAdmit(conn: Conn): boolean {
    const open = admitted.get(conn.client) ?? 0;
    if (!conn.admitted && (config.maxConnections <= 0 || open < config.maxConnections)) {
      conn.admitted = true;
      admitted.set(conn.client, open + 1);
    }
    return conn.admitted;
  }

  const server = config.tls
    ? createHttpsServer({ ...config.tls, keepAliveTimeout: 5000 })
    : createServer({ keepAliveTimeout: 5000 });
  // The socket requests arrive on: with TLS, the secure one wrapped around the TCP connection.
  server.on(config.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    stats.connectionsAccepted++;
    stats.openConnections++;
    stats.maxOpenConnections = Math.max(stats.maxOpenConnections, stats.openConnections);
    const slow = config.slowEvery > 0 && stats.connectionsAccepted % config.slowEvery === 0;
    const conn: Conn = {
      id: nextSocketId++,
      client: socket.remoteAddress ?? '',
      admitted: false,
      pacer: {
        next: 0,
        rate: () =>
          slow
            ? config.ratePerConnection / Math.max(1, config.slowFactor)
            : config.ratePerConnection,
      },
    };
    conns.set(socket, conn);
    tryAdmit(conn);
    socket.on('close', () => {
      sockets.delete(socket);
      stats.openConnections--;
      if (conn.admitted) admitted.set(conn.client, (admitted.get(conn.client) ?? 1) - 1);
    });
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const conn = conns.get(req.socket)!;
    const record: RequestRecord = {
      id: nextRequestId++,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      range: req.headers.range,
      ifRange: req.headers['if-range']?.toString(),
      headers: req.headers,
      status: 0,
      bytesSent: 0,
      socketId: conn.id,
      start: Date.now(),
    };
    requests.push(record);
    res.on('close', () => {
      record.end ??= Date.now();
    });
    res.on('error', () => {});
    handle(req, res, conn, record).catch(() => req.socket.destroy());
  });

  function sendText(
    res: ServerResponse,
    record: RequestRecord,
    status: number,
    text: string,
    headers: Record<string, string> = {},
  ): void {
    record.status = status;
    res.writeHead(status, {
      'Content-Type': 'text/plain',
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    conn: Conn,
    record: RequestRecord,
  ): Promise<void> {
    if (!tryAdmit(conn)) {
      stats.refused++;
      if (config.capMode === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      if (config.capMode === '403') {
        sendText(res, record, 403, 'too many connections\n', { Connection: 'close' });
        return;
      }
      sendText(res, record, 503, 'too many connections\n', {
        'Retry-After': '1',
        Connection: 'close',
      });
      return;
    }
    faults.requests++;
    if (faults.failed503 < config.fail503First) {
      faults.failed503++;
      sendText(res, record, 503, 'service unavailable\n', {
        'Retry-After': String(config.retryAfterSeconds),
      });
      return;
    }
    if (
      config.changeAfterRequests > 0 &&
      !faults.changed &&
      faults.requests > config.changeAfterRequests
    ) {
      faults.changed = true;
      const seed = 0x5eed + version;
      if (config.source) config.source = virtualContent(size(), seed);
      else config.content = makeContent(size(), seed);
      bumpVersion();
    }

    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const redirect = /^\/redirect\/(\d+)\/(.*)$/.exec(path);
    if (redirect) {
      const n = Number(redirect[1]);
      const target = `${n > 0 ? `/redirect/${n - 1}/` : '/'}${redirect[2]}${url.search}`;
      // Odd N: a relative (path-absolute) Location; even N (and 0): an absolute URL.
      const location = n % 2 === 1 ? target : `${base}${target}`;
      const cookie = config.redirectCookies ? { 'Set-Cookie': `hop${n}=v${n}; Path=/` } : {};
      sendText(res, record, 302, `see ${location}\n`, { Location: location, ...cookie });
      return;
    }
    // A redirect loop: /loop/a/<path> and /loop/b/<path> send to each other.
    const loop = /^\/loop\/([ab])\/(.*)$/.exec(path);
    if (loop) {
      const location = `/loop/${loop[1] === 'a' ? 'b' : 'a'}/${loop[2]}`;
      sendText(res, record, 302, `see ${location}\n`, { Location: location });
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      const code = Number(status[1]);
      const extra: Record<string, string> =
        code === 503 || code === 429 ? { 'Retry-After': String(config.retryAfterSeconds) } : {};
      sendText(res, record, code, `status ${code}\n`, extra);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, record, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (config.authorization !== null && req.headers.authorization !== config.authorization) {
      sendText(res, record, 401, 'unauthorized\n', { 'WWW-Authenticate': 'Basic realm="test"' });
      return;
    }
    const digest = config.digest;
    const verdict = digest && checkDigest(digest, req.method!, req.url!, req.headers.authorization);
    if (digest && verdict !== 'ok') {
      sendText(res, record, 401, 'unauthorized\n', {
        'WWW-Authenticate': digestChallenge(digest, verdict === 'stale'),
      });
      return;
    }
    const disposition = path.startsWith('/named/')
      ? (config.contentDisposition ?? 'attachment; filename="named.bin"')
      : config.contentDisposition;
    await serveContent(req, res, conn, record, disposition);
  }

  async function serveContent(
    req: IncomingMessage,
    res: ServerResponse,
    conn: Conn,
    record: RequestRecord,
    disposition: string | null,
  ): Promise<void> {
    const total = size();
    const headers: Record<string, string> = { 'Content-Type': config.contentType };
    const pattern = config.versionPattern;
    const other =
      config.otherContent !== null &&
      pattern.length > 0 &&
      pattern[faults.contents % pattern.length] === 'B'
        ? config.otherContent
        : null;
    faults.contents++;
    record.version = other ? 'B' : 'A';
    const etag = other ? `"other-${other.length}"` : config.etag;
    const lastModified = other ? httpDate(50) : config.lastModified;
    if (etag !== null) headers.ETag = config.weakEtagPerResponse ? `W/"r${record.id}"` : etag;
    if (lastModified !== null) headers['Last-Modified'] = lastModified;
    if (config.ranges) headers['Accept-Ranges'] = 'bytes';
    if (disposition !== null) headers['Content-Disposition'] = disposition;
    if (config.setCookie.length > 0) res.setHeader('Set-Cookie', config.setCookie);
    for (let i = 0, left = config.headerBytes; left > 0; i++, left -= 4096) {
      headers[`X-Pad-${i}`] = 'p'.repeat(Math.min(left, 4096));
    }

    let status = 200;
    let start = 0;
    let end = total;
    const rangeHeader = req.headers.range;
    if (config.ranges && rangeHeader !== undefined) {
      faults.ranged++;
      const ignore = config.ignoreRangeEvery > 0 && faults.ranged % config.ignoreRangeEvery === 0;
      const range = parseRange(rangeHeader, total);
      if (!ignore && range !== null && ifRangeMatches(record.ifRange, etag, lastModified)) {
        if (range === 'unsatisfiable') {
          sendText(res, record, 416, 'range not satisfiable\n', {
            ...headers,
            'Content-Range': `bytes */${total}`,
          });
          return;
        }
        status = 206;
        ({ start, end } = range);
        headers['Content-Range'] = `bytes ${start}-${end - 1}/${config.unknownTotal ? '*' : total}`;
      }
    }
    if (status === 206 && config.multipart !== null) {
      // One part between a preamble and the closing boundary, as some servers answer a range.
      const range = headers['Content-Range']!;
      delete headers['Content-Range'];
      headers['Content-Type'] = 'multipart/byteranges; boundary=QGET_BOUNDARY';
      const partHead =
        config.multipart === 'one'
          ? `Content-Type: application/octet-stream\r\nContent-Range: ${range}\r\n`
          : 'Content-Type: application/octet-stream\r\n';
      const body = Buffer.concat([
        Buffer.from(`preamble\r\n--QGET_BOUNDARY\r\n${partHead}\r\n`),
        read(start, end),
        Buffer.from('\r\n--QGET_BOUNDARY--\r\n'),
      ]);
      record.status = 206;
      res.writeHead(206, { ...headers, 'Content-Length': String(body.length) });
      record.bytesSent += body.length;
      stats.bytesSent += body.length;
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (config.sendLength) headers['Content-Length'] = String(end - start);
    if (status === 206 && config.partAs200) status = 200;
    record.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || end === start) {
      res.end();
      return;
    }

    const length = end - start;
    const plan: BodyPlan = {
      read: other ? (s: number, e: number) => other.subarray(s, e) : read,
      start,
      end,
      fault: null,
      faultAt: 0,
      onBytes: (n) => {
        record.bytesSent += n;
        stats.bytesSent += n;
      },
    };
    const cut = config.cutAfterBytes > 0 && faults.cuts < config.cutTimes;
    const stall = config.stallAfterBytes > 0 && faults.stalls < config.stallTimes;
    if (
      cut &&
      length > config.cutAfterBytes &&
      !(stall && config.stallAfterBytes < config.cutAfterBytes)
    ) {
      faults.cuts++;
      plan.fault = 'cut';
      plan.faultAt = config.cutAfterBytes;
    } else if (stall && length > config.stallAfterBytes) {
      faults.stalls++;
      plan.fault = 'stall';
      plan.faultAt = config.stallAfterBytes;
    }
    faults.bodies++;
    const crawls = config.slowResponseEvery > 0 && faults.bodies % config.slowResponseEvery === 0;
    // A crawling response is paced on its own (a keep-alive connection serves one at a time).
    const pacer: Pacer = crawls
      ? { next: 0, rate: () => config.ratePerConnection / Math.max(1, config.slowFactor) }
      : conn.pacer;
    await writeBody(res, pacer, plan);
  }

  /** RFC 9110 §13.1.5: a strong ETag compare, or an exact Last-Modified date. */
  function ifRangeMatches(
    ifRange: string | undefined,
    etag: string | null,
    lastModified: string | null,
  ): boolean {
    if (ifRange === undefined) return true;
    if (ifRange.startsWith('"')) return etag !== null && ifRange === etag;
    if (ifRange.startsWith('W/')) return false;
    if (lastModified === null) return false;
    const date = Date.parse(ifRange);
    return !Number.isNaN(date) && date === Date.parse(lastModified);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const base = `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    url: base,
    fileUrl: `${base}/file.bin`,
    config,
    requests,
    stats,
    setContent,
    reset(): void {
      requests.length = 0;
      Object.assign(stats, {
        connectionsAccepted: 0,
        maxOpenConnections: stats.openConnections,
        bytesSent: 0,
        refused: 0,
      });
      Object.assign(faults, {
        requests: 0,
        failed503: 0,
        cuts: 0,
        stalls: 0,
        ranged: 0,
        contents: 0,
        bodies: 0,
      });
      faults.changed = false;
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range against `total` bytes: [start, end)
 * clamped to the size, 'unsatisfiable' (→ 416), or null for anything else, which is then
 * ignored (200 full body), as RFC 9110 allows. */
export function parseRange(
  header: string,
  total: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return suffix === 0 || total === 0
      ? 'unsatisfiable'
      : { start: Math.max(0, total - suffix), end: total };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Number.POSITIVE_INFINITY : Number(m[2]);
  if (last < start) return null;
  return start >= total ? 'unsatisfiable' : { start, end: Math.min(total, last + 1) };
}
