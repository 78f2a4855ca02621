// The connections kept between requests and downloads: lean ones per origin over plain http,
// undici for the rest, and openAnswer() choosing between them.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConnectionPool, openAnswer } from '../src/net/connection-pool.js';
import { makeContent } from './helpers/content.js';
import { readAll, useFixtures } from './helpers/fixture.js';

const fx = useFixtures();

describe('ConnectionPool', () => {
  const pool = new ConnectionPool({ connections: 4, timeoutMs: 5000 });
  after(() => pool.destroy());
  const signal = new AbortController().signal;

  it('hands a released connection to the next request to its origin', async () => {
    const content = makeContent(200_000, 1);
    const server = await fx.serve({ content });
    for (let i = 0; i < 3; i++) {
      const answer = await openAnswer(server.fileUrl, {
        pool,
        dispatcher: pool.agent,
        headers: { range: 'bytes=0-' },
        signal,
      });
      assert.equal(answer.statusCode, 206);
      assert.ok(answer.connection, 'plain http goes over a lean connection');
      assert.ok((await readAll(answer)).equals(content));
      pool.release(answer.connection);
    }
    assert.equal(server.requests.length, 3);
    assert.equal(new Set(server.requests.map((r) => r.socketId)).size, 1, 'one socket');
  });

  it('follows redirects over lean connections, relative Location too', async () => {
    const content = makeContent(5000, 2);
    const server = await fx.serve({ content });
    // /redirect/N/ answers N + 1 redirects, alternating relative and absolute Locations.
    const answer = await openAnswer(`${server.url}/redirect/2/file.bin`, {
      pool,
      dispatcher: pool.agent,
      headers: {},
      signal,
    });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.url, server.fileUrl);
    assert.ok((await readAll(answer)).equals(content));
    pool.release(answer.connection!);
    assert.equal(server.requests.length, 4);
    assert.equal(new Set(server.requests.map((r) => r.socketId)).size, 1, 'one socket');
  });

  it('goes over undici for https and for an origin the lean client cannot read', async () => {
    assert.equal(pool.lean(new URL('https://127.0.0.1/x')), undefined);
    const server = await fx.serve({ content: makeContent(1000, 3) });
    assert.ok(pool.lean(new URL(server.fileUrl)));
    pool.undiciOnly(server.fileUrl);
    assert.equal(pool.lean(new URL(server.fileUrl)), undefined);
    const answer = await openAnswer(server.fileUrl, {
      pool,
      dispatcher: pool.agent,
      headers: {},
      signal,
    });
    assert.equal(answer.connection, undefined);
    assert.equal((await readAll(answer)).length, 1000);
  });
});
