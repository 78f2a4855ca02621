// JSON-RPC 2.0 as aria2 speaks it, independent of the transport: one request or a batch in,
// the response(s) and the HTTP status out; the `token:<secret>` check; system.multicall,
// system.listMethods, system.listNotifications; parameter checks with aria2's messages.

import { createHash, timingSafeEqual } from 'node:crypto';

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
/** aria2's code for every error raised by a method itself. */
export const METHOD_ERROR = 1;

export class RpcError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
  }
}

/** A method: its parameters (the token already taken off) in, a JSON value (or a promise) out. */
export type RpcHandler = (params: unknown[]) => unknown;

export interface RpcErrorObject {
  code: number;
  message: string;
}

export interface RpcResponse {
  id: unknown;
  jsonrpc: '2.0';
  result?: unknown;
  error?: RpcErrorObject;
}

export interface RpcReply {
  /** A response, or an array of them for a batch. */
  body: RpcResponse | RpcResponse[];
  /** aria2's HTTP status: 200, or 400 / 404 / 500 for a single failed call. */
  status: number;
  /** A call was refused for a wrong or missing token (the transport delays the answer). */
  unauthorized: boolean;
}

/** Methods that answer without the secret (aria2 does the same). */
const OPEN_METHODS = new Set(['system.listMethods', 'system.listNotifications']);
const MULTICALL = 'system.multicall';
/** A long batch or multicall lets other calls in (and downloads run) at least this often. */
const SLICE_MS = 2;

/** Resolves after the event loop's other work (I/O, timers): a pause in a long run of calls. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface JsonRpcOptions {
  /** `--rpc-secret`: every call but the open ones must start with `token:<secret>`. */
  secret?: string | undefined;
  /** Names sent as notifications, for system.listNotifications. */
  notifications?: readonly string[] | undefined;
  /** Told about failures that are not the caller's fault (a bug in a method). */
  onInternalError?: ((error: unknown, method: string) => void) | undefined;
}

export class JsonRpc {
  readonly #methods: Map<string, RpcHandler>;
  readonly #secretDigest: Buffer | undefined;
  readonly #notifications: readonly string[];
  readonly #onInternalError: JsonRpcOptions['onInternalError'];

  constructor(methods: Map<string, RpcHandler>, options: JsonRpcOptions = {}) {
    this.#methods = new Map(methods);
    this.#secretDigest =
      options.secret !== undefined && options.secret !== '' ? digest(options.secret) : undefined;
    this.#notifications = options.notifications ?? [];
    this.#onInternalError = options.onInternalError;
    this.#methods.set('system.listMethods', () => this.methodNames());
    this.#methods.set('system.listNotifications', () => [...this.#notifications]);
  }

  /** Every method name, system.* included. */
  methodNames(): string[] {
    return [...new Set([...this.#methods.keys(), MULTICALL])];
  }

  /** Handle the text of a request (a body, a WebSocket message). */
  handleText(text: string): Promise<RpcReply> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return Promise.resolve(single(failure(null, PARSE_ERROR, 'Parse error.')));
    }
    return this.handleValue(value);
  }

  /** Handle a parsed request: an object, or an array of them (a batch). */
  async handleValue(value: unknown): Promise<RpcReply> {
    if (Array.isArray(value)) {
      if (value.length === 0) {
        return single(failure(null, INVALID_REQUEST, 'Invalid Request.'));
      }
      const body: RpcResponse[] = [];
      let unauthorized = false;
      // In order: a batch may add a download and then ask for its status.
      let slice = performance.now();
      for (const item of value) {
        if (performance.now() - slice > SLICE_MS) {
          await yieldToLoop();
          slice = performance.now();
        }
        const r = await this.#request(item);
        unauthorized ||= r.unauthorized;
        body.push(r.response);
      }
      return { body, status: 200, unauthorized };
    }
    const r = await this.#request(value);
    return { ...single(r.response), unauthorized: r.unauthorized };
  }

  async #request(value: unknown): Promise<{ response: RpcResponse; unauthorized: boolean }> {
    const no = { unauthorized: false };
    if (!isObject(value)) {
      return { response: failure(null, INVALID_REQUEST, 'Invalid Request.'), ...no };
    }
    const id = value.id;
    // aria2 answers a request without an id (a JSON-RPC notification) with an error.
    if (id === undefined) {
      return { response: failure(null, INVALID_REQUEST, 'Invalid Request.'), ...no };
    }
    if (typeof value.method !== 'string') {
      return { response: failure(id, INVALID_REQUEST, 'Invalid Request.'), ...no };
    }
    let params: unknown[];
    if (value.params === undefined) params = [];
    else if (Array.isArray(value.params)) params = value.params;
    else return { response: failure(id, INVALID_PARAMS, 'Invalid params.'), ...no };
    if (value.method !== MULTICALL && !this.#methods.has(value.method)) {
      return { response: failure(id, METHOD_NOT_FOUND, 'Method not found.'), ...no };
    }
    const outcome = await this.#call(value.method, params);
    return {
      response: 'error' in outcome ? { id, jsonrpc: '2.0', error: outcome.error } : ok(id, outcome),
      unauthorized: outcome.unauthorized,
    };
  }

  /** Authorize and run one method; its result or its error (never throws). */
  async #call(
    method: string,
    params: unknown[],
  ): Promise<
    { result: unknown; unauthorized: boolean } | { error: RpcErrorObject; unauthorized: boolean }
  > {
    // As aria2: a first parameter "token:…" is always taken off, needed or not.
    let token: string | undefined;
    if (typeof params[0] === 'string' && params[0].startsWith('token:')) {
      token = params[0].slice(6);
      params = params.slice(1);
    }
    if (!OPEN_METHODS.has(method) && method !== MULTICALL && !this.#authorized(token)) {
      return { error: { code: METHOD_ERROR, message: 'Unauthorized' }, unauthorized: true };
    }
    try {
      if (method === MULTICALL) return await this.#multicall(params);
      const handler = this.#methods.get(method);
      if (!handler) throw new RpcError(METHOD_ERROR, `No such method: ${method}`);
      return { result: await handler(params), unauthorized: false };
    } catch (err) {
      return { error: toErrorObject(err, method, this.#onInternalError), unauthorized: false };
    }
  }

  async #multicall(params: unknown[]): Promise<{ result: unknown; unauthorized: boolean }> {
    const calls = listParam(params, 0, true)!;
    const results: unknown[] = [];
    let unauthorized = false;
    let slice = performance.now();
    for (const call of calls) {
      if (performance.now() - slice > SLICE_MS) {
        await yieldToLoop();
        slice = performance.now();
      }
      if (!isObject(call)) {
        results.push({ code: METHOD_ERROR, message: 'system.multicall expected struct.' });
        continue;
      }
      const name = call.methodName;
      if (typeof name !== 'string') {
        results.push({ code: METHOD_ERROR, message: 'Missing methodName.' });
        continue;
      }
      if (name === MULTICALL) {
        results.push({ code: METHOD_ERROR, message: 'Recursive system.multicall forbidden.' });
        continue;
      }
      const inner = await this.#call(name, Array.isArray(call.params) ? call.params : []);
      unauthorized ||= inner.unauthorized;
      // XML-RPC's convention, kept by aria2: a result is wrapped in a list, a fault is not.
      results.push('error' in inner ? inner.error : [inner.result]);
    }
    return { result: results, unauthorized };
  }

  /** Constant time: both sides are hashed to equal-length digests first. */
  #authorized(token: string | undefined): boolean {
    if (this.#secretDigest === undefined) return true;
    return timingSafeEqual(digest(token ?? ''), this.#secretDigest) && token !== undefined;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function ok(id: unknown, outcome: { result: unknown }): RpcResponse {
  return { id, jsonrpc: '2.0', result: outcome.result };
}

function failure(id: unknown, code: number, message: string): RpcResponse {
  return { id, jsonrpc: '2.0', error: { code, message } };
}

function single(response: RpcResponse): RpcReply {
  return { body: response, status: httpStatus(response), unauthorized: false };
}

/** aria2's HTTP status for a single response. */
function httpStatus(response: RpcResponse): number {
  const code = response.error?.code;
  if (code === undefined) return 200;
  if (code === METHOD_ERROR || code === INVALID_REQUEST) return 400;
  if (code === METHOD_NOT_FOUND) return 404;
  return 500;
}

function toErrorObject(
  err: unknown,
  method: string,
  onInternalError: JsonRpcOptions['onInternalError'],
): RpcErrorObject {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  // Validation errors from the library (a bad URL, a bad option value) are the caller's.
  if (err instanceof TypeError || (err instanceof Error && 'code' in err)) {
    return { code: METHOD_ERROR, message: err.message };
  }
  onInternalError?.(err, method);
  return {
    code: METHOD_ERROR,
    message: `internal error in ${method}: ${err instanceof Error ? err.message : String(err)}`,
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// ---- parameter checks, with aria2's messages (positions count after the token) ----

function param<T>(
  params: unknown[],
  index: number,
  required: boolean,
  is: (v: unknown) => v is T,
): T | undefined {
  if (params.length <= index) {
    if (required)
      throw new RpcError(METHOD_ERROR, `The parameter at ${index} is required but missing.`);
    return undefined;
  }
  const value = params[index];
  if (!is(value)) throw new RpcError(METHOD_ERROR, `The parameter at ${index} has wrong type.`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

export function stringParam(params: unknown[], index: number, required: true): string;
export function stringParam(
  params: unknown[],
  index: number,
  required?: boolean,
): string | undefined;
export function stringParam(params: unknown[], index: number, required = false) {
  return param(params, index, required, isString);
}

export function integerParam(params: unknown[], index: number, required: true): number;
export function integerParam(
  params: unknown[],
  index: number,
  required?: boolean,
): number | undefined;
export function integerParam(params: unknown[], index: number, required = false) {
  return param(params, index, required, isInteger);
}

export function listParam(
  params: unknown[],
  index: number,
  required = false,
): unknown[] | undefined {
  return param(params, index, required, isList);
}

export function dictParam(
  params: unknown[],
  index: number,
  required = false,
): Record<string, unknown> | undefined {
  return param(params, index, required, isObject);
}

/** A `keys` list: its strings (aria2 skips anything else); undefined = every key. */
export function keysParam(params: unknown[], index: number): string[] | undefined {
  const list = listParam(params, index);
  if (list === undefined) return undefined;
  const keys = list.filter(isString);
  return keys.length > 0 ? keys : undefined;
}
