// aria2's options as qget understands them: which names each call accepts, their values checked
// and kept as aria2 shows them (strings), the global defaults a download inherits, the folder
// rules (no way out of the download folder through `..`), and the Downloader options they become.

import {
  type DownloaderOptions,
  parseChecksum,
  parseHeaderLines,
  parseSize,
  redactUrl,
} from '../index.js';
import { isGid } from './gid.js';
import { proxyOption, sessionOptions } from './network-options.js';
import { isObject, METHOD_ERROR, RpcError } from './protocol.js';
import { resolveTarget } from './target.js';

/** Option name → value, as aria2 shows them; `header` holds one header per line. */
export type OptionValues = Record<string, string>;

type Check = (value: string, name: string) => string;

const bool: Check = (v, name) => {
  if (v !== 'true' && v !== 'false') throw bad(name, v, 'true or false');
  return v;
};
const count =
  (min: number): Check =>
  (v, name) => {
    if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
      throw bad(name, v, `a whole number from ${min} and up`);
    }
    return String(Number(v));
  };
const size: Check = (v, name) => {
  try {
    return String(parseSize(v));
  } catch {
    throw bad(name, v, 'a number of bytes, optionally with K or M (for example 500K or 2M)');
  }
};
const text: Check = (v, name) => {
  if (v === '') throw bad(name, v, 'a non-empty value');
  return v;
};
const header: Check = (v, name) => {
  for (const line of v.split('\n')) {
    try {
      parseHeaderLines([line]);
    } catch {
      throw bad(name, line, '"Name: value"');
    }
  }
  return v;
};
const checksum: Check = (v, name) => {
  try {
    parseChecksum(v);
  } catch {
    throw bad(name, v, '<algorithm>=<hex digest>, for example sha-256=<64 hex digits>');
  }
  return v;
};
const gid: Check = (v, name) => {
  if (!isGid(v.toLowerCase())) throw bad(name, v, '16 hex digits');
  return v.toLowerCase();
};

/** A proxy URL (http, https, socks5, socks5h; no scheme is http), or '' for none. */
const proxyUrl: Check = (v, name) => {
  if (v === '') return v;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(v)?.[1]?.toLowerCase();
  let ok = scheme === undefined || ['http', 'https', 'socks', 'socks5', 'socks5h'].includes(scheme);
  try {
    if (new URL(scheme ? v : `http://${v}`).hostname === '') ok = false;
  } catch {
    ok = false;
  }
  if (!ok)
    throw bad(name, redactUrl(v), 'a proxy URL like http://host:port or socks5h://host:port');
  return v;
};
const any: Check = (v) => v;

/** Options of one download that qget applies; also global defaults (except out, checksum). */
const PER_DOWNLOAD: Record<string, Check> = {
  dir: text,
  out: text,
  split: count(1),
  'max-connection-per-server': count(1),
  'max-download-limit': size,
  header,
  checksum,
  'allow-overwrite': bool,
  'user-agent': text,
  referer: text,
  timeout: count(1),
  'max-tries': count(0),
  'all-proxy': proxyUrl,
  'http-proxy': proxyUrl,
  'https-proxy': proxyUrl,
  'no-proxy': any,
  'all-proxy-user': any,
  'all-proxy-passwd': any,
  'http-user': (v) => v,
  'http-passwd': (v) => v,
  'check-certificate': bool,
  'ca-certificate': text,
  'load-cookies': text,
  'save-cookies': text,
  'no-netrc': bool,
  'netrc-path': text,
};

/** Accepted and shown back, without effect: what they ask for is what qget does anyway, or it
 * has no meaning for qget's engine. */
const WITHOUT_EFFECT = `
  continue always-resume auto-file-renaming check-integrity conditional-get connect-timeout
  enable-http-keep-alive enable-http-pipelining file-allocation follow-metalink follow-torrent
  force-save http-accept-gzip lowest-speed-limit max-file-not-found max-resume-failure-tries
  max-upload-limit min-split-size piece-length realtime-chunk-checksum remote-time retry-wait
  reuse-uri seed-ratio seed-time stream-piece-selector uri-selector
`
  .trim()
  .split(/\s+/);

/** Global options changeGlobalOption accepts besides the per-download defaults. */
// Not save-session: a caller could make the daemon write its session file anywhere.
const GLOBAL_ONLY: Record<string, Check> = {
  'max-concurrent-downloads': count(1),
  'max-overall-download-limit': size,
};
const GLOBAL_WITHOUT_EFFECT = [
  'log',
  'log-level',
  'max-overall-upload-limit',
  'save-session-interval',
];

export type OptionContext = 'add' | 'change' | 'global';

/** Whether changing `name` on a running download needs a restart (a new Downloader). */
export function needsRestart(name: string): boolean {
  return name !== 'max-download-limit' && !WITHOUT_EFFECT.includes(name);
}

/** Per-download options that changeGlobalOption may not set (aria2 refuses them there too). */
const NOT_GLOBAL = new Set(['out', 'checksum', 'gid', 'pause']);

function checkFor(name: string, context: OptionContext): Check | undefined {
  if (context === 'add' && name === 'gid') return gid;
  if (context === 'add' && name === 'pause') return bool;
  if (context === 'global') {
    if (NOT_GLOBAL.has(name)) return undefined;
    if (GLOBAL_ONLY[name]) return GLOBAL_ONLY[name];
    if (GLOBAL_WITHOUT_EFFECT.includes(name)) return (v) => v;
  }
  if (PER_DOWNLOAD[name]) return PER_DOWNLOAD[name];
  if (WITHOUT_EFFECT.includes(name)) return (v) => v;
  return undefined;
}

function bad(name: string, value: string, expected: string): RpcError {
  return new RpcError(METHOD_ERROR, `The ${name} option must be ${expected}, got "${value}".`);
}

/** One option value as a string: aria2 takes strings, and booleans and numbers from some clients. */
function asText(name: string, value: unknown): string {
  if (Array.isArray(value) && name === 'header') {
    return value.map((v) => asText(name, v)).join('\n');
  }
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
    return String(value);
  }
  if (typeof value !== 'string') {
    throw new RpcError(METHOD_ERROR, `The ${name} option must be a string.`);
  }
  // A line break would start a new entry in the session file (and in a header).
  if (/[\r\n\0]/.test(value)) {
    throw new RpcError(METHOD_ERROR, `The ${name} option must not contain line breaks.`);
  }
  return value.trim();
}

/** Check an options struct for `context`; the values as aria2 shows them. */
export function readOptions(options: unknown, context: OptionContext): OptionValues {
  if (options === undefined) return {};
  if (!isObject(options)) throw new RpcError(METHOD_ERROR, 'The options must be a struct.');
  const values: OptionValues = {};
  for (const name of Object.keys(options)) {
    const raw = options[name];
    const check = checkFor(name, context);
    if (!check) {
      const known =
        PER_DOWNLOAD[name] || GLOBAL_ONLY[name] || ['gid', 'pause', 'save-session'].includes(name);
      throw new RpcError(
        METHOD_ERROR,
        known
          ? `${name} option cannot be used in this context.`
          : `The ${name} option is not supported by qget.`,
      );
    }
    values[name] = check(asText(name, raw), name);
  }
  return values;
}

/** Read options given as `key=value` lines (the input file); a header may repeat. */
export function readOptionLines(lines: readonly (readonly [string, string])[]): OptionValues {
  const struct: Record<string, unknown> = {};
  const headers: string[] = [];
  for (const [key, value] of lines) {
    if (key === 'header') headers.push(value);
    else struct[key] = value;
  }
  if (headers.length > 0) struct.header = headers;
  return readOptions(struct, 'add');
}

/** Global options, and what a download inherits from them. */
export class GlobalOptions {
  #values: OptionValues;
  /** What every download inherits (effective() without its own options), made once per set(). */
  #inherited: OptionValues | undefined;
  /** Counts the set() calls: downloads added between two have the same inherited options. */
  #generation = 0;

  constructor(initial: OptionValues) {
    this.#values = { ...initial };
  }

  get(name: string): string | undefined {
    return this.#values[name];
  }

  /** A copy, as getGlobalOption shows it. */
  all(): OptionValues {
    return { ...this.#values };
  }

  /** All or nothing: a refused value (a dir out of the folder) changes nothing. */
  set(changes: OptionValues): void {
    const next = { ...this.#values };
    for (const [name, value] of Object.entries(changes)) {
      next[name] = name === 'dir' ? resolveTarget({ dir: value }, this.dir).dir : value;
    }
    this.#values = next;
    this.#inherited = undefined;
    this.#generation++;
  }

  get generation(): number {
    return this.#generation;
  }

  get dir(): string {
    return this.#values.dir!;
  }

  /** A download's options as getOption shows them: its own over the global defaults; headers add up. */
  effective(own: OptionValues): OptionValues {
    return merge(this.#values, this.#inheritedNow(), own);
  }

  /**
   * effective(own) as it is now, worked out when called: a download added now and made later
   * keeps the global options of its add without a copy of them (set() replaces, never changes,
   * the objects kept).
   */
  effectiveLater(own: OptionValues): () => OptionValues {
    const values = this.#values;
    const inherited = this.#inheritedNow();
    return () => merge(values, inherited, own);
  }

  #inheritedNow(): OptionValues {
    this.#inherited ??= Object.fromEntries(
      [...Object.keys(PER_DOWNLOAD), ...WITHOUT_EFFECT]
        .filter((name) => this.#values[name] !== undefined && !NOT_GLOBAL.has(name))
        .map((name) => [name, this.#values[name]!]),
    );
    return this.#inherited;
  }
}

/** A download's own options over the inherited ones; headers add up. */
function merge(values: OptionValues, inherited: OptionValues, own: OptionValues): OptionValues {
  const merged: OptionValues = { ...inherited, ...own };
  const headers = [values.header, own.header].filter((h) => h !== undefined && h !== '');
  if (headers.length > 0) merged.header = headers.join('\n');
  return merged;
}

/** aria2's names for what qget does anyway, or its engine's fixed sizes (see qget.ts). */
const QGET_BEHAVIOUR: OptionValues = {
  continue: 'true',
  'always-resume': 'true',
  'auto-file-renaming': 'true',
  'check-integrity': 'false',
  'conditional-get': 'false',
  'enable-http-keep-alive': 'true',
  'enable-http-pipelining': 'false',
  'follow-metalink': 'true',
  'follow-torrent': 'false',
  'http-accept-gzip': 'false',
  'lowest-speed-limit': '0',
  'max-upload-limit': '0',
  'min-split-size': String(1024 * 1024),
  'piece-length': String(1024 * 1024),
  'remote-time': 'false',
  'reuse-uri': 'true',
  'uri-selector': 'inorder',
};

/**
 * The global values of the aria2 options that the daemon's command line (the Downloader
 * template and its headers) decides: max-tries from --retries, the timeouts, the user agent and
 * referer, and what qget always does.
 */
export function engineValues(
  template: DownloaderOptions,
  headers: Readonly<Record<string, string>>,
): OptionValues {
  const values: OptionValues = { ...QGET_BEHAVIOUR };
  const timeout = String(template.timeout ?? 10);
  values.timeout = timeout;
  values['connect-timeout'] = timeout;
  // aria2's 0 means "no limit": qget's --retries 0 has no aria2 name, so it is left out.
  const retries = template.retries ?? 5;
  if (retries > 0) values['max-tries'] = String(retries);
  // As aria2: ~/.netrc is read unless no-netrc (the command line's --netrc-file names another).
  values['no-netrc'] = template.netrc === false ? 'true' : 'false';
  if (typeof template.netrc === 'string') values['netrc-path'] = template.netrc;
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (key === 'user-agent' || key === 'referer') values[key] = value;
  }
  return values;
}

/** The Downloader options for a download's effective options. */
export function downloaderOptions(
  values: OptionValues,
  target: { dir: string; path: string | undefined },
  template: DownloaderOptions,
): DownloaderOptions {
  const connections = Math.min(
    Number(values.split ?? Number.POSITIVE_INFINITY),
    Number(values['max-connection-per-server'] ?? Number.POSITIVE_INFINITY),
  );
  // Checked when set (the `header` check above): every line is "Name: value".
  const headers = parseHeaderLines((values.header ?? '').split('\n').filter((l) => l !== ''));
  if (values.referer !== undefined) headers.referer = values.referer;
  const tries = values['max-tries'];
  // Not a spread: V8 takes ~50 µs to spread the template and then override some of its keys.
  return Object.assign(
    {},
    template,
    {
      path: target.path,
      dirPath: target.dir,
      maxConnections: Number.isFinite(connections) ? connections : template.maxConnections,
      rateLimit: Number(values['max-download-limit'] ?? 0),
      override: values['allow-overwrite'] === 'true',
      headers,
      // As on the command line: a User-Agent in `header` wins over `user-agent`.
      userAgent: values['user-agent'] ?? template.userAgent,
      checksum: values.checksum,
      timeout: values.timeout !== undefined ? Number(values.timeout) : template.timeout,
      // aria2's 0 means "no limit".
      retries: tries === undefined ? template.retries : tries === '0' ? 1_000_000 : Number(tries),
      // A failed download stays failed, as in aria2; the engine already retries each range.
      restartWait: -1,
      proxy: proxyOption(values) ?? template.proxy,
      noProxy: values['no-proxy'] ?? template.noProxy,
    },
    sessionOptions(values),
  );
}
