// Running tools side by side: run by run, each tool once per round, the order reversed every
// other round (so no tool always gets the warm or the cold machine), each run in a fresh empty
// directory that is removed afterwards, each output checked.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { median, type RunResult, runMeasured } from './measure.js';
import { removeTree } from './servers.js';

/** A tool that took longer than this (or timed out) runs only once per scenario, except qget. */
const SLOW_RUN_S = 30;

export interface Contender {
  /** Row label in the tables ('qget', 'aria2c', ...). */
  name: string;
  /** argv of one run that writes into `dir`, a fresh empty directory. */
  argv(dir: string): string[];
  /** What is wrong with the output in `dir`, or undefined when it is right. */
  check(dir: string): Promise<string | undefined>;
  /** At most this many runs (default: the scenario's). */
  maxRuns?: number;
}

export interface Run extends RunResult {
  ok: boolean;
  problem?: string;
  /** TCP connections the server saw during the run, when it can count them. */
  connections?: number;
}

export interface Summary {
  name: string;
  runs: Run[];
  /** Median wall seconds of the good runs; with none, the timeout (`lowerBound`). */
  wall?: number;
  lowerBound: boolean;
  /** Median CPU seconds and the largest peak RSS (MiB) of the good runs. */
  cpu?: number;
  rssMiB?: number;
  connections?: number;
}

export interface CompareOptions {
  runs: number;
  /** Directory for the per-run directories. */
  work: string;
  timeoutS: number;
  /** Connections seen by the server since the last call (see BenchServer.connections). */
  connections?: () => Promise<number>;
}

export async function compare(
  contenders: Contender[],
  options: CompareOptions,
): Promise<Map<string, Summary>> {
  const runs = new Map<string, Run[]>(contenders.map((c) => [c.name, []]));
  const limit = new Map<string, number>(
    contenders.map((c) => [c.name, Math.min(options.runs, c.maxRuns ?? options.runs)]),
  );
  await options.connections?.(); // start counting from here
  for (let round = 0; round < options.runs; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      const done = runs.get(c.name)!;
      if (done.length >= limit.get(c.name)!) continue;
      const dir = join(options.work, `run-${c.name}-${done.length + 1}`);
      await removeTree(dir);
      await mkdir(dir, { recursive: true });
      const result = await runMeasured(c.argv(dir), dir, options.timeoutS);
      const connections = await options.connections?.();
      const problem = result.timedOut
        ? `timed out after ${options.timeoutS} s`
        : result.code !== 0
          ? `exit ${result.code}${result.stderr ? `: ${result.stderr.split('\n').pop()}` : ''}`
          : await c.check(dir);
      const run: Run = { ...result, ok: problem === undefined };
      if (problem !== undefined) run.problem = problem;
      if (connections !== undefined) run.connections = connections;
      done.push(run);
      await removeTree(dir);
      console.log(`  ${describeRun(c.name, done.length, run)}`);
      if (c.name !== 'qget' && (result.timedOut || result.wall > SLOW_RUN_S)) {
        limit.set(c.name, 1);
      }
    }
  }
  return new Map(contenders.map((c) => [c.name, summarize(c.name, runs.get(c.name)!, options)]));
}

function summarize(name: string, runs: Run[], options: CompareOptions): Summary {
  const ok = runs.filter((r) => r.ok);
  const s: Summary = { name, runs, lowerBound: false };
  const wall = median(ok.map((r) => r.wall));
  if (wall !== undefined) s.wall = wall;
  else if (runs.some((r) => r.timedOut)) {
    s.wall = options.timeoutS;
    s.lowerBound = true;
  }
  const cpu = median(ok.flatMap((r) => (r.cpu === undefined ? [] : [r.cpu])));
  if (cpu !== undefined) s.cpu = cpu;
  const rss = ok.flatMap((r) => (r.rssMiB === undefined ? [] : [r.rssMiB]));
  if (rss.length) s.rssMiB = Math.max(...rss);
  const conns = median(ok.flatMap((r) => (r.connections === undefined ? [] : [r.connections])));
  if (conns !== undefined) s.connections = conns;
  return s;
}

function describeRun(name: string, n: number, r: Run): string {
  const parts = [`${name.padEnd(8)} run ${n}`, `${r.wall.toFixed(3).padStart(8)} s`];
  if (r.cpu !== undefined) parts.push(`cpu ${r.cpu.toFixed(2)} s`);
  if (r.rssMiB !== undefined) parts.push(`rss ${Math.round(r.rssMiB)} MiB`);
  if (r.connections !== undefined) parts.push(`${r.connections} conns`);
  parts.push(r.ok ? 'ok' : `FAILED (${r.problem})`);
  return parts.join('  ');
}
