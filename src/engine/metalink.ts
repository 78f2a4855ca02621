// Metalink documents (RFC 5854 `.meta4`, and the older v3 `.metalink`) read with fast-xml-parser:
// for each file its name, size, whole-file hash (sha-256 preferred), piece hashes, and its
// http(s) URLs in the order of preference (v4 `priority`, lower first; v3 `preference`, higher
// first). Pure: text in, records out; the parser is imported at the first document (its own lazy
// chunk in the CLI bundle: most downloads never read one).

import { InvalidOptionError } from '../errors.js';
import { type ChecksumAlgorithm, type ChecksumSpec, digestHexLength } from './checksum.js';

/** The media types of a Metalink answer (RFC 5854 §4.2.3, and v3's). */
export const METALINK_TYPES = ['application/metalink4+xml', 'application/metalink+xml'];

export interface PieceHashes {
  algorithm: ChecksumAlgorithm;
  /** Bytes per piece (the last may be shorter). */
  length: number;
  /** Lower-case hex, one per piece in order. */
  hashes: string[];
}

export interface MetalinkUrl {
  url: string;
  location: string | undefined;
}

export interface MetalinkFile {
  name: string;
  size: number | undefined;
  /** The strongest whole-file hash given (sha-256 first). */
  hash: ChecksumSpec | undefined;
  pieces: PieceHashes | undefined;
  /** http(s) URLs, most preferred first. */
  urls: MetalinkUrl[];
}

const ALGORITHMS: Record<string, ChecksumAlgorithm> = {
  'sha-256': 'sha256',
  sha256: 'sha256',
  'sha-512': 'sha512',
  sha512: 'sha512',
  'sha-1': 'sha1',
  sha1: 'sha1',
  md5: 'md5',
};
const PREFERENCE: ChecksumAlgorithm[] = ['sha256', 'sha512', 'sha1', 'md5'];

type Node = Record<string, unknown>;

const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string | undefined => {
  if (typeof v === 'string' || typeof v === 'number') return String(v).trim();
  if (v && typeof v === 'object' && '#text' in v) return String((v as Node)['#text']).trim();
  return undefined;
};
const attr = (v: unknown, name: string): string | undefined => {
  if (!v || typeof v !== 'object') return undefined;
  const value = (v as Node)[`@_${name}`];
  return value === undefined ? undefined : String(value);
};

/** Whether a Content-Type names a Metalink document. */
export function isMetalinkType(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type !== undefined && METALINK_TYPES.includes(type);
}

/** The files of a Metalink document (v4 or v3); an InvalidOptionError when it is none. */
export async function parseMetalink(xml: string): Promise<MetalinkFile[]> {
  const { XMLParser } = await import('fast-xml-parser');
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: true,
    isArray: (name) => ['file', 'url', 'hash', 'metaurl'].includes(name),
  });
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new InvalidOptionError(`not a Metalink document: ${(err as Error).message}`);
  }
  const root = doc.metalink as Node | undefined;
  if (!root || typeof root !== 'object') {
    throw new InvalidOptionError('not a Metalink document: no <metalink> element');
  }
  const v3 = root.files !== undefined;
  const files = asArray(v3 ? (root.files as Node).file : root.file) as Node[];
  const out = files.map((f) => (v3 ? fileV3(f) : fileV4(f)));
  if (out.length === 0) throw new InvalidOptionError('the Metalink document names no file');
  return out;
}

function fileV4(f: Node): MetalinkFile {
  const urls = (asArray(f.url) as unknown[])
    .map((u) => ({ url: text(u) ?? '', priority: Number(attr(u, 'priority') ?? 999999), u }))
    .sort((a, b) => a.priority - b.priority);
  const pieces = f.pieces as Node | undefined;
  return {
    name: checkName(attr(f, 'name')),
    size: sizeOf(f.size),
    hash: bestHash(asArray(f.hash)),
    pieces: pieces ? piecesOf(pieces) : undefined,
    urls: httpUrls(urls.map(({ url, u }) => ({ url, location: attr(u, 'location') }))),
  };
}

function fileV3(f: Node): MetalinkFile {
  const verification = (f.verification ?? {}) as Node;
  const resources = (f.resources ?? {}) as Node;
  const urls = (asArray(resources.url) as unknown[])
    .map((u) => ({ url: text(u) ?? '', preference: Number(attr(u, 'preference') ?? 0), u }))
    .sort((a, b) => b.preference - a.preference);
  const pieces = verification.pieces as Node | undefined;
  return {
    name: checkName(attr(f, 'name')),
    size: sizeOf(f.size),
    hash: bestHash(asArray(verification.hash)),
    pieces: pieces ? piecesOf(pieces) : undefined,
    urls: httpUrls(urls.map(({ url, u }) => ({ url, location: attr(u, 'location') }))),
  };
}

function checkName(name: string | undefined): string {
  if (!name) throw new InvalidOptionError('a <file> of the Metalink document has no name');
  return name;
}

function sizeOf(v: unknown): number | undefined {
  const t = text(v);
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}

function algorithmOf(node: unknown): ChecksumAlgorithm | undefined {
  return ALGORITHMS[(attr(node, 'type') ?? '').toLowerCase()];
}

function hexOf(node: unknown, algorithm: ChecksumAlgorithm): string | undefined {
  const hex = text(node)?.toLowerCase();
  return hex && /^[0-9a-f]+$/.test(hex) && hex.length === digestHexLength(algorithm)
    ? hex
    : undefined;
}

function bestHash(hashes: unknown[]): ChecksumSpec | undefined {
  for (const algorithm of PREFERENCE) {
    for (const h of hashes) {
      const digest = algorithmOf(h) === algorithm ? hexOf(h, algorithm) : undefined;
      if (digest) return { algorithm, digest };
    }
  }
  return undefined;
}

function piecesOf(p: Node): PieceHashes | undefined {
  const algorithm = algorithmOf(p);
  const length = Number(attr(p, 'length'));
  if (!algorithm || !Number.isSafeInteger(length) || length <= 0) return undefined;
  const hashes = asArray(p.hash).map((h) => hexOf(h, algorithm));
  if (hashes.length === 0 || hashes.some((h) => h === undefined)) return undefined;
  return { algorithm, length, hashes: hashes as string[] };
}

function httpUrls(urls: MetalinkUrl[]): MetalinkUrl[] {
  return urls.filter((u) => /^https?:\/\//i.test(u.url));
}
