// GIDs as aria2 has them: 16 lower-case hex digits of a random, non-zero 64-bit number; a call
// may name a download by any prefix that matches exactly one GID.

import { randomBytes } from 'node:crypto';
import { RpcError } from './protocol.js';

const GID = /^[0-9a-f]{16}$/;

export function isGid(value: string): boolean {
  return GID.test(value);
}

/** Random bytes drawn 4 KiB at a time (512 GIDs), not 8 bytes per add. */
let pool = Buffer.alloc(0);
let used = 0;

/** A fresh GID that `taken` does not know. */
export function newGid(taken: (gid: string) => boolean): string {
  for (;;) {
    if (used + 8 > pool.length) {
      pool = randomBytes(4096);
      used = 0;
    }
    const gid = pool.toString('hex', used, used + 8);
    used += 8;
    if (gid !== '0000000000000000' && !taken(gid)) return gid;
  }
}

/**
 * The one GID among `gids` that starts with `prefix` (any case), or aria2's errors: "Invalid
 * GID", "GID … is not found", "GID … is not unique".
 */
export function expandGid(prefix: string, gids: Iterable<string>): string {
  const wanted = prefix.toLowerCase();
  if (wanted.length === 0 || wanted.length > 16 || !/^[0-9a-f]+$/.test(wanted)) {
    throw new RpcError(1, `Invalid GID ${prefix}`);
  }
  let found: string | undefined;
  for (const gid of gids) {
    if (!gid.startsWith(wanted)) continue;
    if (found !== undefined) throw new RpcError(1, `GID ${prefix} is not unique`);
    found = gid;
  }
  if (found === undefined) throw new RpcError(1, `GID ${prefix} is not found`);
  return found;
}
