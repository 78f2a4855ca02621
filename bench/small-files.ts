// small-files: 200 files × 256 KiB, 8 at a time, one connection each, one process per tool
// with the URL list in a file. nginx logs `$connection` for this scenario only, so the bench can
// count the TCP connections each tool opened (they should be reused across the files).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Contender, compare } from './compare.js';
import { checkFile, type Expected } from './measure.js';
import { type Check, type Row, ratio, row } from './report.js';
import type { Scenario } from './scenario.js';
import { type BenchServer, startNginx, startNodeServer, which, writeContent } from './servers.js';
import { installed, many } from './tools.js';

const FILES = 200;
const SIZE = 256 * 1024;
const PARALLEL = 8;

export const smallFiles: Scenario = {
  id: 'small-files',
  title: `small files: ${FILES} × 256 KiB, ${PARALLEL} at a time, 1 connection each, one process`,
  async run(ctx) {
    const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(3, '0')}.bin`);
    const expected = new Map<string, Expected>();
    let server: BenchServer;
    if (which('nginx')) {
      const root = join(ctx.work, 'www');
      await mkdir(root, { recursive: true });
      for (const [i, name] of names.entries()) {
        expected.set(name, {
          size: SIZE,
          sha256: await writeContent(join(root, name), SIZE, i + 2),
        });
      }
      server = await startNginx(root, ctx.work, 0, { accessLog: true });
    } else {
      // The node server answers every path with the same content.
      const sha256 = await ctx.store.sha256(SIZE);
      for (const name of names) expected.set(name, { size: SIZE, sha256 });
      server = await startNodeServer(['--size', String(SIZE)]);
    }
    const list = join(ctx.work, 'urls.txt');
    await writeFile(list, `${names.map((n) => `${server.url}/${n}`).join('\n')}\n`);
    try {
      const contenders: Contender[] = (['qget', 'aria2c', 'wget2'] as const)
        .filter(installed)
        .map((name) => ({
          name,
          argv: (dir: string) => many[name](list, dir, PARALLEL),
          check: async (dir: string) => {
            for (const file of names) {
              const e = expected.get(file)!;
              const problem = await checkFile(
                join(dir, file),
                name === 'qget' ? e : { size: e.size },
              );
              if (problem) return `${file}: ${problem}`;
            }
            return undefined;
          },
        }));
      const res = await compare(contenders, {
        runs: ctx.runs,
        work: ctx.work,
        timeoutS: 300,
        connections: () => server.connections!(),
      });
      const q = res.get('qget');
      const conns = (n: number | undefined): Check[] =>
        n === undefined ? [] : [{ text: `${n} TCP conns`, met: 'info' }];
      const rows: Row[] = [row(this.id, q, conns(q?.connections))];
      for (const p of res.values()) {
        if (p.name === 'qget') continue;
        const target = p.name === 'aria2c' ? 0.7 : undefined;
        rows.push(row(this.id, p, [ratio(q, p, 'wall', target), ...conns(p.connections)]));
      }
      return {
        rows,
        notes: [
          `${this.id}: served by ${server.kind === 'nginx' ? 'nginx' : 'the node throttle server'};` +
            ` TCP conns = distinct connections the server saw per run (median)`,
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
