// Downloads through real proxies started here: squid (plain http as absolute-form requests,
// https through CONNECT, Basic proxy auth) and dante (SOCKS5, socks5h). Each proxy's own log
// shows the requests went through it. A proxy that cannot start fails the test.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Aria2 from 'aria2';
import { Manager, qget } from '../src/index.js';
import { ConnectionPool } from '../src/net/connection-pool.js';
import { ProxyRoutes } from '../src/net/proxy.js';
import { runCli } from './helpers/cli.js';
import { makeContent } from './helpers/content.js';
import { assertFileEquals, readAll, useFixtures } from './helpers/fixture.js';
import { type RunningProxy, startDante, startSquid } from './helpers/proxies.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';

const fx = useFixtures();
const daemons = useDaemons();
const fixtures = join(import.meta.dirname, 'fixtures');
const content = makeContent(3_000_000, 14);
const USER = 'alice';
const PASSWORD = 's3cr3t-pw';

let server: TestServer;
let https: TestServer;
let squid: RunningProxy;
let authSquid: RunningProxy;
let denySquid: RunningProxy;
let dante: RunningProxy;
let tlsSquid: RunningProxy;
const proxies: RunningProxy[] = [];

before(async () => {
  const tls = {
    key: await readFile(join(fixtures, 'localhost-key.pem'), 'utf8'),
    cert: await readFile(join(fixtures, 'localhost-cert.pem'), 'utf8'),
  };
  server = await fx.serve({ content });
  https = await fx.serve({ content, tls });
  [squid, authSquid, denySquid, dante, tlsSquid] = await Promise.all([
    startSquid(),
    startSquid({ auth: { user: USER, password: PASSWORD } }),
    startSquid({ denyConnect: true }),
    startDante(),
    startSquid({ tls }),
  ]);
  proxies.push(squid, authSquid, denySquid, dante, tlsSquid);
});

after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

/** An environment without any proxy variable, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = { ...process.env };
  for (const name of Object.keys(clean)) if (/_proxy$/i.test(name)) delete clean[name];
  return { ...clean, ...extra };
}

/** squid access.log lines for `url` (format: client method url status bytes). */
async function squidLines(proxy: RunningProxy, url: string): Promise<string[][]> {
  return (await proxy.log())
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[2] === url);
}

/** Bytes squid sent for `url` with status 200/206 (heads included). */
async function squidBytes(proxy: RunningProxy, url: string): Promise<number> {
  const lines = await squidLines(proxy, url);
  return lines
    .filter((f) => f[3] === '200' || f[3] === '206')
    .reduce((n, f) => n + Number(f[4]), 0);
}

/** The bytes dante passed back to the client in sessions to `port` ("-> N" at the line end). */
async function danteBytes(port: number): Promise<number> {
  let total = 0;
  for (const line of (await dante.log()).split('\n')) {
    const m = new RegExp(
      String.raw`tcp/connect \]: \d+ -> .* 127\.0\.0\.1\.${port} -> (\d+):`,
    ).exec(line);
    if (m) total += Number(m[1]);
  }
  return total;
}

const path = (url: string) => new URL(url).port;

describe('HTTP proxy (squid)', () => {
  test('http_proxy from the environment: every request through squid, absolute-form', async () => {
    const dir = await fx.tempDir();
    const before = server.requests.length;
    const run = await runCli(
      ['-o', 'env.bin', '-q', server.fileUrl],
      dir,
      '',
      env({ http_proxy: squid.url }),
    );
    assert.equal(run.code, 0, run.stderr);
    await assertFileEquals(join(dir, 'env.bin'), content);
    const lines = await squidLines(squid, server.fileUrl);
    const served = server.requests.slice(before);
    assert.ok(lines.length >= 1);
    assert.equal(lines.length, served.length, 'squid saw each request the server saw');
    assert.ok((await squidBytes(squid, server.fileUrl)) >= content.length);
    // squid forwards for its client: the origin saw squid's Via header.
    assert.ok(served.every((r) => /squid/i.test(String(r.headers.via))));
  });

  test('HTTP_PROXY (upper case) too, and --proxy; NO_PROXY sends a host direct', async () => {
    const dir = await fx.tempDir();
    const url = `${server.url}/upper.bin`;
    const upper = await runCli(['-o', 'u.bin', '-q', url], dir, '', env({ HTTP_PROXY: squid.url }));
    assert.equal(upper.code, 0, upper.stderr);
    assert.ok((await squidLines(squid, url)).length >= 1);

    const flagUrl = `${server.url}/flag.bin`;
    const flag = await runCli(['-o', 'f.bin', '-q', '--proxy', squid.url, flagUrl], dir, '', env());
    assert.equal(flag.code, 0, flag.stderr);
    assert.ok((await squidBytes(squid, flagUrl)) >= content.length);

    const directUrl = `${server.url}/direct.bin`;
    for (const [extra, args] of [
      [{ http_proxy: squid.url, NO_PROXY: '127.0.0.1' }, []],
      [{ http_proxy: squid.url, no_proxy: '10.0.0.0/8,127.0.0.0/8' }, []],
      [{}, ['--proxy', squid.url, '--no-proxy', '*']],
    ] as const) {
      const run = await runCli(
        ['-o', 'd.bin', '-f', '-q', ...args, directUrl],
        dir,
        '',
        env(extra),
      );
      assert.equal(run.code, 0, run.stderr);
      await assertFileEquals(join(dir, 'd.bin'), content);
    }
    assert.deepEqual(await squidLines(squid, directUrl), [], 'no_proxy hosts never reach squid');
  });

  test('--proxy "" turns the environment\'s (dead) proxy off', async () => {
    const dir = await fx.tempDir();
    const dead = env({ http_proxy: 'http://127.0.0.1:9', ALL_PROXY: 'socks5://127.0.0.1:9' });
    const off = await runCli(['-o', 'o.bin', '-q', '--proxy', '', server.fileUrl], dir, '', dead);
    assert.equal(off.code, 0, off.stderr);
    await assertFileEquals(join(dir, 'o.bin'), content);
    // Without it, the dead proxy fails the download: the environment was read.
    const on = await runCli(['-o', 'x.bin', '-q', '--retries', '0', server.fileUrl], dir, '', dead);
    assert.equal(on.code, 10, on.stderr);
  });

  test('a dead proxy: one sentence naming it (password masked), exit code 10', async () => {
    const dir = await fx.tempDir();
    const run = await runCli(
      ['-o', 'x.bin', '--proxy', 'http://bob:hunter2@127.0.0.1:9', server.fileUrl],
      dir,
      '',
      env(),
    );
    assert.equal(run.code, 10);
    assert.match(
      run.stderr,
      /cannot connect to the proxy http:\/\/bob:\*\*\*@127\.0\.0\.1:9 \(ECONNREFUSED\)/,
    );
    assert.doesNotMatch(run.stderr, /hunter2/);
  });

  test('proxy auth: right credentials pass (only to the proxy), none or wrong ones are a 407 sentence', async () => {
    const dir = await fx.tempDir();
    const url = `${server.url}/auth.bin`;
    const withAuth = authSquid.url.replace('//', `//${USER}:${PASSWORD}@`);
    const before = server.requests.length;
    const ok = await runCli(['-o', 'a.bin', '-q', '--proxy', withAuth, url], dir, '', env());
    assert.equal(ok.code, 0, ok.stderr);
    await assertFileEquals(join(dir, 'a.bin'), content);
    assert.ok((await squidBytes(authSquid, url)) >= content.length);
    assert.ok(
      server.requests.slice(before).every((r) => r.headers['proxy-authorization'] === undefined),
    );

    const none = await runCli(['-o', 'n.bin', '--proxy', authSquid.url, url], dir, '', env());
    assert.equal(none.code, 10);
    assert.match(
      none.stderr,
      new RegExp(`the proxy http://127\\.0\\.0\\.1:${authSquid.port} needs credentials \\(407\\)`),
    );
    const wrong = authSquid.url.replace('//', `//${USER}:nope@`);
    const bad = await runCli(['-o', 'w.bin', '--proxy', wrong, url], dir, '', env());
    assert.equal(bad.code, 10);
    assert.match(
      bad.stderr,
      /the proxy http:\/\/alice:\*\*\*@127\.0\.0\.1:\d+ refused the credentials \(407\)/,
    );
    assert.doesNotMatch(bad.stderr, /nope/);
    assert.ok((await squidLines(authSquid, url)).some((f) => f[3] === '407'));
  });

  test('https through CONNECT (with proxy auth); a refused CONNECT is named', async () => {
    const dir = await fx.tempDir();
    const url = https.fileUrl.replace('127.0.0.1', 'localhost');
    const extra = { NODE_EXTRA_CA_CERTS: join(fixtures, 'localhost-cert.pem') };
    const withAuth = authSquid.url.replace('//', `//${USER}:${PASSWORD}@`);
    const ok = await runCli(
      ['-o', 's.bin', '-q', url],
      dir,
      '',
      env({ ...extra, HTTPS_PROXY: withAuth }),
    );
    assert.equal(ok.code, 0, ok.stderr);
    await assertFileEquals(join(dir, 's.bin'), content);
    const tunnels = await squidLines(authSquid, `localhost:${path(url)}`);
    assert.ok(tunnels.some((f) => f[1] === 'CONNECT' && f[3] === '200'));
    const bytes = tunnels.filter((f) => f[3] === '200').reduce((n, f) => n + Number(f[4]), 0);
    assert.ok(bytes >= content.length, `${bytes} bytes through the tunnels`);

    const refused = await runCli(
      ['-o', 'r.bin', '--proxy', denySquid.url, url],
      dir,
      '',
      env(extra),
    );
    assert.equal(refused.code, 10);
    assert.match(
      refused.stderr,
      new RegExp(
        `the proxy http://127\\.0\\.0\\.1:${denySquid.port} refused the tunnel to localhost:${path(url)} \\(403\\)`,
      ),
    );
  });
});

test('an https:// proxy (squid with TLS): its certificate trusted by --ca-certificate or skipped by --insecure, else one sentence (exit 10)', async () => {
  const dir = await fx.tempDir();
  const ca = join(fixtures, 'localhost-cert.pem');
  const target = https.fileUrl.replace('127.0.0.1', 'localhost');
  // Plain http as absolute-form requests over TLS to squid, https through CONNECT inside it.
  for (const [name, url] of [
    ['h.bin', server.fileUrl],
    ['s.bin', target],
  ] as const) {
    const r = await runCli(
      ['-q', '-c', '4', '--proxy', tlsSquid.url, '--ca-certificate', ca, '-o', name, url],
      dir,
      '',
      env(),
    );
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(join(dir, name), content);
  }
  assert.ok((await squidBytes(tlsSquid, server.fileUrl)) >= content.length);
  assert.ok((await squidLines(tlsSquid, `localhost:${path(target)}`)).some((f) => f[3] === '200'));

  const insecure = await runCli(
    ['-q', '--proxy', tlsSquid.url, '--insecure', '-o', 'i.bin', server.fileUrl],
    dir,
    '',
    env(),
  );
  assert.equal(insecure.code, 0, insecure.stderr);
  await assertFileEquals(join(dir, 'i.bin'), content);

  const untrusted = await runCli(
    ['--proxy', tlsSquid.url, '-o', 'u.bin', server.fileUrl],
    dir,
    '',
    env(),
  );
  assert.equal(untrusted.code, 10, untrusted.stderr);
  assert.match(
    untrusted.stderr,
    new RegExp(
      `^qget: error: TLS: the certificate of the proxy https://127\\.0\\.0\\.1:${tlsSquid.port} is not trusted \\(self-signed certificate[^)]*\\); to trust it, give its CA certificate with --ca-certificate <file>`,
      'm',
    ),
  );
});

test('through squid, the lean connection sends absolute-form requests and stays alive', async () => {
  const pool = new ConnectionPool({
    connections: 4,
    timeoutMs: 10_000,
    proxy: new ProxyRoutes({ proxy: squid.url }, {}),
  });
  try {
    const url = `${server.url}/lean.bin`;
    const connection = pool.lean(new URL(url));
    assert.ok(connection, 'a lean connection through the HTTP proxy');
    const signal = new AbortController().signal;
    for (const [from, to] of [
      [0, 99],
      [1000, 4999],
    ] as const) {
      const res = await connection.request('/lean.bin', { range: `bytes=${from}-${to}` }, signal);
      assert.equal(res.statusCode, 206);
      assert.deepEqual(await readAll(connection), content.subarray(from, to + 1));
    }
    assert.equal(connection.reusable, true, 'squid kept the connection alive');
    connection.destroy();
    const lines = await squidLines(squid, url);
    assert.deepEqual(
      lines.map((f) => [f[1], f[3], Number(f[4]) > 0]),
      [
        ['GET', '206', true],
        ['GET', '206', true],
      ],
    );
  } finally {
    await pool.destroy();
  }
});

describe('SOCKS5 proxy (dante)', () => {
  test('socks5 (names resolved here) and socks5h (by the proxy): the bytes pass through dante', async () => {
    const dir = await fx.tempDir();
    const before = await danteBytes(Number(path(server.url)));
    const result = await qget(`${server.url}/s5.bin`, {
      filepath: join(dir, 's5.bin'),
      proxy: dante.url,
      maxConnections: 4,
    });
    assert.equal(result.size, content.length);
    await assertFileEquals(join(dir, 's5.bin'), content);
    const after5 = await danteBytes(Number(path(server.url)));
    assert.ok(after5 - before >= content.length, `dante passed ${after5 - before} bytes`);

    const hUrl = `${server.url.replace('127.0.0.1', 'localhost')}/s5h.bin`;
    await qget(hUrl, {
      filepath: join(dir, 's5h.bin'),
      proxy: dante.url.replace('socks5', 'socks5h'),
    });
    await assertFileEquals(join(dir, 's5h.bin'), content);
    assert.ok((await danteBytes(Number(path(server.url)))) - after5 >= content.length);
  });

  test('socks5h sends the name to the proxy; socks5 resolves it here', async () => {
    const dir = await fx.tempDir();
    const name = 'qget-proxy-test.invalid';
    await assert.rejects(
      qget(`http://${name}:8080/x`, {
        filepath: join(dir, 'x'),
        proxy: dante.url.replace('socks5', 'socks5h'),
        retries: 0,
      }),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_PROXY' &&
        err.message.includes(`refused the tunnel to ${name}:8080 (host unreachable)`),
    );
    assert.match(await dante.log(), new RegExp(`could not resolve hostname "${name}"`));
    await assert.rejects(
      qget(`http://local-${name}:8080/x`, {
        filepath: join(dir, 'y'),
        proxy: dante.url,
        retries: 0,
      }),
      /cannot resolve host local-qget-proxy-test\.invalid/,
    );
    assert.doesNotMatch(await dante.log(), /local-qget-proxy-test/);
  });

  test('https over SOCKS5 (a Manager download)', async () => {
    const dir = await fx.tempDir();
    const manager = new Manager({ downloadOptions: { proxy: dante.url, dirPath: dir } });
    const d = manager.add(https.fileUrl.replace('127.0.0.1', 'localhost'));
    // The fixture certificate is not trusted in this process: the TLS failure proves the
    // TLS session ran to the server through dante (whose log shows the session).
    manager.start();
    d.start();
    await new Promise<void>((resolve) => {
      d.on('state-changed', () => {
        if (d.state === 'error' || d.state === 'complete') resolve();
      });
    });
    await manager.stop();
    assert.equal(d.state, 'error');
    assert.match(
      String(d.lastError?.message),
      /TLS: the certificate of localhost:\d+ is not trusted/,
    );
    assert.match(await dante.log(), new RegExp(`127\\.0\\.0\\.1\\.${path(https.url)}`));
  });
});

describe('the daemon', () => {
  test('all-proxy globally and per download; all-proxy-user/-passwd', async () => {
    const dir = await fx.tempDir();
    const daemon = await daemons({ dir, downloadOptions: { proxy: false } });
    const aria2: Aria2 = client(daemon);
    const url = `${server.url}/daemon-global.bin`;
    await aria2.call('changeGlobalOption', { 'all-proxy': squid.url });
    const gid = (await aria2.call('addUri', [url], { out: 'g.bin' })) as string;
    await reach(aria2, gid, 'complete', 30_000);
    await assertFileEquals(join(dir, 'g.bin'), content);
    assert.ok((await squidBytes(squid, url)) >= content.length);

    const own = `${server.url}/daemon-own.bin`;
    const gid2 = (await aria2.call('addUri', [own], {
      out: 'o.bin',
      'all-proxy': authSquid.url,
      'all-proxy-user': USER,
      'all-proxy-passwd': PASSWORD,
    })) as string;
    await reach(aria2, gid2, 'complete', 30_000);
    assert.ok((await squidBytes(authSquid, own)) >= content.length);
    assert.deepEqual(await squidLines(squid, own), []);

    const gid3 = (await aria2.call('addUri', [`${server.url}/daemon-407.bin`], {
      out: 'n.bin',
      'all-proxy': authSquid.url,
    })) as string;
    const failed = await reach(aria2, gid3, 'error', 30_000);
    assert.equal(failed.errorCode, '24');
    assert.match(String(failed.errorMessage), /needs credentials \(407\)/);
    await assert.rejects(aria2.call('changeGlobalOption', { 'all-proxy': 'ftp://x' }), /proxy URL/);
  });
});
