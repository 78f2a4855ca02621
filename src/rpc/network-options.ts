// aria2's network options of one download as qget's: the proxies (all-proxy, http-proxy,
// https-proxy and the all-proxy credentials) and the session (http-user/-passwd, certificates,
// cookie files).

import type { DownloaderOptions } from '../index.js';

/** aria2 option values by name (as options.ts has them). */
type OptionValues = Record<string, string>;

/**
 * aria2's proxy options as qget's `proxy`: http-proxy for http URLs, https-proxy for https ones,
 * all-proxy for both where those are not set ('' is none); all-proxy-user and -passwd are the
 * credentials of all-proxy. None set: undefined (the environment, or the command line's).
 */
export function proxyOption(values: OptionValues): DownloaderOptions['proxy'] {
  let all = values['all-proxy'];
  const user = values['all-proxy-user'];
  const password = values['all-proxy-passwd'];
  if (all && (user !== undefined || password !== undefined)) {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(all) ? all : `http://${all}`;
    const url = new URL(withScheme);
    url.username = encodeURIComponent(user ?? '');
    url.password = encodeURIComponent(password ?? '');
    all = url.href;
  }
  const http = values['http-proxy'] ?? all;
  const https = values['https-proxy'] ?? all;
  if (http === undefined && https === undefined) return undefined;
  return { http: http || false, https: https || false };
}

/**
 * http-user/http-passwd, .netrc (read by default, as aria2 does: no-netrc=true turns it off,
 * netrc-path names the file), the cookie files and the certificate options, where given.
 */
export function sessionOptions(values: OptionValues): DownloaderOptions {
  const out: DownloaderOptions = {};
  out.netrc = values['no-netrc'] === 'true' ? false : (values['netrc-path'] ?? true);
  const user = values['http-user'];
  if (user !== undefined) out.auth = { username: user, password: values['http-passwd'] ?? '' };
  if (values['check-certificate'] !== undefined) {
    out.insecure = values['check-certificate'] === 'false';
  }
  if (values['ca-certificate'] !== undefined) out.caCertificate = values['ca-certificate'];
  if (values['load-cookies'] !== undefined) out.loadCookies = values['load-cookies'];
  if (values['save-cookies'] !== undefined) out.saveCookies = values['save-cookies'];
  return out;
}
