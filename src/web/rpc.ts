// A JSON-RPC client over one WebSocket to the daemon: calls with the secret put in front of their
// parameters, system.multicall, notifications, and reconnecting after the socket closes.

export class RpcFailure extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Rpc {
  secret: string | undefined;
  onState: (up: boolean, message: string) => void = () => {};
  onNotification: (method: string) => void = () => {};
  readonly #url: string;
  #socket: Promise<WebSocket> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #retryMs = 250;

  constructor(url: string) {
    this.#url = url;
  }

  #params(params: unknown[]): unknown[] {
    return this.secret === undefined ? params : [`token:${this.secret}`, ...params];
  }

  call(method: string, ...params: unknown[]): Promise<unknown> {
    return this.#send({ method, params: this.#params(params) });
  }

  /** Several calls in one message; rejects with the first call's error. */
  async multicall(calls: [string, ...unknown[]][]): Promise<unknown[]> {
    const results = (await this.#send({
      method: 'system.multicall',
      params: [
        calls.map(([methodName, ...params]) => ({ methodName, params: this.#params(params) })),
      ],
    })) as unknown[];
    return results.map((r) => {
      if (Array.isArray(r)) return r[0];
      const e = r as { code: number; message: string };
      throw new RpcFailure(e.code, e.message);
    });
  }

  async #send(request: { method: string; params: unknown[] }): Promise<unknown> {
    const ws = await this.#connect();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, ...request }));
    });
  }

  #connect(): Promise<WebSocket> {
    this.#socket ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#url);
      ws.onopen = () => {
        this.#retryMs = 250;
        this.onState(true, 'connected');
        resolve(ws);
      };
      ws.onmessage = (event) => this.#onMessage(String(event.data));
      ws.onclose = () => {
        this.#socket = undefined;
        for (const p of this.#pending.values()) p.reject(new Error('the connection closed'));
        this.#pending.clear();
        this.onState(false, 'disconnected: reconnecting…');
        reject(new Error('cannot connect to the daemon'));
        setTimeout(() => void this.#connect().catch(() => {}), this.#retryMs);
        this.#retryMs = Math.min(5000, this.#retryMs * 2);
      };
    });
    return this.#socket;
  }

  #onMessage(text: string): void {
    let msg: { id?: number; method?: string; result?: unknown; error?: RpcFailure };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.method !== undefined && msg.id === undefined) {
      this.onNotification(msg.method);
      return;
    }
    const p = this.#pending.get(msg.id ?? -1);
    if (!p) return;
    this.#pending.delete(msg.id!);
    if (msg.error) p.reject(new RpcFailure(msg.error.code, msg.error.message));
    else p.resolve(msg.result);
  }
}
