// What every scenario gets and gives back, and the pieces the one-file scenarios share.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Contender, Summary } from './compare.js';
import { checkFile, type Expected, MiB } from './measure.js';
import type { Row } from './report.js';
import {
  type BenchServer,
  type ContentStore,
  startNginx,
  startNodeServer,
  which,
} from './servers.js';
import { installed, single } from './tools.js';

export interface Ctx {
  /** Runs per tool (BENCH_RUNS). */
  runs: number;
  /** The scenario's own work directory (exists, empty). */
  work: string;
  store: ContentStore;
}

export interface Outcome {
  rows: Row[];
  /** Lines printed under the summary table. */
  notes: string[];
}

export interface Scenario {
  id: string;
  title: string;
  run(ctx: Ctx): Promise<Outcome>;
}

export interface Served {
  server: BenchServer;
  url: string;
  expected: Expected;
}

/** `size` bytes at `rate` bytes/s per connection (0 = unlimited): nginx when installed, else the
 * node server. `expected.sha256` is set for sizes up to 1 GiB. */
export async function serveFile(ctx: Ctx, size: number, rate: number): Promise<Served> {
  if (which('nginx')) {
    const root = join(ctx.work, 'www');
    await mkdir(root, { recursive: true });
    const sha256 = await ctx.store.place(join(root, 'file.bin'), size);
    const server = await startNginx(root, ctx.work, rate);
    return { server, url: `${server.url}/file.bin`, expected: { size, sha256 } };
  }
  return serveNode(ctx, size, ['--rate', String(rate)]);
}

/** The node server (bench/throttle-server.ts) with `args`. */
export async function serveNode(ctx: Ctx, size: number, args: string[]): Promise<Served> {
  const expected: Expected = { size };
  if (size <= 1024 * MiB) expected.sha256 = await ctx.store.sha256(size);
  const server = await startNodeServer(['--size', String(size), ...args]);
  return { server, url: `${server.url}/file.bin`, expected };
}

/** Contenders downloading `served` with `n` connections: those of `tools` that are installed.
 * Every output's size is checked; qget's also by its hash (or sampled bytes). */
export function oneFile(served: Served, n: number, tools: (keyof typeof single)[]): Contender[] {
  return tools.filter(installed).map((name) => ({
    name,
    argv: (dir: string) => single[name](served.url, join(dir, 'out.bin'), n),
    check: (dir: string) =>
      checkFile(
        join(dir, 'out.bin'),
        name === 'qget' ? served.expected : { size: served.expected.size },
      ),
  }));
}

/** Median wall seconds of a summary, undefined when it has no good run. */
export function wallOf(s: Summary | undefined): number | undefined {
  return s && !s.lowerBound ? s.wall : undefined;
}

export const serverNote = (id: string, served: Served): string =>
  `${id}: served by ${served.server.kind === 'nginx' ? 'nginx' : 'the node throttle server'}`;
