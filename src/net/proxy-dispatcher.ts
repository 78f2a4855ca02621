// undici through proxies: a Requester that sends each request the way its ProxyRoutes say.
// Direct: a plain Agent. Plain http through an HTTP proxy: absolute-form requests
// (`GET http://host/path`) on connections to the proxy, its credentials in Proxy-Authorization.
// Everything else (https through an HTTP proxy, anything through SOCKS): an Agent whose connect
// function opens a tunnel (tunnel.ts) and, for https, starts TLS with the target over it.

import { isIP } from 'node:net';
import type { buildConnector, Dispatcher } from 'undici';
import {
  type AgentOptions,
  createAgent,
  loadUndici,
  type Requester,
  socketOptions,
} from './client.js';
import { type ProxyRoutes, type ProxyTarget, proxyAuthorization } from './proxy.js';
import { connectProxy, openTunnel, tunnelRefused } from './tunnel.js';

export interface RequesterOptions extends AgentOptions {
  /** Which proxy each URL goes through; none: every request direct. */
  proxy?: ProxyRoutes | undefined;
}

/** A keep-alive requester that goes through the proxies `options.proxy` names. */
export function createRequester(options: RequesterOptions): Requester {
  const { proxy, ...agent } = options;
  return proxy === undefined || proxy.none ? createAgent(agent) : new ProxyRequester(proxy, agent);
}

type Callback = buildConnector.Callback;
type ConnectOptions = {
  hostname: string;
  host?: string;
  protocol: string;
  port: string;
  servername?: string;
};

/** `host:port` of a proxy as a URL authority (IPv6 in brackets). */
function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

class ProxyRequester implements Requester {
  readonly #routes: ProxyRoutes;
  readonly #options: AgentOptions;
  #direct: Dispatcher | undefined;
  #tunneled: Dispatcher | undefined;
  /** Absolute-form connections, one Agent per HTTP proxy (keyed by its URL). */
  readonly #forward = new Map<string, Dispatcher>();
  #closed = false;

  constructor(routes: ProxyRoutes, options: AgentOptions) {
    this.#routes = routes;
    this.#options = options;
  }

  async request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    const undici = await loadUndici();
    if (this.#closed) throw new undici.errors.ClientDestroyedError();
    const base = {
      connections: Math.max(1, this.#options.connections),
      ...socketOptions(this.#options.timeoutMs, this.#options.tls),
    };
    const target = new URL(String(options.origin));
    const proxy = this.#routes.for(target);
    if (!proxy) {
      this.#direct ??= new undici.Agent(base);
      return this.#direct.request(options);
    }
    if ((proxy.kind === 'http' || proxy.kind === 'https') && target.protocol === 'http:') {
      return this.#forwardRequest(undici, base, proxy, target, options);
    }
    // Loaded when used: the command line starts without node:tls.
    const { connect: tlsConnect } = await import('node:tls');
    this.#tunneled ??= new undici.Agent({ ...base, connect: this.#tunnelConnect(tlsConnect) });
    return this.#tunneled.request(options);
  }

  async #forwardRequest(
    undici: typeof import('undici'),
    base: object,
    proxy: ProxyTarget,
    target: URL,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData> {
    const origin = `${proxy.kind}://${authority(proxy.host, proxy.port)}`;
    let agent = this.#forward.get(proxy.shown + origin);
    if (!agent) {
      const timeoutMs = this.#options.timeoutMs;
      agent = new undici.Agent({
        ...base,
        connect: (_o: ConnectOptions, cb: Callback) => {
          connectProxy(proxy, { timeoutMs, tls: this.#options.tls }).then(
            (socket) => cb(null, socket),
            (err: Error) => cb(err, null),
          );
        },
      });
      this.#forward.set(proxy.shown + origin, agent);
    }
    const auth = proxyAuthorization(proxy);
    const headers = {
      ...(options.headers as Record<string, string> | undefined),
      host: target.host,
      ...(auth ? { 'proxy-authorization': auth } : {}),
    };
    const res = await agent.request({
      ...options,
      origin,
      path: `${target.origin}${options.path}`,
      headers,
    });
    if (res.statusCode === 407) {
      res.body.on('error', () => {}).destroy();
      throw tunnelRefused(proxy, 407, target.host);
    }
    return res;
  }

  /** undici's connect function: a tunnel through the URL's proxy, TLS with the target over it. */
  #tunnelConnect(tlsConnect: typeof import('node:tls').connect) {
    const timeoutMs = this.#options.timeoutMs;
    // The TLS options of a direct connection (undici's `connect` ones), over the tunnel.
    const { timeout: _timeout, ...tlsOptions } = socketOptions(
      timeoutMs,
      this.#options.tls,
    ).connect;
    return (o: ConnectOptions, cb: Callback): void => {
      const https = o.protocol === 'https:';
      const port = Number(o.port) || (https ? 443 : 80);
      const url = new URL(`${o.protocol}//${authority(o.hostname.replace(/^\[|\]$/g, ''), port)}`);
      const proxy = this.#routes.for(url);
      if (!proxy) {
        cb(new Error(`no proxy for ${url.origin}`), null);
        return;
      }
      openTunnel(proxy, o.hostname, port, { timeoutMs, tls: this.#options.tls }).then(
        (socket) => {
          if (!https) {
            cb(null, socket);
            return;
          }
          const name = o.servername ?? o.hostname.replace(/^\[|\]$/g, '');
          const secure = tlsConnect({
            ...tlsOptions,
            socket,
            servername: isIP(name) === 0 ? name : undefined,
            ALPNProtocols: ['http/1.1'],
          });
          const onError = (err: Error): void => {
            secure.destroy();
            cb(err, null);
          };
          secure.once('error', onError);
          secure.once('secureConnect', () => {
            secure.off('error', onError);
            cb(null, secure);
          });
        },
        (err: Error) => cb(err, null),
      );
    };
  }

  #all(): Dispatcher[] {
    return [this.#direct, this.#tunneled, ...this.#forward.values()].filter(
      (d): d is Dispatcher => d !== undefined,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#all().map((d) => d.close()));
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#all().map((d) => d.destroy()));
  }
}
