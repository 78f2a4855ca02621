// Credentials stay with the origin the user gave: credential headers are dropped after a
// redirect to another origin (on the probe, the segments, the Writable mode and updateSize, over
// the lean connections and over undici), URL userinfo becomes Basic auth for that origin only,
// and no printed or emitted URL or error shows a password.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { saveControl } from '../src/engine/control-file.js';
import { Downloader, HttpStatusError, qget, redactUrl, redactUrls } from '../src/index.js';
import { requestHeaders, sameOrigin } from '../src/net/credentials.js';
import { runCli } from './helpers/cli.js';
import { makeContent } from './helpers/content.js';
import { waitFor } from './helpers/wait.js';
import { assertFileEquals, exists, hasCode, useFixtures } from './helpers/fixture.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';

const MiB = 1024 * 1024;
const { serve, tempDir } = useFixtures();
const daemons = useDaemons();

const SECRETS = {
  authorization: 'Bearer TOPSECRET-TOKEN',
  cookie: 'session=COOKIE-SECRET',
  'proxy-authorization': 'Basic UFJPWFktU0VDUkVU',
};
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A server on its own port that answers every request with a redirect to `target`. */
async function startRedirector(
  target: string,
): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(302, { location: target, 'content-length': '0' });
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/start`, seen };
}

/** The credential headers a server got, over all its requests. */
function credentialsSeen(s: TestServer): string[] {
  return s.requests.flatMap((r) =>
    Object.keys(SECRETS).filter((name) => r.headers[name] !== undefined),
  );
}

describe('the origin rule (pure)', () => {
  it('keeps credential headers on the same origin only (scheme, host and port)', () => {
    const given = 'http://example.test:8080/a';
    const headers = { ...SECRETS, 'x-other': '1', 'user-agent': 'ua' };
    assert.deepEqual(
      requestHeaders('http://example.test:8080/elsewhere?q', given, headers),
      headers,
    );
    for (const other of [
      'http://example.test:8081/a', // port
      'https://example.test:8080/a', // scheme
      'http://other.test:8080/a', // host
      'http://sub.example.test:8080/a',
    ]) {
      assert.equal(sameOrigin(other, given), false, other);
      assert.deepEqual(
        requestHeaders(other, given, headers),
        { 'x-other': '1', 'user-agent': 'ua' },
        other,
      );
    }
    // Names are matched whatever their case.
    assert.deepEqual(requestHeaders('http://b.test/', 'http://a.test/', { Cookie: 'x' }), {});
    assert.equal(sameOrigin('http://a.test:80/x', 'http://a.test/y'), true);
  });

  it('turns URL credentials into Basic auth for their origin only, decoded', () => {
    const given = 'http://us%20er:p%40ss%3Aw@a.test/file';
    assert.deepEqual(requestHeaders(given, given, {}), { authorization: basic('us er', 'p@ss:w') });
    // A relative redirect keeps the origin (and the URL keeps the userinfo, or not).
    assert.deepEqual(requestHeaders('http://a.test/other', given, {}), {
      authorization: basic('us er', 'p@ss:w'),
    });
    assert.deepEqual(requestHeaders('http://b.test/file', given, {}), {});
    // An Authorization given explicitly wins, as in curl.
    assert.deepEqual(requestHeaders(given, given, { authorization: 'Bearer x' }), {
      authorization: 'Bearer x',
    });
    assert.deepEqual(requestHeaders('http://u@a.test/', 'http://u@a.test/', {}), {
      authorization: basic('u', ''),
    });
  });

  it('redactUrl masks the password (or a lone user name) and secret query values, nothing else', () => {
    assert.equal(
      redactUrl('http://alice:s3cret@h.test:81/p?q=1#f'),
      'http://alice:***@h.test:81/p?q=1#f',
    );
    assert.equal(redactUrl('https://TOKEN@h.test/x'), 'https://***@h.test/x');
    assert.equal(redactUrl('http://h.test/a@b'), 'http://h.test/a@b');
    assert.equal(redactUrl('http://h.test/?mail=a@b.c'), 'http://h.test/?mail=a@b.c');
    assert.equal(redactUrl('http://u:p@ss@h.test/'), 'http://u:***@h.test/');
    assert.equal(redactUrl('http://a:b@h.test'), 'http://a:***@h.test');
    assert.equal(redactUrl('not a url'), 'not a url');
    // Secret-named query parameters (signed and tokened links) keep their names, not values.
    assert.equal(
      redactUrl('https://b.test/f?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab12&x-id=GetObject'),
      'https://b.test/f?X-Amz-Credential=***&X-Amz-Signature=***&x-id=GetObject',
    );
    assert.equal(
      redactUrl('http://h.test/x?access_token=ABC&sig=s1&api_key=k&design=1&monkey=2#t'),
      'http://h.test/x?access_token=***&sig=***&api_key=***&design=1&monkey=2#t',
    );
    assert.equal(
      redactUrls('404 for http://h.test/gone?token=SECRET123 (from http://h.test/a?Token=T2)'),
      '404 for http://h.test/gone?token=*** (from http://h.test/a?Token=***)',
    );
    assert.equal(
      redactUrls('"http://a:pw1@x.test/f" then https://b:pw2@y.test, mail c@d.e'),
      '"http://a:***@x.test/f" then https://b:***@y.test, mail c@d.e',
    );
  });

  it('no QgetError message or url shows a password', () => {
    const err = new HttpStatusError(401, 'http://alice:s3cret@h.test/f');
    assert.equal(err.message, 'the server answered 401 for http://alice:***@h.test/f');
    assert.equal(err.url, 'http://alice:***@h.test/f');
  });
});

describe('credential headers after a redirect', () => {
  const content = makeContent(6 * MiB, 41);

  for (const over of ['lean connections', 'undici'] as const) {
    it(`are not sent to another origin, nor on its segment requests (${over})`, async () => {
      const s = await serve({ content });
      const a = await startRedirector(s.fileUrl);
      const out = join(await tempDir(), 'out.bin');
      const dispatcher = over === 'undici' ? new Agent() : undefined;
      after(() => dispatcher?.close());
      await qget(a.url, { filepath: out, headers: SECRETS, maxConnections: 4, dispatcher });
      await assertFileEquals(out, content);
      assert.equal(a.seen.length, 1);
      assert.equal(a.seen[0]!.authorization, SECRETS.authorization, 'the first host got them');
      assert.equal(a.seen[0]!.cookie, SECRETS.cookie);
      assert.ok(s.requests.length > 2, `${s.requests.length} requests: segments were fetched`);
      assert.deepEqual(credentialsSeen(s), [], 'the second host got no credentials');
    });
  }

  it('are sent on a redirect within the origin, and on every segment request', async () => {
    const s = await serve({ content });
    const out = join(await tempDir(), 'out.bin');
    // /redirect/2: an absolute same-origin Location, then a relative one.
    await qget(`${s.url}/redirect/2/file.bin`, { filepath: out, headers: SECRETS });
    await assertFileEquals(out, content);
    assert.ok(s.requests.length > 4, `${s.requests.length} requests`);
    for (const r of s.requests) {
      for (const [name, value] of Object.entries(SECRETS)) {
        assert.equal(r.headers[name], value, `${name} on ${r.path} ${r.range ?? ''}`);
      }
    }
  });

  it('are not sent to another origin by the Writable mode or by updateSize()', async () => {
    const s = await serve({ content: makeContent(512 * 1024, 5) });
    const a = await startRedirector(s.fileUrl);
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    const d = new Downloader(a.url, { path: sink, headers: SECRETS });
    assert.equal(await d.updateSize(), 512 * 1024);
    d.start();
    await waitFor(() => d.state === 'complete' || d.state === 'error', 'the end', 20_000);
    assert.equal(d.state, 'complete', String(d.lastError));
    assert.equal(Buffer.concat(chunks).length, 512 * 1024);
    assert.deepEqual(
      s.requests.map((r) => r.method),
      ['HEAD', 'GET'],
    );
    assert.equal(a.seen.length, 2);
    assert.deepEqual(credentialsSeen(s), []);
  });
});

describe('credentials in the URL', () => {
  const content = makeContent(4 * MiB, 43);
  const withCredentials = (s: TestServer, path = '/file.bin', password = 'p@ss w0rd'): string =>
    `http://alice:${encodeURIComponent(password)}@${new URL(s.url).host}${path}`;

  it('are sent as Basic auth on every request to their origin, never in the request line', async () => {
    const s = await serve({ content, authorization: basic('alice', 'p@ss w0rd') });
    const dir = await tempDir();
    const result = await qget(withCredentials(s), { dir, maxConnections: 4 });
    await assertFileEquals(join(dir, 'file.bin'), content);
    assert.equal(result.path, join(dir, 'file.bin'));
    assert.ok(s.requests.length > 2);
    assert.ok(s.requests.every((r) => r.status === 206 || r.status === 200));
    assert.ok(s.requests.every((r) => !r.path.includes('@') && !r.path.includes('alice')));
  });

  it('are not sent to another origin after a redirect', async () => {
    const s = await serve({ content, authorization: basic('alice', 'secret') });
    const a = await startRedirector(s.fileUrl);
    const from = a.url.replace('http://', 'http://alice:secret@');
    const err = await qget(from, { dir: await tempDir() }).then(
      () => assert.fail('the second host wanted credentials it must not get'),
      (e: unknown) => e,
    );
    assert.ok(hasCode('ERR_HTTP_STATUS')(err));
    assert.equal(a.seen[0]!.authorization, basic('alice', 'secret'));
    assert.equal(s.requests[0]!.headers.authorization, undefined);
  });

  it('never appear in what the CLI prints, on stderr or with --json', async () => {
    const s = await serve({ content, authorization: basic('alice', 'right') });
    const dir = await tempDir();
    const wrong = withCredentials(s, '/file.bin', 'WRONG-PASSWORD');
    const plain = await runCli([wrong], dir);
    assert.equal(plain.code, 3, plain.stderr);
    assert.match(plain.stderr, /401 for http:\/\/alice:\*\*\*@127\.0\.0\.1:\d+\/file\.bin/);
    const missing = await runCli(
      ['--debug', withCredentials(s, '/status/404', 'WRONG-PASSWORD')],
      dir,
    );
    assert.equal(missing.code, 3, missing.stderr);
    const json = await runCli(['--json', wrong], dir);
    assert.equal(json.code, 3, json.stderr);
    assert.match(json.stdout, /"url":"http:\/\/alice:\*\*\*@127/);
    for (const run of [plain, missing, json]) {
      assert.ok(!`${run.stdout}${run.stderr}`.includes('WRONG-PASSWORD'), run.stdout + run.stderr);
    }
  });

  it("never appear in the daemon's error text", async () => {
    const s = await serve({ content, authorization: basic('alice', 'right') });
    const daemon = await daemons({ dir: await tempDir() });
    const aria2 = client(daemon);
    const gid = (await aria2.call('addUri', [
      withCredentials(s, '/file.bin', 'WRONG-PASSWORD'),
    ])) as string;
    const status = await reach(aria2, gid, 'error');
    assert.equal(status.errorCode, '24', 'aria2: authorization failed');
    assert.match(status.errorMessage!, /401 for http:\/\/alice:\*\*\*@/);
    assert.ok(!status.errorMessage!.includes('WRONG-PASSWORD'));
  });

  it('make the control file readable by its owner only (mode 0600)', async () => {
    const dir = await tempDir();
    const state = {
      version: 1 as const,
      url: 'http://alice:secret@h.test/f',
      finalUrl: 'http://alice:secret@h.test/f',
      size: 10,
      acceptRanges: true,
      etag: null,
      lastModified: null,
      ranges: [],
      updatedAt: new Date(0).toISOString(),
    };
    await saveControl(join(dir, 'a.qget'), state);
    assert.equal((await stat(join(dir, 'a.qget'))).mode & 0o777, 0o600);
    const open = { ...state, url: 'http://h.test/f', finalUrl: 'http://h.test/f' };
    await saveControl(join(dir, 'b.qget'), open);
    assert.notEqual((await stat(join(dir, 'b.qget'))).mode & 0o777, 0o600, 'only when needed');
  });

  it('an interrupted download with URL credentials leaves a 0600 control file', async () => {
    const s = await serve({ content, authorization: basic('alice', 'pw'), ratePerConnection: MiB });
    const dir = await tempDir();
    const controller = new AbortController();
    const control = join(dir, 'file.bin.qget');
    const run = qget(withCredentials(s, '/file.bin', 'pw'), {
      dir,
      maxConnections: 2,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    // The first checkpoint is written about a second into the transfer (4 MiB at 2 MiB/s).
    const deadline = performance.now() + 20_000;
    while (!(await exists(control))) {
      assert.ok(performance.now() < deadline, 'no checkpoint was written');
      await sleep(20);
    }
    controller.abort();
    assert.ok(hasCode('ERR_ABORTED')(await run));
    assert.equal((await stat(control)).mode & 0o777, 0o600);
  });
});
