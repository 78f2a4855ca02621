// `npm run bench:mirrors`: one file from three local mirrors at once (issue 15). Each mirror is
// an nginx of its own (its port, root and access log) pacing every connection at 8 MiB/s
// (`limit_rate`); the project's node throttle server in its own process when nginx (or `ss`) is
// missing. qget runs as installed (bin/qget.js) with -c 12 in all and --json. Four scenarios,
// each run BENCH_RUNS times (default 3):
//   one     the baseline: one server, the same -c 12 (the same combined limit)
//   agree   three mirrors serving the same bytes: wall against the combined limit (12 × 8 MiB/s)
//   killed  the same, one mirror killed (SIGKILL, nginx's master and worker) once half the file
//           is sent: the cost over `agree`
//   liar    one mirror serving other bytes of the same size: the file must still be right
// For every run: wall time, and the bytes each mirror sent by its own count (nginx: `$bytes_sent`
// of its logged requests, and the bytes its open sockets had sent when it was killed; see
// bench/mirror-servers.ts), beside what qget says it accepted from each (--json `sources`).
//   BENCH_MIRRORS_MIB=384 npm run bench:mirrors   file size in MiB (default 384)
//   BENCH_SCENARIOS=one,killed npm run bench:mirrors   only some scenarios

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiB, median, sha256File } from './measure.js';
import { listing, phases, readRequests, spans } from './mirror-timeline.js';
import { haveNginx, type Mirror, sentBy, startMirror } from './mirror-servers.js';
import { ContentStore, removeTree, stopServers } from './servers.js';

const RATE = 8 * MiB;
const CONNECTIONS = 12;
const SIZE = Number(process.env.BENCH_MIRRORS_MIB ?? 384) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BIN = join(import.meta.dirname, '..', 'bin', 'qget.js');
const wanted = process.env.BENCH_SCENARIOS?.split(',').map((s) => s.trim());
/** Extra qget arguments, e.g. BENCH_QGET_ARGS=--debug (its stderr is shown). */
/** 1: where each run's time went (bench/mirror-timeline.ts), 2: every request too. */
const TIMELINE = Number(process.env.BENCH_TIMELINE ?? 0);
const extraArgs = process.env.BENCH_QGET_ARGS?.split(' ').filter(Boolean) ?? [];

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
  /** nginx: seconds from qget's spawn to its first request (start-up, the CLI's and Node's). */
  startup?: number;
  /** nginx: seconds from the first request to the last byte sent. */
  transfer?: number;
}

async function runQget(
  urls: string[],
  dir: string,
  expected: string,
  during?: (elapsedMs: number) => Promise<void>,
): Promise<Omit<RunFigures, 'sent'> & { t0: number; exit: number }> {
  const out = join(dir, 'out.bin');
  const args = [BIN, urls[0]!, ...urls.slice(1).flatMap((u) => ['--mirror', u])];
  args.push('-c', String(CONNECTIONS), '-o', out, '--json', '--no-fsync', ...extraArgs);
  const t0 = performance.now();
  const epoch0 = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  const exited = once(child, 'exit');
  if (during) await during(performance.now() - t0);
  const [code] = (await exited) as [number | null];
  const wall = (performance.now() - t0) / 1000;
  const exit = Date.now();
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
    t0: epoch0,
    exit,
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
  store: ContentStore,
  work: string,
): Promise<RunFigures[]> {
  const results: RunFigures[] = [];
  const ideal = SIZE / (CONNECTIONS * RATE);
  if (wanted && !wanted.includes(id)) return results;
  for (let run = 1; run <= RUNS; run++) {
    const mirrors: Mirror[] = [];
    try {
      for (const [i, seed] of seeds.entries()) {
        mirrors.push(await startMirror(store, join(work, `${id}-${run}`), i, SIZE, RATE, seed));
      }
      // Mirror 1 is killed once half the file is sent, by the mirrors' counts. A look at the
      // sockets costs tens of ms of CPU, so few looks: each waits until about when the half
      // should be reached at the rate seen so far (at most 250 ms).
      const during = kill
        ? async () => {
            let last = { at: performance.now(), bytes: 0 };
            for (;;) {
              const bytes = (await sentBy(mirrors)).reduce((a, b) => a + b, 0);
              const now = performance.now();
              if (bytes >= SIZE / 2) break;
              const rate = (bytes - last.bytes) / Math.max(1, now - last.at);
              const eta = rate > 0 ? (SIZE / 2 - bytes) / rate : 250;
              last = { at: now, bytes };
              await new Promise((r) => setTimeout(r, Math.max(5, Math.min(250, eta))));
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
      await Promise.all(mirrors.map((m) => m.stop()));
      const sent = await Promise.all(mirrors.map((m) => m.sent()));
      const { t0, exit, ...kept } = figures;
      const requests = (
        await Promise.all(
          mirrors.map((m, i) => (m.accessLog ? readRequests(i, m.accessLog, t0) : [])),
        )
      ).flat();
      const phase = requests.length > 0 ? spans(requests, t0) : undefined;
      results.push({ ...kept, sent, ...(phase ?? {}) });
      console.log(
        `  ${id} run ${run}: ${figures.wall.toFixed(2)} s (ideal ${ideal.toFixed(2)} s${phase ? `; first request at ${phase.startup.toFixed(2)} s, first to last byte ${phase.transfer.toFixed(2)} s` : ''}), file ${figures.ok ? 'right' : 'WRONG'}; ` +
          `sent by the mirrors ${sent.map(MB).join(' / ')}; qget took ${figures.sources.map((s) => `${MB(s.bytes)} (${s.state}, ≤${s.maxConnections} conn)`).join(' / ')}` +
          (figures.warnings.length ? `; warnings: ${figures.warnings.join(' | ')}` : ''),
      );
      if (TIMELINE > 0) {
        console.log(`    ${phases(requests, t0, exit, CONNECTIONS)}`);
        if (TIMELINE > 1) console.log(`    ${listing(requests, t0)}`);
      }
    } finally {
      await Promise.all(mirrors.map((m) => m.stop()));
      await removeTree(join(work, `${id}-${run}`));
    }
  }
  return results;
}

const work = await mkdtemp(join(tmpdir(), 'qget-bench-mirrors-'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopServers().finally(() => process.exit(130));
  });
}
try {
  const store = new ContentStore(join(work, 'content'));
  const expected = await store.sha256(SIZE, 1);
  const ideal = SIZE / (CONNECTIONS * RATE);
  console.log(
    `${MB(SIZE)} from three mirrors (${haveNginx() ? 'nginx, limit_rate' : 'node throttle servers: nginx or ss not installed'}) at ${MB(RATE)}/s per connection, -c ${CONNECTIONS}: combined limit ${MB(CONNECTIONS * RATE)}/s, ideal ${ideal.toFixed(2)} s; ${RUNS} runs each`,
  );
  const one = await scenario('one', [1], false, expected, store, work);
  const agree = await scenario('agree', [1, 1, 1], false, expected, store, work);
  const killed = await scenario('killed', [1, 1, 1], true, expected, store, work);
  const liar = await scenario('liar', [1, 99, 1], false, expected, store, work);
  const wall = (r: RunFigures[]): number => median(r.map((x) => x.wall)) ?? Number.NaN;
  const all = (r: RunFigures[]): boolean => r.every((x) => x.ok);
  const medianSent = (r: RunFigures[]): string =>
    (r[0]?.sent ?? []).map((_, i) => MB(median(r.map((x) => x.sent[i] ?? 0)) ?? 0)).join(' / ');
  console.log(
    '\nscenario  median wall  vs ideal  first req  1st-last byte  target                    files   median bytes sent per mirror',
  );
  const med = (r: RunFigures[], k: 'startup' | 'transfer'): string => {
    const m = median(r.flatMap((x) => (x[k] !== undefined ? [x[k]] : [])));
    return m === undefined ? '      -' : `${m.toFixed(2).padStart(7)} s`;
  };
  const line = (id: string, r: RunFigures[], target: string, met: boolean): void => {
    if (r.length === 0) return;
    console.log(
      `${id.padEnd(9)} ${wall(r).toFixed(2).padStart(8)} s  ${(wall(r) / ideal).toFixed(2).padStart(7)}x  ${med(r, 'startup')}  ${med(r, 'transfer').padStart(13)}  ${target.padEnd(24)}  ${all(r) ? 'right' : 'WRONG'}   ${medianSent(r)}  ${met ? 'met' : 'NOT MET'}`,
    );
  };
  line('one', one, 'baseline (one server)', true);
  line('agree', agree, '≤ 1.1x ideal', wall(agree) <= 1.1 * ideal);
  line('killed', killed, '≤ agree + 1 s', wall(killed) <= wall(agree) + 1);
  const liarClean = liar.every((x) => x.ok && x.sources[1]?.bytes === 0);
  line('liar', liar, 'liar never in the file', liarClean);
} finally {
  await stopServers();
  await rm(work, { recursive: true, force: true });
}
