// The credential, cookie and TLS options of qget(), Downloader and Manager, checked and turned
// into what the net layer takes: a session (net/session.ts) and TLS rules (net/tls.ts).

import { readFileSync, type Stats, statSync } from 'node:fs';
import { InvalidOptionError } from '../errors.js';
import { Cookies } from '../net/cookies.js';
import { defaultNetrcPath, type NetrcEntry, netrcCredentials, parseNetrc } from '../net/netrc.js';
import { type Credentials, HttpSession } from '../net/session.js';
import { readCaCertificate, type TlsOptions } from '../net/tls.js';
import { optionError } from './checks.js';

/** The credential, cookie and TLS options of qget(), Downloader and Manager (QgetOptions has them). */
export interface SessionOptionsIn {
  /**
   * Credentials for the origin of `url` (never another): `{ username, password }` or
   * `'user:password'`. Sent as Basic auth; as Digest (RFC 7616, MD5 or SHA-256) once the server
   * asks for it. Credentials in the URL itself win; so does an Authorization header.
   */
  auth?: { username: string; password: string } | string | undefined;
  /** Credentials from a .netrc file when `auth` is not given: true = ~/.netrc, or a file path. */
  netrc?: boolean | string | undefined;
  /** A cookies.txt file (Netscape format, as curl, wget and aria2 write it) to send cookies from. */
  loadCookies?: string | undefined;
  /** Where to write the cookies (loaded and set by the servers) once the download ends. */
  saveCookies?: string | undefined;
  /**
   * Certificates trusted besides Node's roots, for https: PEM text (a string holding
   * "-----BEGIN CERTIFICATE-----", or a Buffer), else the path of a PEM file.
   */
  caCertificate?: string | Buffer | undefined;
  /** Check no certificate at all (anyone between can read and change the download). Default false. */
  insecure?: boolean | undefined;
  /** A dispatcher of the caller's own: its connections follow its own TLS settings. */
  dispatcher?: unknown;
}

/** `auth` as credentials: `{ username, password }`, or `'user:password'` (split at the first colon). */
export function checkAuth(value: unknown): Credentials | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const colon = value.indexOf(':');
    return colon < 0
      ? { username: value, password: '' }
      : { username: value.slice(0, colon), password: value.slice(colon + 1) };
  }
  const o = value as Partial<Credentials> | null;
  if (
    o &&
    typeof o === 'object' &&
    typeof o.username === 'string' &&
    typeof o.password === 'string'
  ) {
    return { username: o.username, password: o.password };
  }
  // Never the value itself: it may hold a password.
  throw optionError('auth', "{ username, password } or 'user:password'", typeof value);
}

/** The .netrc credentials for `url`'s host (`netrc`: true = ~/.netrc, a string = that file). */
export function netrcAuth(url: string, netrc: unknown): Credentials | undefined {
  if (netrc === undefined || netrc === false) return undefined;
  if (netrc !== true && (typeof netrc !== 'string' || netrc === '')) {
    throw optionError('netrc', 'a boolean or a file path', netrc);
  }
  const file = netrc === true ? defaultNetrcPath() : netrc;
  let entries: NetrcEntry[];
  try {
    const stats = statSync(file, { throwIfNoEntry: false });
    // curl goes on without credentials when ~/.netrc is missing, not when a named file is.
    if (stats === undefined && netrc === true) return undefined;
    entries = netrcEntries(file, stats);
  } catch (cause) {
    if (netrc === true && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidOptionError(`cannot read the netrc file ${file}: ${String(cause)}`, { cause });
  }
  const target = new URL(url);
  const user = target.username ? decodeURIComponent(target.username) : undefined;
  return netrcCredentials(entries, target.hostname, user);
}

/** Each netrc file read, kept while it is the same file (inode, size, mtime). */
const netrcFiles = new Map<string, { key: string; entries: NetrcEntry[] }>();

/**
 * The entries of `file` (`stats`: its stat, undefined when missing: then read, which throws).
 * Every download start asks: one stat, and the file read again only when it changed.
 */
function netrcEntries(file: string, stats: Stats | undefined): NetrcEntry[] {
  const key = stats && `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  const kept = netrcFiles.get(file);
  if (key !== undefined && kept?.key === key) return kept.entries;
  const entries = parseNetrc(readFileSync(file, 'utf8'));
  if (key !== undefined) netrcFiles.set(file, { key, entries });
  return entries;
}

/** `caCertificate` and `insecure` as TLS rules; undefined when neither is set. */
export function tlsOptions(options: SessionOptionsIn): TlsOptions | undefined {
  const { caCertificate, insecure } = options;
  if (insecure !== undefined && typeof insecure !== 'boolean') {
    throw optionError('insecure', 'a boolean', insecure);
  }
  if (options.dispatcher !== undefined && (insecure || caCertificate !== undefined)) {
    // qget cannot change the TLS of connections it does not make: say so rather than ignore it.
    throw new InvalidOptionError(
      `the ${insecure ? 'insecure' : 'caCertificate'} option applies to qget's own connections, not to a dispatcher given: set TLS on that dispatcher (undici's connect options) instead`,
    );
  }
  if (caCertificate === undefined) return insecure ? { insecure } : undefined;
  if (typeof caCertificate !== 'string' && !Buffer.isBuffer(caCertificate)) {
    throw optionError('caCertificate', 'a PEM string or Buffer, or a file path', caCertificate);
  }
  return { ca: readCaCertificate(caCertificate), insecure: insecure ?? false };
}

/** A key equal for equal TLS rules: a Manager's shared connections serve those only. */
export function tlsKey(tls: TlsOptions | undefined): string {
  return `${tls?.insecure ? 1 : 0}:${tls?.ca ?? ''}`;
}

function checkFile(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw optionError(name, 'a file path', value);
  return value;
}

/** The session of one run of `url`: `auth`, else .netrc; cookies in `cookies`. */
export function newSession(url: string, options: SessionOptionsIn, cookies: Cookies): HttpSession {
  checkFile('loadCookies', options.loadCookies);
  checkFile('saveCookies', options.saveCookies);
  const auth = checkAuth(options.auth) ?? netrcAuth(url, options.netrc);
  return new HttpSession({ auth, cookies });
}

/** Read `loadCookies` into `cookies` (once per jar and file). */
export function loadCookies(options: SessionOptionsIn, cookies: Cookies): Promise<void> {
  const file = checkFile('loadCookies', options.loadCookies);
  return file ? cookies.loadOnce(file) : Promise.resolve();
}

/** Write `cookies` to `saveCookies`, when set. */
export async function saveCookies(options: SessionOptionsIn, cookies: Cookies): Promise<void> {
  const file = checkFile('saveCookies', options.saveCookies);
  if (file) await cookies.save(file);
}

export { Cookies };
