// Servers that answer in ways qget must survive at the HTTP layer: huge response heads,
// multipart/byteranges answers, redirect loops and chains, answers left open after a download.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { qget } from '../src/index.js';
import { createAgent, createConnection, openRequest, discardBody } from '../src/net/client.js';
import { makeContent } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';

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
