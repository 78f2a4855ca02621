// What a worker killed with SIGKILL may leave beside the files, besides the `.part` another
// worker continues: the output claim's short-lived temporary files (`.qget-lock-<token>.tmp`,
// `.qget-stale-<token>`), written with their holder inside. A worker removes those of dead
// processes on its own host when it takes a job back from a dead worker.

import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive, type LockHolder, readLock } from '../engine/output-claim.js';

const DEBRIS = /^\.qget-(lock-[0-9a-f]+\.tmp|stale-[0-9a-f]+)$/;
/**
 * An unreadable one (its writer was killed between creating and filling it) is removed once it
 * is this old: a live claim writes, links and removes it within milliseconds, and the sweep runs
 * only after a worker's death was noticed (a lock duration later). Should a very slow live claim
 * lose its file, its link fails and the job is tried again.
 */
const UNREADABLE_AGE_MS = 1000;

/** Remove the claim's leftovers of dead processes in `dir`; resolves how many went. */
export async function sweepDebris(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!DEBRIS.test(name)) continue;
    const path = join(dir, name);
    if (await isDebris(path)) {
      await unlink(path).then(
        () => removed++,
        () => {},
      );
    }
  }
  return removed;
}

async function isDebris(path: string): Promise<boolean> {
  try {
    // A file, or a symlink whose target is the holder (a lock moved aside by a take-over).
    const holder = JSON.parse(await readLock(path)) as Partial<LockHolder>;
    if (typeof holder.pid === 'number' && typeof holder.host === 'string') {
      return !isAlive({
        pid: holder.pid,
        host: holder.host,
        started: typeof holder.started === 'string' ? holder.started : null,
        token: typeof holder.token === 'string' ? holder.token : '',
      });
    }
  } catch {
    // Unreadable or half-written: judged by its age below.
  }
  try {
    return Date.now() - (await lstat(path)).mtimeMs > UNREADABLE_AGE_MS;
  } catch {
    return false;
  }
}

/**
 * A finished file found where a job was to be saved: a `.part` and control file beside it with no
 * claim lock are an abandoned second copy (two deliveries of one job raced, and the one that lost
 * found the file in place at the end). They are removed; a lock means a live writer: left alone.
 */
export async function removeOrphanPart(path: string): Promise<void> {
  const control = `${path}.qget`;
  try {
    await lstat(`${control}.lock`);
    return;
  } catch {
    // No lock: nobody is writing it.
  }
  await unlink(`${path}.part`).catch(() => {});
  await unlink(control).catch(() => {});
}
