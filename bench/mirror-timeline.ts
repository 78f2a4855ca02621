// Where a run of bench/mirrors.ts spends its time, from the mirrors' access logs (nginx's
// `$msec $request_time "$http_range"` per request, see bench/servers.ts): start-up and probe
// (spawn to the first request), the ramp (until all connections transfer at once), the full
// stretch, the tail (from the first connection that ends for good to the last byte) and the exit
// (last byte to qget's exit). BENCH_TIMELINE=1 prints it after every run; =2 every request too.

import { readFile } from 'node:fs/promises';

export interface LoggedRequest {
  mirror: number;
  /** nginx's connection number (per mirror). */
  connection: number;
  status: number;
  bytes: number;
  /** ms since the epoch. */
  start: number;
  end: number;
  range: string;
}

/** The requests `mirror` logged that started at `t0` or later (not the bench's own check that
 * the server answers). */
export async function readRequests(
  mirror: number,
  accessLog: string,
  t0: number,
): Promise<LoggedRequest[]> {
  const text = await readFile(accessLog, 'utf8').catch(() => '');
  const out: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 9) continue;
    const end = Number(f[6]) * 1000;
    out.push({
      mirror,
      connection: Number(f[0]),
      status: Number(f[2]),
      bytes: Number(f[5]),
      start: end - Number(f[7]) * 1000,
      end,
      range: (f[8] ?? '').replaceAll('"', ''),
    });
  }
  return out.filter((r) => r.start >= t0);
}

/** Seconds from qget's spawn to its first request, and from there to the last byte sent. */
export function spans(
  requests: LoggedRequest[],
  t0: number,
): { startup: number; transfer: number } {
  const first = Math.min(...requests.map((r) => r.start));
  const last = Math.max(...requests.map((r) => r.end));
  return { startup: (first - t0) / 1000, transfer: (last - first) / 1000 };
}

/** The phases of one run: `t0` qget spawned, `exit` it exited (ms since the epoch). */
export function phases(requests: LoggedRequest[], t0: number, exit: number, want: number): string {
  if (requests.length === 0) return 'no requests logged';
  const rel = (t: number): string => `${((t - t0) / 1000).toFixed(3)} s`;
  const first = Math.min(...requests.map((r) => r.start));
  // Connections (mirror, nginx connection) and the span each transferred over.
  const spans = new Map<string, { start: number; end: number }>();
  for (const r of requests) {
    const key = `${r.mirror}/${r.connection}`;
    const s = spans.get(key);
    if (!s) spans.set(key, { start: r.start, end: r.end });
    else {
      s.start = Math.min(s.start, r.start);
      s.end = Math.max(s.end, r.end);
    }
  }
  // Requests at once over time: when `want` were first open, when fewer were open for good.
  const edges = requests.flatMap((r) => [
    { t: r.start, d: 1 },
    { t: r.end, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let most = 0;
  let full: number | undefined;
  let lastFull: number | undefined;
  for (const e of edges) {
    open += e.d;
    most = Math.max(most, open);
    if (open >= want) {
      full ??= e.t;
      lastFull = undefined;
    } else if (full !== undefined && lastFull === undefined && e.d < 0) lastFull = e.t;
  }
  const last = Math.max(...requests.map((r) => r.end));
  const perMirror = [...new Set(requests.map((r) => r.mirror))].map((m) => {
    const mine = requests.filter((r) => r.mirror === m);
    const starts = [...new Set(mine.map((r) => r.connection))]
      .map((c) => spans.get(`${m}/${c}`)!.start)
      .sort((a, b) => a - b);
    return `mirror ${m}: ${mine.length} requests on ${starts.length} connections opened at ${starts.map(rel).join(' ')}, last byte ${rel(Math.max(...mine.map((r) => r.end)))}`;
  });
  // Idle time between one request's end and the next one's start on the same connection.
  const gaps: number[] = [];
  const byConnection = new Map<string, LoggedRequest[]>();
  for (const r of requests) {
    const key = `${r.mirror}/${r.connection}`;
    byConnection.set(key, [...(byConnection.get(key) ?? []), r]);
  }
  for (const list of byConnection.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) gaps.push(list[i]!.start - list[i - 1]!.end);
  }
  gaps.sort((a, b) => a - b);
  const idle = gaps.reduce((a, b) => a + b, 0);
  return [
    `between requests on a connection: ${gaps.length} gaps, median ${(gaps[gaps.length >> 1] ?? 0).toFixed(0)} ms, ` +
      `${(idle / Math.max(1, byConnection.size)).toFixed(0)} ms idle per connection in all`,
    `first request ${rel(first)}; ${want} at once from ${full ? rel(full) : 'never'} (at most ${most})` +
      ` until ${lastFull ? rel(lastFull) : '-'}; last byte ${rel(last)}; exit ${rel(exit)}`,
    ...perMirror,
  ].join('\n    ');
}

export function listing(requests: LoggedRequest[], t0: number): string {
  return [...requests]
    .sort((a, b) => a.start - b.start)
    .map(
      (r) =>
        `${((r.start - t0) / 1000).toFixed(3)}-${((r.end - t0) / 1000).toFixed(3)} m${r.mirror} c${r.connection} ${r.status} ${r.range} ${(r.bytes / 2 ** 20).toFixed(2)} MiB`,
    )
    .join('\n    ');
}
