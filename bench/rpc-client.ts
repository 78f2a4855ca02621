// A small aria2 JSON-RPC client for the daemon scenario: POST /jsonrpc over one kept-alive
// connection, one call or a system.multicall; the daemon (qget or aria2c) as a child process with
// its RSS read from /proc.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';

/** How an answer with a result starts (qget and aria2c both put `id` and `jsonrpc` first). */
const RESULT_HEAD = /^\{"id":(?:\d+|"[^"]*"),"jsonrpc":"2\.0","result":/;

export class RpcClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly #port: number;
  #id = 0;

  constructor(port: number) {
    this.#port = port;
  }

  /** One call; rejects with the daemon's error message. */
  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const reply = (await this.post({ jsonrpc: '2.0', id: ++this.#id, method, params })) as {
      result?: T;
      error?: { message: string };
    };
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
    return reply.result as T;
  }

  /** system.multicall: each result is [value] or a fault {code, message}. */
  multicall(calls: { methodName: string; params: unknown[] }[]): Promise<unknown[]> {
    return this.call<unknown[]>('system.multicall', calls);
  }

  /**
   * One call, timed from the request written to the answer's last byte. An answer that starts as
   * a result is not parsed (a 450 KB tellWaiting would take this process's CPU, on the cores the
   * daemon measured needs, after every sample): only an error is.
   */
  async timed(method: string, ...params: unknown[]): Promise<number> {
    let ms = 0;
    const reply = (await this.post(
      { jsonrpc: '2.0', id: ++this.#id, method, params },
      (t) => {
        ms = t;
      },
      (head) => !RESULT_HEAD.test(head),
    )) as { error?: { message: string } } | undefined;
    if (reply?.error) throw new Error(`${method}: ${reply.error.message}`);
    if (reply !== undefined) throw new Error(`${method}: not a result: ${JSON.stringify(reply)}`);
    return ms;
  }

  /**
   * POST a JSON body; resolves the parsed answer (`took`: ms until its last byte), or undefined
   * when `parse` says no from the answer's first 100 characters.
   */
  post(
    body: unknown,
    took?: (ms: number) => void,
    parse: (head: string) => boolean = () => true,
  ): Promise<unknown> {
    const t0 = performance.now();
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.#port,
          path: '/jsonrpc',
          method: 'POST',
          agent: this.#agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            took?.(performance.now() - t0);
            try {
              const head = chunks[0]?.toString('latin1', 0, 100) ?? '';
              if (!parse(head)) return resolve(undefined);
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch (e) {
              reject(e);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** A port free now on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export interface DaemonProcess {
  child: ChildProcess;
  rpc: RpcClient;
  /** VmRSS of the daemon in MiB. */
  rssMiB(): Promise<number>;
  /**
   * Milliseconds its main thread (the event loop) has run on a CPU and waited, runnable, for
   * one (Linux's /proc/PID/schedstat); undefined where there is none.
   */
  cpuTimes(): Promise<{ onCpu: number; waiting: number } | undefined>;
  stop(): Promise<void>;
}

/** Start `argv` (a daemon listening on `port`) and wait until it answers getVersion. */
export async function startDaemonProcess(argv: string[], port: number): Promise<DaemonProcess> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-2000);
  });
  const rpc = new RpcClient(port);
  const stop = async (): Promise<void> => {
    rpc.close();
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${argv[0]} exited: ${stderr}`);
    try {
      await rpc.call('aria2.getVersion');
      break;
    } catch {
      if (i > 200) {
        await stop();
        throw new Error(`${argv[0]} did not answer on port ${port}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    child,
    rpc,
    async rssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
      return kb / 1024;
    },
    async cpuTimes() {
      try {
        const [run, wait] = (await readFile(`/proc/${child.pid}/schedstat`, 'utf8')).split(' ');
        return { onCpu: Number(run) / 1e6, waiting: Number(wait) / 1e6 };
      } catch {
        return undefined;
      }
    },
    stop,
  };
}
