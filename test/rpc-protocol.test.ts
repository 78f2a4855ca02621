// The daemon's pure parts, without a network: JSON-RPC requests, batches and errors, the token
// check, system.multicall, GID prefixes, the input-file format, option checks and the folder
// rules, tellWaiting's window, aria2's error codes.

import assert from 'node:assert/strict';
import { join, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { HttpStatusError, LocalIoError, NetworkError, TimeoutError } from '../src/index.js';
import { expandGid, isGid, newGid } from '../src/rpc/gid.js';
import { paginate } from '../src/rpc/methods.js';
import { GlobalOptions, readOptionLines, readOptions } from '../src/rpc/options.js';
import { resolveTarget } from '../src/rpc/target.js';
import { JsonRpc, type RpcHandler, type RpcResponse, stringParam } from '../src/rpc/protocol.js';
import { formatSession, parseSession } from '../src/rpc/session.js';
import { aria2ErrorCode } from '../src/rpc/status.js';

function rpc(secret?: string): JsonRpc {
  const methods = new Map<string, RpcHandler>([
    ['aria2.echo', (params) => params],
    ['aria2.name', (params) => `hello ${stringParam(params, 0, true)}`],
    [
      'aria2.boom',
      () => {
        throw new Error('kaput');
      },
    ],
  ]);
  return new JsonRpc(methods, { secret, notifications: ['aria2.onDownloadStart'] });
}

const one = (body: RpcResponse | RpcResponse[]): RpcResponse => body as RpcResponse;

describe('JSON-RPC', () => {
  test('a call, its result, its id; params optional; "json-rpc" (aria2.js) or "jsonrpc"', async () => {
    const r = await rpc().handleText(
      '{"json-rpc":"2.0","id":7,"method":"aria2.echo","params":[1,"a"]}',
    );
    assert.deepEqual(r, {
      body: { id: 7, jsonrpc: '2.0', result: [1, 'a'] },
      status: 200,
      unauthorized: false,
    });
    const r2 = await rpc().handleText('{"jsonrpc":"2.0","id":"x","method":"aria2.echo"}');
    assert.deepEqual(one(r2.body).result, []);
  });

  test('malformed JSON, not a request, no id, unknown method, bad params: errors, never a throw', async () => {
    const cases: [string, number, number, unknown][] = [
      ['{"id":1,', -32700, 500, null],
      ['42', -32600, 400, null],
      ['{"method":"aria2.echo"}', -32600, 400, null],
      ['{"id":1,"method":5}', -32600, 400, 1],
      ['{"id":2,"method":"aria2.nope"}', -32601, 404, 2],
      ['{"id":3,"method":"aria2.echo","params":{"a":1}}', -32602, 500, 3],
      ['{"id":4,"method":"aria2.name","params":[5]}', 1, 400, 4],
      ['{"id":5,"method":"aria2.name"}', 1, 400, 5],
      ['{"id":6,"method":"aria2.boom"}', 1, 400, 6],
      ['[]', -32600, 400, null],
    ];
    for (const [text, code, status, id] of cases) {
      const r = await rpc().handleText(text);
      const body = one(r.body);
      assert.equal(body.error?.code, code, text);
      assert.equal(r.status, status, text);
      assert.equal(body.id, id, text);
    }
    const wrong = await rpc().handleText('{"id":4,"method":"aria2.name","params":[5]}');
    assert.equal(one(wrong.body).error?.message, 'The parameter at 0 has wrong type.');
    const missing = await rpc().handleText('{"id":5,"method":"aria2.name"}');
    assert.equal(one(missing.body).error?.message, 'The parameter at 0 is required but missing.');
  });

  test('a batch answers each call in order, bad members included, with status 200', async () => {
    const r = await rpc().handleText(
      '[{"id":1,"method":"aria2.name","params":["a"]},7,{"id":2,"method":"aria2.nope"},{"id":3,"method":"aria2.echo"}]',
    );
    assert.equal(r.status, 200);
    const body = r.body as RpcResponse[];
    assert.equal(body.length, 4);
    assert.equal(body[0]!.result, 'hello a');
    assert.equal(body[1]!.error?.code, -32600);
    assert.equal(body[2]!.error?.code, -32601);
    assert.deepEqual(body[3]!.result, []);
  });

  test('with a secret every call needs token:<secret>, except listMethods and listNotifications', async () => {
    const s = rpc('s3cret');
    const good = await s.handleValue({
      id: 1,
      method: 'aria2.name',
      params: ['token:s3cret', 'x'],
    });
    assert.equal(one(good.body).result, 'hello x');
    for (const params of [['x'], ['token:wrong', 'x'], ['token:s3cre', 'x'], ['token:', 'x'], []]) {
      const r = await s.handleValue({ id: 1, method: 'aria2.name', params });
      assert.deepEqual(
        one(r.body).error,
        { code: 1, message: 'Unauthorized' },
        JSON.stringify(params),
      );
      assert.equal(r.unauthorized, true);
    }
    const methods = await s.handleValue({ id: 1, method: 'system.listMethods' });
    assert.ok((one(methods.body).result as string[]).includes('aria2.name'));
    const notes = await s.handleValue({ id: 1, method: 'system.listNotifications' });
    assert.deepEqual(one(notes.body).result, ['aria2.onDownloadStart']);
    // Without a secret a token is still taken off the parameters, as aria2 does.
    const open = await rpc().handleValue({ id: 1, method: 'aria2.echo', params: ['token:any', 2] });
    assert.deepEqual(one(open.body).result, [2]);
  });

  test('system.multicall checks the token of each call and keeps aria2 shapes', async () => {
    const s = rpc('k');
    const r = await s.handleValue({
      id: 1,
      method: 'system.multicall',
      params: [
        [
          { methodName: 'aria2.name', params: ['token:k', 'a'] },
          { methodName: 'aria2.name', params: ['token:bad', 'b'] },
          { methodName: 'aria2.nope', params: ['token:k'] },
          { methodName: 'system.multicall', params: [] },
          'junk',
          { params: [] },
        ],
      ],
    });
    assert.deepEqual(one(r.body).result, [
      ['hello a'],
      { code: 1, message: 'Unauthorized' },
      { code: 1, message: 'No such method: aria2.nope' },
      { code: 1, message: 'Recursive system.multicall forbidden.' },
      { code: 1, message: 'system.multicall expected struct.' },
      { code: 1, message: 'Missing methodName.' },
    ]);
    assert.equal(r.unauthorized, true);
  });
});

describe('GIDs', () => {
  test('16 hex digits, unique, and any unique prefix names one', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 100; i++) taken.add(newGid((g) => taken.has(g)));
    assert.equal(taken.size, 100);
    for (const g of taken) assert.ok(isGid(g), g);
    const gids = ['2089b05ecca3d829', '2089b05ecca3d830', 'abcdef0123456789'];
    assert.equal(expandGid('ab', gids), 'abcdef0123456789');
    assert.equal(expandGid('2089B05ECCA3D829', gids), '2089b05ecca3d829');
    assert.throws(() => expandGid('2089', gids), /GID 2089 is not unique/);
    assert.throws(() => expandGid('ff', gids), /GID ff is not found/);
    assert.throws(() => expandGid('xyz', gids), /Invalid GID xyz/);
    assert.throws(() => expandGid('2089b05ecca3d8290', gids), /Invalid GID/);
    assert.throws(() => expandGid('', gids), /Invalid GID/);
  });
});

describe('input-file format', () => {
  test('URI lines, indented options, comments; a header may repeat; round trip', () => {
    const text = [
      '# a session',
      'http://a.example/x.iso\thttp://mirror.example/x.iso',
      ' gid=2089b05ecca3d829',
      '  dir=/downloads',
      '\tout=x.iso',
      ' header=A: 1',
      ' header=B: 2',
      '',
      'https://b.example/y',
      ' pause=true',
    ].join('\n');
    const entries = parseSession(text);
    assert.deepEqual(
      entries.map(({ uris, options }) => ({ uris, options })),
      [
        {
          uris: ['http://a.example/x.iso', 'http://mirror.example/x.iso'],
          options: [
            ['gid', '2089b05ecca3d829'],
            ['dir', '/downloads'],
            ['out', 'x.iso'],
            ['header', 'A: 1'],
            ['header', 'B: 2'],
          ],
        },
        { uris: ['https://b.example/y'], options: [['pause', 'true']] },
      ],
    );
    assert.deepEqual(
      parseSession(formatSession(entries)).map((e) => e.options),
      entries.map((e) => e.options),
    );
    assert.deepEqual(readOptionLines(entries[0]!.options).header, 'A: 1\nB: 2');
    assert.throws(() => parseSession(' dir=/x\nhttp://a/'), /line 1/);
  });
});

describe('options', () => {
  test('values are checked and kept as aria2 strings; unknown or misplaced names are refused', () => {
    assert.deepEqual(
      readOptions(
        {
          split: '4',
          'max-download-limit': '1M',
          'allow-overwrite': true,
          header: ['A: b'],
          continue: 'true',
        },
        'add',
      ),
      {
        split: '4',
        'max-download-limit': '1048576',
        'allow-overwrite': 'true',
        header: 'A: b',
        continue: 'true',
      },
    );
    assert.throws(
      () => readOptions({ split: 'many' }, 'add'),
      /split option must be a whole number/,
    );
    assert.throws(
      () => readOptions({ header: 'no colon' }, 'add'),
      /header option must be "Name: value"/,
    );
    assert.throws(() => readOptions({ checksum: 'sha-256=12' }, 'add'), /checksum option/);
    assert.throws(
      () => readOptions({ 'ftp-proxy': 'http://p:3128' }, 'add'),
      /ftp-proxy option is not supported/,
    );
    assert.throws(
      () => readOptions({ 'all-proxy': 'gopher://u:secret@p' }, 'add'),
      /all-proxy option must be a proxy URL like http:\/\/host:port or socks5h:\/\/host:port, got "gopher:\/\/u:\*\*\*@p"/,
    );
    assert.throws(() => readOptions({ out: 'a\n gid=1' }, 'add'), /line breaks/);
    assert.throws(
      () => readOptions({ out: 'x' }, 'global'),
      /out option cannot be used in this context/,
    );
    assert.throws(
      () => readOptions({ gid: '2089b05ecca3d829' }, 'change'),
      /cannot be used in this context/,
    );
    assert.throws(() => readOptions({ 'save-session': '/etc/x' }, 'global'), /cannot be used/);
    assert.throws(() => readOptions({ split: {} }, 'add'), /must be a string/);
    assert.throws(() => readOptions([], 'add'), /must be a struct/);
  });

  test('dir and out cannot leave the download folder through ..; an absolute dir may', () => {
    const root = resolve('/srv/downloads');
    assert.deepEqual(resolveTarget({ dir: 'sub', out: 'a/b.bin' }, root), {
      dir: join(root, 'sub'),
      path: join(root, 'sub', 'a', 'b.bin'),
    });
    assert.deepEqual(resolveTarget({}, root), { dir: root, path: undefined });
    assert.throws(() => resolveTarget({ dir: '../etc' }, root), /leaves the download folder/);
    assert.throws(() => resolveTarget({ dir: 'sub/../../x' }, root), /leaves the download folder/);
    assert.throws(() => resolveTarget({ out: '../../.bashrc' }, root), /must name a file inside/);
    assert.throws(
      () => resolveTarget({ out: resolve('/etc/passwd') }, root),
      /must name a file inside/,
    );
    assert.throws(() => resolveTarget({ out: '.' }, root), /must name a file inside/);
    assert.throws(() => resolveTarget({ out: '..' }, root), /must name a file inside/);
    assert.throws(() => resolveTarget({ out: '..\\x' }, root), /must name a file inside/);
    // Plain names (no separator) go right in the folder, as the relative() check had them.
    for (const name of ['a.bin', '.hidden', 'a..b', 'x y']) {
      assert.deepEqual(resolveTarget({ out: name }, root), { dir: root, path: join(root, name) });
      // The path of a plain name is put together, not resolved: the same as resolve() gives, in
      // a folder given with a trailing separator, dots, the file system's root, or relative.
      for (const dir of [`${root}${sep}`, `${root}${sep}.${sep}x${sep}..`, resolve('/'), 'sub']) {
        const target = resolveTarget({ dir, out: name }, root);
        assert.equal(target.path, resolve(root, dir, name), `${dir} ${name}`);
        assert.equal(resolveTarget({ dir, out: name }, root).path, target.path, 'again');
      }
    }
    assert.deepEqual(
      resolveTarget({ dir: resolve('/tmp/elsewhere') }, root).dir,
      resolve('/tmp/elsewhere'),
    );
  });

  test('a download inherits the global defaults; headers add up', () => {
    const globals = new GlobalOptions({
      dir: resolve('/d'),
      split: '16',
      header: 'A: 1',
      'max-concurrent-downloads': '5',
    });
    assert.deepEqual(globals.effective({ split: '2', header: 'B: 2' }), {
      dir: resolve('/d'),
      split: '2',
      header: 'A: 1\nB: 2',
    });
  });
});

describe('results', () => {
  test('tellWaiting/tellStopped window: offset and num, a negative offset counts back from the end', () => {
    const items = [0, 1, 2, 3, 4];
    assert.deepEqual(paginate(items, 0, 2), [0, 1]);
    assert.deepEqual(paginate(items, 3, 10), [3, 4]);
    assert.deepEqual(paginate(items, 9, 1), []);
    assert.deepEqual(paginate(items, -1, 2), [4, 3]);
    assert.deepEqual(paginate(items, -2, 10), [3, 2, 1, 0]);
    assert.deepEqual(paginate(items, -9, 2), []);
    assert.deepEqual(paginate(items, 0, 0), []);
  });

  test("errorCode follows aria2's exit codes", () => {
    assert.equal(aria2ErrorCode(new HttpStatusError(404, 'http://x/')), 3);
    assert.equal(aria2ErrorCode(new HttpStatusError(401, 'http://x/')), 24);
    assert.equal(aria2ErrorCode(new HttpStatusError(503, 'http://x/')), 29);
    assert.equal(aria2ErrorCode(new HttpStatusError(403, 'http://x/')), 22);
    assert.equal(aria2ErrorCode(new TimeoutError('slow')), 2);
    assert.equal(aria2ErrorCode(new NetworkError('reset')), 6);
    const dns = Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' });
    assert.equal(aria2ErrorCode(new NetworkError('no host', { cause: dns })), 19);
    const full = Object.assign(new Error('full'), { code: 'ENOSPC' });
    assert.equal(aria2ErrorCode(new LocalIoError('disk full', { cause: full })), 9);
    assert.equal(aria2ErrorCode(null), 1);
  });
});
