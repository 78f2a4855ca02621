// Servers for the benchmark: nginx (when installed) with per-connection `limit_rate`, else the
// project's own throttling server in a child process. Both serve the same deterministic bytes.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sha256Source, virtualContent } from '../test/helpers/content.js';

export interface BenchServer {
  /** Origin of the server (`http://127.0.0.1:PORT`). */
  url: string;
  kind: 'nginx' | 'node';
  stop(): Promise<void>;
  /** TCP connections opened by clients since the previous call (or the start), when this server
   * can count them: nginx with an access log, or the node server. */
  connections?(): Promise<number>;
  /** Process id of the server (nginx: its master). */
  pid?: number;
  /** nginx's access log, when it writes one. */
  accessLog?: string;
  /** The node server's counters since the previous call (it resets them). */
  stats?(): Promise<{ connectionsAccepted: number; bytesSent: number }>;
}

/** Servers running now (stopped on Ctrl-C / SIGTERM by stopServers). */
const live = new Set<ChildProcess>();

export async function stopServers(): Promise<void> {
  await Promise.all([...live].map(stopChild));
}

const whichCache = new Map<string, string | undefined>();

export function which(cmd: string): string | undefined {
  if (!whichCache.has(cmd)) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
    whichCache.set(cmd, r.status === 0 ? r.stdout.trim() : undefined);
  }
  return whichCache.get(cmd);
}

/** Write `size` deterministic bytes of `seed` to `path`, streaming (any size); returns their
 * hex SHA-256. */
export async function writeContent(path: string, size: number, seed = 1): Promise<string> {
  const source = virtualContent(size, seed);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const step = 8 * 1024 * 1024;
  for (let pos = 0; pos < size; pos += step) {
    const slice = source.read(pos, Math.min(size, pos + step));
    hash.update(slice);
    if (!out.write(slice)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return hash.digest('hex');
}

/** Content files written once per run of the bench and hard-linked into each scenario's nginx
 * root, with their hashes. */
export class ContentStore {
  private readonly files = new Map<string, Promise<string>>();
  private readonly hashes = new Map<string, string>();

  constructor(private readonly dir: string) {}

  /** Hard-link (copy when linking fails) `size` bytes of `seed` to `path`; returns the SHA-256. */
  async place(path: string, size: number, seed = 1): Promise<string> {
    const key = `${size}-${seed}`;
    const file = join(this.dir, `${key}.bin`);
    let written = this.files.get(key);
    if (!written) {
      written = mkdir(this.dir, { recursive: true }).then(() => writeContent(file, size, seed));
      this.files.set(key, written);
    }
    const sha = await written;
    await link(file, path).catch(() => writeContent(path, size, seed));
    return sha;
  }

  /** SHA-256 of the content without writing it (for the node server's virtual content). */
  async sha256(size: number, seed = 1): Promise<string> {
    const key = `${size}-${seed}`;
    const written = this.files.get(key);
    if (written) return written;
    let sha = this.hashes.get(key);
    if (sha === undefined) {
      sha = sha256Source(virtualContent(size, seed));
      this.hashes.set(key, sha);
    }
    return sha;
  }
}

export interface NginxOptions {
  /** Log `$connection $connection_requests $status $body_bytes_sent $remote_port $bytes_sent` per
   * request to work/nginx/access.log, so `connections()` can count the distinct TCP connections
   * clients opened (and benches the bytes sent). Off by default (logging costs a little). */
  accessLog?: boolean;
  /** nginx worker processes (default 2). */
  workers?: number;
  /** `sendfile_max_chunk` (nginx's default: 2 MiB). `limit_rate` sends a chunk, then waits the
   * time it takes at the rate: a response's last chunk goes out with no wait after it, so every
   * response gets one chunk ahead of the rate. A small chunk (e.g. 64 KiB) makes the pace strict. */
  maxChunk?: number;
}

/** nginx serving `root` on a free port; `limitRate` bytes/s per connection (0 = none). */
export async function startNginx(
  root: string,
  work: string,
  limitRate: number,
  options: NginxOptions = {},
): Promise<BenchServer> {
  const nginx = which('nginx') ?? '/usr/sbin/nginx';
  const tmp = join(work, 'nginx');
  await mkdir(tmp, { recursive: true });
  const conf = join(tmp, 'nginx.conf');
  const accessLog = join(tmp, 'access.log');
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    await writeFile(
      conf,
      nginxConf(root, tmp, port, limitRate, options.accessLog ? accessLog : '', options),
    );
    const child = spawn(nginx, ['-e', join(tmp, 'error.log'), '-c', conf, '-p', tmp], {
      stdio: 'ignore',
    });
    live.add(child);
    const url = `http://127.0.0.1:${port}`;
    if (await answers(url, child)) {
      let offset = 0;
      const server: BenchServer = {
        url,
        kind: 'nginx',
        stop: () => stopChild(child),
        ...(child.pid !== undefined ? { pid: child.pid } : {}),
        ...(options.accessLog ? { accessLog } : {}),
      };
      if (options.accessLog) {
        server.connections = async () => {
          const text = await readFrom(accessLog, offset);
          offset += Buffer.byteLength(text);
          return new Set(
            text
              .split('\n')
              .filter(Boolean)
              .map((l) => l.split(' ')[0]),
          ).size;
        };
      }
      return server;
    }
    await stopChild(child);
    if (attempt >= 4) {
      const log = await readFile(join(tmp, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx did not start:\n${log.slice(-2000)}`);
    }
  }
}

function nginxConf(
  root: string,
  tmp: string,
  port: number,
  rate: number,
  log: string,
  options: NginxOptions,
): string {
  return `daemon off;
worker_processes ${options.workers ?? 2};
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log;
user root;
events { worker_connections 1024; }
http {
  ${log ? `log_format conns '$connection $connection_requests $status $body_bytes_sent $remote_port $bytes_sent $msec $request_time "$http_range"';\n  access_log ${log} conns;` : 'access_log off;'}
  sendfile on;
  ${options.maxChunk ? `sendfile_max_chunk ${options.maxChunk};` : ''}
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
    ${rate > 0 ? `limit_rate ${rate};` : ''}
  }
}
`;
}

/** Poll until `url` answers (true) or the child exits (false: e.g. the port was taken). */
async function answers(url: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const ok = await fetch(`${url}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    );
    if (ok) return child.exitCode === null;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export async function readFrom(path: string, offset: number): Promise<string> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await fh.read(buf, 0, buf.length, offset);
    // Only whole lines; a partial last line is read next time.
    const end = buf.lastIndexOf(0x0a) + 1;
    return buf.subarray(0, end).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The project's throttling server (see bench/throttle-server.ts) in its own process. */
export async function startNodeServer(args: string[]): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'throttle-server.ts'), ...args],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  live.add(child);
  const lines = createInterface({ input: child.stdout! });
  const buffered: string[] = [];
  const waiting: { resolve(line: string): void; reject(e: Error): void }[] = [];
  lines.on('line', (line) => {
    const w = waiting.shift();
    if (w) w.resolve(line);
    else buffered.push(line);
  });
  child.once('exit', () => {
    for (const w of waiting.splice(0)) w.reject(new Error('throttle server exited'));
  });
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const line = buffered.shift();
      if (line !== undefined) resolve(line);
      else if (child.exitCode !== null || child.signalCode !== null)
        reject(new Error('throttle server exited'));
      else waiting.push({ resolve, reject });
    });
  const url = new URL((await nextLine()).trim());
  const stats = async (): Promise<{ connectionsAccepted: number; bytesSent: number }> => {
    child.stdin!.write('stats\n');
    return JSON.parse(await nextLine()) as { connectionsAccepted: number; bytesSent: number };
  };
  return {
    url: url.origin,
    kind: 'node',
    stop: () => stopChild(child),
    connections: async () => (await stats()).connectionsAccepted,
    stats,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  live.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Remove a directory tree, ignoring errors. */
export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => {});
}
