// The daemon driven by aria2.js (the `aria2` npm package, a real aria2 client) over HTTP and
// WebSocket: every aria2 method qget offers, with aria2's parameters and result shapes, the
// queue (max-concurrent-downloads, positions, pause), options, errors and notifications.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type Aria2 from 'aria2';
import { KiB, makeContent, sha256 } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { client, reach, type Status, statusOf, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const fx = useFixtures();
const daemons = useDaemons();
const content = makeContent(1024 * KiB);
const SLOW = { 'max-download-limit': '64K' }; // 1 MiB takes 16 s: stays active for a test
let server: TestServer;
let dir: string;
let aria2: Aria2;
let sessionFile: string;

before(async () => {
  server = await fx.serve({ content });
  dir = await fx.tempDir();
  sessionFile = join(dir, 'aria2.session');
  const daemon = await daemons({ dir, saveSession: sessionFile, maxConcurrentDownloads: 5 });
  aria2 = client(daemon);
});

const call = <T = unknown>(method: string, ...params: unknown[]): Promise<T> =>
  aria2.call(method, ...params) as Promise<T>;
const url = (name: string): string => `${server.url}/${name}`;
const gidsOf = (list: Status[]): string[] => list.map((s) => s.gid!);

describe('aria2 methods over HTTP (aria2.js)', () => {
  test('addUri, then tellStatus (with keys and a GID prefix), getUris, getFiles, getOption', async () => {
    const gid = await call<string>('addUri', [url('one.bin')], { out: 'one.bin', split: '2' });
    assert.match(gid, /^[0-9a-f]{16}$/);
    const s = await reach(aria2, gid, 'complete');
    await assertFileEquals(join(dir, 'one.bin'), content);
    assert.equal(s.gid, gid);
    assert.equal(s.totalLength, String(content.length));
    assert.equal(s.completedLength, String(content.length));
    assert.equal(s.errorCode, '0');
    assert.equal(s.dir, dir);
    for (const key of [
      'downloadSpeed',
      'uploadSpeed',
      'uploadLength',
      'connections',
      'numPieces',
    ]) {
      assert.match(s[key]!, /^\d+$/, `${key} is a decimal string`);
    }
    assert.deepEqual(s.files, [
      {
        index: '1',
        path: join(dir, 'one.bin'),
        length: String(content.length),
        completedLength: String(content.length),
        selected: 'true',
        uris: [{ uri: url('one.bin'), status: 'used' }],
      },
    ]);
    assert.deepEqual(await statusOf(aria2, gid.slice(0, 7), ['gid', 'status', 'nonsense']), {
      gid,
      status: 'complete',
    });
    assert.deepEqual(await call('getUris', gid), [{ uri: url('one.bin'), status: 'used' }]);
    assert.deepEqual(await call('getFiles', gid), s.files);
    const options = await call<Record<string, string>>('getOption', gid);
    assert.equal(options.out, 'one.bin');
    assert.equal(options.split, '2');
    assert.equal(options.dir, dir);
  });

  test('pause, unpause (resuming, not restarting), forcePause, remove, forceRemove, getServers', async () => {
    const gid = await call<string>('addUri', [url('a.bin')], { ...SLOW, out: 'a.bin' });
    await waitFor(
      async () => Number((await statusOf(aria2, gid)).completedLength) > 128 * KiB,
      'progress',
    );
    const servers = await call<{ index: string; servers: Record<string, string>[] }[]>(
      'getServers',
      gid,
    );
    assert.equal(servers[0]?.index, '1');
    assert.equal(servers[0]?.servers[0]?.uri, url('a.bin'));
    assert.match(servers[0]?.servers[0]?.downloadSpeed ?? '', /^\d+$/);

    assert.equal(await call('pause', gid), gid);
    assert.equal((await statusOf(aria2, gid)).status, 'paused');
    await assert.rejects(call('pause', gid), { code: 1, message: /cannot be paused now/ });
    await assert.rejects(call('getServers', gid), { message: /No active download/ });
    const before = server.requests.length;
    assert.equal(await call('unpause', gid), gid);
    await assert.rejects(call('unpause', gid), { message: /cannot be unpaused now/ });
    await reach(aria2, gid, 'active');
    await waitFor(
      () => server.requests.slice(before).some((r) => r.path === '/a.bin'),
      'a request',
    );
    const resumed = server.requests.slice(before).filter((r) => r.path === '/a.bin');
    assert.ok(
      resumed.every((r) => r.range !== undefined && !r.range.startsWith('bytes=0-')),
      `resumed from the .part, not from byte 0: ${resumed.map((r) => r.range).join(', ')}`,
    );

    assert.equal(await call('forcePause', gid), gid);
    assert.equal((await statusOf(aria2, gid)).status, 'paused');
    assert.equal(await call('remove', gid), gid);
    const removed = await statusOf(aria2, gid);
    assert.equal(removed.status, 'removed');
    assert.equal(removed.errorCode, '31');
    await assert.rejects(call('remove', gid), { message: /Active Download not found/ });

    const other = await call<string>('addUri', [url('b.bin')], SLOW);
    assert.equal(await call('forceRemove', other), other);
    assert.equal((await statusOf(aria2, other)).status, 'removed');
  });

  test('the queue: max-concurrent-downloads at once, tellActive/tellWaiting, positions, pauseAll', async () => {
    assert.equal(await call('changeGlobalOption', { 'max-concurrent-downloads': '1' }), 'OK');
    const [w1, w2, w3, w4] = await Promise.all(
      ['w1', 'w2', 'w3', 'w4'].map((n) => call<string>('addUri', [url(`${n}.bin`)], SLOW)),
    );
    const order = async () => gidsOf(await call<Status[]>('tellWaiting', 0, 100, ['gid']));
    // Added concurrently: whichever came first runs, once the download the test before removed
    // has stopped (it holds its slot until then; on a busy machine that took up to 0.3 s).
    let active: string[] = [];
    await waitFor(async () => {
      active = gidsOf(await call<Status[]>('tellActive', ['gid']));
      return active.length === 1;
    }, 'one active download');
    const first = active[0]!;
    const [a, b, c] = [w1!, w2!, w3!, w4!].filter((g) => g !== first) as [string, string, string];
    assert.deepEqual(await order(), [a, b, c]);
    assert.deepEqual(gidsOf(await call<Status[]>('tellWaiting', -1, 2, ['gid'])), [c, b]);
    assert.equal(await call('changePosition', c, 0, 'POS_SET'), 0);
    assert.deepEqual(await order(), [c, a, b]);
    assert.equal(await call('changePosition', c, 1, 'POS_CUR'), 1);
    assert.deepEqual(await order(), [a, c, b]);
    assert.equal(await call('changePosition', b, -5, 'POS_END'), 0);
    assert.deepEqual(await order(), [b, a, c]);
    await assert.rejects(call('changePosition', first, 0, 'POS_SET'), {
      message: /not found in the waiting queue/,
    });
    await assert.rejects(call('changePosition', b, 0, 'POS_NOWHERE'), {
      message: 'Illegal argument.',
    });
    const w5 = await call<string>('addUri', [url('w5.bin')], SLOW, 0);
    assert.deepEqual(await order(), [w5, b, a, c]);

    // A paused download keeps its place but is skipped.
    await call('pause', w5);
    assert.equal((await call<Status[]>('tellWaiting', 0, 1, ['status']))[0]?.status, 'paused');
    await call('remove', first);
    await waitFor(
      async () => gidsOf(await call<Status[]>('tellActive')).join() === b,
      'b to start',
    );

    await call('changeGlobalOption', { 'max-concurrent-downloads': '3' });
    await waitFor(async () => (await call<Status[]>('tellActive')).length === 3, 'three active');
    assert.deepEqual(gidsOf(await call<Status[]>('tellActive')).sort(), [a, b, c].sort());
    await call('changeGlobalOption', { 'max-concurrent-downloads': '1' });
    await waitFor(
      async () => (await call<Status[]>('tellActive')).length === 1,
      'one active at once',
    );

    assert.equal(await call('pauseAll'), 'OK');
    assert.equal((await call<Status[]>('tellActive')).length, 0);
    const waiting = await call<Status[]>('tellWaiting', 0, 100, ['status']);
    assert.ok(waiting.every((s) => s.status === 'paused'));
    assert.equal(await call('unpauseAll'), 'OK');
    await waitFor(
      async () => (await call<Status[]>('tellActive')).length === 1,
      'one active again',
    );
    assert.equal(await call('forcePauseAll'), 'OK');
    const stat = await call<Record<string, string>>('getGlobalStat');
    assert.equal(stat.numActive, '0');
    assert.equal(stat.numWaiting, '4');
    for (const g of [w5, a, b, c]) await call('forceRemove', g);
    await call('changeGlobalOption', { 'max-concurrent-downloads': '5' });
  });

  test('errors: 404 (errorCode 3), a wrong checksum (32), an existing file (13); results kept and purged', async () => {
    const missing = await call<string>('addUri', [`${server.url}/status/404`]);
    const s404 = await reach(aria2, missing, 'error');
    assert.equal(s404.errorCode, '3');
    assert.match(s404.errorMessage!, /404/);
    const bad = await call<string>('addUri', [url('c.bin')], {
      out: 'c.bin',
      checksum: `sha-256=${'0'.repeat(64)}`,
    });
    assert.equal((await reach(aria2, bad, 'error')).errorCode, '32');
    await writeFile(join(dir, 'exists.bin'), 'mine');
    const clash = await call<string>('addUri', [url('exists.bin')], { out: 'exists.bin' });
    assert.equal((await reach(aria2, clash, 'error')).errorCode, '13');
    assert.equal(await readFile(join(dir, 'exists.bin'), 'utf8'), 'mine');

    const good = await call<string>('addUri', [url('d.bin')], {
      out: 'd.bin',
      checksum: `sha-256=${sha256(content)}`,
      header: ['X-Test: yes'],
      'user-agent': 'aria2/1.37.0',
    });
    await reach(aria2, good, 'complete');
    const sent = server.requests.find((r) => r.path === '/d.bin')!;
    assert.equal(sent.headers['x-test'], 'yes');
    assert.equal(sent.headers['user-agent'], 'aria2/1.37.0');

    const stopped = gidsOf(await call<Status[]>('tellStopped', 0, 1000, ['gid']));
    for (const g of [missing, bad, clash, good]) assert.ok(stopped.includes(g), g);
    assert.deepEqual(gidsOf(await call<Status[]>('tellStopped', -1, 1, ['gid'])), [good]);
    assert.equal(await call('removeDownloadResult', missing), 'OK');
    await assert.rejects(call('tellStatus', missing), { message: /is not found/ });
    const stat = await call<Record<string, string>>('getGlobalStat');
    assert.equal(await call('purgeDownloadResult'), 'OK');
    const after = await call<Record<string, string>>('getGlobalStat');
    assert.equal(after.numStopped, '0');
    assert.equal(after.numStoppedTotal, stat.numStoppedTotal);
    assert.ok(Number(after.numStoppedTotal) >= 4);
  });

  test('changeOption (a live rate limit; out on a paused download), global options and limits', async () => {
    const gid = await call<string>('addUri', [url('lim.bin')], { ...SLOW, out: 'lim.bin' });
    await reach(aria2, gid, 'active');
    assert.equal(
      (await call<Record<string, string>>('getOption', gid))['max-download-limit'],
      '65536',
    );
    // Not a live option: the download stops and starts again from its .part (once a write and
    // a checkpoint have put something there).
    await waitFor(
      async () => Number((await statusOf(aria2, gid)).completedLength) > 128 * KiB,
      'progress',
    );
    const before = server.requests.length;
    assert.equal(await call('changeOption', gid, { split: '1' }), 'OK');
    assert.equal((await call<Record<string, string>>('getOption', gid)).split, '1');
    await reach(aria2, gid, 'active');
    await waitFor(
      () => server.requests.slice(before).some((r) => r.path === '/lim.bin'),
      'a request',
    );
    assert.ok(
      server.requests
        .slice(before)
        .every((r) => r.path !== '/lim.bin' || !r.range?.startsWith('bytes=0-')),
    );
    assert.equal(await call('changeOption', gid, { 'max-download-limit': '0' }), 'OK');
    await reach(aria2, gid, 'complete', 5000);
    await assertFileEquals(join(dir, 'lim.bin'), content);

    const paused = await call<string>('addUri', [url('p1.bin')], { out: 'p1.bin', pause: 'true' });
    assert.equal((await statusOf(aria2, paused)).status, 'paused');
    await call('changeOption', paused, { out: 'p2.bin', split: '1' });
    const options = await call<Record<string, string>>('getOption', paused);
    assert.equal(options.out, 'p2.bin');
    assert.equal(options.split, '1');
    await call('unpause', paused);
    await reach(aria2, paused, 'complete');
    await assertFileEquals(join(dir, 'p2.bin'), content);
    await assert.rejects(call('changeOption', paused, { out: 'p3.bin' }), {
      message: /Cannot change option/,
    });
    await assert.rejects(call('changeOption', paused, { gid: '0123456789abcdef' }), {
      message: /cannot be used/,
    });

    // The total limit applies at once: two 1 MiB downloads that take milliseconds unlimited are
    // far from done after a second at 64K/s (the Manager's tests measure the rate itself).
    await call('changeGlobalOption', { 'max-overall-download-limit': '64K' });
    let limited: string[] = [];
    try {
      assert.equal(
        (await call<Record<string, string>>('getGlobalOption'))['max-overall-download-limit'],
        '65536',
      );
      limited = await Promise.all(
        ['g1.bin', 'g2.bin'].map((n) => call<string>('addUri', [url(n)])),
      );
      await new Promise((r) => setTimeout(r, 1000));
      const now = await Promise.all(limited.map((g) => statusOf(aria2, g)));
      assert.deepEqual(
        now.map((s) => s.status),
        ['active', 'active'],
      );
      const bytes = now.reduce((n, s) => n + Number(s.completedLength), 0);
      assert.ok(bytes < content.length, `${bytes} bytes in 1 s at 64K/s`);
    } finally {
      await call('changeGlobalOption', { 'max-overall-download-limit': '0' });
    }
    for (const g of limited) await reach(aria2, g, 'complete', 5000);
    await assert.rejects(call('changeGlobalOption', { out: 'x' }), {
      message: /cannot be used in this context/,
    });
  });

  test('refusals: paths out of the folder, other schemes, odd URIs and options, BitTorrent, bad GIDs', async () => {
    const refuse = (params: unknown[], message: RegExp) =>
      assert.rejects(call('addUri', ...params), { code: 1, message });
    await refuse([[url('x')], { out: '../x.bin' }], /must name a file inside/);
    await refuse([[url('x')], { dir: '../../etc' }], /leaves the download folder/);
    await refuse([['ftp://example.com/x']], /http:\/\/ and https:\/\/ URIs only/);
    await refuse([[`${url('x')}\n gid=0123456789abcdef`]], /Invalid URI/);
    await refuse(
      [[url('x')], { 'ftp-proxy': 'http://proxy:3128' }],
      /ftp-proxy option is not supported/,
    );
    await refuse(
      [[url('x')], { 'all-proxy': 'ftp://proxy:3128' }],
      /all-proxy option must be a proxy URL/,
    );
    await refuse([[]], /URI is not provided/);
    await refuse([[url('x')], {}, -1], /Position must be greater than or equal to 0/);
    await refuse([url('x')], /parameter at 0 has wrong type/);
    await assert.rejects(call('addTorrent', 'ZGF0YQ=='), {
      message: /addTorrent is not supported/,
    });
    // "data" is no Metalink document.
    await assert.rejects(call('addMetalink', 'ZGF0YQ=='), {
      message: /Cannot read the Metalink document/,
    });
    await assert.rejects(call('tellStatus', 'xyz'), { message: 'Invalid GID xyz' });
    await assert.rejects(call('tellStatus', '0000000000000000'), { message: /is not found/ });
    await assert.rejects(call('tellWaiting', 'a', 1), { message: /parameter at 0 has wrong type/ });
    await assert.rejects(call('tellWaiting', 0), { message: /parameter at 1 is required/ });

    // An absolute dir is the caller's own choice.
    const elsewhere = await fx.tempDir();
    const gid = await call<string>('addUri', [url('abs.bin')], {
      dir: elsewhere,
      out: 'sub/abs.bin',
    });
    await reach(aria2, gid, 'complete');
    await assertFileEquals(join(elsewhere, 'sub', 'abs.bin'), content);
  });

  test('getVersion, getSessionInfo, saveSession, system.* and batches', async () => {
    const version = await call<Record<string, unknown>>('getVersion');
    assert.equal(version.version, '1.37.0');
    assert.ok(Array.isArray(version.enabledFeatures));
    assert.match(
      (await call<Record<string, string>>('getSessionInfo')).sessionId!,
      /^[0-9a-f]{40}$/,
    );

    const gid = await call<string>('addUri', [url('s.bin')], {
      out: 's.bin',
      pause: 'true',
      header: 'X-A: 1',
    });
    assert.equal(await call('saveSession'), 'OK');
    const saved = await readFile(sessionFile, 'utf8');
    assert.ok(
      saved.includes(
        `${url('s.bin')}\n gid=${gid}\n dir=${dir}\n out=s.bin\n header=X-A: 1\n pause=true\n`,
      ),
      saved,
    );

    const methods = await aria2.listMethods();
    for (const m of [
      'addUri',
      'remove',
      'forceRemove',
      'pause',
      'pauseAll',
      'forcePause',
      'forcePauseAll',
      'unpause',
      'unpauseAll',
      'tellStatus',
      'getUris',
      'getFiles',
      'getServers',
      'tellActive',
      'tellWaiting',
      'tellStopped',
      'changePosition',
      'getOption',
      'changeOption',
      'getGlobalOption',
      'changeGlobalOption',
      'getGlobalStat',
      'purgeDownloadResult',
      'removeDownloadResult',
      'getVersion',
      'getSessionInfo',
      'saveSession',
      'shutdown',
      'forceShutdown',
      'system.multicall',
      'system.listMethods',
      'system.listNotifications',
    ]) {
      assert.ok(methods.includes(m), m);
    }
    assert.deepEqual(await aria2.listNotifications(), [
      'onDownloadStart',
      'onDownloadPause',
      'onDownloadStop',
      'onDownloadComplete',
      'onDownloadError',
    ]);
    const multi = await aria2.multicall([
      ['tellStatus', gid, ['status']],
      ['getSessionInfo'],
      ['tellStatus', 'zz'],
    ]);
    assert.deepEqual(multi[0], [{ status: 'paused' }]);
    assert.deepEqual(multi[2], { code: 1, message: 'Invalid GID zz' });
    const batch = await aria2.batch([['tellStatus', gid, ['gid']], ['getGlobalStat']]);
    assert.deepEqual(await batch[0], { gid });
    assert.match(((await batch[1]) as Record<string, string>).numWaiting!, /^\d+$/);
    await call('remove', gid);
  });
});

describe('over WebSocket (aria2.js open())', () => {
  test('calls, and the notifications: start, pause, stop, complete, error', async () => {
    const ws = client(await daemons({ dir }));
    await ws.open();
    const events: string[] = [];
    for (const name of [
      'onDownloadStart',
      'onDownloadPause',
      'onDownloadStop',
      'onDownloadComplete',
      'onDownloadError',
    ]) {
      ws.on(name, (params: { gid: string }[]) => events.push(`${name} ${params[0]?.gid}`));
    }
    const has = (e: string) => () => events.includes(e);
    try {
      const done = (await ws.call('addUri', [url('ws1.bin')], { out: 'ws1.bin' })) as string;
      await waitFor(has(`onDownloadComplete ${done}`), 'onDownloadComplete');
      assert.ok(events.includes(`onDownloadStart ${done}`));
      const failed = (await ws.call('addUri', [`${server.url}/status/404`])) as string;
      await waitFor(has(`onDownloadError ${failed}`), 'onDownloadError');
      const slow = (await ws.call('addUri', [url('ws2.bin')], SLOW)) as string;
      await waitFor(has(`onDownloadStart ${slow}`), 'onDownloadStart');
      await ws.call('pause', slow);
      await waitFor(has(`onDownloadPause ${slow}`), 'onDownloadPause');
      await ws.call('unpause', slow);
      await waitFor(
        () => events.filter((e) => e === `onDownloadStart ${slow}`).length === 2,
        'a second start',
      );
      await ws.call('remove', slow);
      await waitFor(has(`onDownloadStop ${slow}`), 'onDownloadStop');
      assert.equal(((await ws.call('tellStatus', slow, ['status'])) as Status).status, 'removed');
    } finally {
      await ws.close();
    }
  });
});
