// The daemon's queue under more downloads than the Manager holds: the ordered list and aria2's
// window (tellWaiting/tellStopped offsets, negative ones counting back from the end), a long
// queue added by system.multicall keeping its order through starts, moves and removals, and
// results freed when purged (nothing left in the queue, the Manager or the Downloader's signals).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Manager } from '../src/index.js';
import { Job } from '../src/rpc/job.js';
import { OrderedList, windowOf } from '../src/rpc/job-list.js';
import { paginate } from '../src/rpc/methods.js';
import { DownloadQueue } from '../src/rpc/queue.js';
import { KiB, makeContent } from './helpers/content.js';
import { useFixtures } from './helpers/fixture.js';
import { client, raw, reach, type Status, statusOf, useDaemons } from './helpers/rpc.js';
import { waitFor } from './helpers/wait.js';

const fx = useFixtures();
const daemons = useDaemons();

const list = (items: number[]): OrderedList<number> => {
  const l = new OrderedList<number>();
  for (const i of items) l.push(i);
  return l;
};
const win = (l: OrderedList<number>, offset: number, num: number): number[] =>
  windowOf(l, l.reversed(), offset, num);

describe('the ordered list and the window', () => {
  test('append, delete, insert, positions and walks, through many holes', () => {
    const l = list([0, 1, 2, 3, 4]);
    l.push(2); // already there: stays in place
    assert.deepEqual(l.toArray(), [0, 1, 2, 3, 4]);
    assert.ok(l.delete(1));
    assert.ok(!l.delete(1));
    assert.equal(l.size, 4);
    assert.equal(l.indexOf(3), 2);
    assert.equal(l.indexOf(1), -1);
    l.insert(1, [9, 8]);
    assert.deepEqual(l.toArray(), [0, 9, 8, 2, 3, 4]);
    assert.deepEqual([...l.reversed()], [4, 3, 2, 8, 9, 0]);
    assert.equal(l.first(), 0);
    const big = list(Array.from({ length: 1000 }, (_, i) => i));
    for (let i = 0; i < 1000; i += 3) big.delete(i);
    for (let i = 1; i < 1000; i += 3) big.delete(i);
    const left = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 3 === 2);
    assert.deepEqual(big.toArray(), left);
    assert.equal(big.size, left.length);
    assert.equal(big.indexOf(5), 1);
    big.push(1000);
    assert.equal(big.indexOf(1000), left.length);
    big.reset([7, 6]);
    assert.deepEqual(big.toArray(), [7, 6]);
  });

  test('aria2 offsets: from the start, or from the end backwards', () => {
    const l = list([0, 1, 2, 3, 4]);
    assert.deepEqual(win(l, 0, 2), [0, 1]);
    assert.deepEqual(win(l, 3, 10), [3, 4]);
    assert.deepEqual(win(l, 5, 1), []);
    assert.deepEqual(win(l, -1, 2), [4, 3]);
    assert.deepEqual(win(l, -2, 10), [3, 2, 1, 0]);
    assert.deepEqual(win(l, -5, 3), [0]);
    assert.deepEqual(win(l, -6, 3), []);
    assert.deepEqual(win(l, 0, 0), []);
    l.delete(0);
    l.delete(3);
    assert.deepEqual(win(l, -1, 10), [4, 2, 1]);
    // The array form agrees.
    assert.deepEqual(paginate([1, 2, 4], -1, 10), [4, 2, 1]);
    assert.deepEqual(paginate([1, 2, 4], 1, 1), [2]);
  });
});

describe('a long queue through system.multicall', () => {
  test('order kept from the multicall through starts, moves and removals; windows of it', async () => {
    const server = await fx.serve({ content: makeContent(512 * KiB) });
    const dir = await fx.tempDir();
    const daemon = await daemons({ dir, maxConcurrentDownloads: 2 });
    const aria2 = client(daemon);
    const call = <T = unknown>(method: string, ...params: unknown[]): Promise<T> =>
      aria2.call(method, ...params) as Promise<T>;
    const gids = (list: Status[]): string[] => list.map((s) => s.gid!);
    // 16 KiB/s: none finishes during the test.
    const slow = (i: number) => ({ out: `q${i}.bin`, 'max-download-limit': '16K' });
    const n = 60;
    const added = await call<unknown[]>(
      'system.multicall',
      Array.from({ length: n }, (_, i) => ({
        methodName: 'aria2.addUri',
        params: [[`${server.url}/q${i}.bin`], slow(i)],
      })),
    );
    // Results are wrapped in a list each, as XML-RPC's multicall has them.
    const all = added.map((r) => {
      assert.ok(Array.isArray(r) && typeof r[0] === 'string', JSON.stringify(r));
      return (r as string[])[0]!;
    });
    await waitFor(async () => (await call<Status[]>('tellActive')).length === 2, 'two active');
    assert.deepEqual(
      gids(await call<Status[]>('tellActive', ['gid'])).sort(),
      all.slice(0, 2).sort(),
    );
    const waiting = all.slice(2);
    assert.deepEqual(gids(await call<Status[]>('tellWaiting', 0, 1000, ['gid'])), waiting);
    assert.deepEqual(
      gids(await call<Status[]>('tellWaiting', 10, 3, ['gid'])),
      waiting.slice(10, 13),
    );
    assert.deepEqual(
      gids(await call<Status[]>('tellWaiting', -1, 3, ['gid'])),
      waiting.slice(-3).reverse(),
    );
    assert.deepEqual(gids(await call<Status[]>('tellWaiting', -waiting.length, 2, ['gid'])), [
      waiting[0],
    ]);
    assert.deepEqual(await call('tellWaiting', -waiting.length - 1, 2), []);
    // A long answer goes out in pieces (the kept statuses' bytes as they are, not copied into
    // one buffer): over HTTP its Content-Length counts every piece, in JSONP too, and over
    // WebSocket it is one message all the same; each reads back as the others.
    const overHttp = await call<Status[]>('tellWaiting', 0, 1000);
    assert.equal(overHttp.length, waiting.length);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 'p',
      method: 'aria2.tellWaiting',
      params: [0, 1000],
    });
    const post = await raw(daemon.port, { body, headers: { 'Content-Type': 'application/json' } });
    assert.equal(Number(post.headers['content-length']), Buffer.byteLength(post.text));
    assert.deepEqual((post.json() as { result: unknown }).result, overHttp);
    const params = Buffer.from(JSON.stringify([0, 1000])).toString('base64');
    const jsonp = await raw(daemon.port, {
      method: 'GET',
      path: `/jsonrpc?method=aria2.tellWaiting&id=1&params=${params}&jsoncallback=cb`,
    });
    assert.equal(Number(jsonp.headers['content-length']), Buffer.byteLength(jsonp.text));
    assert.ok(jsonp.text.startsWith('cb(') && jsonp.text.endsWith(')'), jsonp.text.slice(0, 40));
    assert.deepEqual(JSON.parse(jsonp.text.slice(3, -1)).result, overHttp);
    const ws = client(daemon);
    await ws.open();
    try {
      assert.deepEqual(await ws.call('tellWaiting', 0, 1000), overHttp);
      assert.deepEqual(gids((await ws.call('tellWaiting', 0, 1000, ['gid'])) as Status[]), waiting);
    } finally {
      await ws.close();
    }
    const stat = await call<Record<string, string>>('getGlobalStat');
    assert.equal(stat.numActive, '2');
    assert.equal(stat.numWaiting, String(waiting.length));

    // The last one, far behind the first: waiting, with its file named by out.
    const last = waiting.at(-1)!;
    const s = await statusOf(aria2, last);
    assert.equal(s.status, 'waiting');
    assert.equal(s.files?.[0]?.path, join(dir, `q${n - 1}.bin`));
    assert.equal(s.totalLength, '0');
    // Found by a GID prefix too.
    assert.equal((await statusOf(aria2, last.slice(0, 12), ['gid'])).gid, last);

    // Moved to the front, it is the next to start when a running one goes.
    assert.equal(await call('changePosition', last, 0, 'POS_SET'), 0);
    const moved = [last, ...waiting.slice(0, -1)];
    assert.deepEqual(gids(await call<Status[]>('tellWaiting', 0, 1000, ['gid'])), moved);
    // Added at a position: there.
    const third = await call<string>('addUri', [`${server.url}/x.bin`], slow(100), 3);
    assert.equal(gids(await call<Status[]>('tellWaiting', 3, 1, ['gid']))[0], third);
    await call('forceRemove', all[0]);
    await reach(aria2, last, 'active');
    await call('forceRemove', all[1]);
    await reach(aria2, waiting[0]!, 'active');
    const rest = [...moved.slice(2, 3), third, ...moved.slice(3)];
    assert.deepEqual(gids(await call<Status[]>('tellWaiting', 0, 1000, ['gid'])), rest);

    // Everything removed in one multicall: the results, then purged.
    const everything = [last, waiting[0]!, ...rest];
    const removed = await call<unknown[]>(
      'system.multicall',
      everything.map((g) => ({ methodName: 'aria2.forceRemove', params: [g] })),
    );
    assert.deepEqual(
      removed,
      everything.map((g) => [g]),
    );
    assert.deepEqual(await call('tellActive'), []);
    assert.deepEqual(await call('tellWaiting', 0, 10), []);
    const stopped = gids(await call<Status[]>('tellStopped', 0, 1000, ['gid']));
    assert.deepEqual(stopped, [all[0], all[1], ...everything]);
    assert.deepEqual(gids(await call<Status[]>('tellStopped', -1, 2, ['gid'])), [
      everything.at(-1),
      everything.at(-2),
    ]);
    assert.equal(await call('removeDownloadResult', all[0]), 'OK');
    await assert.rejects(call('tellStatus', all[0]), { message: /is not found/ });
    assert.equal(await call('purgeDownloadResult'), 'OK');
    await assert.rejects(call('tellStatus', last), { message: /is not found/ });
    const after = await call<Record<string, string>>('getGlobalStat');
    assert.equal(after.numStopped, '0');
    assert.equal(after.numStoppedTotal, String(n + 1));
  });
});

describe('Downloaders made later', () => {
  test('a global option changed: the next add is checked at once, a waiting one keeps its own', async () => {
    const server = await fx.serve({ content: makeContent(512 * KiB) });
    const dir = await fx.tempDir();
    const daemon = await daemons({ dir, maxConcurrentDownloads: 1 });
    const aria2 = client(daemon);
    const call = <T = unknown>(method: string, ...params: unknown[]): Promise<T> =>
      aria2.call(method, ...params) as Promise<T>;
    const slow = (i: number) => ({ out: `l${i}.bin`, 'max-download-limit': '16K' });
    // The first of this option set is made at once; the second waits, not made yet.
    const first = await call<string>('addUri', [`${server.url}/l0.bin`], slow(0));
    const second = await call<string>('addUri', [`${server.url}/l1.bin`], slow(1));
    // A certificate file that is not there: only a Downloader made with it finds that out.
    const missing = join(dir, 'no-such-ca.pem');
    assert.equal(await call('changeGlobalOption', { 'ca-certificate': missing }), 'OK');
    await assert.rejects(call('addUri', [`${server.url}/l2.bin`], slow(2)), {
      message: new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    });
    // The waiting one was added before the change: made when it starts, with its add's options
    // (with the file named now it would fail).
    await call('forceRemove', first);
    await reach(aria2, second, 'active');
    assert.equal((await statusOf(aria2, second, ['status'])).status, 'active');
  });
});

describe('results freed', () => {
  test('a result keeps no Downloader; purged, nothing is left: queue, Manager, signals', async () => {
    const server = await fx.serve({ content: makeContent(4) });
    const dir = await fx.tempDir();
    const manager = new Manager({ maxRunning: 2, restartWait: -1 });
    const queue = new DownloadQueue(manager, () => {});
    manager.start();
    const { Downloader } = await import('../src/index.js');
    const made: InstanceType<typeof Downloader>[] = [];
    const jobs = Array.from({ length: 40 }, (_, i) => {
      const url = `${server.url}/t${i}.bin`;
      const path = join(dir, `t${i}.bin`);
      // The first few made at once, the others when they come near the front (as the daemon).
      const make = () => {
        const d = new Downloader(url, { path, restartWait: -1 });
        made.push(d);
        return d;
      };
      const job = new Job({
        gid: (i + 1).toString(16).padStart(16, '0'),
        uris: [url],
        options: {},
        dir,
        path,
        paused: false,
        d: i < 3 ? make() : make,
      });
      queue.add(job);
      return job;
    });
    await waitFor(() => queue.stoppedCount === jobs.length, 'every download to stop', 20_000);
    assert.ok(
      jobs.every((j) => j.result?.status === 'complete'),
      'all complete',
    );
    // Results are compact: what the status shows, no Downloader.
    await waitFor(() => jobs.every((j) => j.made === undefined), 'every result compacted');
    assert.equal(made.length, jobs.length);
    assert.deepEqual(
      jobs.map((j) => [j.view?.path, j.view?.size, j.view?.downloaded]),
      jobs.map((_, i) => [join(dir, `t${i}.bin`), 4, 4]),
    );
    assert.equal(queue.stoppedTotal, jobs.length);
    queue.removeResult(jobs[0]!);
    assert.ok(!queue.has(jobs[0]!.gid));
    queue.purgeResults();
    assert.equal(queue.stoppedCount, 0);
    for (const j of jobs) assert.ok(!queue.has(j.gid));
    for (const d of made) assert.equal(d.listenerCount('state-changed'), 0, 'no listener left');
    await waitFor(() => manager.downloads.length === 0, 'the Manager to let go of them');
    await manager.stop();
  });
});
