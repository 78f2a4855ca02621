// THE header rules, once: what a Content-Length or Content-Range says about a resource, how a
// response head becomes one lower-cased value per name, and what a "Name: value" line the user
// gives (CLI -H, the daemon's header option) must look like. Framing a body on the wire
// (range-connection.ts) is another job with its own rule: there a bad length is a protocol error.

import { InvalidOptionError } from '../errors.js';

/**
 * The largest response head read (status line and headers), on every path: the lean connection
 * counts the head's bytes, undici (`maxHeaderSize`) its names and values. A longer head is a
 * permanent failure (error-map.ts), not a network one worth retrying.
 */
export const MAX_HEAD_BYTES = 256 * 1024;

/** Response headers, one value per lower-case name. */
export type FlatHeaders = Record<string, string | undefined>;

export interface ContentRange {
  start: number;
  /** Inclusive, as on the wire. */
  end: number;
  total: number | undefined;
}

/**
 * The size of the resource a Content-Length gives: digits only, and only for an identity
 * encoding (the length of a gzip body says nothing about the resource). Undefined otherwise.
 */
export function contentLength(headers: FlatHeaders): number | undefined {
  const raw = headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding && encoding.toLowerCase() !== 'identity') return undefined;
  return Number(raw);
}

/** `bytes a-b/total`, `bytes a-b/*`; undefined for anything else (including `bytes * /n`). */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (!value) return undefined;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

/** The total from an unsatisfied-range answer: `bytes * /total`. */
export function parseUnsatisfiedRange(value: string | undefined): number | undefined {
  const m = value ? /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value) : null;
  return m ? Number(m[1]) : undefined;
}

/** A response head as one value per lower-case name; the first value of a repeated one wins. */
export function flattenHeaders(raw: Record<string, string | string[] | undefined>): FlatHeaders {
  const out: FlatHeaders = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = name.toLowerCase();
    if (out[key] === undefined) out[key] = Array.isArray(value) ? value[0] : value;
  }
  return out;
}

/** A raw response head's header lines ("Name: value") flattened the same way; malformed lines skipped. */
export function flattenHeadLines(lines: readonly string[]): FlatHeaders {
  const out: FlatHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (out[name] === undefined) out[name] = line.slice(colon + 1).trim();
  }
  return out;
}

/** Names whose every value counts: each Set-Cookie is a cookie, each WWW-Authenticate a challenge. */
const REPEATED = new Set(['set-cookie', 'www-authenticate']);

/** The Set-Cookie and WWW-Authenticate lines of a raw response head, every value. */
export function repeatedHeaders(lines: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (!REPEATED.has(name)) continue;
    const values = out[name] ?? [];
    values.push(line.slice(colon + 1).trim());
    out[name] = values;
  }
  return out;
}

/** The same headers with lower-case names (a later spelling of a name wins). */
export function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** An HTTP field name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Request headers from "Name: value" lines (names lower-cased, values trimmed, a later line for
 * the same name wins). A line without a colon or whose name is not an HTTP token throws an
 * InvalidOptionError naming the line.
 */
export function parseHeaderLines(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!TOKEN.test(name)) {
      throw new InvalidOptionError(`"${line}" is not a header; write "Name: value".`);
    }
    headers[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
