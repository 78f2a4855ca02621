// `npm run bench`: qget against the physical limit and against the peers that are installed
// (aria2c, axel, curl), run by run in alternating order, printing medians and ratios.
//   BENCH_RUNS=5 npm run bench            more runs per tool (default 3)
//   BENCH_SCENARIOS=capped npm run bench  only some scenarios (comma-separated)

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchServer, startNginx, startNodeServer, which, writeContent } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROOT = resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;

interface Tool {
  name: string;
  available: boolean;
  /** argv to download `url` into `out` with `n` connections. */
  argv(url: string, out: string, n: number): string[];
  /** Runs at most this many times (slow tools). */
  maxRuns?: number;
}

const TOOLS: Tool[] = [
  {
    name: 'qget',
    available: true,
    argv: (url, out, n) => [
      process.execPath,
      join(ROOT, 'bin/qget.js'),
      '-q',
      '-f',
      '-c',
      String(n),
      '-o',
      out,
      url,
    ],
  },
  {
    name: 'aria2c',
    available: which('aria2c') !== undefined,
    argv: (url, out, n) => [
      'aria2c',
      `-x${n}`,
      `-s${n}`,
      '-k1M',
      '-q',
      '--allow-overwrite=true',
      '--auto-file-renaming=false',
      '--file-allocation=none',
      '-d',
      resolve(out, '..'),
      '-o',
      out.split('/').pop()!,
      url,
    ],
  },
  {
    name: 'axel',
    available: which('axel') !== undefined,
    argv: (url, out, n) => ['axel', '-q', '-n', String(n), '-o', out, url],
  },
  {
    name: 'curl',
    available: which('curl') !== undefined,
    argv: (url, out) => ['curl', '-s', '-f', '-o', out, url],
    maxRuns: 1,
  },
];

interface Scenario {
  id: string;
  title: string;
  size: number;
  connections: number;
  /** Physical limit in seconds, when the scenario has one. */
  limit?: number;
  start(work: string): Promise<BenchServer & { file: string }>;
}

async function nginxOrNode(
  work: string,
  size: number,
  rate: number,
  extra: string[] = [],
): Promise<BenchServer & { file: string }> {
  if (which('nginx') && extra.length === 0) {
    const root = join(work, 'www');
    await mkdir(root, { recursive: true });
    await writeContent(join(root, 'file.bin'), size);
    const server = await startNginx(root, work, rate);
    return { ...server, file: `${server.url}/file.bin` };
  }
  const server = await startNodeServer(['--size', String(size), '--rate', String(rate), ...extra]);
  return { ...server, file: `${server.url}/file.bin` };
}

const SCENARIOS: Scenario[] = [
  {
    id: 'capped',
    title: 'per-connection cap: 256 MiB, 8 MiB/s per connection, 16 connections',
    size: 256 * MiB,
    connections: 16,
    limit: 256 / (16 * 8),
    start: (work) => nginxOrNode(work, 256 * MiB, 8 * MiB),
  },
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timeRun(argv: string[], cwd: string): Promise<{ seconds: number; code: number }> {
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  return { seconds: (performance.now() - t0) / 1000, code };
}

async function runScenario(s: Scenario): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), `qget-bench-${s.id}-`));
  const server = await s.start(work);
  const tools = TOOLS.filter((t) => t.available);
  const times = new Map<string, number[]>(tools.map((t) => [t.name, []]));
  try {
    for (let run = 0; run < RUNS; run++) {
      // Alternate the order run by run so no tool always gets a warm or cold machine.
      const order = run % 2 === 0 ? tools : [...tools].reverse();
      for (const tool of order) {
        if ((times.get(tool.name)?.length ?? 0) >= (tool.maxRuns ?? RUNS)) continue;
        const out = join(work, `out-${tool.name}.bin`);
        await rm(out, { force: true });
        const { seconds, code } = await timeRun(tool.argv(server.file, out, s.connections), work);
        const size = await stat(out).then(
          (st) => st.size,
          () => -1,
        );
        if (code !== 0 || size !== s.size) {
          console.log(`  ${tool.name}: run ${run + 1} failed (exit ${code}, ${size} bytes)`);
          continue;
        }
        times.get(tool.name)!.push(seconds);
        await rm(out, { force: true });
      }
    }
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
  console.log(`\n${s.title} (server: ${server.kind}, ${RUNS} runs)`);
  const qget = times.get('qget')!.length ? median(times.get('qget')!) : Number.NaN;
  console.log(
    `  ${'tool'.padEnd(8)} ${'median s'.padStart(9)} ${'runs'.padStart(5)} ${'/limit'.padStart(7)} ${'qget/tool'.padStart(10)}`,
  );
  for (const tool of tools) {
    const t = times.get(tool.name)!;
    if (t.length === 0) continue;
    const m = median(t);
    const vsLimit = s.limit ? (m / s.limit).toFixed(2) : '-';
    const ratio = tool.name === 'qget' ? '-' : (qget / m).toFixed(2);
    console.log(
      `  ${tool.name.padEnd(8)} ${m.toFixed(2).padStart(9)} ${String(t.length).padStart(5)} ${vsLimit.padStart(7)} ${ratio.padStart(10)}`,
    );
  }
  if (s.limit) console.log(`  physical limit: ${s.limit.toFixed(2)} s`);
}

const wanted = process.env.BENCH_SCENARIOS?.split(',');
for (const s of SCENARIOS) {
  if (!wanted || wanted.includes(s.id)) await runScenario(s);
}
