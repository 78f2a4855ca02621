// Run by the daemon scenario in its own process (so the bench's own work does not count): asks
// the daemon on port argv[2] for tellWaiting(0, 1000) and tellActive in turn, one at a time,
// every 50 ms, and records each answer's latency (request written to its last byte). It prints
// `ready` once its first two answers are in (the scenario starts adding then: a sampler still
// starting would miss the first, busiest, part of the adds). A line `mark` on stdin starts a new
// phase; `stop` prints every phase's latencies as one JSON line.

import { createInterface } from 'node:readline';
import { RpcClient } from './rpc-client.js';

const rpc = new RpcClient(Number(process.argv[2]));
const phases: { waiting: number[]; active: number[] }[] = [{ waiting: [], active: [] }];
let running = true;

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'mark') phases.push({ waiting: [], active: [] });
  if (line.trim() === 'stop') running = false;
});

let ready = false;
while (running) {
  const phase = phases[phases.length - 1]!;
  try {
    phase.waiting.push(await rpc.timed('aria2.tellWaiting', 0, 1000));
    phase.active.push(await rpc.timed('aria2.tellActive'));
    if (!ready) {
      ready = true;
      process.stdout.write('ready\n');
    }
  } catch (e) {
    process.stderr.write(`sampler: ${(e as Error).message}\n`);
  }
  await new Promise((r) => setTimeout(r, 50));
}
rpc.close();
process.stdout.write(`${JSON.stringify(phases)}\n`, () => process.exit(0));
