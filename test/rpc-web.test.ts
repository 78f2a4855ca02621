// What the daemon's web page stands on, without a browser: the page's files served under a strict
// Content-Security-Policy and the RPC's own Host/Origin checks; aria2's bitfield; getOption and
// getGlobalOption with qget's real values; qget.tellSegments on a running download.
// (test/browser/web-page.test.ts drives the page itself in chromium.)

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Daemon } from '../src/rpc/daemon.js';
import { engineValues } from '../src/rpc/options.js';
import type { SegmentsShape } from '../src/rpc/segments.js';
import { bitfield } from '../src/rpc/status.js';
import { makeContent } from './helpers/content.js';
import { useFixtures } from './helpers/fixture.js';
import { client, raw, reach, statusOf, useDaemons } from './helpers/rpc.js';
import { waitFor as until } from './helpers/wait.js';
import type { TestServer } from './helpers/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const fx = useFixtures();
const daemons = useDaemons();
let open: Daemon;
let server: TestServer;
let dir: string;
const content = makeContent(3 * MiB + 5);

before(async () => {
  dir = await fx.tempDir();
  server = await fx.serve({ content, ratePerConnection: 256 * KiB });
  open = await daemons({
    dir,
    downloadOptions: { retries: 7, timeout: 30, headers: { 'User-Agent': 'test-agent/1' } },
  });
});

/** qget's own methods (aria2.js puts "aria2." in front of every name). */
async function segments(gid: string): Promise<SegmentsShape> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'qget.tellSegments',
    params: [gid],
  });
  const reply = (await raw(open.port, { body })).json() as { result: SegmentsShape };
  return reply.result;
}

const get = (daemon: Daemon, path: string, headers: Record<string, string> = {}) =>
  raw(daemon.port, { method: 'GET', path, headers });

describe('the page', () => {
  test('/, /app.js and /app.css, with a strict Content-Security-Policy and no remote resource', async () => {
    const host = `127.0.0.1:${open.port}`;
    const page = await get(open, '/', { host });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, new RegExp(`connect-src 'self' ws://${host.replaceAll('.', '\\.')} `));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    // Scripts and styles from files only, never from another host or inline.
    assert.doesNotMatch(page.text, /<script>|<style|style=|https?:\/\//);
    const js = await get(open, '/app.js', { host });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(js.text, /qget\.tellSegments/);
    assert.doesNotMatch(js.text, /https?:\/\/(?!www\.w3\.org)/);
    const css = await get(open, '/app.css', { host });
    assert.equal(css.status, 200);
    const weight = [page, js, css].reduce((n, r) => n + Buffer.byteLength(r.text), 0);
    assert.ok(weight < 100 * KiB, `${weight} bytes`);
    assert.equal((await raw(open.port, { path: '/', body: 'x' })).status, 405);
    assert.equal((await get(open, '/other')).status, 404);
  });

  test('under the RPC checks: another Host, or a page of another site, is refused', async () => {
    assert.equal((await get(open, '/', { host: 'evil.example:6800' })).status, 403);
    assert.equal((await get(open, '/app.js', { host: 'evil.example' })).status, 403);
    const cross = await get(open, '/', { 'sec-fetch-site': 'cross-site' });
    assert.equal(cross.status, 403);
    const origin = await get(open, '/', { origin: 'http://evil.example' });
    assert.equal(origin.status, 403);
    assert.equal((await get(open, '/', { host: `localhost:${open.port}` })).status, 200);
  });
});

describe('aria2 compatibility', () => {
  test('bitfield: piece 0 is the high bit of the first byte, padded to whole bytes', () => {
    const P = 1024;
    assert.equal(bitfield([[0, 10 * P]], 10 * P, P), 'ffc0');
    assert.equal(bitfield([], 3 * P, P), '00');
    // Pieces 0, 2 (whole) and the short last piece 9; piece 1 only in part.
    const done: [number, number][] = [
      [0, P + 10],
      [2 * P, 3 * P],
      [9 * P, 9 * P + 5],
    ];
    assert.equal(bitfield(done, 9 * P + 5, P), 'a040');
    assert.equal(bitfield([[P, 9 * P]], 9 * P, P), '7f80');
  });

  test('getGlobalOption and getOption show max-tries, timeouts, the user agent and qget’s fixed ways', async () => {
    const aria2 = client(open);
    const global = (await aria2.call('getGlobalOption')) as Record<string, string>;
    assert.equal(global['max-tries'], '7');
    assert.equal(global.timeout, '30');
    assert.equal(global['connect-timeout'], '30');
    assert.equal(global['user-agent'], 'test-agent/1');
    assert.equal(global['min-split-size'], String(MiB));
    assert.equal(global.continue, 'true');
    assert.equal(global['max-concurrent-downloads'], '5');
    assert.equal(global.dir, dir);
    const gid = (await aria2.call('addUri', [`${server.url}/opt.bin`], {
      pause: 'true',
      split: '3',
    })) as string;
    const own = (await aria2.call('getOption', gid)) as Record<string, string>;
    assert.equal(own['max-tries'], '7');
    assert.equal(own['user-agent'], 'test-agent/1');
    assert.equal(own['min-split-size'], String(MiB));
    assert.equal(own.split, '3');
    await aria2.call('remove', gid);
    assert.deepEqual(engineValues({ retries: 0 }, {})['max-tries'], undefined);
  });

  test('qget.tellSegments while it runs, and a full bitfield once complete', async () => {
    const aria2 = client(open);
    const gid = (await aria2.call('addUri', [`${server.url}/seg.bin`], {
      split: '4',
      'max-connection-per-server': '4',
    })) as string;
    let seen: SegmentsShape | undefined;
    await until(async () => {
      seen = await segments(gid);
      return seen.connections.filter((c) => c.pos !== undefined && c.pos > c.start!).length >= 2;
    }, 'two connections receiving');
    assert.equal(seen!.totalLength, content.length);
    for (const c of seen!.connections) {
      if (c.start === undefined) continue;
      assert.ok(c.start <= c.pos! && c.pos! <= c.end! && c.end! <= content.length);
    }
    for (const [a, b] of seen!.done) assert.ok(0 <= a && a < b && b <= content.length);
    await reach(aria2, gid, 'complete');
    const s = await statusOf(aria2, gid, ['bitfield', 'numPieces']);
    assert.equal(s.numPieces, '4');
    assert.equal(s.bitfield, 'f0');
    const after = await segments(gid);
    assert.deepEqual(after.done, [[0, content.length]]);
    assert.deepEqual(after.connections, []);
    assert.equal(join(dir, 'seg.bin'), (await statusOf(aria2, gid)).files![0]!.path);
  });

  test('qget.tellSegments names the error a connection last met', async () => {
    // Two answers cut short: their connections retry, and say why.
    const cutting = await fx.serve({
      content,
      ratePerConnection: 256 * KiB,
      cutAfterBytes: 64 * KiB,
      cutTimes: 2,
    });
    const aria2 = client(open);
    const gid = (await aria2.call('addUri', [`${cutting.url}/cut.bin`], { split: '4' })) as string;
    let errors: string[] = [];
    await until(async () => {
      errors = (await segments(gid)).connections.map((c) => c.lastError).filter((e) => e !== '');
      return errors.length > 0;
    }, 'a connection with its last error');
    assert.ok(
      errors.every((e) => e.length > 5),
      errors.join(' | '),
    );
    await reach(aria2, gid, 'complete');
  });
});
