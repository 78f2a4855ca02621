// The daemon's web page (src/web/, built by scripts/build-web.mjs): its three files (compiled
// into the command line bundles, else read once from dist/web/: see web-assets.ts), and the
// headers they are served with, a strict Content-Security-Policy first: nothing but the page's
// own files and its WebSocket.

import { webTexts } from './web-assets.js';

export interface WebFile {
  type: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** URL path → file name. */
const PATHS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
};

export function isWebPath(path: string): boolean {
  return Object.hasOwn(PATHS, path) || path === '/favicon.ico';
}

let files: Map<string, WebFile> | undefined;

function load(): Map<string, WebFile> {
  const texts = webTexts() ?? {};
  const map = new Map<string, WebFile>();
  for (const [name, type] of Object.entries(TYPES)) {
    const text = texts[name];
    if (text !== undefined) map.set(name, { type, body: Buffer.from(text) });
  }
  return map;
}

/** The file served at `path` (a web path), or undefined when the page was not built. */
export function webFile(path: string): WebFile | undefined {
  const name = PATHS[path];
  if (name === undefined) return undefined;
  files ??= load();
  return files.get(name);
}

/** A Host header fit to appear in the policy (a name or address and a port), else undefined. */
function safeHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  return /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host) ? host : undefined;
}

/** The headers of every page response: no script, style or connection but the daemon's own. */
export function webHeaders(host: string | undefined): Record<string, string> {
  const h = safeHost(host);
  const sockets = h === undefined ? '' : ` ws://${h} wss://${h}`;
  return {
    'Content-Security-Policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self'",
      `connect-src 'self'${sockets}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-cache',
  };
}
