// The mirrors of `npm run bench:mirrors`: one nginx per mirror (its own port, root, access log),
// pacing every connection with `limit_rate`; the project's node throttle server in its own process
// when nginx is not installed. Each counts the bytes it sent by itself: nginx's `$bytes_sent` per
// request from its access log, plus, for the connections still open, what their sockets had sent
// and the client acknowledged (`ss`'s `bytes_acked`: nginx writes a request's line only when it
// ends, and a mirror killed with SIGKILL writes none for the requests it was serving).

import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BenchServer,
  type ContentStore,
  readFrom,
  startNginx,
  startNodeServer,
  which,
} from './servers.js';

export interface Mirror {
  /** The file's URL on this mirror. */
  url: string;
  kind: 'nginx' | 'node';
  /** Bytes this mirror sent since it started, by its own count. */
  sent(): Promise<number>;
  /** nginx: its access log (bench/mirror-timeline.ts). */
  accessLog?: string;
  /** nginx: its port, for `sentBy()`'s one look at the sockets of all. */
  port?: number;
  /** nginx: `sent()` given the open sockets (`openSockets()`). */
  sentGiven?(open: Map<number, Map<number, number>>): Promise<number>;
  /** SIGKILL the server, every process of it (nginx: the master and its workers). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export const haveNginx = (): boolean => which('nginx') !== undefined && which('ss') !== undefined;

/** A mirror serving `size` bytes of `seed` at `rate` bytes/s per connection. */
export async function startMirror(
  store: ContentStore,
  work: string,
  index: number,
  size: number,
  rate: number,
  seed: number,
): Promise<Mirror> {
  if (haveNginx()) return startNginxMirror(store, join(work, `mirror-${index}`), size, rate, seed);
  return startNodeMirror(size, rate, seed);
}

async function startNginxMirror(
  store: ContentStore,
  dir: string,
  size: number,
  rate: number,
  seed: number,
): Promise<Mirror> {
  const root = join(dir, 'www');
  await mkdir(root, { recursive: true });
  await store.place(join(root, 'file.bin'), size, seed);
  // One worker: with sendfile and limit_rate a worker serves a few connections with little CPU,
  // and three mirrors share the machine with qget. limit_rate sends a chunk (sendfile_max_chunk,
  // 2 MiB by default) and then waits the chunk's time at the rate, cut to whole ms: every answer
  // would get its first 2 MiB at once (qget's requests are about 2 MiB here). Chunks of 8 ms at
  // the rate make the pace strict: a 2 MiB range took 1.004x its time at 8 MiB/s, 32 MiB 0.989x
  // (64 KiB chunks, 7.8 ms cut to 7: 0.93x).
  const server = await startNginx(root, dir, rate, {
    accessLog: true,
    workers: 1,
    maxChunk: Math.ceil((rate * 8) / 1000),
  });
  const port = Number(new URL(server.url).port);
  let offset = 0;
  /** `$bytes_sent` of the requests logged so far, per client port. */
  const logged = new Map<number, number>();
  let killedAt: number | undefined;
  const sentGiven = async (sockets: Map<number, Map<number, number>>): Promise<number> => {
    if (killedAt !== undefined) return killedAt;
    const text = await readFrom(server.accessLog!, offset);
    offset += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      const f = line.split(' ');
      if (f.length < 6) continue;
      const clientPort = Number(f[4]);
      logged.set(clientPort, (logged.get(clientPort) ?? 0) + Number(f[5]));
    }
    const open = sockets.get(port) ?? new Map<number, number>();
    let total = 0;
    for (const acked of open.values()) total += acked;
    for (const [clientPort, bytes] of logged) if (!open.has(clientPort)) total += bytes;
    return total;
  };
  const sent = (): Promise<number> => sentGiven(openSockets([port]));
  return {
    url: `${server.url}/file.bin`,
    kind: 'nginx',
    sent,
    port,
    sentGiven,
    accessLog: server.accessLog!,
    kill: async () => {
      if (killedAt !== undefined) return;
      const master = server.pid!;
      const workers = childrenOf(master);
      // The count just before the kill is what it sent: it writes nothing once killed.
      killedAt = await sent();
      for (const pid of [master, ...workers]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      await server.stop();
    },
    stop: async () => {
      // The last lines: nginx writes a request's line when its socket closes.
      if (killedAt === undefined) {
        for (let i = 0; i < 40 && (openSockets([port]).get(port)?.size ?? 0) > 0; i++) {
          await new Promise((r) => setTimeout(r, 25));
        }
        killedAt = await sent();
      }
      await server.stop();
    },
  };
}

/** Bytes each mirror sent so far, with one look at the sockets (`ss` takes tens of ms here). */
export async function sentBy(mirrors: Mirror[]): Promise<number[]> {
  const ports = mirrors.flatMap((m) => (m.port !== undefined ? [m.port] : []));
  const open = ports.length > 0 ? openSockets(ports) : new Map<number, Map<number, number>>();
  return Promise.all(mirrors.map((m) => (m.sentGiven ? m.sentGiven(open) : m.sent())));
}

/** Local port → (client port → bytes acknowledged) for the established TCP connections of
 * `ports`. */
function openSockets(ports: number[]): Map<number, Map<number, number>> {
  const filter = `( ${ports.map((p) => `sport = :${p}`).join(' or ')} )`;
  const r = spawnSync('ss', ['-tinH', 'state', 'established', filter], { encoding: 'utf8' });
  const out = new Map<number, Map<number, number>>();
  let at: [number, number] | undefined;
  for (const line of r.stdout.split('\n')) {
    const ends = /^\S+\s+\S+\s+\S+:(\d+)\s+\S+:(\d+)/.exec(line);
    if (ends) {
      at = [Number(ends[1]), Number(ends[2])];
      continue;
    }
    if (!at) continue;
    const acked = /bytes_acked:(\d+)/.exec(line);
    const mine = out.get(at[0]) ?? new Map<number, number>();
    mine.set(at[1], acked ? Number(acked[1]) : 0);
    out.set(at[0], mine);
    at = undefined;
  }
  return out;
}

function childrenOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** The node throttle server: its `stats` line gives the bytes sent and resets its counters. */
async function startNodeMirror(size: number, rate: number, seed: number): Promise<Mirror> {
  const args = ['--size', String(size), '--rate', String(rate), '--seed', String(seed)];
  const server: BenchServer = await startNodeServer(args);
  let total = 0;
  let final: number | undefined;
  const sent = async (): Promise<number> => {
    if (final !== undefined) return final;
    total += (await server.stats!()).bytesSent;
    return total;
  };
  return {
    url: `${server.url}/file.bin`,
    kind: 'node',
    sent,
    kill: async () => {
      if (final !== undefined) return;
      final = await sent();
      process.kill(server.pid!, 'SIGKILL');
      await server.stop();
    },
    stop: async () => {
      final ??= await sent();
      await server.stop();
    },
  };
}
