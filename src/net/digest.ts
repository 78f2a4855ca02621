// HTTP Digest access authentication (RFC 7616), the client side: what a server's
// `WWW-Authenticate: Digest ...` challenge says, and the Authorization answer to it for one
// request. MD5 and SHA-256 (and their -sess variants), qop=auth or no qop (RFC 2069 servers).
// Pure: the nonce count and client nonce are given by the caller (auth.ts keeps them).

import { createHash } from 'node:crypto';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string | undefined;
  /** Lower-case as the hash names go: md5, md5-sess, sha-256, sha-256-sess. */
  algorithm: string;
  /** 'auth' when the server offers it; undefined for an RFC 2069 challenge without qop. */
  qop: 'auth' | undefined;
  /** The server says the nonce expired (the credentials were right). */
  stale: boolean;
  /** userhash=true: the user name goes hashed. */
  userhash: boolean;
}

const HASHES: Record<string, string> = { md5: 'md5', 'sha-256': 'sha256' };

/** The parameters of one auth-scheme in a header value: `name=token` or `name="quoted"`. */
function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  const re = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    params[m[1]!.toLowerCase()] = value;
  }
  return params;
}

/**
 * The first Digest challenge we can answer among the WWW-Authenticate values (one header may
 * hold several challenges; a server may offer SHA-256 and MD5): SHA-256 preferred. Undefined
 * when there is none (Basic only, an unknown algorithm, qop without "auth").
 */
export function parseDigestChallenge(
  values: string | readonly string[] | undefined,
): DigestChallenge | undefined {
  if (values === undefined) return undefined;
  const list = typeof values === 'string' ? [values] : values;
  const found: DigestChallenge[] = [];
  for (const value of list) {
    // Split before each scheme name: a token followed by a space and a name=value pair.
    for (const part of value.split(/,?\s*(?=\b[A-Za-z][\w-]*\s+[\w-]+\s*=)/)) {
      const m = /^\s*Digest\s+(.*)$/is.exec(part);
      if (!m) continue;
      const p = parseParams(m[1]!);
      const algorithm = (p.algorithm ?? 'MD5').toLowerCase();
      const base = algorithm.replace(/-sess$/, '');
      if (!HASHES[base] || p.realm === undefined || !p.nonce) continue;
      const qops = p.qop?.split(',').map((q) => q.trim().toLowerCase());
      if (qops && !qops.includes('auth')) continue;
      found.push({
        realm: p.realm,
        nonce: p.nonce,
        opaque: p.opaque,
        algorithm,
        qop: qops ? 'auth' : undefined,
        stale: p.stale?.toLowerCase() === 'true',
        userhash: p.userhash?.toLowerCase() === 'true',
      });
    }
  }
  return found.find((c) => c.algorithm.startsWith('sha-256')) ?? found[0];
}

export interface DigestRequest {
  username: string;
  password: string;
  method: string;
  /** The request target as sent: path and query. */
  uri: string;
  /** This nonce's use count, from 1. */
  nc: number;
  cnonce: string;
}

function hash(algorithm: string, text: string): string {
  const name = HASHES[algorithm.replace(/-sess$/, '')]!;
  return createHash(name).update(text, 'utf8').digest('hex');
}

function quoted(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/** The Authorization header value answering `challenge` for one request (RFC 7616 §3.4). */
export function digestAuthorization(challenge: DigestChallenge, request: DigestRequest): string {
  const { algorithm, realm, nonce, qop } = challenge;
  const h = (text: string): string => hash(algorithm, text);
  const nc = request.nc.toString(16).padStart(8, '0');
  let ha1 = h(`${request.username}:${realm}:${request.password}`);
  if (algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${nonce}:${request.cnonce}`);
  const ha2 = h(`${request.method}:${request.uri}`);
  const response = qop
    ? h(`${ha1}:${nonce}:${nc}:${request.cnonce}:${qop}:${ha2}`)
    : h(`${ha1}:${nonce}:${ha2}`);
  const username = challenge.userhash ? h(`${request.username}:${realm}`) : request.username;
  const fields = [
    `username=${quoted(username)}`,
    `realm=${quoted(realm)}`,
    `uri=${quoted(request.uri)}`,
    `algorithm=${algorithm.toUpperCase().replace('-SESS', '-sess')}`,
    `nonce=${quoted(nonce)}`,
  ];
  if (qop) fields.push(`nc=${nc}`, `cnonce=${quoted(request.cnonce)}`, `qop=${qop}`);
  fields.push(`response=${quoted(response)}`);
  if (challenge.opaque !== undefined) fields.push(`opaque=${quoted(challenge.opaque)}`);
  if (challenge.userhash) fields.push('userhash=true');
  return `Digest ${fields.join(', ')}`;
}
