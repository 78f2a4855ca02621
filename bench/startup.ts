// startup: `qget --version`, 20 runs, median wall (hyperfine -N when installed, else a loop
// here), plus one run under GNU time for the peak RSS.

import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { haveGnuTime, median, runMeasured } from './measure.js';
import { bound, row, secs } from './report.js';
import type { Scenario } from './scenario.js';
import { which } from './servers.js';
import { QGET } from './tools.js';

const RUNS = 20;

export const startup: Scenario = {
  id: 'startup',
  title: `startup: qget --version, median of ${RUNS} runs`,
  async run(ctx) {
    const argv = [...QGET, '--version'];
    let wall: number | undefined;
    let cpu: number | undefined;
    let how: string;
    if (which('hyperfine')) {
      const json = join(ctx.work, 'hyperfine.json');
      const command = argv.map((a) => (/^[\w./:=-]+$/.test(a) ? a : `'${a}'`)).join(' ');
      spawnSync(
        'hyperfine',
        [
          '-N',
          '--runs',
          String(RUNS),
          '--warmup',
          '3',
          '--style',
          'none',
          '--export-json',
          json,
          command,
        ],
        { stdio: 'ignore' },
      );
      const text = await readFile(json, 'utf8').catch(() => '');
      const r = text
        ? (JSON.parse(text) as { results: { median: number; user: number; system: number }[] })
            .results[0]
        : undefined;
      if (r) {
        wall = r.median;
        cpu = r.user + r.system;
      }
      how = 'hyperfine -N, 3 warm-up runs; CPU = mean user + sys';
    } else {
      const walls: number[] = [];
      for (let i = 0; i < RUNS + 3; i++) {
        const t0 = performance.now();
        spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
        if (i >= 3) walls.push((performance.now() - t0) / 1000);
      }
      wall = median(walls);
      how = 'a spawn loop (no hyperfine), 3 warm-up runs';
    }
    const once = await runMeasured(argv, ctx.work, 30);
    cpu ??= once.cpu;
    console.log(
      `  median ${secs(wall)} s (${how}); peak RSS of one run: ${once.rssMiB?.toFixed(0) ?? '?'} MiB`,
    );
    const summary = {
      name: 'qget',
      runs: [{ ...once, ok: once.code === 0 }],
      lowerBound: false,
      ...(wall === undefined ? {} : { wall }),
      ...(cpu === undefined ? {} : { cpu }),
      ...(once.rssMiB === undefined ? {} : { rssMiB: once.rssMiB }),
    };
    return {
      rows: [row(this.id, summary, [bound(wall, 0.15, (v) => `${v} s ≤ 0.150`, 3)])],
      notes: [
        `${this.id}: ${how}; ${haveGnuTime() ? 'peak RSS from one run under GNU time' : 'peak RSS not measured (no GNU time)'}`,
      ],
    };
  },
};
