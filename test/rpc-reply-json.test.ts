// Tests for src/rpc/reply-json.ts and src/rpc/status-memo.ts: the daemon's answers written from
// kept texts read back as JSON.stringify's would, and a waiting download's kept status is given
// again only while nothing it shows has changed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keepJson, rawJson, replyBytes, replyPieces } from '../src/rpc/reply-json.js';
import { type StatusSource, statusShape } from '../src/rpc/status.js';
import { StatusMemo } from '../src/rpc/status-memo.js';
import { statusText } from '../src/rpc/status-template.js';

describe('replyBytes', () => {
  test('reads back as JSON.stringify of the same answer, kept items or not', () => {
    const kept = keepJson({ gid: 'a', files: [{ path: '/x "y"' }] });
    const bodies: unknown[] = [
      { id: 1, jsonrpc: '2.0', result: [kept, { gid: 'b' }, kept] },
      { id: 'q', jsonrpc: '2.0', result: 'OK' },
      { id: null, jsonrpc: '2.0', error: { code: 1, message: 'no' } },
      { id: 2, jsonrpc: '2.0', result: [] },
      { id: 3, jsonrpc: '2.0', result: [undefined, null, 1, 'two', [kept]] },
      [
        { id: 4, jsonrpc: '2.0', result: [kept] },
        { id: 5, jsonrpc: '2.0', result: 'x' },
      ],
      { result: [kept] },
    ];
    for (const body of bodies) {
      const text = replyBytes(body).toString('utf8');
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(body)), text);
    }
    // The kept bytes are reused: the second answer has the same bytes.
    const once = replyBytes({ id: 1, jsonrpc: '2.0', result: [kept] });
    assert.deepEqual(replyBytes({ id: 1, jsonrpc: '2.0', result: [kept] }), once);
    // Beyond ASCII, and JSONP's callback around it.
    const wide = { id: 'ü', jsonrpc: '2.0', result: [keepJson({ path: '/données/日本.bin' })] };
    const jsonp = replyBytes(wide, 'cb(', ')').toString('utf8');
    assert.equal(jsonp.slice(0, 3), 'cb(');
    assert.deepEqual(JSON.parse(jsonp.slice(3, -1)), wide);
    assert.ok(Object.isFrozen(kept), 'a kept value cannot change under its text');
  });
});

describe('replyBytes of long lists', () => {
  test('a list of kept values answered again reads back the same; one changed item shows', () => {
    const items = Array.from({ length: 40 }, (_, i) => keepJson({ gid: `g${i}`, n: i }));
    const body = (result: unknown[]) => ({ id: 7, jsonrpc: '2.0', result });
    const read = (result: unknown[]) => JSON.parse(replyBytes(body(result)).toString('utf8'));
    assert.deepEqual(read(items), body(items));
    assert.deepEqual(read([...items]), body(items), 'the same items again');
    const changed = [...items];
    changed[20] = keepJson({ gid: 'other', n: -1 });
    assert.deepEqual(read(changed), body(changed));
    assert.deepEqual(read(items.slice(1)), body(items.slice(1)), 'shorter');
    const mixed = [...items];
    mixed[3] = { gid: 'not kept', n: 3 };
    assert.deepEqual(read(mixed), body(mixed));
    assert.deepEqual(read(items), body(items), 'back to the first');
  });

  test('in pieces: the kept list bytes as they are (not copied), the text around in few pieces', () => {
    const items = Array.from({ length: 40 }, (_, i) => keepJson({ gid: `p${i}`, n: i }));
    const body = { id: 8, jsonrpc: '2.0', result: items };
    const first = replyPieces(body);
    const again = replyPieces({ ...body, result: [...items] });
    assert.equal(Buffer.concat(first).toString('utf8'), JSON.stringify(body));
    assert.equal(first.length, 3, 'head, the list, the end');
    assert.equal(again[1], first[1], 'the same bytes, not a copy');
    // Items not kept are text gathered into one piece; a kept one among them is its own piece.
    const mixed = [{ a: 1 }, keepJson({ b: 2 }), { c: 3 }, { d: 4 }];
    const parts = replyPieces({ id: 9, jsonrpc: '2.0', result: mixed }, 'cb(', ')');
    assert.equal(
      Buffer.concat(parts).toString('utf8'),
      `cb(${JSON.stringify({ id: 9, jsonrpc: '2.0', result: mixed })})`,
    );
    assert.equal(parts.length, 3);
    assert.equal(replyPieces({ id: 1, jsonrpc: '2.0', result: 'OK' }).length, 1);
  });
});

/** A waiting download's status source, with `over` changed. */
const src = (over: Partial<StatusSource> = {}): StatusSource => ({
  gid: '0123456789abcdef',
  status: 'waiting',
  uris: ['http://127.0.0.1:1/f.bin'],
  dir: '/d',
  path: '/d/f.bin',
  size: -1,
  downloaded: 0,
  speed: 0,
  connections: 2,
  done: [],
  ...over,
});

describe('StatusMemo', () => {
  /** A kept status read as a front end reads it: as JSON. */
  const read = (v: object) => JSON.parse(JSON.stringify(v)) as Record<string, unknown>;

  test('the same shape object while the source gives the same, a new one when it changes', () => {
    const memo = new StatusMemo();
    const job = {};
    const first = memo.still(job, src());
    assert.equal(read(first).status, 'waiting');
    assert.equal(memo.still(job, src()), first, 'kept');
    const paused = memo.still(job, src({ status: 'paused' }));
    assert.notEqual(paused, first);
    assert.equal(read(paused).status, 'paused');
    const moved = memo.still(job, src({ status: 'paused', uris: ['http://127.0.0.1:1/g.bin'] }));
    assert.deepEqual(
      (read(moved).files as { uris: { uri: string }[] }[])[0]!.uris.map((u) => u.uri),
      ['http://127.0.0.1:1/g.bin'],
    );
    const fewer = memo.still(job, src({ status: 'paused', downloaded: 5 }));
    assert.equal(read(fewer).completedLength, '5');
    // Keys asked for: their own shape.
    const some = memo.still(job, src({ status: 'paused', downloaded: 5 }), ['gid', 'status']);
    assert.deepEqual(Object.keys(read(some)), ['gid', 'status']);
    assert.equal(
      memo.still(job, src({ status: 'paused', downloaded: 5 }), ['gid', 'status']),
      some,
    );
    // Another download: its own.
    assert.notEqual(memo.still({}, src({ status: 'paused', downloaded: 5 })), fewer);
  });

  test('stamped: the kept shape without making the source while the stamp is the same', () => {
    const memo = new StatusMemo();
    const job = {};
    let made = 0;
    const make =
      (over: Partial<StatusSource> = {}) =>
      () => {
        made++;
        return src(over);
      };
    const uris = ['http://127.0.0.1:1/f.bin'];
    const first = memo.stamped(job, ['waiting', uris, 0], make());
    assert.equal(made, 1);
    assert.equal(memo.stamped(job, ['waiting', uris, 0], make()), first, 'kept');
    assert.equal(made, 1, 'the source is not made again');
    // Another value in the stamp: the source is made again (and compared: the same shape).
    assert.equal(memo.stamped(job, ['waiting', [...uris], 0], make()), first);
    assert.equal(made, 2);
    const paused = memo.stamped(job, ['paused', uris, 1], make({ status: 'paused' }));
    assert.equal(made, 3);
    assert.equal(read(paused).status, 'paused');
    // Other keys: their own shape, made anew; the same list again is kept.
    const keys = ['gid', 'status'];
    const some = memo.stamped(job, ['paused', uris, 1], make({ status: 'paused' }), keys);
    assert.deepEqual(Object.keys(read(some)), keys);
    assert.equal(made, 4);
    assert.equal(memo.stamped(job, ['paused', uris, 1], make(), [...keys]), some);
    assert.equal(made, 4);
    // still() in between (a source made by the caller) leaves no stamp behind it.
    memo.still(job, src({ status: 'paused', downloaded: 5 }), keys);
    memo.stamped(job, ['paused', uris, 1], make({ status: 'paused' }), keys);
    assert.equal(made, 5);
  });

  test('bytes on disk are never kept: each call shows them as they are', () => {
    const memo = new StatusMemo();
    const job = {};
    const a = memo.still(job, src({ size: 4 << 20, done: [[0, 1 << 20]] }));
    const b = memo.still(job, src({ size: 4 << 20, done: [[0, 1 << 20]] }));
    assert.notEqual(a, b);
    assert.equal(read(a).bitfield, '80');
    assert.ok(!Object.isFrozen(b));
  });
});

describe('statusText (a status that shows nothing of a run, from a template)', () => {
  const base = src();
  const keyLists = [
    undefined,
    ['gid', 'status', 'files'],
    ['files', 'gid'],
    ['totalLength', 'dir', 'nosuchkey'],
    ['status'],
    ['gid', 'totalLength', 'completedLength', 'uploadSpeed', 'downloadSpeed', 'connections'],
  ];

  test('the same text as JSON.stringify(statusShape()), for any names, URIs and keys', () => {
    const sources: StatusSource[] = [
      base,
      { ...base, status: 'paused', connections: 16 },
      {
        ...base,
        gid: 'fedcba9876543210',
        dir: '/données/"q"\\x',
        path: '/données/"q"\\x/日本.bin',
      },
      { ...base, uris: ['http://a/1', 'https://b/2?x="y"', 'http://c/\u2028'], path: '' },
      { ...base, done: undefined, uris: [] },
    ];
    for (const src of sources) {
      for (const keys of keyLists) {
        const text = statusText(src, keys, keys?.join('\n') ?? '');
        assert.equal(text, JSON.stringify(statusShape(src, keys)), JSON.stringify({ src, keys }));
        // Again, from the template now made.
        assert.equal(statusText(src, keys, keys?.join('\n') ?? ''), text);
      }
    }
  });

  test('none for a status that shows something of a run', () => {
    for (const over of [
      { status: 'active' as const },
      { status: 'complete' as const, errorCode: 0 },
      { status: 'error' as const, errorCode: 3, errorMessage: 'not found' },
      { size: 0 },
      { size: 5 << 20 },
      { downloaded: 1 },
      { done: [[0, 1] as const] },
      { servers: [{ uri: 'http://a/', connections: 1, speed: 1 }] },
    ]) {
      assert.equal(
        statusText({ ...base, ...over }, undefined, ''),
        undefined,
        JSON.stringify(over),
      );
    }
  });

  test('a raw JSON value: its text in an answer, its shape through JSON.stringify', () => {
    const shapes = Array.from({ length: 20 }, (_, i) => statusShape({ ...base, gid: `g${i}` }));
    const raws = shapes.map((sh, i) =>
      rawJson(statusText({ ...base, gid: `g${i}` }, undefined, '')!, () => sh),
    );
    const body = { id: 1, jsonrpc: '2.0', result: raws };
    assert.equal(replyBytes(body).toString('utf8'), JSON.stringify({ ...body, result: shapes }));
    // In a system.multicall result (each wrapped in a list) and alone (tellStatus).
    const wrapped = { id: 2, jsonrpc: '2.0', result: raws.map((r) => [r]) };
    assert.equal(
      replyBytes(wrapped).toString('utf8'),
      JSON.stringify({ ...wrapped, result: shapes.map((sh) => [sh]) }),
    );
    assert.equal(
      replyBytes({ id: 3, jsonrpc: '2.0', result: raws[0] }).toString('utf8'),
      JSON.stringify({ id: 3, jsonrpc: '2.0', result: shapes[0] }),
    );
    assert.ok(Object.isFrozen(raws[0]));
  });
});
