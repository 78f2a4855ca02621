// The download farm for real: a real redis-server (Debian's), the built command in child
// processes (`qget enqueue`, `qget worker`, `qget queue`), a local test server. A worker killed
// with SIGKILL midway loses nothing: every file is there once and right, no job is lost or
// completed twice, and no .part or lock is left. If redis-server cannot start, these tests fail.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type QueueStatus, queueStatus } from '../src/farm/index.js';
import { runCli, startCli } from './helpers/cli.js';
import { makeContent, sha256 } from './helpers/content.js';
import { waitFor } from './helpers/wait.js';
import { listDir, maxConcurrentRequests, useFixtures } from './helpers/fixture.js';
import { type RedisServer, startRedis } from './helpers/redis.js';

const fx = useFixtures();
let redis: RedisServer;

before(async () => {
  redis = await startRedis();
});
const children = new Set<ChildProcess>();
after(async () => {
  // A failed test may leave workers running: they would keep this process alive.
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
});

interface WorkerProcess {
  child: ChildProcess;
  events: Record<string, unknown>[];
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

async function startWorker(args: string[], cwd: string): Promise<WorkerProcess> {
  const { child, done } = startCli(['worker', '--redis', redis.url, '--json', ...args], cwd);
  children.add(child);
  const events: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout!.on('data', (d: Buffer) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line));
  });
  const exited = done.then((r) => ({ code: r.code, signal: r.signal, stderr: r.stderr }));
  await Promise.race([
    waitFor(() => events.some((e) => e.event === 'ready'), 'the worker to be ready', 30_000),
    exited.then((r) => {
      throw new Error(`the worker exited early (${r.code}): ${r.stderr}`);
    }),
  ]);
  return { child, events, done: exited };
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  const r = await w.done;
  assert.equal(r.code, 0, `a worker stopped by SIGTERM exits 0: ${r.stderr}`);
}

function completedIds(workers: WorkerProcess[]): string[] {
  return workers.flatMap((w) =>
    w.events.filter((e) => e.event === 'completed').map((e) => String(e.id)),
  );
}

async function queueJson(queue: string, extra: string[] = []): Promise<Record<string, unknown>> {
  const r = await runCli(
    ['queue', '--redis', redis.url, '--queue', queue, '--json', ...extra],
    '.',
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Polls the queue's counts until `predicate` holds; fails with the counts after `timeoutMs`. */
async function queueReaches(
  queue: string,
  predicate: (status: QueueStatus) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await queueStatus({ redis: redis.url, queue });
    if (predicate(status)) return;
    if (performance.now() > deadline) {
      throw new Error(`timed out; the queue ${queue} is at ${JSON.stringify(status)}`);
    }
    await sleep(250);
  }
}

describe('qget enqueue', () => {
  it('adds one job per URL, and nothing when the same list is enqueued again', async () => {
    const dir = await fx.tempDir();
    const list = join(dir, 'list.txt');
    await writeFile(
      list,
      [
        'http://127.0.0.1:9/a.bin',
        'http://127.0.0.1:9/b.bin',
        '  out=renamed.bin',
        'http://127.0.0.1:9/b.bin',
        '  dir=other',
        'http://127.0.0.1:9/a.bin # the same job again',
        '',
      ].join('\n'),
    );
    const args = ['enqueue', '--redis', redis.url, '--queue', 'twice', '-d', 'files', '-i', list];
    const first = await runCli(args, dir);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, '3 added, 0 already in the queue\n');
    const second = await runCli([...args, 'http://127.0.0.1:9/c.bin'], dir);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, '1 added, 3 already in the queue\n');
    const status = await queueStatus({ redis: redis.url, queue: 'twice' });
    assert.equal(status.waiting, 4);
  });

  it('refuses a bad Redis URL or a bad download URL as a usage error', async () => {
    const bad = await runCli(['enqueue', '--redis', 'http://x', 'http://127.0.0.1/a'], '.');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a Redis URL/);
    const badUrl = await runCli(['enqueue', '--redis', redis.url, 'ftp://x/a'], '.');
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /not a valid http\(s\) URL/);
  });
});

describe('qget worker', () => {
  it('survives a worker killed with SIGKILL: every file once and right, no job lost, nothing left over', async () => {
    const content = makeContent(384 * 1024, 7);
    // Slow enough that a worker is killed with downloads under way.
    const server = await fx.serve({ content, ratePerConnection: 512 * 1024 });
    const dir = await fx.tempDir();
    const files = Array.from({ length: 24 }, (_, i) => `f${String(i).padStart(2, '0')}.bin`);
    const list = join(dir, 'list.txt');
    await writeFile(list, files.map((f) => `${server.url}/${f}`).join('\n'));
    const out = join(dir, 'out');
    const enq = await runCli(['enqueue', '--redis', redis.url, '--queue', 'kill', '-i', list], dir);
    assert.equal(enq.stdout, '24 added, 0 already in the queue\n', enq.stderr);
    const common = ['--queue', 'kill', '-d', out, '-j', '3', '-c', '2', '--lock', '3'];
    const workers = await Promise.all([0, 1, 2].map(() => startWorker(common, dir)));
    const victim = workers[0]!;
    // Killed once it has finished a job and has others running (their .part on disk).
    await waitFor(
      () => victim.events.some((e) => e.event === 'completed'),
      'a first completed job',
      30_000,
    );
    victim.child.kill('SIGKILL');
    await victim.done;
    // Done when the queue says so (the victim may have completed a job without printing it).
    await queueReaches('kill', (st) => st.completed === files.length, 60_000);
    await Promise.all(workers.slice(1).map(stopWorker));
    const ids = completedIds(workers);
    assert.equal(new Set(ids).size, ids.length, 'no job completed twice');
    const status = await queueJson('kill');
    assert.equal(status.completed, files.length);
    assert.equal(status.failed, 0);
    assert.equal(status.waiting, 0);
    assert.equal(status.active, 0);
    // Exactly the files: no .part, no control file, no lock, no temporary file.
    assert.deepEqual(await listDir(out), files);
    for (const f of files) {
      assert.equal(sha256(await readFile(join(out, f))), sha256(content), `${f} is right`);
    }
    // Each result is on its job.
    const done = workers.flatMap((w) => w.events.filter((e) => e.event === 'completed'));
    for (const e of done) {
      assert.equal(e.size, content.length);
      assert.equal(e.sha256, sha256(content));
    }
  });

  it('fails a 404 for good at the first attempt, shows it in `qget queue`, and --retry-failed puts it back', async () => {
    const server = await fx.serve({ content: makeContent(1000, 3) });
    const dir = await fx.tempDir();
    const missing = `${server.url}/status/404`;
    await runCli(
      ['enqueue', '--redis', redis.url, '--queue', 'gone', missing, `${server.url}/ok.bin`],
      dir,
    );
    const w = await startWorker(['--queue', 'gone', '-d', dir], dir);
    await waitFor(
      () =>
        w.events.some((e) => e.event === 'failed') && w.events.some((e) => e.event === 'completed'),
      'the 404 to fail and the other to complete',
      30_000,
    );
    const failed = w.events.find((e) => e.event === 'failed')!;
    assert.equal(failed.final, true);
    const status = await queueJson('gone');
    assert.equal(status.failed, 1);
    assert.equal(status.completed, 1);
    const jobs = status.failedJobs as { url: string; reason: string; attempts: number }[];
    assert.equal(jobs[0]!.url, missing);
    assert.match(jobs[0]!.reason, /404/);
    assert.equal(jobs[0]!.attempts, 1);
    assert.equal(server.requests.filter((r) => r.path === '/status/404').length, 1, 'not retried');
    const text = await runCli(['queue', '--redis', redis.url, '--queue', 'gone'], dir);
    assert.match(text.stdout, /completed 1, failed 1\n/);
    assert.match(text.stdout, /failed \w+ .*status\/404: .*404/);
    const retried = await queueJson('gone', ['--retry-failed']);
    assert.equal(retried.retried, 1);
    await waitFor(
      () => w.events.filter((e) => e.event === 'failed').length === 2,
      'the 404 tried once more',
      30_000,
    );
    assert.equal(server.requests.filter((r) => r.path === '/status/404').length, 2);
    await stopWorker(w);
  });

  it('keeps --per-host across workers: at most n downloads from one origin at once', async () => {
    const content = makeContent(128 * 1024, 5);
    const server = await fx.serve({ content, ratePerConnection: 512 * 1024 });
    const dir = await fx.tempDir();
    const urls = Array.from({ length: 12 }, (_, i) => `${server.url}/h${i}.bin`);
    const args = ['--queue', 'polite', '-d', dir, '-j', '4', '-c', '1', '--per-host', '2'];
    // Both workers ready before the jobs come: on a busy machine one worker's start took so long
    // that the other had done every job, and the limit across workers went untested.
    const workers = await Promise.all([0, 1].map(() => startWorker(args, dir)));
    await runCli(['enqueue', '--redis', redis.url, '--queue', 'polite', ...urls], dir);
    await waitFor(
      () => completedIds(workers).length === urls.length,
      'every job completed',
      60_000,
    );
    await Promise.all(workers.map(stopWorker));
    const fetched = server.requests.filter((r) => r.path.startsWith('/h'));
    assert.ok(fetched.length >= urls.length);
    const max = maxConcurrentRequests(server);
    assert.ok(max <= 2, `at most 2 downloads at once from the origin, saw ${max}`);
    assert.ok(
      workers.every((w) => w.events.some((e) => e.event === 'completed')),
      'both workers took part',
    );
  });

  it('stops on SIGTERM with downloads running: they go back to the queue, resumable, exit 0', async () => {
    const content = makeContent(2 * 1024 * 1024, 9);
    const server = await fx.serve({ content, ratePerConnection: 256 * 1024 });
    const dir = await fx.tempDir();
    await runCli(
      ['enqueue', '--redis', redis.url, '--queue', 'term', `${server.url}/big.bin`],
      dir,
    );
    const w = await startWorker(['--queue', 'term', '-d', dir, '-c', '2'], dir);
    await waitFor(() => server.stats.bytesSent > 256 * 1024, 'bytes on the way', 30_000);
    w.child.kill('SIGTERM');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(w.events.some((e) => e.event === 'returned' && e.why === 'stopping'));
    const status = await queueJson('term');
    assert.equal(status.active, 0);
    assert.equal((status.waiting as number) + (status.delayed as number), 1, 'the job is back');
    assert.ok((await listDir(dir)).includes('big.bin.part'), 'the .part is kept to resume');
    const again = await startWorker(['--queue', 'term', '-d', dir, '-c', '2'], dir);
    await waitFor(() => completedIds([again]).length === 1, 'the job completed', 30_000);
    await stopWorker(again);
    assert.deepEqual(await listDir(dir), ['big.bin']);
    assert.equal(sha256(await readFile(join(dir, 'big.bin'))), sha256(content));
    // Resumed: far fewer bytes than twice the file.
    assert.ok(server.stats.bytesSent < content.length * 1.6, `sent ${server.stats.bytesSent}`);
  });
});
