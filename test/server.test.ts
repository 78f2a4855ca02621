// Self-test of the test server: if these fail, every other test's verdict is meaningless.

import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, request } from 'node:http';
import { test } from 'node:test';
import { makeContent, sha256, virtualContent } from './helpers/content.js';
import { useFixtures } from './helpers/fixture.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The response did not complete (connection cut or reset). */
  error: string | undefined;
}

/** One request on its own TCP connection (no agent, no keep-alive). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reply: Reply = { status: 0, headers: {}, body: Buffer.alloc(0), error: undefined };
    const req = request(url, { method, headers, agent: false }, (res) => {
      reply = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: reply.body,
        error: undefined,
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        reply.error = err.message;
      });
      res.on('close', () => {
        if (!res.complete) reply.error ??= 'incomplete';
        resolve({ ...reply, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', (err) => resolve({ ...reply, error: err.message }));
    req.end();
  });
}

const { serve } = useFixtures();

const content = makeContent(256 * 1024 + 7, 42);

test('content is deterministic, seed-dependent, and virtualContent matches it', () => {
  assert.equal(sha256(makeContent(1000, 3)), sha256(makeContent(1000, 3)));
  assert.notEqual(sha256(makeContent(1000, 3)), sha256(makeContent(1000, 4)));
  const v = virtualContent(content.length, 42);
  assert.deepEqual(v.read(65530, 70000), content.subarray(65530, 70000));
  assert.deepEqual(v.read(content.length - 9, content.length), content.subarray(-9));
});

test('full GET and HEAD', async () => {
  const s = await serve({ content });
  const r = await get(s.fileUrl);
  assert.equal(r.status, 200);
  assert.equal(sha256(r.body), sha256(content));
  assert.equal(r.headers['content-length'], String(content.length));
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.equal(r.headers.etag, `"v1-${content.length}"`);
  assert.ok(r.headers['last-modified']);
  const h = await get(s.fileUrl, {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.body.length, 0);
  assert.equal(h.headers['content-length'], String(content.length));
  assert.equal(s.requests.length, 2);
  assert.equal(s.requests[0]?.bytesSent, content.length);
});

test('206 range, open range, 416, and ranges:false', async () => {
  const s = await serve({ content });
  const r = await get(s.fileUrl, { Range: 'bytes=100-1099' });
  assert.equal(r.status, 206);
  assert.deepEqual(r.body, content.subarray(100, 1100));
  assert.equal(r.headers['content-range'], `bytes 100-1099/${content.length}`);
  assert.equal(r.headers['content-length'], '1000');
  assert.equal(r.headers.etag, s.config.etag);
  const open = await get(s.fileUrl, { Range: `bytes=${content.length - 5}-` });
  assert.equal(open.status, 206);
  assert.deepEqual(open.body, content.subarray(-5));
  const past = await get(s.fileUrl, { Range: `bytes=${content.length}-` });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${content.length}`);
  s.setContent(Buffer.alloc(0));
  const empty = await get(s.fileUrl, { Range: 'bytes=0-' });
  assert.equal(empty.status, 416);
  assert.equal(empty.headers['content-range'], 'bytes */0');

  s.setContent(content);
  s.config.ranges = false;
  const full = await get(s.fileUrl, { Range: 'bytes=0-9' });
  assert.equal(full.status, 200);
  assert.equal(full.headers['accept-ranges'], undefined);
  assert.equal(full.body.length, content.length);
});

test('sendLength:false uses chunked encoding for 200 and 206', async () => {
  const s = await serve({ content, sendLength: false });
  const r = await get(s.fileUrl);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.headers['content-length'], undefined);
  assert.equal(sha256(r.body), sha256(content));
  const p = await get(s.fileUrl, { Range: 'bytes=10-19' });
  assert.equal(p.status, 206);
  assert.equal(p.headers['transfer-encoding'], 'chunked');
  assert.deepEqual(p.body, content.subarray(10, 20));
});

test('ratePerConnection throttles (loosely)', async () => {
  const s = await serve({ content: makeContent(128 * 1024), ratePerConnection: 256 * 1024 });
  const t0 = performance.now();
  const r = await get(s.fileUrl);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.body.length, 128 * 1024);
  assert.ok(seconds > 0.3 && seconds < 1.5, `took ${seconds}s, expected ~0.45s`);
});

test('fail503First answers 503 with Retry-After, then serves', async () => {
  const s = await serve({ content, fail503First: 2, retryAfterSeconds: 3 });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await get(s.fileUrl)).status);
  assert.deepEqual(statuses, [503, 503, 200]);
  assert.equal(s.requests[0]?.status, 503);
  assert.equal((await get(`${s.url}/status/404`)).status, 404);
  s.reset();
  s.config.fail503First = 1;
  const r = await get(s.fileUrl);
  assert.equal(r.status, 503);
  assert.equal(r.headers['retry-after'], '3');
});

test('maxConnections with capMode reset refuses the extra connection', async () => {
  const s = await serve({
    content,
    maxConnections: 2,
    capMode: 'reset',
    stallAfterBytes: 1000,
    stallTimes: 2,
  });
  // Two stalled responses hold both allowed connections open.
  const held = [get(s.fileUrl), get(s.fileUrl)];
  while (s.requests.filter((r) => r.bytesSent >= 1000).length < 2) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const refused = await get(s.fileUrl);
  assert.ok(refused.error, 'expected the third connection to be reset');
  assert.equal(refused.status, 0);
  assert.equal(s.stats.refused, 1);
  assert.equal(s.stats.maxOpenConnections, 3);
  s.config.capMode = '503';
  const polite = await get(s.fileUrl);
  assert.equal(polite.status, 503);
  assert.equal(polite.headers['retry-after'], '1');
  await s.close(); // ends the stalled ones too
  for (const r of await Promise.all(held)) assert.ok(r.error);
});

test('cutAfterBytes cuts the first response only', async () => {
  const s = await serve({ content, cutAfterBytes: 5000 });
  const cut = await get(s.fileUrl);
  assert.equal(cut.status, 200);
  assert.ok(cut.error);
  assert.deepEqual(cut.body, content.subarray(0, 5000));
  const whole = await get(s.fileUrl);
  assert.equal(whole.error, undefined);
  assert.equal(sha256(whole.body), sha256(content));
});

test('redirects: relative for odd N, absolute for even N', async () => {
  const s = await serve({ content });
  const r3 = await get(`${s.url}/redirect/3/file.bin`);
  assert.equal(r3.status, 302);
  assert.equal(r3.headers.location, '/redirect/2/file.bin');
  const r2 = await get(`${s.url}/redirect/2/file.bin`);
  assert.equal(r2.headers.location, `${s.url}/redirect/1/file.bin`);
  const followed = await fetch(`${s.url}/redirect/3/file.bin`);
  assert.equal(followed.status, 200);
  assert.equal(followed.url, s.fileUrl);
  assert.equal(sha256(Buffer.from(await followed.arrayBuffer())), sha256(content));
});

test('If-Range: mismatch gives 200 full body, match gives 206', async () => {
  const s = await serve({ content });
  const stale = await get(s.fileUrl, { Range: 'bytes=0-9', 'If-Range': '"old"' });
  assert.equal(stale.status, 200);
  assert.equal(stale.body.length, content.length);
  const fresh = await get(s.fileUrl, { Range: 'bytes=0-9', 'If-Range': s.config.etag! });
  assert.equal(fresh.status, 206);
  const byDate = await get(s.fileUrl, { Range: 'bytes=0-9', 'If-Range': s.config.lastModified! });
  assert.equal(byDate.status, 206);
  const oldEtag = s.config.etag!;
  s.setContent(makeContent(content.length, 43));
  assert.notEqual(s.config.etag, oldEtag);
  const changed = await get(s.fileUrl, { Range: 'bytes=0-9', 'If-Range': oldEtag });
  assert.equal(changed.status, 200);
});

test('ignoreRangeEvery, changeAfterRequests and /named', async () => {
  const s = await serve({ content, ignoreRangeEvery: 2, changeAfterRequests: 3 });
  const etag = s.config.etag;
  assert.equal((await get(s.fileUrl, { Range: 'bytes=0-9' })).status, 206);
  assert.equal((await get(s.fileUrl, { Range: 'bytes=0-9' })).status, 200);
  assert.equal((await get(s.fileUrl)).headers.etag, etag);
  const fourth = await get(s.fileUrl);
  assert.notEqual(fourth.headers.etag, etag);
  assert.notEqual(sha256(fourth.body), sha256(content));
  assert.equal(fourth.body.length, content.length);
  const named = await get(`${s.url}/named/x`);
  assert.equal(named.headers['content-disposition'], 'attachment; filename="named.bin"');
});
