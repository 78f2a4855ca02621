// Runs the built command (bin/qget.js) as a child process, as a user would, collecting its
// output; `npm test` builds dist/ before the tests run.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/qget.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv | undefined;
  /** Written to the child's stdin, which is then closed. Default: stdin ignored. */
  stdin?: string | undefined;
  /** Kill the child after this long (a hung child fails its test instead of hanging it). */
  timeoutMs?: number | undefined;
}

/** THE process spawner of the tests: run `node ...args`, collecting stdout and stderr. */
export function spawnCollect(
  args: string[],
  options: SpawnOptions,
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  const timer =
    options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill(), options.timeoutMs);
  const done = once(child, 'close').then(([code, signal]) => {
    clearTimeout(timer);
    return {
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
      stdout,
      stderr,
    };
  });
  return { child, done };
}

/** Start `qget ...args` in `cwd`; `stdin` is written and closed. */
export function startCli(
  args: string[],
  cwd: string,
  stdin = '',
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<CliRun> } {
  return spawnCollect([BIN, ...args], { cwd, env, stdin });
}

export function runCli(
  args: string[],
  cwd: string,
  stdin?: string,
  env?: NodeJS.ProcessEnv,
): Promise<CliRun> {
  return startCli(args, cwd, stdin, env).done;
}
