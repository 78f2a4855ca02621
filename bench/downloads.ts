// The one-file scenarios: capped, uneven, unthrottled, memory.

import { statfs } from 'node:fs/promises';
import { virtualContent } from '../test/helpers/content.js';
import { compare, type Summary } from './compare.js';
import { GiB, haveGnuTime, MiB } from './measure.js';
import { bound, type Check, type Row, ratio, row } from './report.js';
import {
  againstLimit,
  oneFile,
  peerSummaries,
  type Scenario,
  serveFile,
  serveNode,
  serverNote,
  wallOf,
} from './scenario.js';

const PEERS = ['aria2c', 'axel', 'curl', 'ipull'] as const;

export const capped: Scenario = {
  id: 'capped',
  title:
    'per-connection cap: 256 MiB, 8 MiB/s per connection (nginx limit_rate 8m), 16 connections',
  async run(ctx) {
    const size = 256 * MiB;
    const rate = 8 * MiB;
    const n = 16;
    const limit = size / (n * rate);
    console.log(`  physical limit: 256 MiB / (${n} × 8 MiB/s) = ${limit.toFixed(2)} s`);
    const served = await serveFile(ctx, size, rate);
    try {
      const res = await compare(oneFile(served, n, ['qget', ...PEERS]), {
        runs: ctx.runs,
        work: ctx.work,
        timeoutS: 300,
      });
      const q = res.get('qget');
      const w = wallOf(q);
      const rows: Row[] = [
        row(this.id, q, [
          bound(w === undefined ? w : w / limit, 1.05, (v) => `${v} × limit ≤ 1.05`),
        ]),
      ];
      for (const p of peerSummaries(res)) {
        rows.push(row(this.id, p, [ratio(q, p, 'wall', p.name === 'curl' ? undefined : 1, true)]));
      }
      return {
        rows,
        notes: [`${serverNote(this.id, served)}; physical limit ${limit.toFixed(2)} s`],
      };
    } finally {
      await served.server.stop();
    }
  },
};

export const uneven: Scenario = {
  id: 'uneven',
  title: 'uneven: 256 MiB, 8 MiB/s per connection, every 3rd connection 30× slower, 16 connections',
  async run(ctx) {
    const size = 256 * MiB;
    const rate = 8 * MiB;
    const n = 16;
    const every = 3;
    const fast = n - Math.floor(n / every);
    const need = size / (fast * rate);
    console.log(
      `  the ${fast} fast connections alone need 256 MiB / (${fast} × 8 MiB/s) = ${need.toFixed(2)} s` +
        ` (node server for every tool: nginx cannot slow down every 3rd connection)`,
    );
    const served = await serveNode(ctx, size, [
      '--rate',
      String(rate),
      '--slow-every',
      String(every),
      '--slow-factor',
      '30',
    ]);
    try {
      const { rows } = await againstLimit(ctx, this.id, served, {
        n,
        peers: PEERS,
        limit: need,
        target: 1.3,
        timeoutS: 90,
      });
      return {
        rows,
        notes: [
          `${this.id}: node throttle server; fast connections alone need ${need.toFixed(2)} s;` +
            ` the slow pattern restarts for every run; a tool slower than 30 s runs once (90 s timeout)`,
        ],
      };
    } finally {
      await served.server.stop();
    }
  },
};

export const unthrottled: Scenario = {
  id: 'unthrottled',
  title: 'unthrottled: 1 GiB over loopback, no limit, 16 connections (curl: one)',
  async run(ctx) {
    const size = GiB;
    const served = await serveFile(ctx, size, 0);
    try {
      const res = await compare(oneFile(served, 16, ['qget', ...PEERS]), {
        runs: ctx.runs,
        work: ctx.work,
        timeoutS: 300,
      });
      const q = res.get('qget');
      const rows: Row[] = [];
      const curl = res.get('curl');
      rows.push(row(this.id, q, curl ? [] : [{ text: 'no curl to compare with', met: 'n/a' }]));
      for (const p of peerSummaries(res)) {
        const checks: Check[] =
          p.name === 'curl'
            ? [ratio(q, p, 'wall', 1.1), ratio(q, p, 'cpu', 1.3)]
            : [ratio(q, p, 'wall'), ratio(q, p, 'cpu')];
        rows.push(row(this.id, p, checks));
      }
      return { rows, notes: [serverNote(this.id, served)] };
    } finally {
      await served.server.stop();
    }
  },
};

export const memory: Scenario = {
  id: 'memory',
  title:
    'memory: peak RSS of qget, 1 GiB (nginx, unthrottled) and 10 GiB (node server), 16 connections',
  async run(ctx) {
    const rows: Row[] = [];
    const notes: string[] = [];
    const rssCheck = (s: Summary | undefined): Check =>
      haveGnuTime()
        ? bound(s?.rssMiB, 100, (v) => `peak RSS ${v} MiB ≤ 100`, 0)
        : { text: 'peak RSS not measured (no GNU time)', met: 'n/a' };
    const one = await serveFile(ctx, GiB, 0);
    try {
      const res = await compare(oneFile(one, 16, ['qget']), {
        runs: ctx.runs,
        work: ctx.work,
        timeoutS: 300,
      });
      rows.push(row(this.id, res.get('qget'), [rssCheck(res.get('qget'))], 'qget 1 GiB'));
      notes.push(serverNote(`${this.id} 1 GiB`, one));
    } finally {
      await one.server.stop();
    }
    const size = 10 * GiB;
    const fs = await statfs(ctx.work);
    const free = fs.bavail * fs.bsize;
    if (free <= 25 * GiB) {
      const why = `skipped: ${(free / GiB).toFixed(1)} GiB free in ${ctx.work}, needs > 25 GiB`;
      console.log(`  10 GiB ${why}`);
      rows.push({ ...row(this.id, undefined, [], 'qget 10 GiB'), target: why });
      notes.push(`${this.id} 10 GiB: ${why}`);
      return { rows, notes };
    }
    const big = await serveNode(ctx, size, ['--rate', '0']);
    big.expected.sample = virtualContent(size, 1);
    try {
      const res = await compare(oneFile(big, 16, ['qget']), {
        runs: 1,
        work: ctx.work,
        timeoutS: 900,
      });
      rows.push(row(this.id, res.get('qget'), [rssCheck(res.get('qget'))], 'qget 10 GiB'));
      notes.push(
        `${this.id} 10 GiB: node throttle server, virtual content, one run, size and 4 sampled MiB checked`,
      );
    } finally {
      await big.server.stop();
    }
    return { rows, notes };
  },
};
