// Credentials, cookies and certificates against real local servers: Basic and Digest auth
// (-u, the auth option, .netrc, the daemon's http-user/http-passwd) on every ranged request,
// cookies set along a redirect chain and sent on every later request (segments included, and the
// next download of a Manager), cookies.txt loaded and saved, and https with --ca-certificate,
// --insecure and neither.

import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { Manager, qget } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { makeContent } from './helpers/content.js';
import { reachState } from './helpers/events.js';
import { waitFor } from './helpers/wait.js';
import type { DigestConfig } from './helpers/digest-server.js';
import { assertFileEquals, exists, useFixtures } from './helpers/fixture.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';

const MiB = 1024 * 1024;
const { serve, tempDir } = useFixtures();
const daemons = useDaemons();
const fixtures = resolve(import.meta.dirname, 'fixtures');
const CA_FILE = join(fixtures, 'localhost-cert.pem');
const tls = async () => ({
  key: await readFile(join(fixtures, 'localhost-key.pem'), 'utf8'),
  cert: await readFile(CA_FILE, 'utf8'),
});
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const digestConfig = (algorithm: string): DigestConfig => ({
  realm: 'qget-test',
  username: 'mufasa',
  password: 'Circle of Life',
  algorithm,
  nonce: 'nonce-1',
  opaque: 'opaque-1',
});
/** Requests for the content (not redirects), in arrival order. */
const contentRequests = (s: TestServer) => s.requests.filter((r) => r.path === '/file.bin');
/** Several ranged requests: 4 MiB in parts of at most 1 MiB. */
const MANY_RANGES = { maxConnections: 4, maxPartMb: 1 };

describe('Basic and Digest auth', () => {
  const content = makeContent(4 * MiB, 141);

  it('-u sends Basic auth on every request; without it a 401 (exit 3); the password is never printed', async () => {
    const s = await serve({ content, authorization: basic('alice', 'pa55word') });
    const dir = await tempDir();
    const out = join(dir, 'basic.bin');
    const r = await runCli(
      ['-u', 'alice:pa55word', '-c', '4', '--part', '1', '-o', out, s.fileUrl],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(out, content);
    assert.ok(contentRequests(s).length >= 4, 'several ranged requests');
    assert.ok(contentRequests(s).every((q) => q.status !== 401));
    assert.ok(!`${r.stdout}${r.stderr}`.includes('pa55word'));
    const without = await runCli(['-o', join(dir, 'no.bin'), s.fileUrl], dir);
    assert.equal(without.code, 3, without.stderr);
  });

  it('the plain GET after a range answer qget cannot read carries the credentials too', async () => {
    // A multipart/byteranges answer with an unreadable part makes qget fall back to one plain
    // GET; that request once left out the run's credentials and ended in the server's 401.
    const s = await serve({
      content,
      multipart: 'broken',
      authorization: basic('alice', 'pa55word'),
    });
    const dir = await tempDir();
    const out = join(dir, 'fallback.bin');
    const r = await runCli(['-u', 'alice:pa55word', '-c', '4', '-o', out, s.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(out, content);
    const seen = contentRequests(s).map((q) => [
      q.range === undefined ? 'plain' : 'range',
      q.status,
    ]);
    assert.deepEqual(seen, [
      ['range', 206],
      ['plain', 200],
    ]);
  });

  for (const algorithm of ['MD5', 'SHA-256']) {
    it(`answers a Digest (${algorithm}) challenge once, then every segment with it`, async () => {
      const s = await serve({ content, digest: digestConfig(algorithm) });
      const dir = await tempDir();
      const out = join(dir, `digest-${algorithm}.bin`);
      await qget(s.fileUrl, {
        filepath: out,
        auth: { username: 'mufasa', password: 'Circle of Life' },
        ...MANY_RANGES,
      });
      await assertFileEquals(out, content);
      const all = contentRequests(s);
      assert.equal(all.filter((q) => q.status === 401).length, 1, 'one challenge');
      assert.equal(all[0]!.status, 401);
      assert.match(String(all[0]!.headers.authorization), /^Basic /);
      const answered = all.slice(1);
      assert.ok(answered.length >= 4, 'several ranged requests');
      for (const q of answered) {
        assert.match(
          String(q.headers.authorization),
          new RegExp(`^Digest .*algorithm=${algorithm}`),
        );
      }
    });
  }

  it('asks again when the server says the nonce is stale (a new nonce mid-download)', async () => {
    const digest = digestConfig('MD5');
    const big = makeContent(8 * MiB, 144);
    const s = await serve({ content: big, digest, ratePerConnection: 2 * MiB });
    const dir = await tempDir();
    const out = join(dir, 'stale.bin');
    // 8 parts of 1 MiB over 4 connections at 2 MiB/s each: half of them are asked for later.
    const job = qget(s.fileUrl, { filepath: out, auth: 'mufasa:Circle of Life', ...MANY_RANGES });
    // Once the first answer is on its way, the server hands out a new nonce.
    await waitFor(() => contentRequests(s).some((q) => q.status === 206), 'a 206', 10_000);
    digest.nonce = 'nonce-2';
    await job;
    await assertFileEquals(out, big);
    const stale = contentRequests(s).filter((q) => q.status === 401).length;
    assert.ok(stale >= 2, `a stale answer after the first challenge (${stale} 401s)`);
  });

  it('a wrong Digest password fails with the 401 (exit 3), asking only once more', async () => {
    const s = await serve({ content, digest: digestConfig('SHA-256') });
    const dir = await tempDir();
    const r = await runCli(['-u', 'mufasa:wrong', '-o', join(dir, 'x.bin'), s.fileUrl], dir);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /401/);
    assert.ok(!r.stderr.includes('wrong'));
  });

  it('--netrc-file: the machine entry for the host, else the default entry; --netrc reads ~/.netrc', async () => {
    const s = await serve({ content, authorization: basic('bob', 'from-netrc') });
    const dir = await tempDir();
    const netrc = join(dir, 'netrc');
    await writeFile(
      netrc,
      'machine elsewhere.test login x password y\nmachine 127.0.0.1\n  login bob\n  password from-netrc\n',
    );
    const r = await runCli(['--netrc-file', netrc, '-o', join(dir, 'a.bin'), s.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(join(dir, 'a.bin'), content);

    const d = await serve({ content, authorization: basic('anon', 'dflt') });
    await writeFile(
      netrc,
      'machine elsewhere.test login x password y\ndefault login anon password dflt\n',
    );
    const r2 = await runCli(['--netrc-file', netrc, '-o', join(dir, 'b.bin'), d.fileUrl], dir);
    assert.equal(r2.code, 0, r2.stderr);

    await writeFile(join(dir, '.netrc'), 'machine 127.0.0.1 login bob password from-netrc\n');
    const env = { ...process.env, HOME: dir };
    const r3 = await runCli(['--netrc', '-o', join(dir, 'c.bin'), s.fileUrl], dir, '', env);
    assert.equal(r3.code, 0, r3.stderr);
    const r4 = await runCli(['-o', join(dir, 'd.bin'), s.fileUrl], dir, '', env);
    assert.equal(r4.code, 3, 'no --netrc: no credentials');
  });

  it('the daemon reads ~/.netrc as aria2 does; netrc-path names another file, no-netrc=true none', async () => {
    const s = await serve({ content, authorization: basic('bob', 'from-netrc') });
    const dir = await tempDir();
    await writeFile(join(dir, '.netrc'), 'machine 127.0.0.1 login bob password from-netrc\n');
    const other = join(dir, 'other-netrc');
    await writeFile(other, 'default login bob password from-netrc\n');
    const home = process.env.HOME;
    process.env.HOME = dir;
    try {
      const daemon = await daemons({ dir: await tempDir() });
      const aria2 = client(daemon);
      const byHome = (await aria2.call('addUri', [s.fileUrl], { out: 'home.bin' })) as string;
      await assertFileEquals(
        (await reach(aria2, byHome, 'complete', 60_000)).files![0]!.path,
        content,
      );
      const byPath = (await aria2.call('addUri', [s.fileUrl], {
        out: 'path.bin',
        'netrc-path': other,
      })) as string;
      await assertFileEquals(
        (await reach(aria2, byPath, 'complete', 60_000)).files![0]!.path,
        content,
      );
      const off = (await aria2.call('addUri', [s.fileUrl], {
        out: 'off.bin',
        'no-netrc': 'true',
      })) as string;
      assert.equal((await reach(aria2, off, 'error', 60_000)).errorCode, '24');
      const shown = (await aria2.call('getGlobalOption')) as Record<string, string>;
      assert.equal(shown['no-netrc'], 'false');
    } finally {
      process.env.HOME = home;
    }
  });

  it('the daemon takes http-user / http-passwd', async () => {
    const s = await serve({ content, digest: digestConfig('MD5') });
    const daemon = await daemons({ dir: await tempDir() });
    const aria2 = client(daemon);
    const gid = (await aria2.call('addUri', [s.fileUrl], {
      'http-user': 'mufasa',
      'http-passwd': 'Circle of Life',
      split: '4',
    })) as string;
    const done = await reach(aria2, gid, 'complete', 60_000);
    await assertFileEquals(done.files![0]!.path, content);
    const refused = (await aria2.call('addUri', [s.fileUrl], { out: 'no.bin' })) as string;
    assert.equal((await reach(aria2, refused, 'error', 60_000)).errorCode, '24');
  });
});

describe('cookies', () => {
  const content = makeContent(4 * MiB, 142);
  const HOPS = ['hop3=v3', 'hop2=v2', 'hop1=v1', 'hop0=v0'];
  const cookiesOf = (q: { headers: { cookie?: string | undefined } }): string[] =>
    (q.headers.cookie ?? '').split(/;\s*/).filter((c) => c !== '');

  it('set along a redirect chain and by the file answer, sent on every later request and segment', async () => {
    const s = await serve({ content, redirectCookies: true, setCookie: ['sess=abc; Path=/'] });
    const dir = await tempDir();
    const out = join(dir, 'chain.bin');
    await qget(`${s.url}/redirect/3/file.bin`, { filepath: out, ...MANY_RANGES });
    await assertFileEquals(out, content);
    // /redirect/N is the (4 - N)th request: it carries the cookies of the hops before it.
    for (const [i, q] of s.requests.filter((r) => r.path.startsWith('/redirect/')).entries()) {
      assert.deepEqual(cookiesOf(q).sort(), HOPS.slice(0, i).sort(), q.path);
    }
    const files = contentRequests(s);
    assert.ok(files.length >= 4, 'several ranged requests');
    assert.deepEqual(cookiesOf(files[0]!).sort(), [...HOPS].sort());
    for (const q of files.slice(1))
      assert.deepEqual(cookiesOf(q).sort(), [...HOPS, 'sess=abc'].sort());
  });

  it("are kept for a Manager's next download; a Cookie given with headers still goes too", async () => {
    const s = await serve({ content, setCookie: ['sess=xyz; Path=/'] });
    const dir = await tempDir();
    const manager = new Manager({
      downloadOptions: { dirPath: dir, maxConnections: 1, headers: { cookie: 'mine=1' } },
    });
    manager.start();
    const first = manager.add(s.fileUrl);
    first.start();
    await reachState(first, 'complete', 60_000);
    assert.deepEqual(cookiesOf(contentRequests(s)[0]!), ['mine=1']);
    s.reset();
    const second = manager.add(`${s.fileUrl}?again`);
    second.start();
    await reachState(second, 'complete', 60_000);
    await manager.stop();
    const [next] = s.requests;
    assert.deepEqual(cookiesOf(next!), ['mine=1', 'sess=xyz']);
  });

  it('--load-cookies sends the cookies for the domain and path, not secure ones over http nor expired ones', async () => {
    const s = await serve({ content });
    const dir = await tempDir();
    const file = join(dir, 'cookies.txt');
    const later = Math.floor(Date.now() / 1000) + 3600;
    await writeFile(
      file,
      [
        '# Netscape HTTP Cookie File',
        `127.0.0.1\tFALSE\t/\tFALSE\t${later}\tplain\tp1`,
        `#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\thidden\th1`,
        `127.0.0.1\tFALSE\t/\tTRUE\t${later}\tsecure\ts1`,
        `127.0.0.1\tFALSE\t/\tFALSE\t1000000000\texpired\te1`,
        `127.0.0.1\tFALSE\t/other\tFALSE\t0\telsewhere\to1`,
        `.example.com\tTRUE\t/\tFALSE\t0\tforeign\tf1`,
        '',
      ].join('\n'),
    );
    const saved = join(dir, 'saved.txt');
    const r = await runCli(
      [
        '--load-cookies',
        file,
        '--save-cookies',
        saved,
        '-c',
        '4',
        '--part',
        '1',
        '-o',
        join(dir, 'c.bin'),
        s.fileUrl,
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(contentRequests(s).length >= 4);
    for (const q of contentRequests(s))
      assert.deepEqual(cookiesOf(q).sort(), ['hidden=h1', 'plain=p1']);
    // Saved: what was loaded and live, in the Netscape format, readable by its owner only.
    const text = await readFile(saved, 'utf8');
    assert.match(text, /^# Netscape HTTP Cookie File\n/);
    assert.match(
      text,
      new RegExp(`\\n127\\.0\\.0\\.1\\tFALSE\\t/\\tFALSE\\t${later}\\tplain\\tp1\\n`),
    );
    assert.match(text, /\n#HttpOnly_127\.0\.0\.1\tFALSE\t\/\tFALSE\t0\thidden\th1\n/);
    assert.match(text, /\n\.example\.com\tTRUE\t\/\tFALSE\t0\tforeign\tf1\n/);
    assert.ok(!text.includes('expired'));
    assert.equal((await stat(saved)).mode & 0o777, 0o600);
  });

  it('--save-cookies writes the cookies servers set along the way', async () => {
    const s = await serve({
      content,
      redirectCookies: true,
      setCookie: ['sess=abc; Path=/; Max-Age=3600'],
    });
    const dir = await tempDir();
    const saved = join(dir, 'jar.txt');
    const r = await runCli(
      ['--save-cookies', saved, '-o', join(dir, 'd.bin'), `${s.url}/redirect/1/file.bin`],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = (await readFile(saved, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('127.0.0.1'));
    const byName = new Map(lines.map((l) => [l.split('\t')[5], l.split('\t')]));
    assert.deepEqual([...byName.keys()].sort(), ['hop0', 'hop1', 'sess']);
    assert.deepEqual(byName.get('hop1')!.slice(0, 5), ['127.0.0.1', 'FALSE', '/', 'FALSE', '0']);
    const expiry = Number(byName.get('sess')![4]);
    assert.ok(
      Math.abs(expiry - (Date.now() / 1000 + 3600)) < 120,
      `Max-Age as an expiry (${expiry})`,
    );
  });
});

describe('certificates', () => {
  const content = makeContent(3 * MiB, 143);
  const UNTRUSTED =
    /^qget: error: TLS: the certificate of 127\.0\.0\.1:\d+ is not trusted \(.+\); to trust it, give its CA certificate with --ca-certificate <file> \(caCertificate\), or skip the check with --insecure \(insecure\)$/m;

  it('--ca-certificate trusts the file besides the usual roots, over several TLS connections', async () => {
    const s = await serve({ content, tls: await tls() });
    const dir = await tempDir();
    const out = join(dir, 'ca.bin');
    const r = await runCli(
      ['--ca-certificate', CA_FILE, '-c', '4', '--part', '1', '-o', out, s.fileUrl],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(out, content);
    assert.ok(contentRequests(s).length >= 3);
  });

  it('--insecure downloads without the CA and warns; neither: exit 4 naming both options', async () => {
    const s = await serve({ content, tls: await tls() });
    const dir = await tempDir();
    const r = await runCli(['--insecure', '-c', '4', '-o', join(dir, 'i.bin'), s.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^qget: warning: --insecure: certificates are not checked$/m);
    await assertFileEquals(join(dir, 'i.bin'), content);
    const refused = await runCli(['-o', join(dir, 'u.bin'), s.fileUrl], dir);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, UNTRUSTED);
    assert.equal(await exists(join(dir, 'u.bin')), false);
  });

  it('library: caCertificate as PEM text, a Buffer or a path; insecure', async () => {
    const s = await serve({ content, tls: await tls() });
    const dir = await tempDir();
    const pem = await readFile(CA_FILE, 'utf8');
    for (const [i, caCertificate] of [pem, Buffer.from(pem), CA_FILE].entries()) {
      await qget(s.fileUrl, {
        filepath: join(dir, `lib${i}.bin`),
        caCertificate,
        maxConnections: 2,
      });
      await assertFileEquals(join(dir, `lib${i}.bin`), content);
    }
    await qget(s.fileUrl, { filepath: join(dir, 'lib-insecure.bin'), insecure: true });
    await assert.rejects(qget(s.fileUrl, { filepath: join(dir, 'lib-no.bin') }), /certificate/);
  });

  it('the daemon takes check-certificate and ca-certificate', async () => {
    const s = await serve({ content, tls: await tls() });
    const daemon = await daemons({ dir: await tempDir() });
    const aria2 = client(daemon);
    const add = async (out: string, options: Record<string, string>) =>
      (await aria2.call('addUri', [s.fileUrl], { out, ...options })) as string;
    const off = await add('off.bin', { 'check-certificate': 'false' });
    await assertFileEquals((await reach(aria2, off, 'complete', 60_000)).files![0]!.path, content);
    const ca = await add('ca.bin', { 'ca-certificate': CA_FILE });
    await assertFileEquals((await reach(aria2, ca, 'complete', 60_000)).files![0]!.path, content);
    const on = await add('on.bin', { 'check-certificate': 'true' });
    const failed = await reach(aria2, on, 'error', 60_000);
    assert.match(failed.errorMessage!, /--ca-certificate.*--insecure/);
  });
});
