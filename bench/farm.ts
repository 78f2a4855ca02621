// `npm run bench:farm`: the download farm at scale on this machine (docs/farm.md). 2,000 files
// of 64 KiB from a local server: (1) one process, `qget -i`; (2) one worker process, same
// parallelism, to measure what the farm adds per job; (3) four worker processes, one killed with
// SIGKILL midway: every file present once and right, no job lost, none completed twice. Redis
// commands per job from INFO commandstats before/after. Needs redis-server (Debian package).

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openQueue, queueStatus } from '../src/farm/queue.js';
import { runCli, startCli } from '../test/helpers/cli.js';
import { makeContent, sha256 } from '../test/helpers/content.js';
import { commandCalls, startRedis } from '../test/helpers/redis.js';
import { startServer } from '../test/helpers/server.js';

const FILES = Number(process.env.FARM_FILES ?? 2000);
const SIZE = 64 * 1024;
const WORKERS = 4;
const PARALLEL = 16;

const redis = await startRedis();
const content = makeContent(SIZE, 11);
const server = await startServer({ content });
const work = await mkdtemp(join(tmpdir(), 'qget-farm-bench-'));
const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(4, '0')}.bin`);
const list = join(work, 'urls.txt');
await writeFile(list, `${names.map((n) => `${server.url}/${n}`).join('\n')}\n`);
const children = new Set<ChildProcess>();

/** All commands (those run inside Lua scripts included) and the scripts run (round trips). */
function commandsTotal(info: string): { all: number; scripts: number } {
  const calls = commandCalls(info);
  const all = Object.values(calls).reduce((a, b) => a + b, 0);
  return { all, scripts: (calls.evalsha ?? 0) + (calls.eval ?? 0) };
}

async function checkFolder(dir: string): Promise<void> {
  assert.deepEqual((await readdir(dir)).sort(), names, `${dir} holds exactly the files`);
  const want = sha256(content);
  for (const n of names) assert.equal(sha256(await readFile(join(dir, n))), want, `${n} is right`);
}

interface Worker {
  child: ChildProcess;
  completed: string[];
  ready: Promise<void>;
  done: Promise<unknown>;
}

function worker(queue: string, dir: string, jobs: number): Worker {
  const { child, done } = startCli(
    ['worker', '--redis', redis.url, '--queue', queue, '-d', dir, '-j', String(jobs)].concat([
      '-c',
      '1',
      '--lock',
      '10',
      '--json',
    ]),
    work,
  );
  children.add(child);
  const completed: string[] = [];
  let pending = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  child.stdout!.on('data', (d: Buffer) => {
    if (process.env.FARM_KEEP) void writeFile(join(work, `log-${child.pid}`), d, { flag: 'a' });
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const e = JSON.parse(line) as { event: string; id?: string };
      if (e.event === 'ready') markReady();
      if (e.event === 'completed') completed.push(e.id!);
    }
  });
  return { child, completed, ready, done };
}

/** Polls with two raw commands (not a queue handle), so the figures barely count the bench. */
async function untilCompleted(queue: string, n: number, onProgress?: (done: number) => void) {
  for (;;) {
    const completed = Number(await redis.command(`ZCARD bull:${queue}:completed`));
    const failed = Number(await redis.command(`ZCARD bull:${queue}:failed`));
    onProgress?.(completed);
    if (failed > 0) throw new Error(`${failed} job(s) failed`);
    if (completed >= n) return;
    await sleep(200);
  }
}

/** Run the farm on `queue` with `count` workers; `kill` one of them at half way. */
async function farm(queue: string, count: number, kill: boolean) {
  const dir = join(work, queue);
  const ws = Array.from({ length: count }, () => worker(queue, dir, PARALLEL / count));
  await Promise.all(ws.map((w) => w.ready));
  const before = commandsTotal(await redis.command('INFO commandstats'));
  const started = performance.now();
  const enq = await runCli(['enqueue', '--redis', redis.url, '--queue', queue, '-i', list], work);
  assert.equal(enq.stdout, `${FILES} added, 0 already in the queue\n`, enq.stderr);
  let killedAt: number | undefined;
  await untilCompleted(queue, FILES, (done) => {
    if (kill && killedAt === undefined && done >= FILES / 2) {
      killedAt = (performance.now() - started) / 1000;
      ws[0]!.child.kill('SIGKILL');
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const after = commandsTotal(await redis.command('INFO commandstats'));
  for (const w of ws.slice(kill ? 1 : 0)) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.done));
  const ids = ws.flatMap((w) => w.completed);
  assert.equal(new Set(ids).size, ids.length, 'no job completed twice');
  const status = await queueStatus({ redis: redis.url, queue });
  assert.equal(status.completed, FILES);
  assert.equal(status.failed + status.waiting + status.active + status.delayed, 0);
  await checkFolder(dir);
  // In the worker: from the job's activation to its completion, less the download itself.
  const q = openQueue({ redis: redis.url, queue });
  const jobs = await q.getCompleted(0, -1);
  await q.close();
  const overheads = jobs
    .map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0) - j.returnvalue.seconds * 1000)
    .sort((a, b) => a - b);
  const median = overheads[Math.floor(overheads.length / 2)]!;
  await rm(dir, { recursive: true, force: true });
  return {
    seconds,
    killedAt,
    commandsPerJob: (after.all - before.all) / FILES,
    scriptsPerJob: (after.scripts - before.scripts) / FILES,
    medianInJobMs: median,
  };
}

try {
  console.log(`farm bench: ${FILES} files × 64 KiB, ${PARALLEL} at a time, one connection each`);
  const single = join(work, 'single');
  const t0 = performance.now();
  const one = await runCli(
    ['-i', list, '-d', single, '-m', String(PARALLEL), '-c', '1', '-q'],
    work,
  );
  const singleSeconds = (performance.now() - t0) / 1000;
  assert.equal(one.code, 0, one.stderr);
  await checkFolder(single);
  await rm(single, { recursive: true, force: true });
  console.log(`  one process (qget -i):     ${singleSeconds.toFixed(1)} s`);

  const alone = await farm('alone', 1, false);
  console.log(
    `  farm, 1 worker process:   ${alone.seconds.toFixed(1)} s, ${alone.commandsPerJob.toFixed(1)} Redis commands/job (${alone.scriptsPerJob.toFixed(1)} of them script calls, the rest run inside those), median ${alone.medianInJobMs.toFixed(1)} ms/job in the worker besides the download`,
  );
  const overheadMs = ((alone.seconds - singleSeconds) * 1000 * PARALLEL) / FILES;
  console.log(
    `  per-job overhead (1 worker vs one process, ${PARALLEL} at a time): ${overheadMs.toFixed(2)} ms`,
  );
  const killed = await farm('killed', WORKERS, true);
  console.log(
    `  farm, ${WORKERS} worker processes, one killed with SIGKILL at ${killed.killedAt?.toFixed(1)} s: ${killed.seconds.toFixed(1)} s, ${killed.commandsPerJob.toFixed(1)} Redis commands/job (${killed.scriptsPerJob.toFixed(1)} script calls); every file present once and right`,
  );
  console.log(
    `  throughput: one process ${(FILES / singleSeconds).toFixed(0)} files/s, farm (1 worker) ${(FILES / alone.seconds).toFixed(0)} files/s, farm (${WORKERS} workers, 1 killed) ${(FILES / killed.seconds).toFixed(0)} files/s`,
  );
} finally {
  for (const c of children) c.kill('SIGKILL');
  await server.close();
  await redis.stop();
  if (process.env.FARM_KEEP) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
