// The command's documented exit codes, and the one sentence shown for each failure.

import type { QgetErrorCode } from '../index.js';

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  http: 3,
  network: 4,
  checksum: 5,
  exists: 6,
  localIo: 7,
  server: 8,
  busy: 9,
  proxy: 10,
  redirects: 11,
  interrupted: 130,
} as const;

/** What each exit code means, as `--help` lists them (every EXIT value, in order). */
export const EXIT_MEANINGS: ReadonlyArray<readonly [number, string]> = [
  [EXIT.ok, 'success: the file is complete and verified'],
  [EXIT.internal, 'internal error (a bug: please report it)'],
  [EXIT.usage, 'bad usage (an option or a URL)'],
  [EXIT.http, 'HTTP error (404, 403 ...)'],
  [EXIT.network, 'network failure or timeout'],
  [EXIT.checksum, 'checksum mismatch'],
  [EXIT.exists, 'the output file exists (use --force)'],
  [EXIT.localIo, 'local I/O error (disk full, permissions, missing folder)'],
  [EXIT.server, 'the server misbehaved (the file changed, bad ranges, wrong size)'],
  [EXIT.busy, 'another download is writing the same output'],
  [EXIT.proxy, 'the proxy failed (unreachable, 407, refused the tunnel)'],
  [EXIT.redirects, 'too many redirects (see --max-redirects), or a redirect loop'],
  [EXIT.interrupted, 'interrupted (Ctrl-C); run the same command again to resume'],
];

/** The "Exit codes:" block of `--help`. */
export function exitCodesHelp(): string {
  return `Exit codes:\n${EXIT_MEANINGS.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`).join('\n')}`;
}

const BY_CODE: Record<QgetErrorCode, number> = {
  ERR_INVALID_URL: EXIT.usage,
  ERR_INVALID_OPTION: EXIT.usage,
  ERR_HTTP_STATUS: EXIT.http,
  ERR_NETWORK: EXIT.network,
  ERR_TIMEOUT: EXIT.network,
  ERR_TOO_MANY_REDIRECTS: EXIT.redirects,
  ERR_CHECKSUM: EXIT.checksum,
  ERR_FILE_EXISTS: EXIT.exists,
  ERR_LOCAL_IO: EXIT.localIo,
  ERR_RANGE_MISMATCH: EXIT.server,
  ERR_RESOURCE_CHANGED: EXIT.server,
  ERR_SIZE_MISMATCH: EXIT.server,
  ERR_OUTPUT_BUSY: EXIT.busy,
  ERR_PROXY: EXIT.proxy,
  ERR_PROXY_AUTH: EXIT.proxy,
  ERR_ABORTED: EXIT.interrupted,
};

/** The exit code for an error's stable code; 1 for anything that is not a QgetError. */
export function exitCodeFor(code: string | undefined): number {
  return code !== undefined && code in BY_CODE ? BY_CODE[code as QgetErrorCode] : EXIT.internal;
}
