// daemon: the aria2 JSON-RPC daemon under load, qget --enable-rpc beside aria2c --enable-rpc,
// both on loopback against one nginx (or the node server).
//  load:   10,000 downloads added by system.multicall in batches of 500 (-j16: 16 run, each
//          over 2 connections of a 1 MiB/s-per-connection server, the rest wait), adds per
//          second; meanwhile and for 5 s after, another process asks tellWaiting(0, 1000) and
//          tellActive in turn (bench/rpc-sampler.ts): latency p50 / p99; and how long the
//          daemon's event loop ran and waited for a CPU while adding (/proc/PID/schedstat).
//  memory: a fresh daemon completes 1,000 downloads of 4 bytes (purged), then 100,000 in all
//          (purged as they go, BENCH_DAEMON_PURGED to change it; at most BENCH_DAEMON_PURGE_S
//          seconds, 420 by default, then the count reached is reported); VmRSS after each.
// Targets (issue 19): adds ≥ 0.5 × aria2c's rate, both p99 ≤ 25 ms, RSS after 100,000 within
// 10% of RSS after 1,000.
// BENCH_DAEMON_VARIANTS='base=/other/checkout/bin/qget.js;v8=--heap-growing-percent=0 bin/qget.js'
// runs more qget daemons in the same rounds (named qget:base, qget:v8; each the arguments of
// node in place of bin/qget.js): before and after a change, measured under the same load.

import { spawn } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { median, MiB } from './measure.js';
import { type Check, type Row, row } from './report.js';
import { type DaemonProcess, freePort, RpcClient, startDaemonProcess } from './rpc-client.js';
import type { Scenario } from './scenario.js';
import { type BenchServer, removeTree, startNginx, startNodeServer, which } from './servers.js';
import { installed, QGET } from './tools.js';

const ADDS = 10_000;
const BATCH = 500;
const RUNNING = 16;
const CONNECTIONS = 2;
const RATE = 1 * MiB;
const PURGED = Number(process.env.BENCH_DAEMON_PURGED ?? 100_000);
/** The memory run of a tool stops adding after this long (aria2c completes ~60 tiny files/s). */
const PURGE_BUDGET_S = Number(process.env.BENCH_DAEMON_PURGE_S ?? 420);

/** 'qget', 'aria2c', or 'qget:<name>' of BENCH_DAEMON_VARIANTS. */
type Tool = string;

const VARIANTS = new Map<Tool, string[]>(
  (process.env.BENCH_DAEMON_VARIANTS ?? '')
    .split(';')
    .filter((v) => v.includes('='))
    .map((v) => {
      const at = v.indexOf('=');
      return [
        `qget:${v.slice(0, at).trim()}`,
        v
          .slice(at + 1)
          .trim()
          .split(/\s+/),
      ] as const;
    }),
);

const isQget = (tool: Tool): boolean => tool === 'qget' || VARIANTS.has(tool);

function daemonArgv(tool: Tool, port: number, dir: string, extra: string[] = []): string[] {
  if (isQget(tool)) {
    const variant = VARIANTS.get(tool);
    return [
      ...(variant ? [process.execPath, ...variant] : QGET),
      '--enable-rpc',
      '--rpc-listen-port',
      String(port),
      '-j',
      String(RUNNING),
      '-d',
      dir,
      '-f',
      '-q',
      ...extra,
    ];
  }
  return [
    'aria2c',
    '--enable-rpc',
    `--rpc-listen-port=${port}`,
    `-j${RUNNING}`,
    `--dir=${dir}`,
    '--file-allocation=none',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '-q',
  ];
}

interface Latencies {
  waiting: number[];
  active: number[];
}

interface LoadResult {
  addSeconds: number;
  /** While the downloads are added, and in the 5 s after. */
  adding: Latencies;
  after: Latencies;
  /** Total download speed (MiB/s) sampled while adding and after. */
  speeds: number[];
  /** While adding: ms the daemon's event loop ran, and waited for a CPU (shared machine). */
  cpu?: { onCpu: number; waiting: number } | undefined;
  rssMiB: number;
}

const pct = (values: number[], p: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function startSampler(port: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'rpc-sampler.ts'), String(port)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sampler had no answer in 60 s')), 60_000);
    lines.once('line', (l) => {
      clearTimeout(timer);
      if (l === 'ready') resolve();
      else reject(new Error(`sampler: ${l}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the sampler exited (${code})`));
    });
  });
  ready.catch(() => {});
  const line = ready.then(() => new Promise<string>((resolve) => lines.once('line', resolve)));
  return {
    /** Resolves once the sampler has had its first answers (it is up and asking). */
    ready,
    /** From here on, latencies go to the next phase. */
    mark(): void {
      child.stdin!.write('mark\n');
    },
    kill(): void {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
    async stop(): Promise<Latencies[]> {
      child.stdin!.write('stop\n');
      return JSON.parse(await line);
    },
  };
}

function addCalls(url: string, from: number, n: number, options: Record<string, string>) {
  return Array.from({ length: n }, (_, i) => ({
    methodName: 'aria2.addUri',
    params: [[url], { ...options, out: `f${from + i}.bin` }],
  }));
}

function checkAdded(results: unknown[]): void {
  const bad = results.find((r) => !Array.isArray(r));
  if (bad !== undefined) throw new Error(`addUri failed: ${JSON.stringify(bad)}`);
}

async function loadRun(tool: Tool, url: string, work: string): Promise<LoadResult> {
  const dir = join(work, `load-${tool}`);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const daemon = await startDaemonProcess(daemonArgv(tool, port, dir), port);
  const speeds: number[] = [];
  let sampling = true;
  const statLoop = (async () => {
    const stats = new RpcClient(port);
    while (sampling) {
      await sleep(500);
      const s = await stats.call<{ downloadSpeed: string }>('aria2.getGlobalStat');
      speeds.push(Number(s.downloadSpeed) / MiB);
    }
    stats.close();
  })();
  const sampler = startSampler(port);
  try {
    await sampler.ready;
    await sleep(300);
    const options = {
      split: String(CONNECTIONS),
      'max-connection-per-server': String(CONNECTIONS),
    };
    const cpu0 = await daemon.cpuTimes();
    // The samples before the first add (the sampler's start) are not the adding phase's.
    sampler.mark();
    const t0 = performance.now();
    for (let at = 0; at < ADDS; at += BATCH) {
      checkAdded(await daemon.rpc.multicall(addCalls(url, at, BATCH, options)));
    }
    const addSeconds = (performance.now() - t0) / 1000;
    const cpu1 = await daemon.cpuTimes();
    const cpu =
      cpu0 && cpu1
        ? { onCpu: cpu1.onCpu - cpu0.onCpu, waiting: cpu1.waiting - cpu0.waiting }
        : undefined;
    sampler.mark();
    await sleep(5000);
    const phases = await sampler.stop();
    const rssMiB = await daemon.rssMiB();
    const stat = await daemon.rpc.call<Record<string, string>>('aria2.getGlobalStat');
    if (Number(stat.numActive) + Number(stat.numWaiting) + Number(stat.numStoppedTotal) !== ADDS) {
      throw new Error(`${tool}: expected ${ADDS} downloads, getGlobalStat ${JSON.stringify(stat)}`);
    }
    return {
      addSeconds,
      adding: phases[1] ?? { waiting: [], active: [] },
      after: phases[2] ?? { waiting: [], active: [] },
      speeds: speeds.slice(2),
      rssMiB,
      cpu,
    };
  } finally {
    sampling = false;
    sampler.kill();
    await statLoop.catch(() => {});
    await daemon.stop();
    await removeTree(dir);
  }
}

interface MemoryResult {
  rss1k: number;
  rssAll: number;
  /** Downloads completed and purged when rssAll was read (PURGED unless out of time). */
  count: number;
  seconds: number;
  errors: number;
}

/** Add tiny downloads (at most ~1,000 waiting) until `total` have stopped (or until
 * `deadline`: then the ones added are waited for); purge as they go. */
async function complete(
  d: DaemonProcess,
  url: string,
  from: number,
  total: number,
  deadline = Number.POSITIVE_INFINITY,
): Promise<{ errors: number; added: number }> {
  let added = from;
  let errors = 0;
  const sweep = async (): Promise<void> => {
    const stopped = await d.rpc.call<{ status: string }[]>('aria2.tellStopped', 0, 1000, [
      'status',
    ]);
    errors += stopped.filter((s) => s.status !== 'complete').length;
    await d.rpc.call('aria2.purgeDownloadResult');
  };
  for (;;) {
    const s = await d.rpc.call<Record<string, string>>('aria2.getGlobalStat');
    const pending = Number(s.numActive) + Number(s.numWaiting);
    if (Number(s.numStopped) >= 500) await sweep();
    if (added >= total && pending === 0) break;
    if (performance.now() > deadline) total = added;
    if (added < total && Number(s.numWaiting) < BATCH) {
      const n = Math.min(BATCH, total - added);
      checkAdded(await d.rpc.multicall(addCalls(url, added, n, { split: '1' })));
      added += n;
    } else {
      await sleep(50);
    }
  }
  await sweep();
  return { errors, added };
}

async function memoryRun(tool: Tool, url: string, work: string): Promise<MemoryResult> {
  const dir = join(work, `memory-${tool}`);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  // Tiny files: fsync would measure the disk, not the daemon (aria2c does not fsync).
  const extra = isQget(tool) ? ['--no-fsync'] : [];
  const d = await startDaemonProcess(daemonArgv(tool, port, dir, extra), port);
  try {
    const t0 = performance.now();
    const first = await complete(d, url, 0, 1000);
    await sleep(2000);
    const rss1k = await d.rssMiB();
    const all = await complete(d, url, 1000, PURGED, t0 + PURGE_BUDGET_S * 1000);
    const seconds = (performance.now() - t0) / 1000;
    await sleep(2000);
    const rssAll = await d.rssMiB();
    return { rss1k, rssAll, seconds, errors: first.errors + all.errors, count: all.added };
  } finally {
    await d.stop();
    await removeTree(dir);
  }
}

async function serve(work: string): Promise<{ server: BenchServer; big: string; tiny: string }> {
  if (which('nginx')) {
    const root = join(work, 'www');
    await mkdir(root, { recursive: true });
    const fh = await open(join(root, 'big.bin'), 'w');
    await fh.truncate(1024 * MiB); // sparse: no download finishes while the bench watches
    await fh.close();
    await writeFile(join(root, 'tiny.bin'), 'qget');
    const server = await startNginx(root, work, RATE);
    return { server, big: `${server.url}/big.bin`, tiny: `${server.url}/tiny.bin` };
  }
  // The node server serves one content at every path and rate: the tiny files get its size.
  const server = await startNodeServer(['--size', String(4), '--rate', String(RATE)]);
  return { server, big: `${server.url}/big.bin`, tiny: `${server.url}/tiny.bin` };
}

const ms = (v: number): string => v.toFixed(1);

export const daemonLoad: Scenario = {
  id: 'daemon',
  title:
    `daemon under load: ${ADDS} adds by system.multicall (${BATCH} a call), -j${RUNNING}; ` +
    `tellWaiting(0,1000) / tellActive latency; RSS after 1,000 and ${PURGED} purged`,
  async run(ctx) {
    const tools: Tool[] = [...(['qget', 'aria2c'] as const).filter(installed), ...VARIANTS.keys()];
    const { server, big, tiny } = await serve(ctx.work);
    try {
      const load = new Map<Tool, LoadResult[]>(tools.map((t) => [t, []]));
      for (let round = 0; round < ctx.runs; round++) {
        for (const tool of round % 2 === 0 ? tools : [...tools].reverse()) {
          const r = await loadRun(tool, big, ctx.work);
          load.get(tool)!.push(r);
          const lat = (l: Latencies): string =>
            `tellWaiting ${ms(pct(l.waiting, 50))}/${ms(pct(l.waiting, 99))}, ` +
            `tellActive ${ms(pct(l.active, 50))}/${ms(pct(l.active, 99))} ms (${l.waiting.length})`;
          console.log(
            `  ${tool.padEnd(9)} load ${round + 1}: ${ADDS} adds in ${r.addSeconds.toFixed(2)} s ` +
              `(${Math.round(ADDS / r.addSeconds)}/s); p50/p99 adding: ${lat(r.adding)}; ` +
              `after: ${lat(r.after)}; speed median ${median(r.speeds)?.toFixed(1)} MiB/s; ` +
              `RSS ${Math.round(r.rssMiB)} MiB` +
              (r.cpu
                ? `; event loop while adding: ${Math.round(r.cpu.onCpu)} ms on a CPU, ` +
                  `${Math.round(r.cpu.waiting)} ms waiting for one`
                : ''),
          );
        }
      }
      const memory = new Map<Tool, MemoryResult>();
      for (const tool of tools) {
        const m = await memoryRun(tool, tiny, ctx.work);
        memory.set(tool, m);
        console.log(
          `  ${tool.padEnd(9)} memory: RSS ${m.rss1k.toFixed(1)} MiB after 1,000, ` +
            `${m.rssAll.toFixed(1)} MiB after ${m.count} (${m.seconds.toFixed(0)} s, ${m.errors} errors)`,
        );
      }
      return { rows: rows(load, memory), notes: notes() };
    } finally {
      await server.stop();
    }
  },
};

function rows(load: Map<Tool, LoadResult[]>, memory: Map<Tool, MemoryResult>): Row[] {
  const out: Row[] = [];
  const summary = (tool: Tool) => {
    const runs = load.get(tool) ?? [];
    if (runs.length === 0) return undefined;
    const of = (phase: 'adding' | 'after', list: 'waiting' | 'active', p: number): number =>
      median(runs.map((r) => pct(r[phase][list], p)))!;
    return {
      add: median(runs.map((r) => r.addSeconds))!,
      phases: (['adding', 'after'] as const).map((phase) => ({
        phase,
        waiting: of(phase, 'waiting', 99),
        waiting50: of(phase, 'waiting', 50),
        active: of(phase, 'active', 99),
        active50: of(phase, 'active', 50),
      })),
      speed: median(runs.flatMap((r) => r.speeds)) ?? 0,
      rss: Math.max(...runs.map((r) => r.rssMiB)),
    };
  };
  const q = summary('qget');
  const a = summary('aria2c');
  const full = (RUNNING * CONNECTIONS * RATE) / MiB;
  for (const [tool, s] of [
    ['qget', q] as const,
    ['aria2c', a] as const,
    ...[...VARIANTS.keys()].map((v) => [v, summary(v)] as const),
  ]) {
    if (!s) continue;
    const checks: Check[] = [{ text: `${Math.round(ADDS / s.add)} adds/s`, met: 'info' }];
    if (tool === 'aria2c' && q) {
      const r = s.add / q.add;
      checks.push({ text: `qget/aria2c rate ${r.toFixed(2)} ≥ 0.5`, met: r >= 0.5 ? 'yes' : 'no' });
    }
    if (VARIANTS.has(tool) && a) {
      const r = a.add / s.add;
      checks.push({
        text: `${tool}/aria2c rate ${r.toFixed(2)} ≥ 0.5`,
        met: r >= 0.5 ? 'yes' : 'no',
      });
    }
    checks.push({ text: `speed ${s.speed.toFixed(0)}/${full} MiB/s`, met: 'info' });
    out.push(fake('daemon adds', tool, s.add, checks, s.rss));
    const lat = (name: string, p50: number, p99: number): Check => ({
      text: `${name} p50/p99 ${ms(p50)}/${ms(p99)} ms`,
      met: isQget(tool) ? (p99 <= 25 ? 'yes' : 'no') : 'info',
    });
    for (const p of s.phases) {
      out.push(
        fake(`daemon latency ${p.phase}`, tool, undefined, [
          lat('tellWaiting', p.waiting50, p.waiting),
          lat('tellActive', p.active50, p.active),
          ...(isQget(tool) ? [{ text: 'p99 ≤ 25', met: 'info' as const }] : []),
        ]),
      );
    }
  }
  for (const [tool, m] of memory) {
    const growth = (m.rssAll / m.rss1k - 1) * 100;
    out.push(
      fake(
        'daemon purged',
        tool,
        m.seconds,
        [
          {
            text: `RSS 1,000: ${m.rss1k.toFixed(0)} → ${m.count}: ${m.rssAll.toFixed(0)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(0)}%)${isQget(tool) ? ' ≤ +10%' : ''}`,
            met: isQget(tool) ? (growth <= 10 && m.count >= PURGED ? 'yes' : 'no') : 'info',
          },
          ...(m.errors > 0 ? [{ text: `${m.errors} errors`, met: 'no' as const }] : []),
        ],
        m.rssAll,
      ),
    );
  }
  return out;
}

/** A row from figures that are not a compare() summary. */
function fake(
  scenario: string,
  tool: string,
  wall: number | undefined,
  checks: Check[],
  rss?: number,
): Row {
  return row(
    scenario,
    {
      name: tool,
      runs: [],
      lowerBound: false,
      ...(wall === undefined ? {} : { wall }),
      ...(rss === undefined ? {} : { rssMiB: rss }),
    },
    checks,
  );
}

function notes(): string[] {
  return [
    `daemon adds: wall = seconds for ${ADDS} addUri in system.multicall calls of ${BATCH}, -j${RUNNING}, ` +
      `each running download over ${CONNECTIONS} connections at ${RATE / MiB} MiB/s (speed: getGlobalStat, median); RSS after the adds`,
    "daemon latency: tellWaiting(0,1000) and tellActive (every key) from another process, one at a time every 50 ms, timed to the last byte, while adding and in the 5 s after (medians of the runs' percentiles); each run's line shows how long the daemon's event loop ran on a CPU while adding, and how long it was runnable but waiting for one (the machine's share of the latency)",
    `daemon purged: wall = seconds for ${PURGED} downloads of 4 bytes (≤ ${BATCH * 2} waiting, results purged as they go; adding stops after ${PURGE_BUDGET_S} s); qget with --no-fsync; RSS read 2 s after the last purge`,
  ];
}
