// Where credentials may go and how URLs holding them are shown. Pure: the request paths ask
// requestHeaders() what to send to each URL, and everything printed goes through redactUrl().
//
// The rule (curl's): the headers that carry credentials, and the user:password of the URL given
// (sent as HTTP Basic auth), belong to that URL's origin (scheme, host, port). A redirect to
// another origin, and every later request to it, goes without them.

/** Headers that carry credentials: dropped for any origin but the one the user asked for. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
]);

/** Whether `a` and `b` share scheme, host and port. */
export function sameOrigin(a: string | URL, b: string | URL): boolean {
  return new URL(a).origin === new URL(b).origin;
}

/** Whether `url` carries a user name or password. */
export function hasUserinfo(url: string | URL): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/** `Basic base64(user:password)` for a URL's (percent-decoded) userinfo. */
export function basicAuth(url: URL): string {
  const user = safeDecode(url.username);
  const password = safeDecode(url.password);
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The headers to send to `target` in a download of `given` (the URL the user gave): all of
 * `headers` on `given`'s origin, plus Basic auth from the userinfo (unless an Authorization
 * header was given: it wins, as in curl); elsewhere, `headers` without the credential ones.
 * A `target` with its own userinfo (a redirect's Location) uses that.
 */
export function requestHeaders(
  target: string | URL,
  given: string | URL,
  headers: Record<string, string>,
): Record<string, string> {
  const to = new URL(target);
  const from = new URL(given);
  const same = to.origin === from.origin;
  const out: Record<string, string> = {};
  let authorization = false;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!same && CREDENTIAL_HEADERS.has(lower)) continue;
    if (lower === 'authorization') authorization = true;
    out[name] = value;
  }
  const userinfo = hasUserinfo(to) ? to : same && hasUserinfo(from) ? from : undefined;
  if (userinfo && !authorization) out.authorization = basicAuth(userinfo);
  return out;
}

/**
 * `scheme://userinfo@`: the user name (up to a colon), the rest of the userinfo (up to the last
 * `@` before the path, as URL parsers read it).
 */
const USERINFO =
  /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#:]*)(:[^\s/?#]*)?@(?=[^\s/?#@]*(?:[\s/?#]|$))/gi;

function mask(_all: string, scheme: string, user: string, password: string | undefined): string {
  // A user name alone is often a token (https://TOKEN@host/): hidden too.
  return password === undefined ? `${scheme}***@` : `${scheme}${user}:***@`;
}

/** `url` as it may be shown: a password becomes `***` (`user:***@`), a lone user name `***@`. */
export function redactUrl(url: string): string {
  return redactUrls(url);
}

/** `text` with the userinfo of every URL in it masked as redactUrl() does. */
export function redactUrls(text: string): string {
  return text.includes('@') ? text.replace(USERINFO, mask) : text;
}
