// Where one download's time goes: runs qget (the built CLI, with --debug) against the node
// throttle server and prints the server's requests (when each arrived and ended, its range,
// socket and bytes sent) interleaved with qget's debug lines, on one clock, then the wall time
// and the bytes the server sent per byte of the file.
//   node --import tsx bench/timeline.ts [--runs N] [--connections N] -- <throttle-server args>
// e.g. the crawling scenario:
//   node --import tsx bench/timeline.ts -- --size 67108864 --rate 8388608 \
//     --slow-response-every 3 --slow-factor 32
// --cuts shows only the requests cut short (the server sent less than they asked for) or that
// sent bytes another request sent too.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { QGET } from './tools.js';

interface Request {
  id: number;
  range: string | undefined;
  socketId: number;
  status: number;
  bytesSent: number;
  start: number;
  end?: number;
}

const { values, positionals } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    connections: { type: 'string', default: '8' },
    quiet: { type: 'boolean', default: false },
    /** Only the requests cut short (sent less than they asked) and qget's lines. */
    cuts: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const serverArgs = positionals;
const sizeAt = serverArgs.indexOf('--size');
const size = Number(serverArgs[sizeAt + 1]);
if (sizeAt < 0 || !Number.isSafeInteger(size)) throw new Error('give the server --size BYTES');

const server = spawn(
  process.execPath,
  ['--import', 'tsx', join(import.meta.dirname, 'throttle-server.ts'), ...serverArgs],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
const nextLine = async (): Promise<string> => {
  const r = await lines.next();
  if (r.done) throw new Error('throttle server exited');
  return r.value;
};
const url = (await nextLine()).trim();
const work = await mkdtemp(join(tmpdir(), 'qget-timeline-'));
try {
  for (let run = 1; run <= Number(values.runs); run++) {
    const out = join(work, `out-${run}.bin`);
    const events: { at: number; text: string }[] = [];
    const t0 = Date.now();
    const child = spawn(
      QGET[0]!,
      [QGET[1]!, '-q', '-f', '--debug', '-c', values.connections!, '-o', out, url],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    createInterface({ input: child.stderr! }).on('line', (text) => {
      events.push({ at: Date.now(), text });
    });
    const code = await new Promise<number | null>((r) => child.once('close', r));
    const wall = (Date.now() - t0) / 1000;
    server.stdin!.write('requests\n');
    const requests = JSON.parse(await nextLine()) as Request[];
    server.stdin!.write('stats\n');
    const stats = JSON.parse(await nextLine()) as { bytesSent: number };
    await rm(out, { force: true });
    const first = Math.min(...requests.map((r) => r.start), t0);
    const ms = (t: number | undefined): string =>
      t === undefined ? '   -  ' : String(t - first).padStart(6);
    const rows: { at: number; text: string }[] = events.map((e) => ({
      at: e.at,
      text: `${ms(e.at)}          qget: ${e.text}`,
    }));
    const span = (r: Request): [number, number] => {
      const m = /bytes=(\d+)-(\d*)/.exec(r.range ?? '');
      const from = m ? Number(m[1]) : 0;
      return [from, m?.[2] ? Number(m[2]) + 1 : size];
    };
    // Bytes a request sent that another request sent too (the server pushed them, a cut threw
    // them away, and they were asked again).
    const twice = (r: Request): number => {
      const [from] = span(r);
      const end = from + r.bytesSent;
      let n = 0;
      for (const o of requests) {
        if (o === r) continue;
        const [f] = span(o);
        n += Math.max(0, Math.min(end, f + o.bytesSent) - Math.max(from, f));
      }
      return n;
    };
    for (const r of requests) {
      const [from, to] = span(r);
      const dur = (r.end ?? r.start) - r.start;
      const rate = dur > 0 ? r.bytesSent / 1024 / (dur / 1000) : 0;
      const mark = dur > 100 && rate < 1024 ? '  CRAWL' : '';
      const dup = twice(r);
      if (values.cuts && r.bytesSent >= to - from && dup === 0) continue;
      rows.push({
        at: r.start,
        text:
          `${ms(r.start)}-${ms(r.end)}  #${String(r.id).padStart(3)} s${String(r.socketId).padStart(3)}` +
          ` ${(from / 2 ** 20).toFixed(2).padStart(6)}+${((to - from) / 2 ** 20).toFixed(2)} MiB` +
          ` sent ${(r.bytesSent / 2 ** 20).toFixed(2)} MiB ${Math.round(rate)} KiB/s${mark}` +
          (dup > 0 ? ` (${(dup / 2 ** 20).toFixed(2)} MiB sent twice)` : ''),
      });
    }
    rows.sort((a, b) => a.at - b.at);
    if (!values.quiet) for (const r of rows) console.log(r.text);
    console.log(
      `run ${run}: exit ${code}, wall ${wall.toFixed(3)} s, ${requests.length} requests,` +
        ` server sent ${(stats.bytesSent / size).toFixed(3)} × the file`,
    );
  }
} finally {
  server.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
