// The throughput cost of a proxy: the capped scenario (256 MiB, 8 MiB/s per connection, 16
// connections) direct and through a real squid (plain http: absolute-form requests on qget's
// lean connections). Target: through squid within 10% of direct (median wall times).

import { startSquid } from '../test/helpers/proxies.js';
import { compare } from './compare.js';
import { MiB } from './measure.js';
import { bound, type Row, row } from './report.js';
import { oneFile, type Scenario, serveFile, serverNote, wallOf } from './scenario.js';

export const squid: Scenario = {
  id: 'squid',
  title: 'through squid: 256 MiB, 8 MiB/s per connection, 16 connections, direct vs --proxy squid',
  async run(ctx) {
    const size = 256 * MiB;
    const n = 16;
    const served = await serveFile(ctx, size, 8 * MiB);
    const proxy = await startSquid();
    try {
      const [direct] = oneFile(served, n, ['qget']);
      const contenders = [
        {
          ...direct!,
          name: 'qget direct',
          argv: (dir: string) => [...direct!.argv(dir), '--proxy', ''],
        },
        {
          ...direct!,
          name: 'qget via squid',
          argv: (dir: string) => [...direct!.argv(dir), '--proxy', proxy.url],
        },
      ];
      const res = await compare(contenders, { runs: ctx.runs, work: ctx.work, timeoutS: 300 });
      const d = res.get('qget direct');
      const s = res.get('qget via squid');
      const dw = wallOf(d);
      const sw = wallOf(s);
      const through = (await proxy.log()).split('\n').filter((l) => l.includes(' GET http')).length;
      const rows: Row[] = [
        row(this.id, d, []),
        row(this.id, s, [
          bound(
            dw === undefined || sw === undefined ? undefined : sw / dw,
            1.1,
            (v) => `squid/direct ${v} ≤ 1.10`,
          ),
        ]),
      ];
      return {
        rows,
        notes: [`${serverNote(this.id, served)}; squid logged ${through} GET requests`],
      };
    } finally {
      await proxy.close();
      await served.server.stop();
    }
  },
};
