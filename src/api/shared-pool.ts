// A Manager's connections: one ConnectionPool leased to its downloads (runs and HEAD requests)
// while it runs; stop() retires it, and a retired pool is closed when its last user leaves. A
// download started by hand while the manager is stopped, or going through other proxies than the
// shared pool's, gets a pool of its own, retired at once.

import { ConnectionPool } from '../net/connection-pool.js';
import { DIRECT, type ProxyRoutes } from '../net/proxy.js';
import type { TlsOptions } from '../net/tls.js';

interface PoolUse {
  pool: ConnectionPool;
  /** Its proxies' key (ProxyRoutes.key): a download whose proxies differ gets a pool of its own. */
  proxyKey: string;
  /** Runs (and HEAD requests) using it now. */
  users: number;
  /** stop() was called: close it when the last user is done. */
  retired: boolean;
  closed: Promise<void>;
  markClosed: () => void;
}

/** undici sockets per origin: the downloads' own limits bound the real number. */
const AGENT_CONNECTIONS = 1024;

export class SharedPool {
  #pool: PoolUse | undefined;
  /** Retired pools not closed yet (still used by downloads that outlived stop()). */
  readonly #retired = new Set<PoolUse>();
  /** The connect/read timeout of a new pool, from the manager's download options. */
  readonly #timeoutMs: () => number;

  /** The TLS rules of the manager's connections (its download options'). */
  readonly #tls: () => TlsOptions | undefined;

  constructor(timeoutMs: () => number, tls: () => TlsOptions | undefined) {
    this.#timeoutMs = timeoutMs;
    this.#tls = tls;
  }

  /**
   * A pool for one run or request going through `proxy`; `running`: the manager runs (else a
   * pool of its own).
   */
  lease(
    running: boolean,
    proxy: ProxyRoutes | undefined,
  ): { pool: ConnectionPool; release(): void } {
    const routes = proxy ?? DIRECT;
    let shared = running ? this.#pool : undefined;
    if (shared && shared.proxyKey !== routes.key) shared = undefined;
    if (!shared) {
      shared = this.#newPool(routes);
      if (running && !this.#pool) {
        this.#pool = shared;
      } else {
        // A download started by hand while the manager is stopped (or going through other
        // proxies) gets a pool of its own, closed when it is done: no pool outlives its users.
        shared.retired = true;
        this.#retired.add(shared);
      }
    }
    const leased = shared;
    leased.users++;
    let released = false;
    return {
      pool: leased.pool,
      release: () => {
        if (released) return;
        released = true;
        leased.users--;
        if (leased.users === 0 && leased.retired) this.#close(leased);
      },
    };
  }

  /** The manager stopped: the current pool is closed once the downloads using it are done. */
  retire(): void {
    const shared = this.#pool;
    if (shared) {
      this.#pool = undefined;
      shared.retired = true;
      this.#retired.add(shared);
      if (shared.users === 0) this.#close(shared);
    }
  }

  /** Resolves when every retired pool is closed. */
  allClosed(): Promise<void> {
    return Promise.all([...this.#retired].map((a) => a.closed)).then(() => {});
  }

  #newPool(proxy: ProxyRoutes): PoolUse {
    let markClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const pool = new ConnectionPool({
      connections: AGENT_CONNECTIONS,
      timeoutMs: this.#timeoutMs(),
      proxy,
      tls: this.#tls(),
    });
    return { pool, proxyKey: proxy.key, users: 0, retired: false, closed, markClosed };
  }

  #close(shared: PoolUse): void {
    void shared.pool
      .close()
      .catch(() => {})
      .then(() => {
        this.#retired.delete(shared);
        shared.markClosed();
      });
  }
}
