// A download's cookie jar: the cookies of a cookies.txt file (--load-cookies) and those the
// servers set (Set-Cookie, redirects included), sent back by domain, path, secure and expiry
// (tough-cookie's RFC 6265 matching), written out as cookies.txt (--save-cookies). A Manager
// shares one among its downloads. tough-cookie is loaded only once there is a cookie to keep.

import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { CookieJar } from 'tough-cookie';
import { InvalidOptionError } from '../errors.js';
import { type CookieRecord, formatCookiesTxt, parseCookiesTxt } from './cookies-txt.js';

type ToughCookie = typeof import('tough-cookie');
let tough: Promise<ToughCookie> | undefined;

export class Cookies {
  #jar: CookieJar | undefined;
  #module: ToughCookie | undefined;
  readonly #loaded = new Map<string, Promise<void>>();

  /** load(file), once per file: a Manager's downloads share the jar. */
  loadOnce(file: string): Promise<void> {
    let loading = this.#loaded.get(file);
    if (!loading) {
      loading = this.load(file);
      this.#loaded.set(file, loading);
      loading.catch(() => this.#loaded.delete(file));
    }
    return loading;
  }

  async #open(): Promise<CookieJar> {
    if (this.#jar) return this.#jar;
    tough ??= import('tough-cookie');
    this.#module = await tough;
    // Secure cookies go over https only, even to a loopback address (as over http elsewhere).
    this.#jar ??= new this.#module.CookieJar(undefined, { allowSecureOnLocal: false });
    return this.#jar;
  }

  /** The Cookie header value for `url` (undefined when no cookie fits). */
  header(url: string | URL): string | undefined {
    if (!this.#jar) return undefined;
    const value = this.#jar.getCookieStringSync(String(url));
    return value === '' ? undefined : value;
  }

  /** Keep the cookies a response from `url` set. Invalid ones are ignored, as browsers do. */
  async store(url: string | URL, setCookies: readonly string[]): Promise<void> {
    if (setCookies.length === 0) return;
    const jar = await this.#open();
    for (const line of setCookies) jar.setCookieSync(line, String(url), { ignoreError: true });
  }

  /** Add the cookies of a cookies.txt file; expired ones are left out. */
  async load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new InvalidOptionError(`cannot read the cookies file ${file}: ${String(cause)}`, {
        cause,
      });
    }
    const jar = await this.#open();
    const { Cookie } = this.#module!;
    const now = Date.now() / 1000;
    for (const r of parseCookiesTxt(text)) {
      if (r.expires !== 0 && r.expires <= now) continue;
      const cookie = new Cookie({
        key: r.name,
        value: r.value,
        domain: r.domain,
        path: r.path,
        secure: r.secure,
        httpOnly: r.httpOnly,
        hostOnly: !r.includeSubdomains,
        expires: r.expires === 0 ? 'Infinity' : new Date(r.expires * 1000),
        creation: new Date(),
      });
      // Straight into the store: a user's file is trusted as it is (no public-suffix check).
      await jar.store.putCookie(cookie);
    }
  }

  /** Every live cookie as cookies.txt records. */
  async records(): Promise<CookieRecord[]> {
    if (!this.#jar) return [];
    const now = Date.now();
    const all = await this.#jar.store.getAllCookies();
    return all.flatMap((c) => {
      // Max-Age counts from when the cookie was set; Infinity/undefined: a session cookie.
      const time = c.expiryTime(c.creation instanceof Date ? c.creation : undefined);
      const expires = time !== undefined && Number.isFinite(time) ? time : undefined;
      if (expires !== undefined && expires <= now) return [];
      if (!c.domain) return [];
      return [
        {
          domain: c.domain,
          includeSubdomains: c.hostOnly === false,
          path: c.path ?? '/',
          secure: c.secure,
          httpOnly: c.httpOnly,
          expires: expires === undefined ? 0 : Math.floor(expires / 1000),
          name: c.key,
          value: c.value,
        },
      ];
    });
  }

  /**
   * Write every live cookie to `file` in the cookies.txt format (mode 0600: they are secrets),
   * through a temporary file renamed over it: a Manager's downloads may save at the same time.
   */
  async save(file: string): Promise<void> {
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, formatCookiesTxt(await this.records()), { mode: 0o600 });
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}
