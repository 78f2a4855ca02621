// Servers for the benchmark: nginx (when installed) with per-connection `limit_rate`, else the
// project's own throttling server in a child process. Both serve the same deterministic bytes.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { virtualContent } from '../test/helpers/content.js';

export interface BenchServer {
  /** URL of the file, throttled as configured. */
  url: string;
  kind: 'nginx' | 'node';
  stop(): Promise<void>;
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Write `size` deterministic bytes (seed 1) to `path`, streaming (any size). */
export async function writeContent(path: string, size: number): Promise<void> {
  const source = virtualContent(size, 1);
  const out = createWriteStream(path);
  const step = 8 * 1024 * 1024;
  for (let pos = 0; pos < size; pos += step) {
    if (!out.write(source.read(pos, Math.min(size, pos + step)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

/** nginx serving `root` on a free port; `limitRate` bytes/s per connection (0 = none). */
export async function startNginx(
  root: string,
  work: string,
  limitRate: number,
): Promise<BenchServer> {
  const nginx = which('nginx') ?? '/usr/sbin/nginx';
  await mkdir(join(work, 'nginx'), { recursive: true });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = join(work, 'nginx', 'nginx.conf');
  const tmp = join(work, 'nginx');
  await writeFile(
    conf,
    `daemon off;
worker_processes 2;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log;
user root;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    ${limitRate > 0 ? `limit_rate ${limitRate};` : ''}
  }
}
`,
  );
  const child = spawn(nginx, ['-c', conf, '-p', tmp], { stdio: 'ignore' });
  // Wait until it answers.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    kind: 'nginx',
    stop: () => stopChild(child),
  };
}

/** The project's throttling server (see bench/throttle-server.ts) in its own process. */
export async function startNodeServer(args: string[]): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'throttle-server.ts'), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  const url = new URL(line.trim());
  return { url: url.origin, kind: 'node', stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}
