// Per-file fixtures for the engine tests: test servers and fresh temporary folders, all closed
// or removed in one `after` hook, plus small file assertions.

import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { ProgressState, type QgetOptions, qget } from '../../src/index.js';
import { sha256 } from './content.js';
import { type ServerConfig, startServer, type TestServer } from './server.js';

export interface Fixtures {
  serve(config?: Partial<ServerConfig>): Promise<TestServer>;
  tempDir(): Promise<string>;
}

/** Call once at the top of a test file. */
export function useFixtures(): Fixtures {
  const servers: TestServer[] = [];
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return {
    async serve(config = {}) {
      const server = await startServer(config);
      servers.push(server);
      return server;
    },
    async tempDir() {
      const dir = await mkdtemp(join(tmpdir(), 'qget-test-'));
      dirs.push(dir);
      return dir;
    },
  };
}

/** Something is at `path` (a symbolic link counts, wherever it points: the output locks are). */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The file holds exactly `expected` (compared by hash so failures stay readable). */
export async function assertFileEquals(path: string, expected: Buffer): Promise<void> {
  const actual = await readFile(path);
  assert.equal(actual.length, expected.length, `${path} has ${actual.length} bytes`);
  assert.equal(sha256(actual), sha256(expected), `${path} differs from the expected bytes`);
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Requests that asked for a range other than the probe's (`bytes=0-…` without If-Range). */
export function rangedRequests(server: TestServer): TestServer['requests'] {
  return server.requests.filter(
    (r) => r.range !== undefined && !(r.range.startsWith('bytes=0-') && r.ifRange === undefined),
  );
}

/** The highest number of requests the servers were answering at the same time, together. */
export function maxConcurrentRequests(...servers: TestServer[]): number {
  const events: [number, number][] = [];
  for (const r of servers.flatMap((s) => s.requests)) {
    events.push([r.start, 1]);
    events.push([r.end ?? Number.POSITIVE_INFINITY, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, delta] of events) {
    open += delta;
    max = Math.max(max, open);
  }
  return max;
}

/** A controller aborted once the download passes `fraction` of the size. */
export function abortAt(fraction: number): {
  controller: AbortController;
  onDownloadProgress: (p: { getDownloadBytes(): number; totalBytes: number }) => void;
} {
  const controller = new AbortController();
  return {
    controller,
    onDownloadProgress(p) {
      if (p.totalBytes > 0 && p.getDownloadBytes() >= fraction * p.totalBytes) {
        controller.abort();
      }
    },
  };
}

/** For assert.rejects: the error carries this stable `code`. */
export function hasCode(code: string) {
  return (err: unknown): boolean => {
    assert.equal((err as { code?: unknown }).code, code, String(err));
    return true;
  };
}

/** Run qget() until `fraction` of the bytes arrived, then abort it (expecting ERR_ABORTED). */
export async function interruptAt(
  fraction: number,
  url: string,
  options: QgetOptions & { filepath: string },
): Promise<void> {
  const { controller, onDownloadProgress } = abortAt(fraction);
  await assert.rejects(
    qget(url, {
      maxConnections: 4,
      ...options,
      signal: controller.signal,
      progress: new ProgressState({ onDownloadProgress }),
    }),
    hasCode('ERR_ABORTED'),
  );
}

/** Every piece of a body read piece by piece (views copied: each is valid until the next read). */
export async function readAll(source: { read(): Promise<Buffer | null> }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let piece = await source.read(); piece; piece = await source.read()) {
    parts.push(Buffer.from(piece));
  }
  return Buffer.concat(parts);
}
