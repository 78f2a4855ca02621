// Manager: the queue (maxRunning, measured at the server), the shared total rate limit (measured
// at the server), restarts, onIdle, the shared agent, and the add/remove/property-changed signals.
//
// Server-side rate measurements use one connection per download and 128 KiB requests
// (maxPartMb): loopback sockets here autotune to tens of MiB, so an open-ended response would
// park megabytes in kernel buffers and the server's count would say nothing about the client.
// Bounded requests keep at most 128 KiB per download in flight.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Downloader } from '../src/api/downloader.js';
import { Manager } from '../src/api/manager.js';
import type { ManagerProperty } from '../src/api/manager-options.js';
import { InvalidOptionError } from '../src/errors.js';
import { KiB, makeContent, MiB, sha256 } from './helpers/content.js';
import { reachState, recordStates } from './helpers/events.js';
import { waitFor } from './helpers/wait.js';
import { useFixtures } from './helpers/fixture.js';
import type { RequestRecord, ServerConfig, TestServer } from './helpers/server.js';

const fx = useFixtures();
const serve = (content: Buffer, config: Partial<ServerConfig> = {}) =>
  fx.serve({ content, ...config });
const freshDir = (): Promise<string> => fx.tempDir();

/** Most distinct paths with a response in progress at the same moment, at the server. */
function maxConcurrentPaths(requests: readonly RequestRecord[]): number {
  const events: [time: number, delta: 1 | -1, path: string][] = [];
  for (const r of requests) {
    if (r.method !== 'GET') continue;
    events.push([r.start, 1, r.path], [r.end ?? Number.POSITIVE_INFINITY, -1, r.path]);
  }
  // Ends before starts at the same millisecond.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const open = new Map<string, number>();
  let most = 0;
  for (const [, delta, path] of events) {
    const count = (open.get(path) ?? 0) + delta;
    if (count === 0) open.delete(path);
    else open.set(path, count);
    most = Math.max(most, open.size);
  }
  return most;
}

/** Bytes the server has sent, sampled every 50 ms (with the time of each sample). */
function sampleSent(server: TestServer): {
  between(fromMs: number, toMs: number): number;
  /**
   * The share of [fromMs, toMs] this process did not run: every gap between samples beyond the
   * 50 ms period and the limiter's 0.1 s burst (what its bucket can save up). Client and server
   * both live in this process, so on a busy machine these are bytes no limiter could have sent.
   */
  stalled(fromMs: number, toMs: number): number;
  /** Ms after the start of sampling when the server had sent its first byte (or undefined). */
  firstByteAt(): number | undefined;
  latest(): number;
  stop(): void;
} {
  const t0 = performance.now();
  const samples: [number, number][] = [[0, server.stats.bytesSent]];
  const timer = setInterval(() => {
    samples.push([performance.now() - t0, server.stats.bytesSent]);
  }, 50);
  return {
    /** Bytes per second between the first samples at or after each time (actual sample times). */
    between(fromMs, toMs) {
      const a = samples.find(([t]) => t >= fromMs) ?? samples.at(-1)!;
      const b = samples.find(([t]) => t >= toMs) ?? samples.at(-1)!;
      return (b[1] - a[1]) / ((b[0] - a[0]) / 1000);
    },
    stalled(fromMs, toMs) {
      let lost = 0;
      for (let i = 1; i < samples.length; i++) {
        const [t] = samples[i]!;
        if (t <= fromMs || t > toMs) continue;
        lost += Math.max(0, t - samples[i - 1]![0] - 150);
      }
      return lost / (toMs - fromMs);
    },
    firstByteAt: () => samples.find(([, bytes]) => bytes > samples[0]![1])?.[0],
    latest: () => samples.at(-1)![0],
    stop: () => clearInterval(timer),
  };
}

/**
 * Server-side rate over [fromMs, toMs] after the server sent its first byte (on a busy machine
 * the start-up before it takes a varying time), waiting until a sample after toMs is taken.
 */
async function serverRate(
  sampler: ReturnType<typeof sampleSent>,
  fromMs: number,
  toMs: number,
): Promise<{ rate: number; stalled: number }> {
  await waitFor(() => sampler.firstByteAt() !== undefined, 'the first byte sent', 60_000);
  const first = sampler.firstByteAt()!;
  await waitFor(() => sampler.latest() >= first + toMs, `${toMs} ms of transfer`, 60_000 + toMs);
  return {
    rate: sampler.between(first + fromMs, first + toMs),
    stalled: sampler.stalled(first + fromMs, first + toMs),
  };
}

// Small requests, so the limiter and not the request size paces the transfer; two connections,
// so one's round trip between requests (tens of ms on a loaded machine, when no bytes are asked
// of the limiter) is covered by the other's waiting, as with any real download.
const RATE_TEST_OPTIONS = { maxConnections: 2, maxPartMb: 0.125 } as const;

/**
 * Bytes per second this machine moves here and now through the same path with no limit (the
 * same options, from the same server): a busy machine may not reach a limit, and a limiter can
 * only be asked to come near min(limit, this). Idle, this is far above the limits tested.
 */
async function capacity(server: TestServer, dir: string): Promise<number> {
  const m = new Manager({ downloadOptions: { dirPath: dir, ...RATE_TEST_OPTIONS } });
  const d = m.add(`${server.url}/capacity.bin`);
  const t0 = performance.now();
  m.start();
  await m.onIdle();
  await m.stop();
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(d.state, 'complete', String(d.lastError));
  await rm(join(dir, 'capacity.bin'));
  return d.size / seconds;
}

describe('Manager: options, signals and the list of downloads', () => {
  it('has bitpit defaults and rejects bad options with precise InvalidOptionErrors', () => {
    const m = new Manager();
    assert.equal(m.maxRunning, 0);
    assert.equal(m.rateLimit, 0);
    assert.equal(m.restartWait, 30);
    assert.equal(m.updatePeriod, 1);
    assert.deepEqual(m.downloadOptions, {});
    assert.deepEqual(m.downloads, []);
    assert.deepEqual(m.humanRateLimit, [0, 'B/s']);
    assert.deepEqual(Manager.signals, ['add', 'remove', 'property-changed']);
    assert.throws(() => new Manager({ maxRunning: -1 }), {
      name: 'InvalidOptionError',
      message:
        'Expected `maxRunning` to be an integer from 0 and up (0 = no limit), got -1 (number)',
    });
    assert.throws(() => new Manager({ maxRunning: 1.5 }), InvalidOptionError);
    assert.throws(() => new Manager({ rateLimit: -1 }), /`rateLimit` to be a number from 0/);
    assert.throws(() => new Manager({ restartWait: Number.NaN }), /`restartWait`/);
    assert.throws(() => new Manager({ downloadOptions: 5 as never }), /`downloadOptions`/);
    assert.throws(() => {
      m.maxRunning = -2;
    }, InvalidOptionError);
  });

  it('add() creates downloads with downloadOptions, emits add; remove() emits remove', async () => {
    const dir = await freshDir();
    const m = new Manager({ downloadOptions: { dirPath: dir, rateLimit: 1000 } });
    const seen: string[] = [];
    m.on('add', (mgr, d) => seen.push(`add ${d.url} ${mgr === m}`));
    m.on('remove', (mgr, d) => seen.push(`remove ${d.url} ${mgr === m}`));
    const a = m.add('http://127.0.0.1:9/a.bin');
    assert.ok(a instanceof Downloader);
    assert.equal(a.rateLimit, 1000);
    assert.equal(a.path, join(dir, 'a.bin'));
    const b = new Downloader('http://127.0.0.1:9/b.bin');
    assert.equal(m.add(b), b);
    assert.equal(m.add(b), b, 'adding twice keeps one entry');
    assert.deepEqual(m.downloads, [a, b]);
    assert.ok(Object.isFrozen(m.downloads));
    assert.throws(() => new Manager().add(b), /already belongs to another Manager/);
    m.remove(a);
    assert.deepEqual(m.downloads, [b]);
    assert.throws(() => m.remove(a), /not in the Manager/);
    assert.throws(() => m.add(42 as never), InvalidOptionError);
    assert.deepEqual(seen, [
      'add http://127.0.0.1:9/a.bin true',
      'add http://127.0.0.1:9/b.bin true',
      'remove http://127.0.0.1:9/a.bin true',
    ]);
    // Once removed, a download may join another manager.
    new Manager().add(a);
  });

  it('emits property-changed with the property name', () => {
    const m = new Manager();
    const changed: ManagerProperty[] = [];
    m.on('property-changed', (_m, property) => changed.push(property));
    m.maxRunning = 3;
    m.rateLimit = 2 * MiB;
    m.restartWait = 5;
    m.updatePeriod = 0.5;
    m.downloadOptions = { timeout: 60 };
    assert.deepEqual(changed, [
      'maxRunning',
      'rateLimit',
      'restartWait',
      'updatePeriod',
      'downloadOptions',
    ]);
    assert.deepEqual(m.humanRateLimit, [2, 'MiB/s']);
    assert.deepEqual(m.downloadOptions, { timeout: 60 });
  });

  it('onIdle() resolves at once when there is nothing to do', async () => {
    await new Manager().onIdle();
  });
});

describe('Manager: the queue', () => {
  it('never has more than maxRunning downloads transferring (measured at the server)', async (t) => {
    const content = makeContent(768 * KiB, 5);
    const server = await serve(content, { ratePerConnection: 1 * MiB });
    const dir = await freshDir();
    const m = new Manager({ maxRunning: 2, downloadOptions: { dirPath: dir } });
    for (let i = 0; i < 5; i++) m.add(`${server.url}/f${i}.bin`);
    let mostAlive = 0;
    const alive = setInterval(() => {
      mostAlive = Math.max(mostAlive, m.downloads.filter((d) => d.isAlive).length);
    }, 5);
    m.start();
    await m.onIdle();
    clearInterval(alive);
    await m.stop();
    const most = maxConcurrentPaths(server.requests);
    t.diagnostic(`most downloads transferring at once (server side): ${most}`);
    assert.equal(most, 2);
    assert.ok(mostAlive <= 2, `${mostAlive} alive at once`);
    for (const d of m.downloads) assert.equal(d.state, 'complete', String(d.lastError));
    for (let i = 0; i < 5; i++) {
      assert.equal(sha256(await readFile(join(dir, `f${i}.bin`))), sha256(content));
    }
  });

  it('applies a change of maxRunning within one update period, both ways', async () => {
    const content = makeContent(4 * MiB, 6);
    const server = await serve(content, { ratePerConnection: 256 * KiB });
    const dir = await freshDir();
    const m = new Manager({
      maxRunning: 1,
      updatePeriod: 0.5,
      downloadOptions: { dirPath: dir, maxConnections: 1 },
    });
    const ds = [0, 1, 2, 3].map((i) => m.add(`${server.url}/g${i}.bin`));
    const alive = () => ds.filter((d) => d.isAlive).length;
    m.start();
    await reachState(ds[0]!, 'download');
    await sleep(300);
    assert.equal(alive(), 1);
    m.maxRunning = 3;
    await waitFor(() => alive() === 3, 'three running', 30_000);
    await sleep(400);
    assert.equal(alive(), 3, 'no more than three');
    m.maxRunning = 1;
    await waitFor(() => alive() === 1, 'back to one', 30_000);
    const paused = ds.filter((d) => d.state === 'pause');
    assert.equal(paused.length, 3);
    await sleep(600);
    assert.equal(alive(), 1, 'the paused ones stay queued, not started');
    m.stopAll();
    await m.onIdle();
    assert.ok(ds.every((d) => d.state === 'pause' && !d.isAlive));
    await m.stop();
  });

  it("a user's stop() still stopping when maxRunning is lowered: it stays stopped", async () => {
    // The daemon removed a download (its stop()) and then lowered max-concurrent-downloads
    // before the stop had ended: the Manager took the stopping download as one to preempt,
    // queued it, and started it again once stopped, where nobody saw it, to its end.
    const content = makeContent(1 * MiB, 9);
    const server = await serve(content, { ratePerConnection: 128 * KiB });
    const dir = await freshDir();
    const m = new Manager({ maxRunning: 2, downloadOptions: { dirPath: dir, maxConnections: 1 } });
    const a = m.add(`${server.url}/a.bin`);
    const b = m.add(`${server.url}/b.bin`);
    try {
      m.start();
      await reachState(a, 'download');
      await reachState(b, 'download');
      b.stop();
      assert.equal(b.isAlive, true, 'still stopping');
      m.maxRunning = 1;
      await b.join();
      assert.equal(b.state, 'pause');
      const requests = () => server.requests.filter((r) => r.path === '/b.bin').length;
      const after = requests();
      await reachState(a, 'complete');
      assert.equal(b.isAlive, false, 'not started again');
      assert.equal(b.state, 'pause');
      assert.equal(requests(), after, 'no request for b after its stop');
    } finally {
      m.stopAll();
      await m.stop();
    }
  });

  it("queues a user's start() while full, and leaves a user's stop() alone", async () => {
    const content = makeContent(1 * MiB, 8);
    const server = await serve(content, { ratePerConnection: 512 * KiB });
    const dir = await freshDir();
    const m = new Manager({ maxRunning: 1, downloadOptions: { dirPath: dir, maxConnections: 1 } });
    const a = m.add(`${server.url}/a.bin`);
    m.start();
    await reachState(a, 'start');
    const b = new Downloader(`${server.url}/b.bin`, { dirPath: dir, maxConnections: 1 });
    const c = new Downloader(`${server.url}/c.bin`, { dirPath: dir, maxConnections: 1 });
    m.add(b);
    m.add(c);
    c.stop(); // paused by the user: not started by the manager
    b.start(); // queued: the one slot is taken
    assert.equal(b.isAlive, false);
    await reachState(a, 'complete');
    await reachState(b, 'complete');
    await m.onIdle();
    assert.equal(c.state, 'pause');
    assert.equal(c.isAlive, false);
    assert.equal(maxConcurrentPaths(server.requests), 1);
    c.start(); // the user's start() queues it again
    await reachState(c, 'complete');
    await m.stop();
  });

  it('starts queued downloads in the order added, one queued again by its start() too', async () => {
    const content = makeContent(256 * KiB, 10);
    const server = await serve(content, { ratePerConnection: 1 * MiB });
    const dir = await freshDir();
    const m = new Manager({ maxRunning: 1, downloadOptions: { dirPath: dir, maxConnections: 1 } });
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => m.add(`${server.url}/${n}.bin`));
    c!.stop(); // paused by the user before the manager starts: passed over
    // Queued again as d starts, while e waits: c was added first, so it goes before e.
    const again = (x: Downloader): void => {
      if (x.state !== 'start') return;
      d!.off('state-changed', again);
      c!.start();
    };
    d!.on('state-changed', again);
    m.start();
    await reachState(d!, 'complete');
    await m.onIdle();
    await m.stop();
    for (const x of [a, b, c, d, e]) assert.equal(x!.state, 'complete', String(x!.lastError));
    const first = new Map<string, number>();
    for (const r of server.requests) if (!first.has(r.path)) first.set(r.path, r.start);
    const order = [...first.keys()].sort((x, y) => first.get(x)! - first.get(y)!);
    assert.deepEqual(order, ['/a.bin', '/b.bin', '/d.bin', '/c.bin', '/e.bin']);
  });

  it('resolves onIdle with downloads complete, failed for good, or paused by the user', async () => {
    const content = makeContent(300 * KiB, 9);
    const server = await serve(content);
    const dir = await freshDir();
    const m = new Manager({ maxRunning: 2, downloadOptions: { dirPath: dir } });
    const good = [m.add(`${server.url}/ok1.bin`), m.add(`${server.url}/ok2.bin`)];
    const missing = m.add(`${server.url}/status/404`);
    const held = m.add(`${server.url}/held.bin`);
    held.stop();
    m.start();
    await m.onIdle();
    assert.deepEqual(
      good.map((d) => d.state),
      ['complete', 'complete'],
    );
    assert.equal(missing.state, 'error');
    assert.equal(missing.lastError?.transient, false);
    assert.equal(missing.isRestarting, false);
    assert.equal(held.state, 'pause');
    await sleep(300);
    assert.equal(missing.state, 'error', 'a permanent error is not restarted');
    await m.stop();
  });

  it('restarts a download after a transient error once restartWait has passed', async () => {
    const content = makeContent(200 * KiB, 10);
    const server = await serve(content, { fail503First: 1 });
    const dir = await freshDir();
    const m = new Manager({
      restartWait: 0.4,
      downloadOptions: { dirPath: dir, retries: 0 },
    });
    const d = m.add(`${server.url}/flaky.bin`);
    const states = recordStates(d);
    let failedAt = 0;
    let restartedAt = 0;
    d.on('state-changed', (dl) => {
      if (dl.state === 'error') failedAt = performance.now();
      if (dl.state === 'start' && failedAt > 0) restartedAt = performance.now();
    });
    m.start();
    await m.onIdle();
    assert.deepEqual(states, ['start', 'error', 'start', 'download', 'complete']);
    const gap = restartedAt - failedAt;
    assert.ok(gap >= 380 && gap < 1500, `restarted after ${gap} ms`);
    await m.stop();
  });

  it('shares kept-alive connections between its downloads and closes them on stop()', async () => {
    const content = makeContent(100 * KiB, 12);
    const server = await serve(content);
    const dir = await freshDir();
    const m = new Manager({ maxRunning: 1, downloadOptions: { dirPath: dir, maxConnections: 1 } });
    for (let i = 0; i < 3; i++) m.add(`${server.url}/k${i}.bin`);
    m.start();
    await m.onIdle();
    const gets = server.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 3);
    assert.equal(new Set(gets.map((r) => r.socketId)).size, 1, 'one socket for all three');
    assert.equal(server.stats.openConnections, 1);
    await m.stop();
    await waitFor(() => server.stats.openConnections === 0, 'the agent to close', 30_000);
  });
});

describe('Manager: total rate limit (measured at the server)', () => {
  it('holds one download to the total', async (t) => {
    const server = await serve(makeContent(14 * MiB, 13));
    const dir = await freshDir();
    const m = new Manager({
      rateLimit: 2 * MiB,
      downloadOptions: { dirPath: dir, ...RATE_TEST_OPTIONS },
    });
    const machine = await capacity(server, dir);
    m.add(`${server.url}/one.bin`);
    const sampler = sampleSent(server);
    m.start();
    const { rate, stalled } = await serverRate(sampler, 1000, 5000);
    sampler.stop();
    m.stopAll();
    await m.onIdle();
    await m.stop();
    const error = rate / (2 * MiB) - 1;
    t.diagnostic(
      `1 download: ${(rate / MiB).toFixed(3)} MiB/s (${(100 * error).toFixed(1)}%; the process stalled ${(100 * stalled).toFixed(1)}% of the time)`,
    );
    // Within 7% of the limit (or of what the machine moves now, if less), less the time the
    // process did not run at all; never more than 7% above the limit.
    const floor = (Math.min(2 * MiB, machine) / (2 * MiB)) * (1 - 0.07 - stalled) - 1;
    t.diagnostic(`the machine moves ${(machine / MiB).toFixed(1)} MiB/s unlimited`);
    assert.ok(error <= 0.07 && error >= floor, `${rate} B/s, stalled ${stalled}, ${machine} B/s`);
  });

  it('shares the total fairly between four downloads and follows a change', async (t) => {
    const server = await serve(makeContent(6 * MiB, 14));
    const dir = await freshDir();
    const m = new Manager({
      rateLimit: 2 * MiB,
      downloadOptions: { dirPath: dir, ...RATE_TEST_OPTIONS },
    });
    const machine = await capacity(server, dir);
    for (let i = 0; i < 4; i++) m.add(`${server.url}/q${i}.bin`);
    const sampler = sampleSent(server);
    m.start();
    const { rate, stalled } = await serverRate(sampler, 1000, 5000);
    const error = rate / (2 * MiB) - 1;
    t.diagnostic(
      `4 downloads: ${(rate / MiB).toFixed(3)} MiB/s (${(100 * error).toFixed(1)}%; stalled ${(100 * stalled).toFixed(1)}%)`,
    );
    const shares = m.downloads.map((d) => d.downloaded);
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    t.diagnostic(`shares: ${shares.map((s) => (s / MiB).toFixed(2)).join(', ')} MiB`);
    m.rateLimit = 1 * MiB;
    const { rate: slower, stalled: slowStalled } = await serverRate(sampler, 6000, 9000);
    sampler.stop();
    const slowError = slower / MiB - 1;
    t.diagnostic(
      `after the change to 1 MiB/s: ${(slower / MiB).toFixed(3)} MiB/s (stalled ${(100 * slowStalled).toFixed(1)}%)`,
    );
    m.stopAll();
    await m.onIdle();
    await m.stop();
    t.diagnostic(`the machine moves ${(machine / MiB).toFixed(1)} MiB/s unlimited`);
    const floor = (Math.min(2 * MiB, machine) / (2 * MiB)) * (1 - 0.07 - stalled) - 1;
    assert.ok(error <= 0.07 && error >= floor, `${rate} B/s for 2 MiB/s (${machine} B/s)`);
    for (const s of shares) assert.ok(Math.abs(s / mean - 1) < 0.2, `shares ${shares}`);
    assert.ok(
      slowError <= 0.1 && slowError >= (Math.min(MiB, machine) / MiB) * (1 - 0.1 - slowStalled) - 1,
      `${slower} B/s for 1 MiB/s, stalled ${slowStalled}`,
    );
  });
});
