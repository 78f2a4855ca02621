// The pure parts of credentials and cookies: Digest answers against RFC 7616's own examples,
// .netrc as curl reads it, the cookies.txt format both ways, and the session's choice of
// Basic or Digest and of when to ask again.

import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatCookiesTxt, parseCookiesTxt } from '../src/net/cookies-txt.js';
import { requestHeaders } from '../src/net/credentials.js';
import { digestAuthorization, parseDigestChallenge } from '../src/net/digest.js';
import { netrcCredentials, parseNetrc } from '../src/net/netrc.js';
import { HttpSession } from '../src/net/session.js';
import { checkAuth, netrcAuth } from '../src/api/session-options.js';

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
const RFC_CHALLENGES = [
  'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
];
const RFC_REQUEST = {
  username: 'Mufasa',
  password: 'Circle of Life',
  method: 'GET',
  uri: '/dir/index.html',
  nc: 1,
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
};
const responseOf = (header: string): string | undefined =>
  /response="([0-9a-f]+)"/.exec(header)?.[1];

describe('Digest (RFC 7616)', () => {
  it('answers the SHA-256 example of RFC 7616 §3.9.1, preferred over MD5', () => {
    const challenge = parseDigestChallenge(RFC_CHALLENGES);
    assert.equal(challenge?.algorithm, 'sha-256');
    assert.equal(challenge?.qop, 'auth');
    const header = digestAuthorization(challenge!, RFC_REQUEST);
    assert.equal(
      responseOf(header),
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
    assert.match(
      header,
      /^Digest username="Mufasa", realm="http-auth@example.org", uri="\/dir\/index.html", algorithm=SHA-256, /,
    );
    assert.match(
      header,
      /nc=00000001, cnonce="f2\/wE4q74E6zIJEtWaHKaf5wv\/H5QzzpXusqGemxURZJ", qop=auth/,
    );
    assert.match(header, /opaque="FQhe\/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"/);
  });

  // The RFC prints 8ca523f5e9506fed4657c9700eebdec1, which its own inputs do not give (the
  // SHA-256 example matches to the digit); this is what they give, checked with Python's hashlib.
  it('answers the MD5 example of RFC 7616 §3.9.1 (as corrected)', () => {
    const challenge = parseDigestChallenge(RFC_CHALLENGES[1]);
    assert.equal(challenge?.algorithm, 'md5');
    assert.equal(
      responseOf(digestAuthorization(challenge!, RFC_REQUEST)),
      '8ca523f5e9506fed4657c9700eebdbec',
    );
  });

  it('finds Digest among several challenges in one header; none in Basic or auth-int only', () => {
    const one = parseDigestChallenge('Basic realm="x", Digest realm="y", nonce="n", qop="auth"');
    assert.equal(one?.realm, 'y');
    assert.equal(one?.algorithm, 'md5');
    assert.equal(parseDigestChallenge('Basic realm="x"'), undefined);
    assert.equal(parseDigestChallenge('Digest realm="y", nonce="n", qop="auth-int"'), undefined);
    assert.equal(parseDigestChallenge('Digest realm="y", nonce="n", stale=TRUE')?.stale, true);
  });
});

describe('.netrc', () => {
  const text = [
    '# a comment line',
    'machine example.com login alice password "sec ret\\"1"',
    'machine other.org',
    '  login bob',
    '  password pw2',
    'macdef init',
    'cd /pub',
    '',
    'default login anon password guest',
  ].join('\n');

  it('reads machine entries over one line or several, quoted passwords, and skips macdef', () => {
    const entries = parseNetrc(text);
    assert.deepEqual(netrcCredentials(entries, 'EXAMPLE.com'), {
      username: 'alice',
      password: 'sec ret"1',
    });
    assert.deepEqual(netrcCredentials(entries, 'other.org'), { username: 'bob', password: 'pw2' });
  });

  it('falls back to the default entry; a login from the URL picks its own entry', () => {
    const entries = parseNetrc(text);
    assert.deepEqual(netrcCredentials(entries, 'unknown.net'), {
      username: 'anon',
      password: 'guest',
    });
    assert.equal(netrcCredentials(parseNetrc('machine a login x password y'), 'b'), undefined);
    assert.equal(netrcCredentials(entries, 'example.com', 'mallory'), undefined);
    assert.deepEqual(netrcCredentials(entries, 'example.com', 'alice')?.password, 'sec ret"1');
  });

  it('netrcAuth reads a file again once it changed; a missing ~/.netrc is none, a named one an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qget-netrc-'));
    try {
      const file = join(dir, 'netrc');
      await writeFile(file, 'machine h.test login a password one\n');
      assert.deepEqual(netrcAuth('http://h.test/f', file), { username: 'a', password: 'one' });
      assert.deepEqual(netrcAuth('http://h.test/g', file), { username: 'a', password: 'one' });
      // The same size, and a modification time set apart: the new password is read.
      await writeFile(file, 'machine h.test login a password two\n');
      await utimes(file, new Date(), new Date(Date.now() + 5000));
      assert.deepEqual(netrcAuth('http://h.test/f', file), { username: 'a', password: 'two' });
      await rm(file);
      assert.throws(
        () => netrcAuth('http://h.test/f', file),
        /cannot read the netrc file .*ENOENT/,
      );
      const home = process.env.HOME;
      process.env.HOME = dir;
      try {
        assert.equal(netrcAuth('http://h.test/f', true), undefined);
      } finally {
        process.env.HOME = home;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cookies.txt', () => {
  const file = [
    '# Netscape HTTP Cookie File',
    '.example.com\tTRUE\t/\tFALSE\t2000000000\tsid\tabc',
    '#HttpOnly_www.example.com\tFALSE\t/app\tTRUE\t0\ttoken\tx=y',
    'broken line',
    '',
    'example.org\tFALSE\t/\tFALSE\t0\tempty',
  ].join('\n');

  it('reads domain, subdomain flag, path, secure, expiry, name, value and #HttpOnly_', () => {
    assert.deepEqual(parseCookiesTxt(file), [
      {
        domain: 'example.com',
        includeSubdomains: true,
        path: '/',
        secure: false,
        httpOnly: false,
        expires: 2000000000,
        name: 'sid',
        value: 'abc',
      },
      {
        domain: 'www.example.com',
        includeSubdomains: false,
        path: '/app',
        secure: true,
        httpOnly: true,
        expires: 0,
        name: 'token',
        value: 'x=y',
      },
      {
        domain: 'example.org',
        includeSubdomains: false,
        path: '/',
        secure: false,
        httpOnly: false,
        expires: 0,
        name: 'empty',
        value: '',
      },
    ]);
  });

  it('writes what it reads, as curl writes it', () => {
    const records = parseCookiesTxt(file);
    const text = formatCookiesTxt(records);
    assert.match(text, /^# Netscape HTTP Cookie File\n/);
    assert.match(text, /\n\.example\.com\tTRUE\t\/\tFALSE\t2000000000\tsid\tabc\n/);
    assert.match(text, /\n#HttpOnly_www\.example\.com\tFALSE\t\/app\tTRUE\t0\ttoken\tx=y\n/);
    assert.deepEqual(parseCookiesTxt(text), records);
  });
});

describe('the session', () => {
  const given = 'http://example.com/file';

  it('sends the auth option as Basic to the origin given only', () => {
    const session = new HttpSession({ auth: { username: 'u', password: 'p:w' } });
    const basic = `Basic ${Buffer.from('u:p:w').toString('base64')}`;
    assert.equal(requestHeaders(given, given, {}, session).authorization, basic);
    assert.equal(requestHeaders('http://other.com/x', given, {}, session).authorization, undefined);
    assert.equal(
      requestHeaders('https://example.com/file', given, {}, session).authorization,
      undefined,
    );
    // An Authorization header given wins; URL credentials win over the option.
    assert.equal(
      requestHeaders(given, given, { authorization: 'Bearer t' }, session).authorization,
      'Bearer t',
    );
    const inUrl = 'http://me:pw@example.com/file';
    assert.equal(
      requestHeaders(inUrl, inUrl, {}, session).authorization,
      `Basic ${Buffer.from('me:pw').toString('base64')}`,
    );
  });

  it('turns to Digest after a 401 challenge, once; a non-stale second challenge is final', async () => {
    const session = new HttpSession({ auth: { username: 'u', password: 'p' } });
    const challenge = { 'www-authenticate': 'Digest realm="r", nonce="n1", qop="auth"' };
    assert.equal(await session.received(given, 401, challenge, true), true);
    const first = requestHeaders(given, given, {}, session).authorization!;
    assert.match(
      first,
      /^Digest username="u", realm="r", uri="\/file", algorithm=MD5, nonce="n1", nc=00000001/,
    );
    assert.match(requestHeaders(given, given, {}, session).authorization!, /nc=00000002/);
    assert.equal(await session.received(given, 401, challenge, true), false);
    const stale = { 'www-authenticate': 'Digest realm="r", nonce="n2", qop="auth", stale=true' };
    assert.equal(await session.received(given, 401, stale, true), true);
    assert.match(
      requestHeaders(given, given, {}, session).authorization!,
      /nonce="n2", nc=00000001/,
    );
    // No credentials sent: nothing to answer with.
    assert.equal(await new HttpSession().received(given, 401, challenge, false), false);
  });

  it('reads the auth option as an object or user:password, and never echoes a bad one', () => {
    assert.deepEqual(checkAuth('a:b:c'), { username: 'a', password: 'b:c' });
    assert.deepEqual(checkAuth({ username: 'a', password: '' }), { username: 'a', password: '' });
    assert.throws(
      () => checkAuth({ username: 'a', password: 42 }),
      (err: Error) => !err.message.includes('42') && /auth/.test(err.message),
    );
  });
});
