// The farm's decisions without a network: job ids, where a job is saved, what a stopped download
// means for its job, the backoff; and the per-origin limit and pause against a real redis-server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FileExistsError,
  HttpStatusError,
  NetworkError,
  OutputBusyError,
  ChecksumError,
} from '../src/errors.js';
import { HostLimit } from '../src/farm/hosts.js';
import { backoffMs, jobData, jobIdFor, outcomeOf, placeOf } from '../src/farm/jobs.js';
import { openQueue } from '../src/farm/queue.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

describe('farm jobs', () => {
  it('gives the same URL to the same output the same id, and a different output another', () => {
    const a = jobData({ url: 'http://h/a' }, 'files');
    assert.equal(jobIdFor(a), jobIdFor(jobData({ url: 'http://h/a' }, 'files')));
    assert.notEqual(jobIdFor(a), jobIdFor(jobData({ url: 'http://h/a' }, 'other')));
    assert.notEqual(jobIdFor(a), jobIdFor(jobData({ url: 'http://h/a', out: 'x' }, 'files')));
    assert.notEqual(jobIdFor(a), jobIdFor(jobData({ url: 'http://h/b' }, 'files')));
    assert.match(jobIdFor(a), /^[0-9a-f]{32}$/);
  });

  it('joins the input file dir= to -d, keeps an absolute one, and resolves against the worker folder', () => {
    assert.deepEqual(jobData({ url: 'u', dir: 'sub', out: 'n' }, 'base'), {
      url: 'u',
      dir: 'base/sub',
      out: 'n',
    });
    assert.deepEqual(jobData({ url: 'u', dir: '/abs' }, 'base'), { url: 'u', dir: '/abs' });
    assert.deepEqual(placeOf({ url: 'u', dir: 'base/sub', out: 'n' }, '/w'), {
      dirPath: '/w/base/sub',
      path: '/w/base/sub/n',
    });
    assert.deepEqual(placeOf({ url: 'u' }, '/w'), { dirPath: '/w' });
  });

  const stopped = (error: Error | null, redelivered = false) =>
    outcomeOf({
      state: error ? 'error' : 'complete',
      error: error as never,
      redelivered,
      random: 0.5,
    });

  it('decides each outcome: busy goes back, permanent fails, transient retries, 503 pauses', () => {
    assert.deepEqual(stopped(null), { kind: 'complete' });
    assert.equal(stopped(new OutputBusyError('/f', 'process 1')).kind, 'give-back');
    assert.equal(stopped(new HttpStatusError(404, 'http://h/')).kind, 'fail');
    assert.equal(stopped(new ChecksumError('sha256', 'a', 'b')).kind, 'fail');
    assert.deepEqual(stopped(new NetworkError('reset')), {
      kind: 'retry',
      reason: 'ERR_NETWORK: reset',
    });
    const busy = stopped(new HttpStatusError(503, 'http://h/', 7));
    assert.deepEqual(busy, {
      kind: 'retry',
      reason: 'ERR_HTTP_STATUS: the server answered 503 for http://h/',
      retryAfterMs: 7000,
      pauseOrigin: true,
    });
    // A file already there: an error the first time, the job's own file when delivered again.
    assert.equal(stopped(new FileExistsError('/f')).kind, 'fail');
    assert.deepEqual(stopped(new FileExistsError('/f'), true), { kind: 'found', path: '/f' });
    assert.deepEqual(outcomeOf({ state: 'pause', error: null, redelivered: false, random: 0 }), {
      kind: 'give-back',
      delayMs: 0,
      why: 'stopping',
    });
  });

  it('backs off exponentially unless the server said when', () => {
    assert.equal(backoffMs(1, undefined), 1000);
    assert.equal(backoffMs(3, undefined), 4000);
    assert.equal(backoffMs(20, undefined), 60_000);
    assert.equal(backoffMs(3, 7000), 7000);
  });
});

describe('per-origin limit and pause in Redis', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('admits n per origin over all workers, frees a dead worker slot when its lease expires, and pauses an origin for all', async () => {
    const queue = openQueue({ redis: redis.url, queue: 'hosts' });
    const client = await queue.client;
    const opts = { prefix: 'bull:hosts', perHost: 2, leaseMs: 400 };
    const a = new HostLimit(client, { ...opts, owner: 'a' });
    const b = new HostLimit(client, { ...opts, owner: 'b' });
    try {
      assert.equal(await a.acquire('http://h', '1'), true);
      assert.equal(await b.acquire('http://h', '2'), true);
      assert.equal(await b.acquire('http://h', '3'), false, 'the third is refused');
      assert.equal(await b.acquire('http://other', '3'), true, 'another origin has its own');
      await b.release('http://h', '2');
      assert.equal(await b.acquire('http://h', '3'), true);
      // a dies: it stops renewing; its slot comes back when the lease runs out.
      a.close();
      assert.equal(await b.acquire('http://h', '4'), false);
      await sleep(1200);
      assert.equal(await b.acquire('http://h', '4'), true, "a's lease expired; b's kept renewing");
      assert.equal(await a.pausedFor('http://h'), 0);
      await b.pause('http://h', 5000);
      const left = await a.pausedFor('http://h');
      assert.ok(left > 4000 && left <= 5000, `paused for ${left} ms`);
    } finally {
      a.close();
      b.close();
      await queue.close();
    }
  });
});
