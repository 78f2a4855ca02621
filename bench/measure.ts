// Running one command and measuring it: wall time (here), CPU time and peak RSS of the child
// (GNU time's `%U %S %M`, written to a file so the tool's own stderr stays separate), a timeout
// that kills the whole process group, and checks of what the command wrote.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentSource } from '../test/helpers/content.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface RunResult {
  /** Seconds from spawn to exit, measured here. */
  wall: number;
  /** User + system CPU seconds of the child, when GNU time is available. */
  cpu?: number;
  /** Peak resident set size of the child in MiB, when GNU time is available. */
  rssMiB?: number;
  /** Exit code; null when killed. */
  code: number | null;
  timedOut: boolean;
  /** Last few KiB of the command's stderr. */
  stderr: string;
}

const TIME = '/usr/bin/time';
let gnuTime: boolean | undefined;

/** Whether /usr/bin/time is GNU time (supports -o and -f). */
export function haveGnuTime(): boolean {
  gnuTime ??=
    spawnSync(TIME, ['-o', '/dev/null', '-f', '%e %U %S %M', process.execPath, '-e', ''], {
      stdio: 'ignore',
    }).status === 0;
  return gnuTime;
}

/** Process groups of the commands running now (killed on Ctrl-C). */
const running = new Set<number>();

export function killRunning(): void {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {}
  }
}

/** Run `argv` in `cwd` (its own process group), at most `timeoutS` seconds. */
export async function runMeasured(
  argv: string[],
  cwd: string,
  timeoutS: number,
): Promise<RunResult> {
  const statsFile = join(cwd, '.bench-time');
  const full = haveGnuTime() ? [TIME, '-o', statsFile, '-f', '%e %U %S %M', '--', ...argv] : argv;
  const t0 = performance.now();
  const child = spawn(full[0]!, full.slice(1), {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  if (child.pid !== undefined) running.add(child.pid);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }, timeoutS * 1000);
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      stderr += String(e);
      resolve(null);
    });
    child.on('close', (c) => resolve(c));
  });
  const wall = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  if (child.pid !== undefined) running.delete(child.pid);
  const result: RunResult = { wall, code, timedOut, stderr: stderr.trim() };
  const stats = await readFile(statsFile, 'utf8').catch(() => '');
  const m = stats
    .trim()
    .split('\n')
    .map((l) => /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(l.trim()))
    .filter((x) => x !== null)
    .pop();
  if (m) {
    result.cpu = Number(m[2]) + Number(m[3]);
    result.rssMiB = Number(m[4]) / 1024;
  }
  return result;
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

export interface Expected {
  size: number;
  /** Compare the whole file's SHA-256. */
  sha256?: string;
  /** Compare a few 1 MiB slices against this source (for files too big to hash every run). */
  sample?: ContentSource;
}

/** What is wrong with the file at `path`, or undefined when it is as expected. */
export async function checkFile(path: string, expected: Expected): Promise<string | undefined> {
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size < 0) return 'no output file';
  if (size !== expected.size) return `size ${size}, expected ${expected.size}`;
  if (expected.sha256 !== undefined && (await sha256File(path)) !== expected.sha256) {
    return 'SHA-256 mismatch';
  }
  if (expected.sample) {
    const fh = await open(path, 'r');
    try {
      const n = Math.min(MiB, size);
      for (const at of [0, Math.floor(size / 3), Math.floor((size * 2) / 3), size - n]) {
        const buf = Buffer.alloc(n);
        await fh.read(buf, 0, n, at);
        if (!buf.equals(expected.sample.read(at, at + n))) return `wrong bytes at ${at}`;
      }
    } finally {
      await fh.close();
    }
  }
  return undefined;
}
