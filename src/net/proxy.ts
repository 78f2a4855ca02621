// Which proxy a request goes through: the `proxy` / `noProxy` options, else the environment as
// curl reads it. Pure (the environment is a parameter): the connection code asks
// ProxyRoutes.for(url) and gets a ProxyTarget or undefined (go direct).
//
// The environment (curl's names and order, lower case first):
//   http URLs   http_proxy, then HTTP_PROXY (see below), then all_proxy / ALL_PROXY
//   https URLs  https_proxy / HTTPS_PROXY, then all_proxy / ALL_PROXY
//   no_proxy / NO_PROXY  hosts that go direct
// Upper-case HTTP_PROXY: curl ignores it because a CGI program receives a request's `Proxy:`
// header as HTTP_PROXY ("httpoxy"). qget follows Go's net/http instead: HTTP_PROXY counts,
// except when REQUEST_METHOD is set (then qget runs as a CGI program and it is ignored).

import { BlockList, isIP } from 'node:net';
import { InvalidOptionError } from '../errors.js';
import { redactUrl } from './credentials.js';

export type ProxyKind = 'http' | 'https' | 'socks5' | 'socks5h';

/** A proxy to go through. */
export interface ProxyTarget {
  kind: ProxyKind;
  /** Host name (IPv6 without brackets) and port of the proxy. */
  host: string;
  port: number;
  /** Percent-decoded credentials, when the proxy URL has them. */
  username?: string | undefined;
  password?: string | undefined;
  /** The proxy URL as it may be shown (password masked). */
  shown: string;
}

/** The environment variables qget reads (a subset of process.env). */
export type ProxyEnv = Record<string, string | undefined>;

/** A proxy for http URLs and one for https URLs (a missing or empty one: direct). */
export interface ProxyByScheme {
  http?: string | false | undefined;
  https?: string | false | undefined;
}

export interface ProxySettings {
  /** A proxy URL; `false` or '' for none; one per scheme; undefined: from the environment. */
  proxy?: string | false | ProxyByScheme | undefined;
  /** Hosts that go direct (comma-separated); undefined: from the environment. */
  noProxy?: string | undefined;
}

const DEFAULT_PORT: Record<ProxyKind, number> = {
  http: 1080,
  https: 443,
  socks5: 1080,
  socks5h: 1080,
};

/**
 * Parse a proxy URL: `http://`, `https://`, `socks5://`, `socks5h://` (`socks://` is socks5),
 * with `user:pass@`; no scheme means http. The port defaults to 1080 (443 for https), as in
 * curl. `name` is the option's name for the error message.
 */
export function parseProxyUrl(text: string, name = 'proxy'): ProxyTarget {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw proxyOptionError(name, text);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const kind = (scheme === 'socks' ? 'socks5' : scheme) as ProxyKind;
  if (!(kind in DEFAULT_PORT) || url.hostname === '') throw proxyOptionError(name, text);
  return {
    kind,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? DEFAULT_PORT[kind] : Number(url.port),
    username: url.username === '' ? undefined : safeDecode(url.username),
    password: url.password === '' ? undefined : safeDecode(url.password),
    shown: `${kind}://${url.username || url.password ? `${url.username}:***@` : ''}${url.host}`,
  };
}

function proxyOptionError(name: string, text: string): InvalidOptionError {
  return new InvalidOptionError(
    `Expected \`${name}\` to be a proxy URL (http://, https://, socks5:// or socks5h://host:port), got ${JSON.stringify(redactUrl(text))}`,
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `Basic base64(user:password)` for an HTTP proxy with credentials, else undefined. */
export function proxyAuthorization(proxy: ProxyTarget): string | undefined {
  if (proxy.username === undefined && proxy.password === undefined) return undefined;
  const pair = `${proxy.username ?? ''}:${proxy.password ?? ''}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** One no_proxy entry: `*`, a host or domain (suffix match), an IP address or a CIDR range. */
type NoProxyRule = { any: true } | { domain: string; port?: number } | { ip: BlockList };

/** Parse a no_proxy list (commas or spaces between entries). */
export function parseNoProxy(list: string): NoProxyRule[] {
  const rules: NoProxyRule[] = [];
  for (const raw of list.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      rules.push({ any: true });
      continue;
    }
    const cidr = /^\[?([0-9a-f:.]+)\]?\/(\d{1,3})$/.exec(entry);
    if (cidr && isIP(cidr[1]!) !== 0) {
      const family = isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6';
      const prefix = Number(cidr[2]);
      if (prefix > (family === 'ipv4' ? 32 : 128)) continue;
      const block = new BlockList();
      block.addSubnet(cidr[1]!, prefix, family);
      rules.push({ ip: block });
      continue;
    }
    const bare = entry.replace(/^\[|\]$/g, '');
    if (isIP(bare) !== 0) {
      const block = new BlockList();
      block.addAddress(bare, isIP(bare) === 4 ? 'ipv4' : 'ipv6');
      rules.push({ ip: block });
      continue;
    }
    let port: number | undefined;
    const withPort = /^(.*):(\d+)$/.exec(entry);
    if (withPort) {
      entry = withPort[1]!;
      port = Number(withPort[2]);
    }
    const domain = entry.replace(/^\*?\.+/, '');
    if (domain !== '') rules.push(port === undefined ? { domain } : { domain, port });
  }
  return rules;
}

/** Whether `url` goes direct by `rules`: a domain matches itself and its subdomains. */
export function bypassesProxy(url: URL, rules: readonly NoProxyRule[]): boolean {
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  const family = isIP(host);
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  for (const rule of rules) {
    if ('any' in rule) return true;
    if ('ip' in rule) {
      if (family !== 0 && rule.ip.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
      continue;
    }
    if (rule.port !== undefined && rule.port !== port) continue;
    if (host === rule.domain || host.endsWith(`.${rule.domain}`)) return true;
  }
  return false;
}

function envValue(env: ProxyEnv, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

/** The proxy the environment gives for `protocol` (`http:` or `https:`), as written there. */
export function envProxy(protocol: string, env: ProxyEnv): string | undefined {
  if (protocol === 'http:') {
    const cgi = env.REQUEST_METHOD !== undefined;
    return (
      envValue(env, 'http_proxy', ...(cgi ? [] : ['HTTP_PROXY'])) ??
      envValue(env, 'all_proxy', 'ALL_PROXY')
    );
  }
  return envValue(env, 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY');
}

/** The proxy decision for a download: built once from the settings and the environment. */
let lastNoProxy: { list: string; rules: NoProxyRule[] } | undefined;

export class ProxyRoutes {
  /** Equal keys route every URL the same way (a Manager shares connections between them). */
  readonly key: string;
  readonly #fixed: ProxyTarget | null | undefined;
  readonly #byProtocol = new Map<string, ProxyTarget | undefined>();
  readonly #rules: NoProxyRule[];

  /** Throws InvalidOptionError for a proxy URL it cannot use (the option's, or the environment's). */
  constructor(settings: ProxySettings = {}, env: ProxyEnv = process.env) {
    const { proxy, noProxy } = settings;
    if (
      proxy !== undefined &&
      proxy !== false &&
      typeof proxy !== 'string' &&
      (proxy === null || typeof proxy !== 'object')
    ) {
      throw new InvalidOptionError(
        `Expected \`proxy\` to be a proxy URL string, '' or false, or { http, https }, got ${proxy === null ? 'null' : typeof proxy}`,
      );
    }
    if (noProxy !== undefined && typeof noProxy !== 'string') {
      throw new InvalidOptionError(`Expected \`noProxy\` to be a string, got ${typeof noProxy}`);
    }
    const noList = noProxy ?? envValue(env, 'no_proxy', 'NO_PROXY') ?? '';
    // The downloads of a run make routes from one list: parsed once (the rules are read only).
    if (lastNoProxy?.list !== noList) lastNoProxy = { list: noList, rules: parseNoProxy(noList) };
    this.#rules = lastNoProxy.rules;
    if (proxy === false || proxy === '') {
      this.#fixed = null;
    } else if (typeof proxy === 'string') {
      this.#fixed = parseProxyUrl(proxy);
    } else if (proxy !== undefined) {
      for (const scheme of ['http', 'https'] as const) {
        const text = proxy[scheme];
        this.#byProtocol.set(
          `${scheme}:`,
          text ? parseProxyUrl(text, `proxy.${scheme}`) : undefined,
        );
      }
    } else {
      for (const protocol of ['http:', 'https:']) {
        const text = envProxy(protocol, env);
        this.#byProtocol.set(
          protocol,
          text === undefined ? undefined : parseProxyUrl(text, 'proxy (from the environment)'),
        );
      }
    }
    const via = (p: ProxyTarget | null | undefined) =>
      p ? `${p.kind}://${p.username ?? ''}:${p.password ?? ''}@${p.host}:${p.port}` : '';
    this.key = JSON.stringify([
      via(this.#fixed),
      via(this.#byProtocol.get('http:')),
      via(this.#byProtocol.get('https:')),
      noList,
    ]);
  }

  /** Whether no URL goes through a proxy. */
  get none(): boolean {
    return (
      this.#fixed === null ||
      (this.#fixed === undefined &&
        this.#byProtocol.get('http:') === undefined &&
        this.#byProtocol.get('https:') === undefined)
    );
  }

  /** The proxy for `url`, or undefined to go direct. */
  for(url: URL): ProxyTarget | undefined {
    const proxy = this.#fixed === undefined ? this.#byProtocol.get(url.protocol) : this.#fixed;
    if (!proxy) return undefined;
    return bypassesProxy(url, this.#rules) ? undefined : proxy;
  }
}

/** Routes that never use a proxy. */
export const DIRECT = new ProxyRoutes({ proxy: false }, {});
