// Starts the test server for a benchmark run and prints its file URL on stdout (one line).
//   node --import tsx bench/throttle-server.ts --size BYTES --rate BYTES_PER_SEC \
//     [--slow-every N --slow-response-every N --slow-factor F] [--max-connections N] [--seed S]
// Runs until SIGTERM/SIGINT. A line `stats` on stdin prints the server's counters as one JSON
// line on stdout (connectionsAccepted, bytesSent, ...) and resets them, so the every-Nth-slow
// pattern starts over for the next client; a line `requests` prints the requests since then as
// one JSON line (range, socket, bytes sent, start and end in ms since the epoch; bench/timeline.ts). Content up to 512 MiB is held in memory; bigger content is
// generated slice by slice on demand (same bytes as makeContent(size, seed)), so any size works,
// at some CPU cost in the server.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { makeContent, virtualContent } from '../test/helpers/content.js';
import { startServer } from '../test/helpers/server.js';

const IN_MEMORY_LIMIT = 512 * 1024 * 1024;

const { values } = parseArgs({
  options: {
    size: { type: 'string' },
    rate: { type: 'string', default: '0' },
    'slow-every': { type: 'string', default: '0' },
    'slow-response-every': { type: 'string', default: '0' },
    'slow-factor': { type: 'string', default: '30' },
    'max-connections': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
  },
});

function int(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`throttle-server: --${name} must be a non-negative integer\n`);
    process.exit(2);
  }
  return n;
}

const size = int('size', values.size);
const seed = int('seed', values.seed);
const big = size > IN_MEMORY_LIMIT;
const server = await startServer({
  content: big ? Buffer.alloc(0) : makeContent(size, seed),
  source: big ? virtualContent(size, seed) : null,
  ratePerConnection: int('rate', values.rate),
  slowEvery: int('slow-every', values['slow-every']),
  slowResponseEvery: int('slow-response-every', values['slow-response-every']),
  slowFactor: int('slow-factor', values['slow-factor']),
  maxConnections: int('max-connections', values['max-connections']),
});
process.stdout.write(`${server.fileUrl}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'requests') {
    const list = server.requests.map(({ id, range, socketId, status, bytesSent, start, end }) => ({
      id,
      range,
      socketId,
      status,
      bytesSent,
      start,
      end,
    }));
    process.stdout.write(`${JSON.stringify(list)}\n`);
    return;
  }
  if (line.trim() !== 'stats') return;
  process.stdout.write(`${JSON.stringify(server.stats)}\n`);
  server.reset();
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close().then(() => process.exit(0));
  });
}
