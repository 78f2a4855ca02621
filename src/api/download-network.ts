// What a Downloader's requests go through: its cookie jar (its Manager's, else its own), the
// Manager's connections when the TLS rules match, its proxies, and the session and cookie-file
// hooks handed to its DownloadRunner.

import type { EnginePassThrough } from './downloader-options.js';
import type { RunHooks } from './download-runner.js';
import type { HttpSession } from '../net/session.js';
import type { ConnectionPool } from '../net/connection-pool.js';
import type { ProxyRoutes } from '../net/proxy.js';
import type { EngineOptions } from '../engine/engine-options.js';
import type { TlsOptions } from '../net/tls.js';
import { Cookies, loadCookies, newSession, saveCookies, tlsKey } from './session-options.js';

/** The part of a Manager's link (DownloaderLink) that a download's requests go through. */
export interface NetworkLink {
  /** Connections that go through `proxy` (shared when the manager's go the same way). */
  lease(proxy: ProxyRoutes | undefined): { pool: ConnectionPool; release(): void };
  /** The manager's cookie jar, shared by its downloads. */
  readonly cookies: Cookies;
  /** The TLS rules of the manager's connections: a download with other rules uses its own. */
  readonly tls: TlsOptions | undefined;
}

export class DownloadNetwork {
  readonly #base: () => EnginePassThrough;
  readonly #link: () => NetworkLink | undefined;
  /** Cookies kept from run to run (a Manager's jar replaces it). */
  readonly #cookies = new Cookies();

  constructor(base: () => EnginePassThrough, link: () => NetworkLink | undefined) {
    this.#base = base;
    this.#link = link;
  }

  /** The hooks of a DownloadRunner that its requests go through; `url` is the download's. */
  hooks(
    url: () => string,
  ): Pick<RunHooks, 'dispatcher' | 'lease' | 'session' | 'loadCookies' | 'saveCookies'> {
    return {
      dispatcher: () => this.#base().dispatcher,
      lease: (engine) => this.lease(engine),
      session: () => this.session(url()),
      loadCookies: () => this.loadCookies(),
      saveCookies: () => this.saveCookies(),
    };
  }

  /** A session for `url`: this download's options and cookie jar. */
  session(url: string): HttpSession {
    return newSession(url, this.#base(), this.#jar());
  }

  loadCookies(): Promise<void> {
    return loadCookies(this.#base(), this.#jar());
  }

  saveCookies(): Promise<void> {
    return saveCookies(this.#base(), this.#jar()).catch((err: unknown) => {
      this.#base().onWarning?.(`cannot save the cookies: ${String(err)}`);
    });
  }

  /** The cookie jar of this download: its Manager's, else its own. */
  #jar(): Cookies {
    return this.#link()?.cookies ?? this.#cookies;
  }

  /**
   * The Manager's connections, when it has them and their TLS rules are this download's: those of
   * `engine`, its engine options for the run (built from its options), as are the proxies.
   */
  lease(
    engine: Pick<EngineOptions, 'proxy' | 'tls'>,
  ): { pool: ConnectionPool; release(): void } | undefined {
    const link = this.#link();
    if (this.#base().dispatcher || !link) return undefined;
    if (tlsKey(engine.tls) !== tlsKey(link.tls)) return undefined;
    return link.lease(engine.proxy);
  }
}
