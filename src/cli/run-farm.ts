// `qget enqueue | worker | queue`: the download farm's commands (docs/farm.md), on the public
// `qget/farm` API. Loaded only when the first argument names one of them, so neither BullMQ nor
// a Redis client is loaded by any other command.

import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  enqueue,
  type FarmEntry,
  type FarmEvent,
  FarmWorker,
  queueStatus,
  retryFailed,
} from '../farm/index.js';
import { checkRedisUrl } from '../farm/jobs.js';
import { redactUrl } from '../index.js';
import { intArg, secondsArg, sizeArg } from './arg-parsers.js';
import type { Io } from './cli-options.js';
import { EXIT } from './exit-codes.js';
import { readInputList } from './input-file.js';
import { abortOnSignals, describeError } from './process.js';

interface Common {
  redis: string;
  queue: string;
  prefix?: string;
  json: boolean;
  quiet: boolean;
}

function redisArg(value: string): string {
  try {
    return checkRedisUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function program(name: string, description: string): Command {
  return new Command(`qget ${name}`)
    .description(description)
    .requiredOption('--redis <url>', 'the Redis server, redis://host:port[/db]', redisArg)
    .option('--queue <name>', 'queue name', 'qget')
    .option('--prefix <prefix>', 'Redis key prefix (BullMQ default: bull)')
    .option('--json', 'print JSON (one object per line) on stdout', false)
    .option('-q, --quiet', 'print only errors', false)
    .helpOption('-h, --help', 'show this help');
}

/** Run `qget <command> ...args`; resolves the exit code. */
export async function runFarm(command: string, args: string[], io: Io): Promise<number> {
  let cmd: Command;
  if (command === 'enqueue') {
    cmd = program('enqueue', 'Add one job per URL to the queue (a job already there is kept).')
      .argument('[url...]', 'URL(s) to download')
      .option('-i, --input-file <file>', 'URLs from a file (aria2 input-file format; - for stdin)')
      .option('-d, --dir <dir>', "folder for the files (a relative one is in each worker's -d)")
      .option('--attempts <n>', 'attempts per job for failures that may pass', intArg(1), 5);
  } else if (command === 'worker') {
    cmd = program('worker', 'Download jobs from the queue until stopped (SIGINT/SIGTERM).')
      .option('-d, --dir <dir>', 'folder for the files (and relative job folders)', '.')
      .option('-j, --jobs <n>', 'downloads at once in this worker', intArg(1), 4)
      .option('-c, --connections <n>', 'most connections per download', intArg(1), 16)
      .option('-r, --rate-limit <rate>', 'bytes per second for this worker, e.g. 2M', sizeArg)
      .option('--per-host <n>', 'most downloads from one origin at once in the farm', intArg(0), 0)
      .option('--timeout <seconds>', 'drop a connection silent for this long', secondsArg(), 10)
      .option(
        '--lock <seconds>',
        "a job's lock; a dead worker's jobs return within about twice this",
        secondsArg(),
        30,
      )
      .option('--max-stalled <n>', 'times a job may lose its worker before it fails', intArg(1), 5);
  } else {
    cmd = program(
      'queue',
      'Show the queue: counts, and the failed jobs with their reasons.',
    ).option('--retry-failed', 'put the failed jobs back in the queue', false);
  }
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    outputError: (s, write) => write(`qget ${command}: ${s.replace(/^error: /, '')}`),
  });
  try {
    cmd.parse(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return ['commander.helpDisplayed', 'commander.help'].includes(err.code)
        ? EXIT.ok
        : EXIT.usage;
    }
    throw err;
  }
  const opts = cmd.opts();
  try {
    if (command === 'enqueue') return await runEnqueue(cmd.args, opts as EnqueueCli, io);
    if (command === 'worker') return await runWorker(opts as WorkerCli, io);
    return await runQueue(opts as QueueCli, io);
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      io.stderr.write(`qget ${command}: ${err.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`qget ${command}: error: ${describeError(err, false)}\n`);
    return EXIT.network;
  }
}

interface EnqueueCli extends Common {
  inputFile?: string;
  dir?: string;
  attempts: number;
}

async function runEnqueue(urls: string[], o: EnqueueCli, io: Io): Promise<number> {
  const entries: FarmEntry[] = urls.map((url) => ({ url }));
  if (o.inputFile !== undefined) {
    const file = o.inputFile;
    const list = await readInputList(file).catch((err: Error) => {
      throw new InvalidArgumentError(`cannot read ${file}: ${err.message}`);
    });
    entries.push(...list);
  }
  if (entries.length === 0)
    throw new InvalidArgumentError('no URL given (see qget enqueue --help).');
  for (const { url } of entries) {
    if (!/^https?:\/\/[^/]/i.test(url) || !URL.canParse(url)) {
      throw new InvalidArgumentError(`"${redactUrl(url)}" is not a valid http(s) URL`);
    }
  }
  const result = await enqueue(entries, {
    redis: o.redis,
    queue: o.queue,
    prefix: o.prefix,
    dir: o.dir,
    attempts: o.attempts,
  });
  if (o.json) {
    io.stdout.write(`${JSON.stringify({ added: result.added, existing: result.existing })}\n`);
  } else if (!o.quiet) {
    io.stdout.write(`${result.added} added, ${result.existing} already in the queue\n`);
  }
  return EXIT.ok;
}

interface WorkerCli extends Common {
  dir: string;
  jobs: number;
  connections: number;
  rateLimit?: number;
  perHost: number;
  timeout: number;
  lock: number;
  maxStalled: number;
}

async function runWorker(o: WorkerCli, io: Io): Promise<number> {
  const say = (event: FarmEvent): void => {
    if (o.json) io.stdout.write(`${JSON.stringify(event)}\n`);
    else if (!o.quiet || (event.event === 'failed' && event.final)) {
      io.stderr.write(`${describeEvent(event)}\n`);
    }
  };
  const worker = new FarmWorker({
    redis: o.redis,
    queue: o.queue,
    prefix: o.prefix,
    dir: resolve(o.dir),
    concurrency: o.jobs,
    rateLimit: o.rateLimit,
    perHost: o.perHost,
    lockSeconds: o.lock,
    maxStalledCount: o.maxStalled,
    downloadOptions: { maxConnections: o.connections, timeout: o.timeout },
    onEvent: say,
  });
  const controller = new AbortController();
  const stopped = new Promise<void>((done) =>
    controller.signal.addEventListener('abort', () => done(), { once: true }),
  );
  const dispose = abortOnSignals(controller, () => {});
  try {
    await worker.start();
    if (o.json) io.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid })}\n`);
    else if (!o.quiet) io.stderr.write(`qget worker ${process.pid}: taking jobs from ${o.queue}\n`);
    await stopped;
    await worker.stop();
  } finally {
    dispose();
  }
  const { completed, failed, returned } = worker.stats;
  if (o.json) io.stdout.write(`${JSON.stringify({ event: 'stopped', ...worker.stats })}\n`);
  else if (!o.quiet) {
    io.stderr.write(
      `qget worker: stopped: ${completed} completed, ${failed} failed attempts, ${returned} given back\n`,
    );
  }
  return EXIT.ok;
}

function describeEvent(e: FarmEvent): string {
  const url = redactUrl(e.url);
  if (e.event === 'completed') return `[complete] ${url} -> ${e.path} (${e.size} bytes)`;
  if (e.event === 'failed') return `[${e.final ? 'failed' : 'retry'}] ${url}: ${e.reason}`;
  return `[returned] ${url} (${e.why})`;
}

interface QueueCli extends Common {
  retryFailed: boolean;
}

async function runQueue(o: QueueCli, io: Io): Promise<number> {
  const connection = { redis: o.redis, queue: o.queue, prefix: o.prefix };
  const status = await queueStatus(connection);
  const retried = o.retryFailed ? await retryFailed(connection) : undefined;
  if (o.json) {
    io.stdout.write(
      `${JSON.stringify({ ...status, ...(retried === undefined ? {} : { retried }) })}\n`,
    );
    return EXIT.ok;
  }
  const { waiting, active, delayed, completed, failed } = status;
  io.stdout.write(
    `waiting ${waiting}, active ${active}, delayed ${delayed}, completed ${completed}, failed ${failed}\n`,
  );
  for (const job of status.failedJobs) {
    io.stdout.write(`failed ${job.id} ${redactUrl(job.url)}: ${job.reason}\n`);
  }
  if (retried !== undefined) io.stdout.write(`${retried} failed job(s) put back in the queue\n`);
  return EXIT.ok;
}
