// One writer per output, across processes: a download claims its output before it touches the
// `.part` or its control file, with a lock file created atomically beside them. A lock left by a
// process that died (kill -9, power loss) is taken over; a live holder's is never touched.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
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
        started: startTimeOf(process.pid),
        token: randomBytes(8).toString('hex'),
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

/** Create the lock with its whole content in one step (a hard link of a finished temp file). */
async function createLock(lockPath: string, me: LockHolder): Promise<boolean> {
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
    text = await readFile(lockPath, 'utf8');
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
  if (!wasStale) await link(aside, lockPath).catch(() => {});
  await unlink(aside).catch(() => {});
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
