// Where credentials may go and how URLs holding them are shown. Pure: the request paths ask
// requestHeaders() what to send to each URL, and everything printed goes through redactUrl().
//
// The rule (curl's): the headers that carry credentials, and the user:password of the URL given
// (sent as HTTP Basic auth), belong to that URL's origin (scheme, host, port). A redirect to
// another origin, and every later request to it, goes without them. The session's credentials
// (-u, .netrc, the `auth` option) follow the same rule; its cookies follow their own domains.

/** A user name and password. */
export interface Credentials {
  username: string;
  password: string;
}

/** Raw response headers: a repeated name (Set-Cookie) as an array. */
export type RawHeaders = Record<string, string | string[] | undefined>;

/** What the request paths ask of a download's session (session.ts's HttpSession). */
export interface HttpSession {
  /** Credentials for the origin of the URL given. */
  readonly auth: Credentials | undefined;
  /** The Authorization value for a request to `target` with `credentials`. */
  authorization(target: URL, credentials: Credentials, method: string): string;
  readonly cookies?: { header(url: string | URL): string | undefined } | undefined;
  /** Note an answer; true when the request should be sent once more. */
  received(
    url: string | URL,
    statusCode: number,
    headers: RawHeaders,
    sentAuth: boolean,
  ): Promise<boolean>;
}

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
  // A URL object is read as it is: parsing it again cost a tenth of each request's head.
  if (url instanceof URL) return url.username !== '' || url.password !== '';
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/** `Basic base64(user:password)`. */
export function basicAuth(credentials: Credentials): string {
  const pair = `${credentials.username}:${credentials.password}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The user name and password of a URL's (percent-decoded) userinfo. */
function userinfoCredentials(url: URL): Credentials {
  return { username: safeDecode(url.username), password: safeDecode(url.password) };
}

/**
 * The credentials a request to `target` carries in a download of `given`: `target`'s own
 * userinfo (a redirect's Location), else, on `given`'s origin only, `given`'s userinfo or the
 * session's (`auth`, -u, .netrc). None when the user gave an Authorization header: it wins, as in
 * curl (and goes to `given`'s origin only).
 */
export function credentialsFor(
  target: URL,
  given: URL,
  headers: Record<string, string>,
  session?: HttpSession | undefined,
): Credentials | undefined {
  const same = target.origin === given.origin;
  if (same && Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
    return undefined;
  }
  if (hasUserinfo(target)) return userinfoCredentials(target);
  if (!same) return undefined;
  if (hasUserinfo(given)) return userinfoCredentials(given);
  return session?.auth;
}

/**
 * The headers to send to `target` in a download of `given` (the URL the user gave): all of
 * `headers` on `given`'s origin, plus the credentials (credentialsFor: Basic auth, or Digest once
 * the origin asked for it); elsewhere, `headers` without the credential ones. The session's
 * cookies for `target` join a Cookie header given (its domain/path rules decide where they go).
 */
export function requestHeaders(
  target: string | URL,
  given: string | URL,
  headers: Record<string, string>,
  session?: HttpSession | undefined,
  method = 'GET',
): Record<string, string> {
  const to = new URL(target);
  const from = new URL(given);
  const same = to.origin === from.origin;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!same && CREDENTIAL_HEADERS.has(name.toLowerCase())) continue;
    out[name] = value;
  }
  const credentials = credentialsFor(to, from, headers, session);
  if (credentials) {
    out.authorization = session
      ? session.authorization(to, credentials, method)
      : basicAuth(credentials);
  }
  const jar = session?.cookies?.header(to);
  if (jar !== undefined) {
    const name = Object.keys(out).find((n) => n.toLowerCase() === 'cookie');
    if (name === undefined) out.cookie = jar;
    else out[name] = `${out[name]}; ${jar}`;
  }
  return out;
}

/**
 * Tell the session about an answer to a request built by requestHeaders() (cookies kept, a
 * Digest challenge taken): true when the request should be sent once more, answering it.
 */
export async function noteAnswer(
  session: HttpSession | undefined,
  target: string | URL,
  given: string | URL,
  headers: Record<string, string>,
  statusCode: number,
  raw: RawHeaders,
): Promise<boolean> {
  if (!session) return false;
  const sentAuth = credentialsFor(new URL(target), new URL(given), headers, session) !== undefined;
  return session.received(target, statusCode, raw, sentAuth);
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

/**
 * Query parameters whose value is a secret in signed or tokened links: `token`, `access_token`,
 * `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`, Azure's `sig`, `api_key`…
 */
const SECRET_PARAM =
  /([?&])((?:[^=&#\s"'<>]*[-_.])?(?:token|access[-_]?token|sig|signature|secret|password|passwd|pwd|key|api[-_]?key|credential|auth|authorization|session[-_]?id))=([^&#\s"'<>)]*)/gi;

/**
 * `url` as it may be shown: a password becomes `***` (`user:***@`), a lone user name `***@`,
 * and the value of a secret-named query parameter `***` (`?token=***`).
 */
export function redactUrl(url: string): string {
  return redactUrls(url);
}

/** `text` with the userinfo and secret query values of every URL in it masked as redactUrl() does. */
export function redactUrls(text: string): string {
  const masked = text.includes('@') ? text.replace(USERINFO, mask) : text;
  return masked.includes('=') ? masked.replace(SECRET_PARAM, '$1$2=***') : masked;
}
