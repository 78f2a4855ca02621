// Picks the local file name for a download: Content-Disposition (RFC 6266 / RFC 5987) parsing,
// URL fallback, and sanitising into one safe path component.

import { resolve } from 'node:path';

/** Name used when neither the headers nor the URL yield anything usable. */
export const FALLBACK_FILENAME = 'download';

/**
 * File systems allow 255 bytes per name; qget adds to the name it saves: a number when the name is
 * taken in the run (`.1` … `.9999`, 5 bytes), and beside the output `.part`, `.qget`, `.qget.tmp`
 * and `.qget.lock` (10), or under --tmp a tag before them (`.1a2b3c4d`, 9 more). 224 leaves room
 * for all of them.
 */
export const MAX_NAME_BYTES = 224;
// An "extension" longer than this is more likely part of the name, so truncation may cut it.
const MAX_EXTENSION_BYTES = 32;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

interface Param {
  name: string;
  value: string;
}

/** Splits `type; a=b; c="d;e"` into parameters; the disposition type itself is skipped. */
function parseParams(header: string): Param[] {
  const params: Param[] = [];
  let i = 0;
  const n = header.length;
  while (i < n) {
    let nameStart = i;
    while (i < n && header[i] !== '=' && header[i] !== ';') i++;
    const name = header.slice(nameStart, i).trim().toLowerCase();
    if (header[i] !== '=') {
      i++; // a bare token such as the disposition type: nothing to keep
      continue;
    }
    i++;
    while (header[i] === ' ' || header[i] === '\t') i++;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) i++;
        value += header[i];
        i++;
      }
      i++;
      while (i < n && header[i] !== ';') i++; // junk after the closing quote
    } else {
      nameStart = i;
      while (i < n && header[i] !== ';') i++;
      value = header.slice(nameStart, i).trim();
    }
    i++;
    if (name !== '') params.push({ name, value });
  }
  return params;
}

function percentDecodeToBytes(text: string): Buffer | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** RFC 5987 ext-value: `charset'language'pct-encoded`. */
function decodeExtValue(value: string): string | undefined {
  const match = /^([^']*)'[^']*'(.*)$/s.exec(value);
  if (!match) return undefined;
  const charset = match[1]!.trim().toLowerCase();
  const bytes = percentDecodeToBytes(match[2]!);
  if (!bytes) return undefined;
  if (charset === 'utf-8' || charset === 'utf8') {
    try {
      return strictUtf8.decode(bytes);
    } catch {
      return undefined;
    }
  }
  if (charset === 'iso-8859-1' || charset === 'latin1') return bytes.toString('latin1');
  return undefined;
}

/**
 * Servers often put raw UTF-8 in `filename=`, which the HTTP layer hands us as Latin-1 text;
 * browsers reinterpret it, and so do we when the bytes are valid UTF-8.
 */
function repairMojibake(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value) || /[\u0100-\uffff]/.test(value)) return value;
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

/** The file name a Content-Disposition header asks for, unsanitised; undefined if none. */
export function parseContentDisposition(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  let extended: string | undefined;
  let plain: string | undefined;
  for (const param of parseParams(header)) {
    if (param.name === 'filename*' && extended === undefined) {
      extended = decodeExtValue(param.value);
    } else if (param.name === 'filename' && plain === undefined) {
      plain = param.value;
    }
  }
  if (extended !== undefined && extended !== '') return extended;
  if (plain !== undefined && plain !== '') return repairMojibake(plain);
  return undefined;
}

// Windows refuses these as base names whatever the extension.
const RESERVED_WINDOWS_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    out += ch;
  }
  return out;
}

/** One safe path component, or '' when nothing safe is left. */
export function sanitizeFilename(name: string): string {
  const segments = name.split(/[/\\]/);
  let safe = segments[segments.length - 1] ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  safe = safe.replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*]/g, '');
  // Bidirectional overrides and invisible characters make a name read as another
  // (`\u202Etxt.exe` shows as `exe.txt`); browsers drop them from download names too.
  safe = safe.replace(/[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g, '');
  safe = safe.trim().replace(/[. ]+$/, '');
  if (safe === '' || safe === '.' || safe === '..') return '';
  if (RESERVED_WINDOWS_NAMES.test(safe)) safe = `_${safe}`;
  if (Buffer.byteLength(safe, 'utf8') <= MAX_NAME_BYTES) return safe;

  const dot = safe.lastIndexOf('.');
  const extension = dot > 0 ? safe.slice(dot) : '';
  const extensionBytes = Buffer.byteLength(extension, 'utf8');
  if (extension === '' || extensionBytes > MAX_EXTENSION_BYTES) {
    return truncateUtf8(safe, MAX_NAME_BYTES);
  }
  return truncateUtf8(safe.slice(0, dot), MAX_NAME_BYTES - extensionBytes) + extension;
}

function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Decodes the %XX escapes that form valid UTF-8 and leaves the rest as typed. */
function tolerantPercentDecode(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    let out = '';
    let i = 0;
    while (i < bytes.length) {
      const length = utf8SequenceLength(bytes[i]!);
      if (length > 0 && i + length <= bytes.length) {
        try {
          out += strictUtf8.decode(bytes.subarray(i, i + length));
          i += length;
          continue;
        } catch {
          // not a valid sequence: keep the escape below
        }
      }
      out += run.slice(i * 3, i * 3 + 3);
      i++;
    }
    return out;
  });
}

function nameFromUrl(url: string): string {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return '';
  }
  const segments = pathname.split('/').filter((segment) => segment !== '');
  const last = segments[segments.length - 1];
  return last === undefined ? '' : sanitizeFilename(tolerantPercentDecode(last));
}

/**
 * The local name for a response: the Content-Disposition name, else the last path segment of
 * the final URL, else `download` (a host-based `index.html` would be a guess about the content).
 */
export function filenameFromResponse(input: {
  contentDisposition?: string | undefined;
  url: string;
}): string {
  const fromHeader = parseContentDisposition(input.contentDisposition);
  const headerName = fromHeader === undefined ? '' : sanitizeFilename(fromHeader);
  if (headerName !== '') return headerName;
  const urlName = nameFromUrl(input.url);
  return urlName !== '' ? urlName : FALLBACK_FILENAME;
}

/** Where a download of `url` goes before the server has named it: the URL's name, in `dir`. */
export function pathFromUrl(url: string, dir: string | undefined): string {
  return resolve(dir ?? '.', filenameFromResponse({ url }));
}
