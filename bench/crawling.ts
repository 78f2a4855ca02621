// crawling: slow *responses* rather than slow connections. A cache miss behind a CDN or a backend
// reading cold storage slows one answer, and every new request is a new draw: here every third
// response with a body, on whatever connection, runs at 1/32 of the 8 MiB/s (256 KiB/s).
// Targets: within 1.5 × what the connections need at full speed, and at most half aria2c's time.

import { compare } from './compare.js';
import { MiB } from './measure.js';
import { ratio, row } from './report.js';
import { againstLimit, oneFile, type Scenario, serveNode } from './scenario.js';

const PEERS = ['aria2c', 'axel', 'ipull'] as const;

export const crawling: Scenario = {
  id: 'crawling',
  title:
    'crawling responses: 64 MiB, 8 MiB/s per connection, every 3rd response at 256 KiB/s, 8 connections',
  async run(ctx) {
    const size = 64 * MiB;
    const rate = 8 * MiB;
    const n = 8;
    const limit = size / (n * rate);
    console.log(
      `  all at full speed: 64 MiB / (${n} × 8 MiB/s) = ${limit.toFixed(2)} s` +
        ' (node server for every tool: nginx cannot slow down single responses)',
    );
    const served = await serveNode(ctx, size, [
      '--rate',
      String(rate),
      '--slow-response-every',
      '3',
      '--slow-factor',
      '32',
    ]);
    try {
      const { rows, qget: q } = await againstLimit(ctx, this.id, served, {
        n,
        peers: PEERS,
        limit,
        target: 1.5,
        timeoutS: 120,
      });
      // What "at full speed" is on this machine now: the same server without crawling answers.
      const plain = await serveNode(ctx, size, ['--rate', String(rate)]);
      try {
        const [qget] = oneFile(plain, n, ['qget']);
        const ref = await compare([{ ...qget!, name: 'qget, no crawling' }], {
          runs: ctx.runs,
          work: ctx.work,
          timeoutS: 120,
        });
        const r = ref.get('qget, no crawling')!;
        rows.push(row(this.id, r, [ratio(q, r, 'wall')]));
      } finally {
        await plain.server.stop();
      }
      return {
        rows,
        notes: [
          `${this.id}: node throttle server; every 3rd response crawls (the count restarts for` +
            ` every run); all at full speed ${limit.toFixed(2)} s; a tool slower than 30 s runs once`,
        ],
      };
    } finally {
      await served.server.stop();
    }
  },
};
