// What every scenario gets and gives back, and the pieces the one-file scenarios share.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Contender, compare, type Summary } from './compare.js';
import { checkFile, type Expected, MiB } from './measure.js';
import { bound, type Row, ratio, row } from './report.js';
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

/** The summaries of every tool but qget. */
export function peerSummaries(res: Map<string, Summary>): Summary[] {
  return [...res.values()].filter((s) => s.name !== 'qget');
}

/**
 * qget and `peers` on one file from the node server `served` over `n` connections: qget's wall
 * time against `limit` (what the fast connections need; at most `target` times it), each peer's
 * ratio (qget at most half aria2c's time).
 */
export async function againstLimit(
  ctx: Ctx,
  id: string,
  served: Served,
  o: {
    n: number;
    peers: readonly (keyof typeof single)[];
    limit: number;
    target: number;
    timeoutS: number;
  },
): Promise<{ rows: Row[]; qget: Summary | undefined }> {
  const res = await compare(oneFile(served, o.n, ['qget', ...o.peers]), {
    runs: ctx.runs,
    work: ctx.work,
    timeoutS: o.timeoutS,
    connections: () => served.server.connections!(),
  });
  const q = res.get('qget');
  const w = wallOf(q);
  const rows: Row[] = [
    row(id, q, [
      bound(
        w === undefined ? w : w / o.limit,
        o.target,
        (v) => `${v} × fast-only ${o.limit.toFixed(2)} s ≤ ${o.target}`,
      ),
    ]),
  ];
  for (const p of peerSummaries(res)) {
    rows.push(row(id, p, [ratio(q, p, 'wall', p.name === 'aria2c' ? 0.5 : undefined)]));
  }
  return { rows, qget: q };
}
