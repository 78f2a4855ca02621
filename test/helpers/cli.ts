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

/** Start `qget ...args` in `cwd`; `stdin` is written and closed. */
export function startCli(
  args: string[],
  cwd: string,
  stdin = '',
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  child.stdin!.end(stdin);
  const done = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }));
  return { child, done };
}

export function runCli(
  args: string[],
  cwd: string,
  stdin?: string,
  env?: NodeJS.ProcessEnv,
): Promise<CliRun> {
  return startCli(args, cwd, stdin, env).done;
}
