// One writer per output, across processes: a download claims its output before it touches the
// `.part` or its control file, with a lock created atomically beside them. The lock is a symbolic
// link whose target is its holder (pid, host, start time, token): one symlink() creates it whole,
// or fails with EEXIST, in one trip through the file threads; where symbolic links cannot be made
// (Windows without the privilege, FAT, some network shares) it is a file with the same text,
// written aside and hard-linked into place. A lock left by a process that died (kill -9, power
// loss) is taken over; a live holder's is never touched.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, readlink, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { OutputBusyError } from '../errors.js';
import { errorCode } from '../net/client.js';
import { localIoError } from './part-file.js';

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  host: string;
  /** The holder's start time as the kernel counts it (Linux), to tell a reused pid apart. */
  started: string | null;
  token: string;
}

/** Lock files held by this process: a second claim from this process is refused at once. */
const heldHere = new Set<string>();

export class OutputClaim {
  readonly path: string;
  readonly #lockPath: string;
  #released = false;

  private constructor(path: string, lockPath: string) {
    this.path = path;
    this.#lockPath = lockPath;
  }

  /**
   * Claim `output` (whose `.part` state lives at `controlPath`) for this process, or throw
   * OutputBusyError naming the holder. The lock is `<controlPath>.lock`.
   */
  static async acquire(output: string, controlPath: string): Promise<OutputClaim> {
    const lockPath = `${controlPath}.lock`;
    if (heldHere.has(lockPath))
      throw new OutputBusyError(output, 'another download in this process');
    heldHere.add(lockPath);
    try {
      const me: LockHolder = {
        pid: process.pid,
        host: hostname(),
        started: ownStartTime(),
        token: newToken(),
      };
      for (let attempt = 0; ; attempt++) {
        if (await createLock(lockPath, me)) return new OutputClaim(output, lockPath);
        const holder = await readHolder(lockPath);
        if (holder === 'gone') continue;
        // Our own pid in a lock this process does not hold: a leftover of ours, not a writer.
        const stale = holder === undefined || holder.pid === process.pid || !isAlive(holder);
        if (attempt < 3 && stale) {
          await takeOver(lockPath, holder);
          continue;
        }
        throw new OutputBusyError(output, describeHolder(holder, lockPath));
      }
    } catch (err) {
      heldHere.delete(lockPath);
      throw err;
    }
  }

  /** Remove the lock (once); the `.part` and its state stay as they are. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    heldHere.delete(this.#lockPath);
    await unlink(this.#lockPath).catch(() => {});
  }
}

/** Symbolic links could not be made here: every later lock is a hard-linked file. */
let noSymlinks = false;

/** Make every lock a file from now on (true), or try symbolic links again: for tests. */
export function lockFilesOnly(on: boolean): void {
  noSymlinks = on;
}

/** Create the lock with its whole content in one step: a symlink, else a hard-linked file. */
async function createLock(lockPath: string, me: LockHolder): Promise<boolean> {
  if (!noSymlinks) {
    try {
      await symlink(JSON.stringify(me), lockPath);
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
        throw localIoError(err, 'create', lockPath);
      }
      noSymlinks = true;
    }
  }
  return createLockFile(lockPath, me);
}

/** The lock as a file: written aside in full, then hard-linked into place. */
async function createLockFile(lockPath: string, me: LockHolder): Promise<boolean> {
  // Named apart from the output, so a name at the length limit still fits.
  const tmp = join(dirname(lockPath), `.qget-lock-${me.token}.tmp`);
  try {
    await writeFile(tmp, `${JSON.stringify(me)}\n`, { mode: 0o600 });
    await link(tmp, lockPath);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw localIoError(err, 'create', lockPath);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** The holder, 'gone' when the lock vanished meanwhile, undefined when it cannot be read. */
async function readHolder(lockPath: string): Promise<LockHolder | 'gone' | undefined> {
  let text: string;
  try {
    text = await readLock(lockPath);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'gone';
    throw localIoError(err, 'read', lockPath);
  }
  try {
    const data = JSON.parse(text) as Partial<LockHolder>;
    if (typeof data.pid !== 'number' || typeof data.host !== 'string') return undefined;
    return {
      pid: data.pid,
      host: data.host,
      started: typeof data.started === 'string' ? data.started : null,
      token: typeof data.token === 'string' ? data.token : '',
    };
  } catch {
    return undefined;
  }
}

/** A lock's text: a symlink's target, or a lock file's content. */
export async function readLock(lockPath: string): Promise<string> {
  try {
    return await readlink(lockPath);
  } catch (err) {
    // Not a symbolic link: a lock file (made where symlinks cannot be, or by an earlier qget).
    if (errorCode(err) !== 'EINVAL' && errorCode(err) !== 'UNKNOWN') throw err;
    return await readFile(lockPath, 'utf8');
  }
}

/**
 * Whether the holder may still be writing. Another host's process cannot be checked: it counts as
 * alive. On this host: its pid must exist and, where the kernel tells, have started when it did.
 */
export function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if (errorCode(err) === 'ESRCH') return false;
  }
  if (holder.started === null) return true;
  const started = startTimeOf(holder.pid);
  return started === null || started === holder.started;
}

/**
 * Move a dead holder's lock aside. The rename is atomic, so of several processes taking over at
 * once one moves it; one that moved a live lock by mistake (it was replaced in between) puts it back.
 */
async function takeOver(lockPath: string, stale: LockHolder | undefined): Promise<void> {
  const aside = join(dirname(lockPath), `.qget-stale-${randomBytes(6).toString('hex')}`);
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw localIoError(err, 'replace', lockPath);
  }
  const moved = await readHolder(aside);
  const wasStale =
    moved === 'gone' || moved === undefined
      ? stale === undefined
      : stale !== undefined && moved.token === stale.token && moved.pid === stale.pid;
  if (!wasStale) await putBack(aside, lockPath).catch(() => {});
  await unlink(aside).catch(() => {});
}

/**
 * Put a live lock moved aside back in place, unless a new one is there already: a symlink made
 * anew with the same target (link() of a symlink follows it on some systems), a file linked.
 */
async function putBack(aside: string, lockPath: string): Promise<void> {
  let target: string;
  try {
    target = await readlink(aside);
  } catch {
    await link(aside, lockPath);
    return;
  }
  await symlink(target, lockPath);
}

function describeHolder(holder: LockHolder | undefined, lockPath: string): string {
  if (holder === undefined) return `another process (see ${lockPath})`;
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  const hint =
    holder.host === hostname() ? '' : ` (if it is no longer running there, remove ${lockPath})`;
  return holder.pid === process.pid
    ? 'another download in this process'
    : `process ${holder.pid}${where}${hint}`;
}

let ownStart: string | null | undefined;
/** This process's random part of its lock tokens, and how many it made. */
let tokenBase: string | undefined;
let tokens = 0;

/**
 * A token no other lock has: random per process, counted within it (one getrandom per process
 * instead of one per lock).
 */
function newToken(): string {
  tokenBase ??= randomBytes(8).toString('hex');
  return `${tokenBase}${(++tokens).toString(16)}`;
}

/** This process's start time, read once (it does not change; /proc is slow to read). */
let ownHost: string | undefined;

/** This machine's name, asked once per process (a system call each time, per download). */
function hostname(): string {
  ownHost ??= osHostname();
  return ownHost;
}

function ownStartTime(): string | null {
  if (ownStart === undefined) ownStart = startTimeOf(process.pid);
  return ownStart;
}

/** A process's start time from /proc (Linux); null elsewhere or when it cannot be read. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
