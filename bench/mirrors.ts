// `npm run bench:mirrors`: one file from three local mirrors at once (issue 15). Each mirror is
// the project's throttle server in its own process, pacing every connection at 8 MiB/s; qget
// runs as installed (bin/qget.js) with -c 12 in all and --json. Three scenarios, each run
// BENCH_RUNS times (default 3):
//   one     the baseline: one server, the same -c 12 (the same combined limit)
//   agree   three mirrors serving the same bytes: wall against the combined limit (12 × 8 MiB/s)
//   killed  the same, one mirror killed (SIGKILL) once half the file is sent: the cost over `agree`
//   liar    one mirror serving other bytes of the same size: the file must still be right
// For every run: wall time, and the bytes each mirror sent by its own count (its `stats` line),
// beside what qget says it accepted from each (--json `sources`).
//   BENCH_MIRRORS_MIB=384 npm run bench:mirrors   file size in MiB (default 384)
//   BENCH_SCENARIOS=one,killed npm run bench:mirrors   only some scenarios

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeContent, sha256 } from '../test/helpers/content.js';
import { MiB, median, sha256File } from './measure.js';

const RATE = 8 * MiB;
const CONNECTIONS = 12;
const SIZE = Number(process.env.BENCH_MIRRORS_MIB ?? 384) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BIN = join(import.meta.dirname, '..', 'bin', 'qget.js');
const wanted = process.env.BENCH_SCENARIOS?.split(',').map((s) => s.trim());

interface Mirror {
  url: string;
  child: ChildProcess;
  /** Bytes sent since the previous call (the server's own count; its counters are reset). */
  sent(): Promise<number>;
  kill(): Promise<void>;
}

async function startMirror(seed: number): Promise<Mirror> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'throttle-server.ts'),
      '--size',
      String(SIZE),
      '--rate',
      String(RATE),
      '--seed',
      String(seed),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('mirror exited');
    return value as string;
  };
  const url = (await next()).trim();
  return {
    url,
    child,
    sent: async () => {
      child.stdin!.write('stats\n');
      return (JSON.parse(await next()) as { bytesSent: number }).bytesSent;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

interface SourceJson {
  url: string;
  state: string;
  bytes: number;
  maxConnections: number;
  error?: string;
}

interface RunFigures {
  wall: number;
  ok: boolean;
  /** Bytes each mirror sent (its own count). */
  sent: number[];
  /** What qget accepted from each, and their states. */
  sources: SourceJson[];
  warnings: string[];
}

async function runQget(
  urls: string[],
  dir: string,
  expected: string,
  during?: (elapsedMs: number) => Promise<void>,
): Promise<Omit<RunFigures, 'sent'>> {
  const out = join(dir, 'out.bin');
  const args = [BIN, urls[0]!, ...urls.slice(1).flatMap((u) => ['--mirror', u])];
  args.push('-c', String(CONNECTIONS), '-o', out, '--json', '--no-fsync');
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  const exited = once(child, 'exit');
  if (during) await during(performance.now() - t0);
  const [code] = (await exited) as [number | null];
  const wall = (performance.now() - t0) / 1000;
  const events = stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map(
      (l) =>
        JSON.parse(l) as {
          event: string;
          state?: string;
          message?: string;
          sources?: SourceJson[];
        },
    );
  const final = events.filter((e) => e.event === 'state').pop();
  const ok = code === 0 && (await sha256File(out).catch(() => '')) === expected;
  await rm(out, { force: true });
  return {
    wall,
    ok,
    sources: final?.sources ?? [],
    warnings: events.filter((e) => e.event === 'warning').map((e) => e.message ?? ''),
  };
}

const MB = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

async function scenario(
  id: string,
  seeds: number[],
  kill: boolean,
  expected: string,
  work: string,
): Promise<RunFigures[]> {
  const results: RunFigures[] = [];
  const ideal = SIZE / (CONNECTIONS * RATE);
  if (wanted && !wanted.includes(id)) return results;
  for (let run = 1; run <= RUNS; run++) {
    const mirrors = await Promise.all(seeds.map((s) => startMirror(s)));
    /** Bytes sent so far by each (a stats line resets a server's counters). */
    const acc = seeds.map(() => 0);
    try {
      // Every 50 ms the servers' counts; mirror 1 is killed once half the file is sent.
      const during = kill
        ? async () => {
            while (acc.reduce((a, b) => a + b, 0) < SIZE / 2) {
              await new Promise((r) => setTimeout(r, 50));
              const now = await Promise.all(mirrors.map((m) => m.sent()));
              now.forEach((n, i) => {
                acc[i]! += n;
              });
            }
            await mirrors[1]!.kill();
          }
        : undefined;
      const figures = await runQget(
        mirrors.map((m) => m.url),
        work,
        expected,
        during,
      );
      const sent = await Promise.all(
        mirrors.map(async (m, i) => acc[i]! + (kill && i === 1 ? 0 : await m.sent())),
      );
      results.push({ ...figures, sent });
      console.log(
        `  ${id} run ${run}: ${figures.wall.toFixed(2)} s (ideal ${ideal.toFixed(2)} s), file ${figures.ok ? 'right' : 'WRONG'}; ` +
          `sent by the mirrors ${sent.map(MB).join(' / ')}; qget took ${figures.sources.map((s) => `${MB(s.bytes)} (${s.state}, ≤${s.maxConnections} conn)`).join(' / ')}` +
          (figures.warnings.length ? `; warnings: ${figures.warnings.join(' | ')}` : ''),
      );
    } finally {
      await Promise.all(mirrors.map((m) => m.kill()));
    }
  }
  return results;
}

const work = await mkdtemp(join(tmpdir(), 'qget-bench-mirrors-'));
try {
  const expected = sha256(makeContent(SIZE, 1));
  const ideal = SIZE / (CONNECTIONS * RATE);
  console.log(
    `${MB(SIZE)} from three mirrors at ${MB(RATE)}/s per connection, -c ${CONNECTIONS}: combined limit ${MB(CONNECTIONS * RATE)}/s, ideal ${ideal.toFixed(2)} s; ${RUNS} runs each`,
  );
  const one = await scenario('one', [1], false, expected, work);
  const agree = await scenario('agree', [1, 1, 1], false, expected, work);
  const killed = await scenario('killed', [1, 1, 1], true, expected, work);
  const liar = await scenario('liar', [1, 99, 1], false, expected, work);
  const wall = (r: RunFigures[]): number => median(r.map((x) => x.wall)) ?? Number.NaN;
  const all = (r: RunFigures[]): boolean => r.every((x) => x.ok);
  const medianSent = (r: RunFigures[]): string =>
    (r[0]?.sent ?? []).map((_, i) => MB(median(r.map((x) => x.sent[i] ?? 0)) ?? 0)).join(' / ');
  console.log(
    '\nscenario  median wall  vs ideal  target                    files   median bytes sent per mirror',
  );
  const line = (id: string, r: RunFigures[], target: string, met: boolean): void => {
    if (r.length === 0) return;
    console.log(
      `${id.padEnd(9)} ${wall(r).toFixed(2).padStart(8)} s  ${(wall(r) / ideal).toFixed(2).padStart(7)}x  ${target.padEnd(24)}  ${all(r) ? 'right' : 'WRONG'}   ${medianSent(r)}  ${met ? 'met' : 'NOT MET'}`,
    );
  };
  line('one', one, 'baseline (one server)', true);
  line('agree', agree, '≤ 1.1x ideal', wall(agree) <= 1.1 * ideal);
  line('killed', killed, '≤ agree + 1 s', wall(killed) <= wall(agree) + 1);
  const liarClean = liar.every((x) => x.ok && x.sources[1]?.bytes === 0);
  line('liar', liar, 'liar never in the file', liarClean);
} finally {
  await rm(work, { recursive: true, force: true });
}
