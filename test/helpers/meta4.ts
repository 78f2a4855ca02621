// RFC 5854 (.meta4) documents for tests: per file its size, sha-1 and sha-256, sha-1 piece
// hashes and its URLs (priority in the order given).
import { createHash } from 'node:crypto';
import { KiB } from './content.js';

const hash = (algorithm: string, b: Buffer): string =>
  createHash(algorithm).update(b).digest('hex');

export interface Meta4File {
  content: Buffer;
  name: string;
  urls: string[];
  /** Piece length. Default 256 KiB. */
  piece?: number;
}

function fileXml({ content, name, urls, piece = 256 * KiB }: Meta4File): string {
  const pieces: string[] = [];
  for (let at = 0; at < content.length; at += piece) {
    pieces.push(`<hash>${hash('sha1', content.subarray(at, at + piece))}</hash>`);
  }
  const xmlText = (u: string) => u.replace(/&/g, '&amp;');
  return `  <file name="${name}">
    <size>${content.length}</size>
    <hash type="sha-1">${hash('sha1', content)}</hash>
    <hash type="sha-256">${hash('sha256', content)}</hash>
    <pieces length="${piece}" type="sha-1">${pieces.join('')}</pieces>
    ${urls.map((u, i) => `<url location="de" priority="${i + 1}">${xmlText(u)}</url>`).join('\n    ')}
  </file>`;
}

/** A .meta4 naming `files`. */
export function meta4Files(files: Meta4File[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <published>2024-01-01T00:00:00Z</published>
${files.map(fileXml).join('\n')}
</metalink>`;
}

/** A .meta4 for `content` named `name`, served at `urls` (priority in order), pieces of `piece`. */
export function meta4(content: Buffer, name: string, urls: string[], piece = 256 * KiB): string {
  return meta4Files([{ content, name, urls, piece }]);
}
