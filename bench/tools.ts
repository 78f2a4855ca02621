// The command lines of qget and of the peers it is measured against. Peers that are not
// installed are skipped (the bench installs only ipull, see ipull.ts). BENCH_QGET_ARGS adds options to every
// qget command line (e.g. BENCH_QGET_ARGS=--no-fsync).

import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { ipullRunner, ipullStatus } from './ipull.js';
import { which } from './servers.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const QGET = [process.execPath, join(ROOT, 'bin/qget.js')];
const QGET_EXTRA = (process.env.BENCH_QGET_ARGS ?? '').split(/\s+/).filter(Boolean);

export type Peer = 'aria2c' | 'axel' | 'curl' | 'wget2' | 'ipull';

export function installed(tool: string): boolean {
  if (tool === 'ipull') return ipullRunner() !== undefined;
  return tool === 'qget' || which(tool) !== undefined;
}

/** One line saying which version of each tool is used, or that it is missing. */
export function versions(): string {
  const parts = [`qget ${spawnSync(QGET[0]!, [QGET[1]!, '--version']).stdout}`.trim()];
  for (const tool of ['aria2c', 'axel', 'curl', 'wget2']) {
    if (!installed(tool)) {
      parts.push(`${tool} (not installed, skipped)`);
      continue;
    }
    const out = spawnSync(tool, ['--version'], { encoding: 'utf8' }).stdout ?? '';
    const v = /\d+\.\d+(\.\d+)?/.exec(out.split('\n')[0] ?? '')?.[0] ?? '?';
    parts.push(`${tool} ${v}`);
  }
  parts.push(ipullStatus());
  return parts.join(', ');
}

/** argv downloading `url` to the file `out` with `n` connections (curl: always one). */
export const single: Record<
  'qget' | Exclude<Peer, 'wget2'>,
  (u: string, o: string, n: number) => string[]
> = {
  qget: (url, out, n) => [...QGET, '-q', '-f', '-c', String(n), ...QGET_EXTRA, '-o', out, url],
  aria2c: (url, out, n) => [
    'aria2c',
    `-x${n}`,
    `-s${n}`,
    '-k1M',
    '-q',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '--file-allocation=none',
    '-d',
    resolve(out, '..'),
    '-o',
    out.split('/').pop()!,
    url,
  ],
  axel: (url, out, n) => ['axel', '-q', '-n', String(n), '-o', out, url],
  ipull: (url, out, n) => [process.execPath, ipullRunner() ?? 'ipull', url, out, String(n)],
  curl: (url, out) => ['curl', '-s', '-f', '-o', out, url],
};

/** argv downloading every URL of the file `list` into `dir`, `j` at a time, one connection
 * each. */
export const many: Record<
  'qget' | 'aria2c' | 'wget2',
  (l: string, d: string, j: number) => string[]
> = {
  qget: (list, dir, j) => [
    ...QGET,
    '-q',
    '-f',
    '-m',
    String(j),
    '-c',
    '1',
    ...QGET_EXTRA,
    '-d',
    dir,
    '-i',
    list,
  ],
  aria2c: (list, dir, j) => [
    'aria2c',
    `-j${j}`,
    '-x1',
    '-q',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '--file-allocation=none',
    '-d',
    dir,
    '-i',
    list,
  ],
  wget2: (list, dir, j) => [
    'wget2',
    '--no-config',
    '-q',
    `--max-threads=${j}`,
    '-i',
    list,
    '-P',
    dir,
  ],
};
