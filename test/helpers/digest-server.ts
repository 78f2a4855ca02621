// The server side of HTTP Digest auth (RFC 7616) for the test server, written apart from
// src/net/digest.ts so that a mistake there cannot be mirrored here: parse the client's
// Authorization, recompute the response, accept or answer 401 with a challenge.

import { createHash } from 'node:crypto';

export interface DigestConfig {
  realm: string;
  username: string;
  password: string;
  /** 'MD5' or 'SHA-256'. */
  algorithm: string;
  /** The nonce handed out; change it and set `stale` to make clients renew. */
  nonce: string;
  opaque: string;
}

function h(algorithm: string, text: string): string {
  return createHash(algorithm === 'SHA-256' ? 'sha256' : 'md5')
    .update(text)
    .digest('hex');
}

/** The WWW-Authenticate value asking for Digest auth. */
export function digestChallenge(c: DigestConfig, stale = false): string {
  return `Digest realm="${c.realm}", qop="auth", algorithm=${c.algorithm}, nonce="${c.nonce}", opaque="${c.opaque}"${stale ? ', stale=true' : ''}`;
}

function params(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)) {
    out[m[1]!] = m[2] ?? m[3] ?? '';
  }
  return out;
}

/** 'ok', 'stale' (right credentials, old nonce) or 'bad' for a request's Authorization. */
export function checkDigest(
  c: DigestConfig,
  method: string,
  url: string,
  authorization: string | undefined,
): 'ok' | 'stale' | 'bad' {
  if (!authorization?.startsWith('Digest ')) return 'bad';
  const p = params(authorization.slice(7));
  if (p.username !== c.username || p.realm !== c.realm || p.uri !== url || p.qop !== 'auth') {
    return 'bad';
  }
  if ((p.algorithm ?? 'MD5') !== c.algorithm || p.opaque !== c.opaque) return 'bad';
  const ha1 = h(c.algorithm, `${c.username}:${c.realm}:${c.password}`);
  const ha2 = h(c.algorithm, `${method}:${url}`);
  const expected = h(c.algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
  if (p.response !== expected) return 'bad';
  return p.nonce === c.nonce ? 'ok' : 'stale';
}
