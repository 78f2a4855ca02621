// Helpers for the daemon tests: a daemon on a free port closed in `after`, an aria2.js client
// for it, polling, and raw HTTP requests for what a well-behaved client never sends.

import { request } from 'node:http';
import { after } from 'node:test';
import Aria2 from 'aria2';
import { type Daemon, type DaemonOptions, startDaemon } from '../../src/rpc/daemon.js';
import { waitFor } from './wait.js';

export type Status = Record<string, string> & {
  files?: { path: string; length: string; completedLength: string; uris: unknown[] }[];
};

/** Daemons started here are shut down after the file's tests. */
export function useDaemons(): (options?: DaemonOptions) => Promise<Daemon> {
  const daemons: Daemon[] = [];
  after(async () => {
    await Promise.all(daemons.map((d) => d.shutdown()));
  });
  return async (options = {}) => {
    const daemon = await startDaemon({ port: 0, unauthorizedDelayMs: 0, ...options });
    daemons.push(daemon);
    return daemon;
  };
}

export function client(daemon: Daemon, secret?: string): Aria2 {
  return new Aria2({
    host: '127.0.0.1',
    port: daemon.port,
    secure: false,
    path: '/jsonrpc',
    ...(secret === undefined ? {} : { secret }),
  });
}

export async function statusOf(aria2: Aria2, gid: string, keys?: string[]): Promise<Status> {
  return (await (keys
    ? aria2.call('tellStatus', gid, keys)
    : aria2.call('tellStatus', gid))) as Status;
}

/** Waits until the download has `status` (and returns its status). */
export async function reach(
  aria2: Aria2,
  gid: string,
  status: string,
  timeoutMs = 10_000,
): Promise<Status> {
  let last: Status | undefined;
  await waitFor(
    async () => {
      last = await statusOf(aria2, gid);
      return last.status === status;
    },
    () => `${gid} to be ${status} (now ${last?.status})`,
    timeoutMs,
  );
  return last!;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

/** One HTTP request with full control over the headers (Host, Origin …). */
export function raw(
  port: number,
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/jsonrpc',
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
