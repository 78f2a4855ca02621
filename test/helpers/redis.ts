// A real redis-server (Debian's package) on a free loopback port, nothing saved to disk, for the
// farm's tests and benchmark. Starting it fails loudly when redis-server is missing or does not
// come up: a test that needs it must fail, never skip.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';

export interface RedisServer {
  url: string;
  port: number;
  /** One command, sent raw (RESP inline), answered as text: e.g. `INFO commandstats`. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export async function startRedis(bin = 'redis-server'): Promise<RedisServer> {
  let lastError: unknown;
  // A port found free may be taken before redis binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await ready(child);
      return server(child, port);
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
    }
  }
  throw new Error(`redis-server did not start: ${(lastError as Error)?.message ?? lastError}`);
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "ready" line in 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer): void => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

function server(child: ChildProcess, port: number): RedisServer {
  const exited = once(child, 'exit');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    command: (line) => rawCommand(port, line),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Send one inline command and read one bulk or simple reply (enough for INFO, FLUSHALL). */
async function rawCommand(port: number, line: string): Promise<string> {
  const socket = new Socket();
  socket.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`${line}\r\n`);
  let buf = Buffer.alloc(0);
  try {
    for await (const chunk of socket) {
      buf = Buffer.concat([buf, chunk as Buffer]);
      const text = buf.toString('utf8');
      if (text.startsWith('+') || text.startsWith('-') || text.startsWith(':')) {
        if (text.includes('\r\n')) return text.slice(1, text.indexOf('\r\n'));
      } else if (text.startsWith('$')) {
        const head = text.indexOf('\r\n');
        if (head < 0) continue;
        const len = Number(text.slice(1, head));
        const body = buf.subarray(Buffer.byteLength(text.slice(0, head + 2)));
        if (body.length >= len + 2) return body.subarray(0, len).toString('utf8');
      }
    }
    throw new Error(`redis closed the connection after ${JSON.stringify(buf.toString())}`);
  } finally {
    socket.destroy();
  }
}

/** Calls per command from `INFO commandstats`, e.g. { evalsha: 120, get: 3 }. */
export function commandCalls(info: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}
