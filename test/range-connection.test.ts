// The lean keep-alive connection used for ranged GETs over plain http.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { qget } from '../src/index.js';
import { RangeConnection, UnsupportedResponseError } from '../src/net/range-connection.js';
import { makeContent } from './helpers/content.js';
import { readAll, useFixtures } from './helpers/fixture.js';

const fx = useFixtures();
const never = new AbortController().signal;

/** A raw TCP server answering every request with `answer(requestText)`. */
async function rawServer(answer: (request: string, socket: Socket) => void): Promise<string> {
  const server = createServer((socket) => {
    let text = '';
    socket.on('data', (d) => {
      text += d;
      while (text.includes('\r\n\r\n')) {
        const end = text.indexOf('\r\n\r\n') + 4;
        answer(text.slice(0, end), socket);
        text = text.slice(end);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/f`;
}

describe('RangeConnection', () => {
  test('two ranged requests on one kept-alive socket, bytes exact', async () => {
    const content = makeContent(3 * 1024 * 1024);
    const server = await fx.serve({ content });
    const conn = new RangeConnection(server.fileUrl, 5000);
    try {
      for (const [s, e] of [
        [0, 1024 * 1024],
        [2 * 1024 * 1024 + 7, 3 * 1024 * 1024],
      ] as const) {
        const res = await conn.request('/file.bin', { range: `bytes=${s}-${e - 1}` }, never);
        assert.equal(res.statusCode, 206);
        assert.equal(res.headers['content-range'], `bytes ${s}-${e - 1}/${content.length}`);
        assert.ok((await readAll(conn)).equals(content.subarray(s, e)));
      }
      const sockets = new Set(server.requests.map((q) => q.socketId));
      assert.equal(sockets.size, 1, 'the socket was reused');
    } finally {
      conn.destroy();
    }
  });

  test('tells how long its socket took to connect, while it is open', async () => {
    const server = await fx.serve({ content: makeContent(64 * 1024) });
    const conn = new RangeConnection(server.fileUrl, 5000);
    try {
      assert.equal(conn.connectMs, undefined);
      await conn.request('/file.bin', { range: 'bytes=0-1023' }, never);
      await readAll(conn);
      const ms = conn.connectMs;
      assert.ok(ms !== undefined && ms >= 0, `connectMs ${ms}`);
      conn.destroy();
      assert.equal(conn.connectMs, undefined);
    } finally {
      conn.destroy();
    }
  });

  test('a reader slower than the socket gets every byte, each view intact until its next read', async () => {
    // The socket waits while the caller holds a view of its read buffer.
    const content = makeContent(4 * 1024 * 1024, 9);
    for (const sendLength of [true, false]) {
      const server = await fx.serve({ content, sendLength });
      const conn = new RangeConnection(server.fileUrl, 5000);
      try {
        await conn.request('/file.bin', {}, never);
        const pieces: Buffer[] = [];
        for (let piece = await conn.read(); piece; piece = await conn.read()) {
          const copy = Buffer.from(piece);
          pieces.push(copy);
          await new Promise((r) => setTimeout(r, 1));
          assert.ok(piece.equals(copy), 'the view changed while it was held');
        }
        assert.ok(Buffer.concat(pieces).equals(content));
      } finally {
        conn.destroy();
      }
    }
  });

  test('a chunked answer is decoded, then the socket carries the next request', async () => {
    const content = makeContent(300_000, 3);
    const server = await fx.serve({ content, sendLength: false });
    const conn = new RangeConnection(server.fileUrl, 5000);
    try {
      for (let i = 0; i < 2; i++) {
        const res = await conn.request('/file.bin', {}, never);
        assert.equal(res.statusCode, 200);
        assert.equal(res.length, -1);
        assert.ok((await readAll(conn)).equals(content));
        assert.equal(conn.reusable, true);
      }
      assert.equal(new Set(server.requests.map((q) => q.socketId)).size, 1);
    } finally {
      conn.destroy();
    }
  });

  test('chunk framing split at every byte, extensions and trailers', async () => {
    const body =
      '5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: yes\r\n\r\n';
    const url = await rawServer((_req, socket) => {
      const text = `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${body}`;
      // One byte per write (and so, mostly, per read): every state of the decoder is cut.
      let i = 0;
      const next = (): void => {
        if (i < text.length) socket.write(text[i++]!, () => setImmediate(next));
      };
      next();
    });
    const conn = new RangeConnection(url, 5000);
    await conn.request('/f', {}, never);
    assert.equal((await readAll(conn)).toString(), 'hello 0123456789');
    assert.equal(conn.reusable, true);
    conn.destroy();
  });

  test('bad chunk framing rejects the read as a protocol error', async () => {
    const url = await rawServer((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n');
    });
    const conn = new RangeConnection(url, 5000);
    await conn.request('/f', {}, never);
    await assert.rejects(readAll(conn), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_QGET_PROTOCOL');
      return true;
    });
    conn.destroy();
  });

  test('a body without length ends with the connection; the next request opens a new one', async () => {
    let sockets = 0;
    const url = await rawServer((_req, socket) => {
      sockets++;
      socket.write('HTTP/1.1 200 OK\r\n\r\nfirst part, ');
      setTimeout(() => socket.end('second part'), 20);
    });
    const conn = new RangeConnection(url, 5000);
    for (let i = 0; i < 2; i++) {
      await conn.request('/f', {}, never);
      assert.equal((await readAll(conn)).toString(), 'first part, second part');
      assert.equal(conn.reusable, false);
    }
    assert.equal(sockets, 2);
    conn.destroy();
  });

  test('bytes beyond the body: the body is kept, the socket is not reused', async () => {
    let sockets = 0;
    const url = await rawServer((req, socket) => {
      sockets++;
      const chunked = req.includes('x-chunked');
      socket.write(
        chunked
          ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nJUNK'
          : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokJUNK',
      );
    });
    const conn = new RangeConnection(url, 5000);
    for (const headers of [{}, { 'x-chunked': '1' }]) {
      await conn.request('/f', headers, never);
      assert.equal((await readAll(conn)).toString(), 'ok');
      assert.equal(conn.reusable, false);
    }
    assert.equal(sockets, 2);
    conn.destroy();
  });

  test('a transfer coding other than chunked is UnsupportedResponseError', async () => {
    const url = await rawServer((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n');
    });
    const conn = new RangeConnection(url, 5000);
    await assert.rejects(conn.request('/f', {}, never), UnsupportedResponseError);
    conn.destroy();
  });

  test('no answer within the timeout rejects the request', async () => {
    const silent = await rawServer(() => {});
    const conn = new RangeConnection(silent, 200);
    await assert.rejects(conn.request('/f', {}, never), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_QGET_HEADERS_TIMEOUT');
      return true;
    });
    conn.destroy();
  });

  test('1xx answers are skipped; body bytes that come with the head are kept', async () => {
    const url = await rawServer((_req, socket) => {
      socket.write(
        'HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-4/10\r\ncontent-length: 5\r\n\r\nhello',
      );
    });
    const conn = new RangeConnection(url, 5000);
    const res = await conn.request('/f', { range: 'bytes=0-4' }, never);
    assert.equal(res.statusCode, 206);
    assert.equal((await readAll(conn)).toString(), 'hello');
    conn.destroy();
  });

  test('a reused socket the server closed is retried once on a fresh one', async () => {
    let served = 0;
    const url = await rawServer((_req, socket) => {
      served++;
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      // Keep-alive promised, then the server closes anyway.
      setTimeout(() => socket.destroy(), 20);
    });
    const conn = new RangeConnection(url, 5000);
    await conn.request('/f', {}, never);
    assert.equal((await readAll(conn)).toString(), 'ok');
    await new Promise((r) => setTimeout(r, 100));
    await conn.request('/f', {}, never);
    assert.equal((await readAll(conn)).toString(), 'ok');
    assert.equal(served, 2);
    conn.destroy();
  });

  test('a reset before any answer rejects with ECONNRESET; abort rejects with its reason', async () => {
    const url = await rawServer((_req, socket) => socket.resetAndDestroy());
    const conn = new RangeConnection(url, 5000);
    await assert.rejects(conn.request('/f', {}, never), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ECONNRESET');
      return true;
    });
    const silent = await rawServer(() => {});
    const controller = new AbortController();
    const c2 = new RangeConnection(silent, 5000);
    const pending = c2.request('/f', {}, controller.signal);
    const reason = new Error('stop');
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(pending, (err) => err === reason);
    c2.destroy();
  });

  test('Connection: close and HTTP/1.0 answers: the next request opens a fresh socket', async () => {
    let sockets = 0;
    const url = await rawServer((req, socket) => {
      sockets++;
      const v10 = req.includes('range: bytes=5-9');
      socket.end(
        `HTTP/1.${v10 ? 0 : 1} 206 Partial Content\r\n${v10 ? '' : 'connection: close\r\n'}content-range: bytes ${v10 ? '5-9' : '0-4'}/10\r\ncontent-length: 5\r\n\r\n${v10 ? 'world' : 'hello'}`,
      );
    });
    const conn = new RangeConnection(url, 5000);
    await conn.request('/f', { range: 'bytes=0-4' }, never);
    assert.equal((await readAll(conn)).toString(), 'hello');
    assert.equal(conn.reusable, false);
    await conn.request('/f', { range: 'bytes=5-9' }, never);
    assert.equal((await readAll(conn)).toString(), 'world');
    assert.equal(sockets, 2);
    conn.destroy();
  });

  test('a body cut short rejects the read (the engine then retries from the last byte)', async () => {
    const url = await rawServer((_req, socket) => {
      socket.write(
        'HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-99/100\r\ncontent-length: 100\r\n\r\n',
      );
      socket.end(Buffer.alloc(40));
    });
    const conn = new RangeConnection(url, 5000);
    await conn.request('/f', { range: 'bytes=0-99' }, never);
    await assert.rejects(readAll(conn), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_QGET_SOCKET_CLOSED');
      return true;
    });
    conn.destroy();
  });

  test('speaks plain http only', () => {
    assert.throws(() => new RangeConnection('https://127.0.0.1/x', 1000), TypeError);
  });

  test('qget() over a server that closes every connection after one answer', async () => {
    const content = makeContent(12 * 1024 * 1024, 7);
    const server = createHttpServer((req, res) => {
      const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m?.[2] ? Number(m[2]) + 1 : content.length;
      res.writeHead(m ? 206 : 200, {
        connection: 'close',
        etag: '"c1"',
        'content-length': end - start,
        ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${content.length}` } : {}),
      });
      res.end(content.subarray(start, end));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => server.close(() => r())));
    const dir = await fx.tempDir();
    const { port } = server.address() as { port: number };
    const out = join(dir, 'c.bin');
    await qget(`http://127.0.0.1:${port}/c.bin`, { filepath: out, maxConnections: 3 });
    assert.ok((await readFile(out)).equals(content));
  });
});
