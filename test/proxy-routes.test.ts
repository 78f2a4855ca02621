// Which proxy a URL goes through (src/net/proxy.ts): the environment as curl reads it, the
// options, no_proxy matching; and the SOCKS request bytes. Pure: no network.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError } from '../src/index.js';
import { bypassesProxy, parseNoProxy, parseProxyUrl, ProxyRoutes } from '../src/net/proxy.js';
import { proxyOption } from '../src/rpc/network-options.js';
import { socksRequest } from '../src/net/tunnel.js';

const via = (routes: ProxyRoutes, url: string): string | undefined => {
  const p = routes.for(new URL(url));
  return p && `${p.kind}://${p.host}:${p.port}`;
};

describe('the environment, as curl reads it', () => {
  const cases: [string, Record<string, string>, string, string | undefined][] = [
    ['http_proxy for http', { http_proxy: 'http://p:3128' }, 'http://a/', 'http://p:3128'],
    ['http_proxy not for https', { http_proxy: 'http://p:3128' }, 'https://a/', undefined],
    ['HTTP_PROXY counts (Go rule)', { HTTP_PROXY: 'http://p:3128' }, 'http://a/', 'http://p:3128'],
    [
      'HTTP_PROXY ignored under CGI',
      { HTTP_PROXY: 'http://p:3128', REQUEST_METHOD: 'GET' },
      'http://a/',
      undefined,
    ],
    [
      'lower case wins',
      { http_proxy: 'http://low:1', HTTP_PROXY: 'http://up:2' },
      'http://a/',
      'http://low:1',
    ],
    ['HTTPS_PROXY for https', { HTTPS_PROXY: 'http://p:3128' }, 'https://a/', 'http://p:3128'],
    [
      'https_proxy for https',
      { https_proxy: 'socks5h://s:1080' },
      'https://a/',
      'socks5h://s:1080',
    ],
    ['ALL_PROXY for both', { ALL_PROXY: 'socks5://s' }, 'http://a/', 'socks5://s:1080'],
    [
      'all_proxy after the scheme one',
      { all_proxy: 'http://x:1', https_proxy: 'http://y:2' },
      'https://a/',
      'http://y:2',
    ],
    ['no scheme is http, port 1080', { http_proxy: 'p' }, 'http://a/', 'http://p:1080'],
    ['https proxy port 443', { https_proxy: 'https://p' }, 'https://a/', 'https://p:443'],
    ['empty is none', { http_proxy: '' }, 'http://a/', undefined],
    ['NO_PROXY host', { http_proxy: 'http://p:1', NO_PROXY: 'a' }, 'http://a/', undefined],
    [
      'no_proxy suffix',
      { http_proxy: 'http://p:1', no_proxy: 'example.com' },
      'http://x.example.com/',
      undefined,
    ],
    [
      'no_proxy leading dot',
      { http_proxy: 'http://p:1', no_proxy: '.example.com' },
      'http://example.com/',
      undefined,
    ],
    [
      'no_proxy not a mere suffix',
      { http_proxy: 'http://p:1', no_proxy: 'ample.com' },
      'http://example.com/',
      'http://p:1',
    ],
    [
      'no_proxy IP',
      { http_proxy: 'http://p:1', no_proxy: '10.0.0.1' },
      'http://10.0.0.1:8080/',
      undefined,
    ],
    [
      'no_proxy CIDR',
      { http_proxy: 'http://p:1', no_proxy: 'x, 10.0.0.0/8' },
      'http://10.2.3.4/',
      undefined,
    ],
    [
      'no_proxy CIDR miss',
      { http_proxy: 'http://p:1', no_proxy: '10.0.0.0/8' },
      'http://11.2.3.4/',
      'http://p:1',
    ],
    ['no_proxy IPv6', { http_proxy: 'http://p:1', no_proxy: '::1' }, 'http://[::1]:80/', undefined],
    [
      'no_proxy IPv6 CIDR',
      { http_proxy: 'http://p:1', no_proxy: 'fd00::/8' },
      'http://[fd12::5]/',
      undefined,
    ],
    ['no_proxy *', { http_proxy: 'http://p:1', no_proxy: '*' }, 'http://a/', undefined],
    [
      'no_proxy with port',
      { http_proxy: 'http://p:1', no_proxy: 'a:8080' },
      'http://a:8080/',
      undefined,
    ],
    [
      'no_proxy other port',
      { http_proxy: 'http://p:1', no_proxy: 'a:8080' },
      'http://a/',
      'http://p:1',
    ],
  ];
  for (const [name, env, url, expected] of cases) {
    test(name, () => assert.equal(via(new ProxyRoutes({}, env), url), expected));
  }
});

describe('the options', () => {
  const env = { http_proxy: 'http://envp:1', https_proxy: 'http://envp:2', no_proxy: 'skip' };

  test('proxy wins over the environment, for both schemes', () => {
    const routes = new ProxyRoutes({ proxy: 'socks5h://u:p@s:9' }, env);
    assert.equal(via(routes, 'http://a/'), 'socks5h://s:9');
    assert.equal(via(routes, 'https://a/'), 'socks5h://s:9');
    assert.equal(routes.for(new URL('http://a/'))?.password, 'p');
    assert.equal(routes.for(new URL('http://a/'))?.shown, 'socks5h://u:***@s:9');
    // The environment's no_proxy still applies.
    assert.equal(via(routes, 'http://skip/'), undefined);
  });

  test("'' and false turn proxies off, environment ignored", () => {
    for (const proxy of ['', false] as const) {
      const routes = new ProxyRoutes({ proxy }, env);
      assert.equal(routes.none, true);
      assert.equal(via(routes, 'http://a/'), undefined);
    }
  });

  test('noProxy wins over no_proxy', () => {
    const routes = new ProxyRoutes({ noProxy: 'a' }, env);
    assert.equal(via(routes, 'http://a/'), undefined);
    assert.equal(via(routes, 'http://skip/'), 'http://envp:1');
  });

  test('one per scheme', () => {
    const routes = new ProxyRoutes({ proxy: { https: 'http://h:3' } }, env);
    assert.equal(via(routes, 'http://a/'), undefined);
    assert.equal(via(routes, 'https://a/'), 'http://h:3');
  });

  test('equal settings share a key, others not', () => {
    assert.equal(new ProxyRoutes({}, env).key, new ProxyRoutes({}, { ...env }).key);
    assert.notEqual(new ProxyRoutes({}, env).key, new ProxyRoutes({ proxy: false }, env).key);
  });

  test('a bad proxy URL is an InvalidOptionError without its password', () => {
    for (const bad of ['ftp://p:1', 'http://', 'gopher://u:secret@x']) {
      assert.throws(
        () => new ProxyRoutes({ proxy: bad }, {}),
        (err: unknown) => err instanceof InvalidOptionError && !err.message.includes('secret'),
      );
    }
    assert.throws(() => new ProxyRoutes({ proxy: 5 as never }, {}), InvalidOptionError);
    assert.throws(() => new ProxyRoutes({}, { http_proxy: 'ftp://x' }), /environment/);
  });

  test('socks:// is socks5; credentials are percent-decoded', () => {
    const p = parseProxyUrl('socks://a%40b:p%3Aw@h');
    assert.deepEqual([p.kind, p.username, p.password, p.port], ['socks5', 'a@b', 'p:w', 1080]);
  });
});

test('no_proxy parsing ignores empty entries and bad CIDRs', () => {
  const rules = parseNoProxy(' , ,10.0.0.0/99, a.b ');
  assert.equal(rules.length, 1);
  assert.equal(bypassesProxy(new URL('http://x.a.b/'), rules), true);
});

test("the daemon's proxy options", () => {
  assert.equal(proxyOption({}), undefined);
  assert.deepEqual(proxyOption({ 'all-proxy': 'http://p:1' }), {
    http: 'http://p:1',
    https: 'http://p:1',
  });
  assert.deepEqual(proxyOption({ 'all-proxy': 'http://p:1', 'https-proxy': '' }), {
    http: 'http://p:1',
    https: false,
  });
  assert.deepEqual(
    proxyOption({ 'all-proxy': 'p:1', 'all-proxy-user': 'a b', 'all-proxy-passwd': 'c@d' }),
    { http: 'http://a%20b:c%40d@p:1/', https: 'http://a%20b:c%40d@p:1/' },
  );
  assert.deepEqual(proxyOption({ 'http-proxy': 'socks5h://s:1' }), {
    http: 'socks5h://s:1',
    https: false,
  });
});

test('SOCKS5 requests: a name (socks5h), IPv4, IPv6', () => {
  assert.deepEqual([...socksRequest('ab', 80)], [5, 1, 0, 3, 2, 97, 98, 0, 80]);
  assert.deepEqual([...socksRequest('1.2.3.4', 443)], [5, 1, 0, 1, 1, 2, 3, 4, 1, 187]);
  assert.deepEqual([...socksRequest('::1', 1)], [5, 1, 0, 4, ...new Array(15).fill(0), 1, 0, 1]);
});
