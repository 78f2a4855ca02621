// What a download carries from one request to the next beyond its headers: the user's
// credentials (the `auth` option, -u, .netrc) with the Digest challenge their origin asked for,
// and the cookie jar. credentials.ts asks it what to add to a request; the request paths tell it
// every answer (Set-Cookie, a 401 with a Digest challenge) and retry once when it says so.

import { randomBytes } from 'node:crypto';
import type { Cookies } from './cookies.js';
import {
  basicAuth,
  type Credentials,
  type HttpSession as Session,
  type RawHeaders,
} from './credentials.js';
import { type DigestChallenge, digestAuthorization, parseDigestChallenge } from './digest.js';

export interface SessionOptions {
  /** Credentials for the origin of the URL given (another origin never gets them). */
  auth?: Credentials | undefined;
  cookies?: Cookies | undefined;
}

export type { Credentials, RawHeaders };

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

interface DigestState {
  challenge: DigestChallenge;
  nc: number;
  cnonce: string;
}

export class HttpSession implements Session {
  readonly auth: Credentials | undefined;
  readonly cookies: Cookies | undefined;
  /** Per origin: the Digest challenge in use and its nonce count. */
  readonly #digest = new Map<string, DigestState>();

  constructor(options: SessionOptions = {}) {
    this.auth = options.auth;
    this.cookies = options.cookies;
  }

  /**
   * The Authorization value for a request with `credentials` to `target`: Digest once the
   * origin asked for it, else Basic.
   */
  authorization(target: URL, credentials: Credentials, method: string): string {
    const state = this.#digest.get(target.origin);
    if (!state) return basicAuth(credentials);
    state.nc++;
    return digestAuthorization(state.challenge, {
      ...credentials,
      method,
      uri: `${target.pathname}${target.search}`,
      nc: state.nc,
      cnonce: state.cnonce,
    });
  }

  /**
   * Note an answer from `url`: keep its cookies; for a 401 with a Digest challenge, take the
   * challenge. True when the request should be sent again (once): a new challenge to answer,
   * when the request carried credentials (`sentAuth`) that were not already a Digest answer to
   * a fresh nonce.
   */
  async received(
    url: string | URL,
    statusCode: number,
    headers: RawHeaders,
    sentAuth: boolean,
  ): Promise<boolean> {
    await this.cookies?.store(url, list(headers['set-cookie']));
    if (statusCode !== 401 || !sentAuth) return false;
    const challenge = parseDigestChallenge(list(headers['www-authenticate']));
    if (!challenge) return false;
    const origin = new URL(url).origin;
    const before = this.#digest.get(origin);
    // Already answering this origin in Digest and not told the nonce is stale: wrong credentials.
    if (before && !challenge.stale) return false;
    this.#digest.set(origin, { challenge, nc: 0, cnonce: randomBytes(16).toString('hex') });
    return true;
  }
}
