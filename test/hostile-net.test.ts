// Servers that answer in ways qget must survive at the HTTP layer: huge response heads,
// multipart/byteranges answers, redirect loops and chains, answers left open after a download.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ProgressState, qget } from '../src/index.js';
import { createAgent, createConnection, openRequest, discardBody } from '../src/net/client.js';
import { singlePart } from '../src/net/multipart.js';
import { makeContent } from './helpers/content.js';
import { runCli } from './helpers/cli.js';
import { assertFileEquals, listDir, readAll, useFixtures } from './helpers/fixture.js';

const fx = useFixtures();
const KiB = 1024;

describe('response heads up to 256 KiB', () => {
  test('a 200 KiB head is read over the lean connection; a 300 KiB one fails at once', async () => {
    const content = makeContent(3 * 1024 * KiB, 81);
    const server = await fx.serve({ content, headerBytes: 200 * KiB });
    const dir = await fx.tempDir();
    const out = join(dir, 'big-head.bin');
    await qget(server.fileUrl, { filepath: out, maxConnections: 3 });
    await assertFileEquals(out, content);

    server.reset();
    server.config.headerBytes = 300 * KiB;
    await assert.rejects(
      qget(server.fileUrl, { filepath: join(dir, 'too-big.bin') }),
      (err: Error & { code?: string; transient?: boolean }) => {
        assert.equal(err.code, 'ERR_NETWORK');
        assert.equal(err.transient, false);
        assert.match(err.message, /more than 256 KiB of response headers/);
        return true;
      },
    );
    assert.equal(server.requests.length, 1, 'not retried');
  });

  test('undici reads a 200 KiB head too (agent and owned connection); 300 KiB fails at once', async () => {
    const server = await fx.serve({ content: makeContent(10 * KiB, 82), headerBytes: 200 * KiB });
    const dispatchers = [
      createAgent({ connections: 1, timeoutMs: 5000 }),
      createConnection(server.fileUrl, { timeoutMs: 5000 }),
    ];
    try {
      for (const dispatcher of dispatchers) {
        server.config.headerBytes = 200 * KiB;
        const res = await openRequest(server.fileUrl, {
          dispatcher,
          headers: {},
          userUrl: server.fileUrl,
        });
        assert.equal(res.statusCode, 200);
        assert.ok(res.headers['x-pad-49']);
        discardBody(res.body);
        server.config.headerBytes = 300 * KiB;
        await assert.rejects(
          openRequest(server.fileUrl, { dispatcher, headers: {}, userUrl: server.fileUrl }),
          (err: Error & { transient?: boolean }) => {
            assert.match(err.message, /more than 256 KiB of response headers/);
            assert.equal(err.transient, false);
            return true;
          },
        );
      }
    } finally {
      await Promise.all(dispatchers.map((d) => d.destroy()));
    }
  });
});

describe('redirects', () => {
  test('a redirect loop says so, exit 11, after one lap', async () => {
    const server = await fx.serve({ content: makeContent(1000, 83) });
    const dir = await fx.tempDir();
    const r = await runCli(['-o', join(dir, 'out.bin'), `${server.url}/loop/a/f.bin`], dir);
    assert.equal(r.code, 11, r.stderr);
    assert.match(
      r.stderr,
      /redirect loop: http:\/\/127\.0\.0\.1:\d+\/loop\/b\/f\.bin redirects back to http:\/\/127\.0\.0\.1:\d+\/loop\/a\/f\.bin/,
    );
    assert.equal(server.requests.length, 2, 'not retried');
    assert.deepEqual(await listDir(dir), []);
  });

  test('a redirect without a Location says so, exit 3', async () => {
    const server = await fx.serve({ content: makeContent(1000, 85) });
    const dir = await fx.tempDir();
    const r = await runCli(['-o', join(dir, 'out.bin'), `${server.url}/status/302`], dir);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /answered 302 for \S+: a redirect without a Location to follow\n$/);
    assert.deepEqual(await listDir(dir), []);
  });

  test('more than 10 redirects: "too many redirects (10) from <url>", exit 11', async () => {
    const server = await fx.serve({ content: makeContent(1000, 84) });
    const dir = await fx.tempDir();
    const url = `${server.url}/redirect/10/f.bin`;
    const r = await runCli(['-o', join(dir, 'out.bin'), url], dir);
    assert.equal(r.code, 11, r.stderr);
    assert.ok(r.stderr.includes(`too many redirects (10) from ${url}`), r.stderr);
    assert.equal(server.requests.length, 11);
  });

  test('--max-redirects and maxRedirects set the bound', async () => {
    const content = makeContent(100_000, 85);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    const ok = await runCli(
      ['--max-redirects', '2', '-o', join(dir, 'ok.bin'), `${server.url}/redirect/1/file.bin`],
      dir,
    );
    assert.equal(ok.code, 0, ok.stderr);
    await assertFileEquals(join(dir, 'ok.bin'), content);
    const url = `${server.url}/redirect/2/file.bin`;
    const over = await runCli(['--max-redirects', '2', '-o', join(dir, 'over.bin'), url], dir);
    assert.equal(over.code, 11, over.stderr);
    assert.ok(over.stderr.includes(`too many redirects (2) from ${url}`), over.stderr);
    const bad = await runCli(['--max-redirects', '-1', url], dir);
    assert.equal(bad.code, 2, bad.stderr);

    await assert.rejects(
      qget(`${server.url}/redirect/0/file.bin`, {
        filepath: join(dir, 'zero.bin'),
        maxRedirects: 0,
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_TOO_MANY_REDIRECTS');
        assert.match(err.message, /too many redirects \(0\) from /);
        return true;
      },
    );
    await assert.rejects(
      qget(server.fileUrl, { maxRedirects: -1 }),
      (err: Error & { code?: string }) => err.code === 'ERR_INVALID_OPTION',
    );
    // The same bound over undici (a dispatcher of the caller's: no lean connections).
    const dispatcher = createAgent({ connections: 1, timeoutMs: 5000 });
    try {
      await assert.rejects(
        qget(`${server.url}/loop/a/f.bin`, {
          filepath: join(dir, 'u.bin'),
          dispatcher: dispatcher as never,
        }),
        /redirect loop/,
      );
      await assert.rejects(
        qget(`${server.url}/redirect/3/file.bin`, {
          filepath: join(dir, 'u.bin'),
          dispatcher: dispatcher as never,
          maxRedirects: 3,
        }),
        /too many redirects \(3\)/,
      );
    } finally {
      await dispatcher.destroy();
    }
  });
});

describe('multipart/byteranges answers', () => {
  test('one part is read as that part, on the probe and on every range', async () => {
    const content = makeContent(3 * 1024 * KiB + 17, 86);
    const server = await fx.serve({ content, multipart: 'one' });
    const dir = await fx.tempDir();
    const out = join(dir, 'multi.bin');
    await qget(server.fileUrl, { filepath: out, maxConnections: 4, maxPartMb: 1 });
    await assertFileEquals(out, content);
    assert.ok(server.requests.length > 2, 'downloaded over several ranges');
    assert.ok(server.requests.every((r) => r.status === 206));
  });

  // A part without a total (`bytes 0-1048575/*`), read to its end, once passed for the whole
  // file: the first MiB of 2 MiB saved with exit 0.
  const unusable = [
    ['a part qget cannot read (multipart without Content-Range)', { multipart: 'broken' }],
    ['a part of unknown size (bytes a-b/*)', { unknownTotal: true }],
    ['a part sent with status 200', { partAs200: true }],
  ] as const;
  for (const [what, config] of unusable) {
    test(`${what}: one plain GET instead, never the part as the file`, async () => {
      const content = makeContent(2 * 1024 * KiB + 17, 87);
      const server = await fx.serve({ content, ...config });
      const dir = await fx.tempDir();
      const out = join(dir, 'fallback.bin');
      await qget(server.fileUrl, { filepath: out, maxConnections: 4 });
      await assertFileEquals(out, content);
      // The probe (bounded to its first request's worth), then one plain GET.
      assert.deepEqual(
        server.requests.map((r) => [r.range?.startsWith('bytes=0-') ? 'probe' : r.range, r.status]),
        [
          ['probe', 'partAs200' in config ? 200 : 206],
          [undefined, 200],
        ],
      );
    });
  }

  test('a part sent as a 200 to a resumed download: it starts over with one plain GET', async () => {
    const content = makeContent(4 * 1024 * KiB, 91);
    const server = await fx.serve({ content, ratePerConnection: 1024 * KiB });
    const dir = await fx.tempDir();
    const out = join(dir, 'resumed.bin');
    const controller = new AbortController();
    const progress = new ProgressState({
      onDownloadProgress(p) {
        if (p.getDownloadBytes() >= 1024 * KiB) controller.abort();
      },
    });
    await assert.rejects(
      qget(server.fileUrl, {
        filepath: out,
        maxConnections: 2,
        signal: controller.signal,
        progress,
      }),
      (err: Error) => err.name === 'AbortError',
    );
    server.config.partAs200 = true;
    server.config.ratePerConnection = 0;
    const before = server.requests.length;
    await qget(server.fileUrl, { filepath: out, maxConnections: 2 });
    await assertFileEquals(out, content);
    assert.equal(server.requests.at(-1)?.range, undefined, 'the last request is the plain GET');
    assert.ok(server.requests.length - before <= 3, `${server.requests.length - before} requests`);
  });

  test('over the CLI: exit 0 and the right bytes', async () => {
    const content = makeContent(1024 * KiB, 88);
    const server = await fx.serve({ content, multipart: 'one' });
    const dir = await fx.tempDir();
    const r = await runCli(['-o', join(dir, 'cli.bin'), server.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(join(dir, 'cli.bin'), content);
  });
});

test('singlePart: a part head cut across reads, a quoted boundary, bytes after the part dropped', async () => {
  const body = Buffer.from(
    '\r\n--"b"x\r\n--b q\r\ncontent-range: bytes 5-9/20\r\n\r\nhelloEXTRA\r\n--b q--\r\n',
  );
  const pieces = [...body].map((byte) => Buffer.from([byte]));
  const answer = await singlePart({
    statusCode: 206,
    headers: { 'content-type': 'multipart/byteranges; boundary="b q"' },
    url: 'http://x/',
    read: async () => pieces.shift() ?? null,
    discard: () => {},
  });
  assert.equal(answer.headers['content-range'], 'bytes 5-9/20');
  assert.equal(answer.headers['content-length'], '5');
  assert.equal((await readAll(answer)).toString(), 'hello');
  await assert.rejects(
    singlePart({
      statusCode: 206,
      headers: { 'content-type': 'multipart/byteranges' },
      url: 'http://x/',
      read: async () => null,
      discard: () => {},
    }),
    /multipart\/byteranges body qget cannot use \(no boundary\)/,
  );
});
