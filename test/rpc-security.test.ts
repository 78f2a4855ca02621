// The daemon's transports and defences: the secret (aria2.js with the right, a wrong and no
// token; the answer delayed), loopback only, Host and Origin checks, CORS, malformed and oversized
// requests, GET with base64 params and JSONP — the daemon answers each and keeps running.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Daemon } from '../src/rpc/daemon.js';
import { client, raw, useDaemons } from './helpers/rpc.js';

const daemons = useDaemons();
const LIMIT = 64 * 1024;
let open: Daemon;
let locked: Daemon;

before(async () => {
  open = await daemons({ maxRequestSize: LIMIT });
  locked = await daemons({ secret: 's3cret', unauthorizedDelayMs: 300, allowOriginAll: true });
});

const post = (daemon: Daemon, body: string | Buffer, headers: Record<string, string> = {}) =>
  raw(daemon.port, { body, headers: { 'content-type': 'application/json', ...headers } });

describe('the secret', () => {
  test('aria2.js with the secret works over HTTP, WebSocket and multicall', async () => {
    const good = client(locked, 's3cret');
    assert.equal(((await good.call('getVersion')) as { version: string }).version, '1.37.0');
    assert.deepEqual(
      await good.multicall([['getGlobalStat'], ['tellActive', ['gid']]]).then((r) => r[1]),
      [[]],
    );
    await good.open();
    try {
      assert.ok(await good.call('getSessionInfo'));
    } finally {
      await good.close();
    }
  });

  test('a wrong or missing token gets "Unauthorized" (code 1), a second later; system.list* stay open', async () => {
    for (const secret of ['wrong', 's3cre', undefined]) {
      const t0 = performance.now();
      await assert.rejects(client(locked, secret).call('getGlobalStat'), {
        code: 1,
        message: 'Unauthorized',
      });
      assert.ok(performance.now() - t0 >= 250, 'the refusal is delayed');
    }
    const anonymous = client(locked);
    assert.ok((await anonymous.listMethods()).includes('addUri'));
    assert.ok((await anonymous.listNotifications()).includes('onDownloadComplete'));
    // Inside system.multicall each call is checked.
    const r = await post(
      locked,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'system.multicall',
        params: [
          [
            { methodName: 'aria2.getGlobalStat', params: ['token:bad'] },
            { methodName: 'aria2.getGlobalStat', params: ['token:s3cret'] },
          ],
        ],
      }),
    );
    const result = (r.json() as { result: unknown[] }).result;
    assert.deepEqual(result[0], { code: 1, message: 'Unauthorized' });
    assert.ok(Array.isArray(result[1]));
  });
});

describe('who may connect', () => {
  test('bound to loopback only: another interface of this host is refused', async (t) => {
    assert.match(open.url, /^http:\/\/127\.0\.0\.1:\d+\/jsonrpc$/);
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!address) {
      t.skip('no non-loopback IPv4 interface here');
      return;
    }
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(open.port, address);
      socket.on('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    assert.ok(refused, `${address}:${open.port} accepted a connection`);
  });

  test('a Host other than localhost (DNS rebinding) and a page of another origin are refused', async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"aria2.getVersion"}';
    assert.equal((await post(open, body, { host: `evil.example:${open.port}` })).status, 403);
    assert.equal((await post(open, body, { host: `localhost:${open.port}` })).status, 200);
    assert.equal((await post(open, body, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await post(open, body, { 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await post(open, body, { origin: `http://127.0.0.1:${open.port}` })).status, 200);
    // The browser refusal covers WebSocket handshakes too.
    const ws = new WebSocket(`ws://127.0.0.1:${open.port}/jsonrpc`, {
      origin: 'http://evil.example',
    });
    const status = await new Promise((resolve) =>
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode)),
    );
    assert.equal(status, 403);
  });

  test('--rpc-allow-origin-all: CORS headers and preflight answers', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'aria2.getVersion',
      params: ['token:s3cret'],
    });
    const r = await post(locked, body, { origin: 'http://ui.example' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    const pre = await raw(locked.port, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://ui.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(pre.status, 200);
    assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
    const closed = await raw(open.port, {
      method: 'OPTIONS',
      headers: { 'access-control-request-method': 'POST' },
    });
    assert.equal(closed.headers['access-control-allow-origin'], undefined);
  });
});

describe('bad requests get JSON-RPC errors, never a crash', () => {
  test('malformed JSON, wrong shapes, unknown methods, wrong parameter types', async () => {
    const cases: [string, number, number][] = [
      ['{"jsonrpc":"2.0","id":1,', 500, -32700],
      ['"hello"', 400, -32600],
      ['{"jsonrpc":"2.0","id":1,"method":"aria2.launchMissiles"}', 404, -32601],
      ['{"jsonrpc":"2.0","id":1,"method":"aria2.tellStatus","params":{"gid":"x"}}', 500, -32602],
      ['{"jsonrpc":"2.0","id":1,"method":"aria2.tellStatus","params":[42]}', 400, 1],
      ['{"jsonrpc":"2.0","id":1,"method":"aria2.addUri","params":["http://x/"]}', 400, 1],
      [
        '{"jsonrpc":"2.0","id":1,"method":"aria2.addUri","params":[["http://x/"],{"split":["1"]}]}',
        400,
        1,
      ],
      ['{"jsonrpc":"2.0","id":1,"method":"aria2.tellWaiting","params":[0,-1]}', 400, 1],
    ];
    for (const [body, status, code] of cases) {
      const r = await post(open, body);
      assert.equal(r.status, status, body);
      assert.equal((r.json() as { error: { code: number } }).error.code, code, body);
    }
    const batch = await post(
      open,
      '[{"jsonrpc":"2.0","id":1,"method":"aria2.getGlobalStat"},{"id":2},3]',
    );
    assert.equal(batch.status, 200);
    const answers = batch.json() as { id: unknown; result?: unknown; error?: { code: number } }[];
    assert.equal(answers.length, 3);
    assert.ok(answers[0]?.result);
    assert.equal(answers[1]?.error?.code, -32600);
    assert.equal(answers[2]?.error?.code, -32600);
    assert.equal((await raw(open.port, { path: '/rpc', body: '{}' })).status, 404);
    assert.equal((await raw(open.port, { method: 'PUT', body: '{}' })).status, 405);
  });

  test('oversized requests: HTTP 413 with an error; a big WebSocket message an error, a huge one a close', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'aria2.getVersion',
      params: ['x'.repeat(LIMIT)],
    });
    const r = await post(open, big);
    assert.equal(r.status, 413);
    assert.match((r.json() as { error: { message: string } }).error.message, /too large/);
    const chunked = await raw(open.port, {
      body: Buffer.from(big),
      headers: { 'transfer-encoding': 'chunked' },
    });
    assert.equal(chunked.status, 413);

    const ws = new WebSocket(`ws://127.0.0.1:${open.port}/jsonrpc`);
    await new Promise((resolve) => ws.once('open', resolve));
    const reply = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send(big);
    assert.match(JSON.parse(await reply).error.message, /too large/);
    const small = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send('{"jsonrpc":"2.0","id":"w","method":"aria2.getVersion"}');
    assert.equal(JSON.parse(await small).id, 'w');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(3 * LIMIT));
    assert.equal(await closed, 1009);
    const alive = await post(open, '{"jsonrpc":"2.0","id":1,"method":"aria2.getVersion"}');
    assert.equal(alive.status, 200);
  });

  test('GET /jsonrpc with method, id and base64 params, a GET batch, and JSONP', async () => {
    const b64 = (v: unknown) =>
      encodeURIComponent(Buffer.from(JSON.stringify(v)).toString('base64'));
    const get = (query: string) => raw(open.port, { method: 'GET', path: `/jsonrpc?${query}` });
    const r = await get(`method=aria2.getGlobalStat&id=7&params=${b64([])}`);
    assert.equal(r.status, 200);
    assert.equal((r.json() as { id: number }).id, 7);
    const keys = await get(`method=aria2.tellActive&id=k&params=${b64([['gid', 'status']])}`);
    assert.deepEqual((keys.json() as { result: unknown }).result, []);
    const batch = await get(
      `params=${b64([
        { jsonrpc: '2.0', id: 1, method: 'aria2.getVersion' },
        { jsonrpc: '2.0', id: 2, method: 'aria2.getGlobalStat' },
      ])}`,
    );
    assert.equal((batch.json() as unknown[]).length, 2);
    const jsonp = await get(`method=aria2.getVersion&id=1&jsoncallback=cb_1&params=${b64([])}`);
    assert.equal(jsonp.headers['content-type'], 'text/javascript');
    assert.match(jsonp.text, /^cb_1\(\{.*"version":"1\.37\.0".*\}\)$/);
    assert.equal((await get('method=aria2.getVersion&id=1&jsoncallback=alert(1)//')).status, 400);
    const broken = await get(
      `method=aria2.getVersion&id=1&params=${encodeURIComponent(Buffer.from('[1,').toString('base64'))}`,
    );
    assert.equal((broken.json() as { error: { code: number } }).error.code, -32700);
  });
});
