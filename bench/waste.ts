// What a download costs the server: qget (the built CLI) fetches one file from nginx with no
// pacing, and nginx's access log tells the body bytes it handed to the kernel for each request
// (sendfile: what reached the socket buffers, read or not). Prints per run the wall time, the
// requests and the bytes sent per byte of the file (1.000 is no waste).
//   node --import tsx bench/waste.ts [--size MiB] [--runs N] [--connections N] [--rate B/s]

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startNginx, stopServers, which, writeContent } from './servers.js';
import { QGET } from './tools.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '8' },
    rate: { type: 'string', default: '0' },
  },
});
if (!which('nginx')) throw new Error('bench/waste.ts needs nginx');
const size = Number(values.size) * 1024 * 1024;
const work = await mkdtemp(join(tmpdir(), 'qget-waste-'));
try {
  const root = join(work, 'www');
  await mkdir(root, { recursive: true });
  await writeContent(join(root, 'file.bin'), size);
  const server = await startNginx(root, work, Number(values.rate), { accessLog: true });
  const log = join(work, 'nginx', 'access.log');
  let seen = 0;
  const ratios: number[] = [];
  for (let run = 1; run <= Number(values.runs); run++) {
    const out = join(work, 'out.bin');
    const t0 = performance.now();
    const child = spawn(
      QGET[0]!,
      [QGET[1]!, '-q', '-f', '-c', values.connections!, '-o', out, `${server.url}/file.bin`],
      { stdio: 'inherit' },
    );
    const code = await new Promise<number | null>((r) => child.once('close', r));
    const wall = (performance.now() - t0) / 1000;
    await rm(out, { force: true });
    // nginx writes a request's line when it ends: a cut one as soon as its socket closes.
    await new Promise((r) => setTimeout(r, 200));
    const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    const mine = lines.slice(seen);
    seen = lines.length;
    const sent = mine.reduce((n, l) => n + Number(l.split(' ')[3] ?? 0), 0);
    ratios.push(sent / size);
    console.log(
      `run ${run}: exit ${code}, wall ${wall.toFixed(3)} s, ${mine.length} requests,` +
        ` nginx sent ${(sent / size).toFixed(3)} × the file`,
    );
  }
  ratios.sort((a, b) => a - b);
  console.log(`median: ${ratios[ratios.length >> 1]!.toFixed(3)} × the file`);
} finally {
  await stopServers();
  await rm(work, { recursive: true, force: true });
}
