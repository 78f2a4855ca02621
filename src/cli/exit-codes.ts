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
  redirects: 10,
  interrupted: 130,
} as const;

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
  ERR_ABORTED: EXIT.interrupted,
};

/** The exit code for an error's stable code; 1 for anything that is not a QgetError. */
export function exitCodeFor(code: string | undefined): number {
  return code !== undefined && code in BY_CODE ? BY_CODE[code as QgetErrorCode] : EXIT.internal;
}
