// `npm run bench`: qget against the physical limit and, side by side, against the peers that
// are installed (aria2c, axel, curl, wget2), run by run in alternating order; prints each run,
// then one summary table with medians, ratios and whether each target is met. Installs only
// ipull, with npm into a temporary folder (bench/ipull.ts; BENCH_IPULL=0: without it);
// without nginx it serves from the project's own throttle server, missing peers are skipped.
//   BENCH_RUNS=5 npm run bench                   runs per tool (default 3)
//   BENCH_SCENARIOS=capped,uneven npm run bench  only some scenarios (comma-separated ids)
//   BENCH_KEEP=1 npm run bench                   keep the work directories
//   BENCH_QGET_ARGS=--no-fsync npm run bench     extra options for every qget command line
// Scenarios: capped, uneven, crawling, unthrottled, squid, small-files, memory, startup, daemon
// (README: Benchmark).

import { mkdir, mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { crawling } from './crawling.js';
import { daemonLoad } from './daemon.js';
import { capped, memory, uneven, unthrottled } from './downloads.js';
import { prepareIpull } from './ipull.js';
import { squid } from './proxied.js';
import { haveGnuTime, killRunning } from './measure.js';
import { printTable, type Row } from './report.js';
import type { Scenario } from './scenario.js';
import { ContentStore, removeTree, stopServers, which } from './servers.js';
import { smallFiles } from './small-files.js';
import { startup } from './startup.js';
import { versions } from './tools.js';

const SCENARIOS: Scenario[] = [
  capped,
  uneven,
  crawling,
  unthrottled,
  squid,
  smallFiles,
  memory,
  startup,
  daemonLoad,
];

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
if (!Number.isSafeInteger(RUNS) || RUNS < 1) {
  console.error('BENCH_RUNS must be a positive integer');
  process.exit(2);
}
const KEEP = process.env.BENCH_KEEP === '1';
const wanted = process.env.BENCH_SCENARIOS?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = wanted?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
if (unknown.length) {
  console.error(
    `unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`,
  );
  process.exit(2);
}
const chosen = SCENARIOS.filter((s) => !wanted || wanted.includes(s.id));

const work = await mkdtemp(join(tmpdir(), 'qget-bench-'));
const cleanup = async (): Promise<void> => {
  if (KEEP) console.log(`\nwork directories kept in ${work}`);
  else await removeTree(work);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killRunning();
    stopServers()
      .then(cleanup)
      .finally(() => process.exit(130));
  });
}

await prepareIpull();
console.log(`tools: ${versions()}`);
console.log(
  `server: ${which('nginx') ? 'nginx' : 'node throttle server (nginx not installed)'}; ` +
    `CPU time and peak RSS: ${haveGnuTime() ? 'GNU time' : 'not measured (no GNU /usr/bin/time)'}; ` +
    `${cpus().length} CPUs; ${RUNS} runs per tool; work dir ${work}`,
);

const started = performance.now();
const rows: Row[] = [];
const notes: string[] = [];
const store = new ContentStore(join(work, 'content'));
try {
  for (const s of chosen) {
    console.log(`\n== ${s.id}: ${s.title}`);
    const scenarioWork = join(work, s.id);
    await mkdir(scenarioWork, { recursive: true });
    try {
      const outcome = await s.run({ runs: RUNS, work: scenarioWork, store });
      rows.push(...outcome.rows);
      notes.push(...outcome.notes);
    } catch (e) {
      console.log(`  scenario failed: ${e instanceof Error ? e.stack : String(e)}`);
      rows.push({
        scenario: s.id,
        tool: '-',
        wall: '-',
        target: `scenario failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 80),
        cpu: '-',
        rss: '-',
        met: 'no',
      });
    } finally {
      if (!KEEP) await removeTree(scenarioWork);
    }
  }
} finally {
  await cleanup();
}

const minutes = (performance.now() - started) / 60_000;
console.log(`\nSummary (${RUNS} runs per tool, alternating order; ratios are qget / tool):\n`);
printTable(rows);
console.log('');
for (const note of notes) console.log(`  ${note}`);
console.log(
  '  wall: median of the good runs ([k/n ok] when some failed, >T when every run timed out);' +
    ' CPU: median user+sys; peak RSS: largest of the good runs',
);
console.log(`\nbench took ${minutes.toFixed(1)} min`);
