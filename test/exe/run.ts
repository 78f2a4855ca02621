// Run a program without blocking the event loop (the test server lives in this process), and
// collect what it printed.

import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const IS_WINDOWS = process.platform === 'win32';
export const EXE_NAME = IS_WINDOWS ? 'qget.exe' : 'qget';
export const NPM = IS_WINDOWS ? 'npm.cmd' : 'npm';
export const BUILD_EXE = join(ROOT, 'scripts', 'build-exe.mjs');

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
}

export type RunOptions = SpawnOptions & { onSpawn?: (child: ChildProcess) => void };

export function run(command: string, args: string[], options: RunOptions = {}): Promise<Ran> {
  const { onSpawn, ...spawnOptions } = options;
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: IS_WINDOWS && command.endsWith('.cmd'),
      ...spawnOptions,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - start }),
    );
    onSpawn?.(child);
  });
}

/** Everything a failed assertion should show about a run. */
export function show(ran: Ran): string {
  return `exit ${ran.code ?? ran.signal}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Run a program with its stdout and stderr written to files rather than pipes (under wine a
 * Windows console program cannot write to a pipe), and collect what it printed.
 */
export async function runToFiles(
  command: string,
  args: string[],
  logPrefix: string,
  options: RunOptions = {},
): Promise<Ran> {
  const outPath = `${logPrefix}.out`;
  const errPath = `${logPrefix}.err`;
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  try {
    const ran = await run(command, args, { ...options, stdio: ['ignore', out, err] });
    return {
      ...ran,
      stdout: readFileSync(outPath, 'utf8'),
      stderr: readFileSync(errPath, 'utf8'),
    };
  } finally {
    closeSync(out);
    closeSync(err);
  }
}
