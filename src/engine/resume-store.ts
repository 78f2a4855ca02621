// What a download keeps beside its output between runs: the `.part` (the bytes) and the `.qget`
// (which ranges of it are confirmed, for which version of the resource). Owns their paths, the
// saved state read before the probe, opening (or emptying) the .part, the ranges already done,
// the checkpoints (paced, one in flight) and their removal. One store per run: what it learned
// (no saved state, no control file, a checkpoint written, the last save's time) outlives the
// restarts of that run.

import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FileExistsError } from '../errors.js';
import { errorCode } from '../net/client.js';
import {
  type ControlState,
  controlState,
  loadControl,
  lookControlSync,
  readControl,
  removeControl,
  sameResource,
  sameSource,
  saveControl,
} from './control-file.js';
import { pathFromUrl } from './filename.js';
import type { OutputNames } from './output-names.js';
import { localIoError, PartFile, pathExists } from './part-file.js';
import { type StatePaths, statePaths } from './state-paths.js';
import type { ResourceInfo } from './resource.js';
import { type ByteRange, mergeRanges, missingRanges, sumRanges } from './segment-plan.js';

/** A checkpoint at most this long after the bytes it confirms were flushed… */
export const CHECKPOINT_MS = 100;
/** …or once this many new bytes are flushed, whichever comes first. */
export const CHECKPOINT_BYTES = 4 * 1024 * 1024;

/**
 * Whether a checkpoint is due: new bytes are flushed and either none was saved yet in this
 * attempt (the first flushed batch), or the last is CHECKPOINT_MS old, or CHECKPOINT_BYTES
 * were flushed since. A kill then loses about a quarter second of transfer.
 */
export function checkpointDue(sinceMs: number, newBytes: number, first: boolean): boolean {
  if (newBytes <= 0) return false;
  return first || sinceMs >= CHECKPOINT_MS || newBytes >= CHECKPOINT_BYTES;
}

/** Saved state found before the probe, and the first missing range the probe should ask for. */
export interface SavedResume {
  path: string;
  saved: ControlState;
  start: number;
  end: number;
  /** Saved from another URL (only with `refresh`): continued only if this URL serves its bytes. */
  foreign?: { partPath: string; ranges: ByteRange[] } | undefined;
}

export interface ResumeStoreOptions {
  url: string;
  dir?: string | undefined;
  tmpDir?: string | undefined;
  override: boolean;
  debug: (message: string) => void;
  /** One line a user should see (another URL's bytes discarded). */
  warn: (message: string) => void;
  /** The names taken in this run, and who this download is to them (see OutputNames). */
  names?: OutputNames | undefined;
  owner: object;
  /** A .part saved from another URL may be continued (link refresh, see refresh.ts). */
  refresh?: boolean | undefined;
}

export class ResumeStore {
  readonly #o: ResumeStoreOptions;
  #partPath = '';
  #controlPath = '';
  #lastSave = 0;
  /** Flushed bytes the last checkpoint confirmed (-1: none yet in this attempt). */
  #savedBytes = -1;
  #saving: Promise<void> | undefined;
  /** A checkpoint was written in this run. */
  #checkpointed = false;
  /** A control path already found empty before the probe (saves a second look). */
  #noSavedState: string | undefined;
  /** A control path with no file at all before the probe (nothing to remove if never saved). */
  #noControlFile: string | undefined;
  /**
   * Control files looked at while this attempt chooses its name (foreign(), findSaved()): the
   * name is peeked before the probe and reserved after it, and each look was a stat of the same
   * file. Forgotten once the paths are settled (preparePaths) and when a new attempt begins.
   */
  readonly #looked = new Map<string, { state: ControlState | undefined; found: boolean }>();

  constructor(options: ResumeStoreOptions) {
    this.#o = options;
  }

  get partPath(): string {
    return this.#partPath;
  }

  /** The checkpoint being written, if any. */
  get saving(): Promise<void> | undefined {
    return this.#saving;
  }

  /**
   * Saved state for this download, found before any request so the probe can ask for the first
   * missing byte (with If-Range) instead of byte 0. Without an output path, the name the URL
   * gives is tried; a state saved under a server-given name is found after the probe instead.
   */
  async findSaved(output: string | undefined): Promise<SavedResume | undefined> {
    this.#looked.clear();
    let path = output;
    if (path === undefined) {
      const wanted = pathFromUrl(this.#o.url, this.#o.dir);
      path = this.#o.names?.peek(wanted, this.#o.owner, (p) => this.foreign(p)) ?? wanted;
    }
    const { partPath, controlPath } = this.#pathsFor(path);
    const { state: saved, found } =
      this.#looked.get(controlPath) ?? (await readControl(controlPath));
    if (!saved) this.#noSavedState = controlPath;
    if (!found) this.#noControlFile = controlPath;
    if (!saved?.acceptRanges || saved.size === null || saved.size === 0) return undefined;
    // Another URL's bytes are not continued (whether the final URL matches is known after the
    // probe), unless refreshing: then only if the URL proves it serves them (refresh.ts).
    const foreign = !sameSource(saved, this.#o.url);
    if (foreign && !this.#o.refresh) return undefined;
    const onDisk = await stat(partPath).then(
      (s) => s.size,
      () => -1,
    );
    if (onDisk < 0) return undefined;
    if (foreign) {
      const ranges = clipRanges(saved.ranges, onDisk);
      return { path, saved, start: 0, end: 0, foreign: { partPath, ranges } };
    }
    const missing = missingRanges(saved.size, clipRanges(saved.ranges, onDisk));
    // Ask for exactly the first missing range (nothing missing: one byte is enough to learn
    // whether the resource is still the same).
    const [start, end] = missing[0] ?? [saved.size - 1, saved.size];
    return { path, saved, start, end };
  }

  /** `resume` as if saved from another URL: its .part and ranges, to be proved by a sample. */
  asForeign(resume: SavedResume): SavedResume {
    if (resume.foreign) return resume;
    const { partPath } = this.#pathsFor(resume.path);
    return { ...resume, foreign: { partPath, ranges: resume.saved.ranges } };
  }

  /** Settle the paths for the output `path`; refuses an existing output unless overriding. */
  async preparePaths(path: string): Promise<void> {
    if (!this.#o.override && (await pathExists(path))) throw new FileExistsError(path);
    // Beside the output, opening the .part shows whether the folder is there (openPart).
    if (this.#o.tmpDir) await checkFolder(dirname(path));
    ({ partPath: this.#partPath, controlPath: this.#controlPath } = this.#pathsFor(path));
    this.#looked.clear();
  }

  /** No saved state can apply: a restart, or none was found under these paths before the probe. */
  startsOver(fresh: boolean): boolean {
    return fresh || this.#noSavedState === this.#controlPath;
  }

  /** The .part, emptied when `startOver`; a missing folder is reported as the output's. */
  async openPart(startOver: boolean): Promise<PartFile> {
    try {
      return await PartFile.open(this.#partPath, { truncate: startOver });
    } catch (err) {
      const folder = dirname(this.#partPath);
      if (!this.#o.tmpDir && ['ENOENT', 'ENOTDIR'].includes(errorCode(err) ?? '')) {
        await checkFolder(folder);
      }
      throw err;
    }
  }

  /**
   * The ranges of the .part that a saved state for this very resource confirms; anything else
   * empties the .part (unless it was opened empty).
   */
  async doneRanges(
    part: PartFile,
    info: ResourceInfo,
    saved: ControlState | undefined,
    startOver: boolean,
  ): Promise<ByteRange[]> {
    const state = saved ?? (startOver ? undefined : await loadControl(this.#controlPath));
    const sameUrl = state !== undefined && sameSource(state, this.#o.url, info.finalUrl);
    if (state && sameUrl && sameResource(state, info)) {
      const done = clipRanges(state.ranges, await part.size());
      this.#o.debug(`resuming: ${sumRanges(done)} bytes already on disk`);
      return done;
    }
    if (!startOver) {
      if (state && !sameUrl) {
        const bytes = sumRanges(clipRanges(state.ranges, await part.size()));
        this.#o.warn(
          `${this.#partPath} was saved from another URL: discarding its ${bytes} bytes and starting over`,
        );
      } else if (state) {
        this.#o.debug('saved state is for another version of the resource: starting over');
      }
      await part.truncate(0);
    }
    return [];
  }

  /** A new attempt: its first flushed batch is checkpointed at once. */
  beginAttempt(): void {
    this.#savedBytes = -1;
  }

  /**
   * A checkpoint when one is due (checkpointDue) and none is being written. `flushed` counts
   * the bytes confirmed on disk (cheap: no ranges are built unless a checkpoint is written).
   */
  tick(now: number, info: ResourceInfo, flushed: number, confirmed: () => ByteRange[]): void {
    if (this.#saving) return;
    const first = this.#savedBytes < 0;
    const newBytes = flushed - Math.max(0, this.#savedBytes);
    if (!checkpointDue(now - this.#lastSave, first ? flushed : newBytes, first)) return;
    this.#lastSave = now;
    this.#savedBytes = flushed;
    void this.checkpoint(info, confirmed());
  }

  /** Save `ranges` (confirmed on disk: never a byte that is not in the .part). */
  checkpoint(info: ResourceInfo, ranges: ByteRange[]): Promise<void> {
    // The URL as given, even when a mirror answered: the same command finds it again.
    const state = controlState(info, ranges, this.#o.url);
    this.#checkpointed = true;
    this.#saving = saveControl(this.#controlPath, state)
      .catch((err) => this.#o.debug(`could not save ${this.#controlPath}: ${err}`))
      .finally(() => {
        this.#saving = undefined;
      });
    return this.#saving;
  }

  /** The control file is removed unless there never was one in this run. */
  async remove(): Promise<void> {
    if (this.#noControlFile === this.#controlPath && !this.#checkpointed) return;
    await removeControl(this.#controlPath);
  }

  /** Saved state at `path` that belongs to another resource (its bytes are someone's work). */
  foreign(path: string): boolean {
    const controlPath = this.#pathsFor(path).controlPath;
    let look = this.#looked.get(controlPath);
    if (!look) {
      look = lookControlSync(controlPath);
      this.#looked.set(controlPath, look);
    }
    const saved = look.state;
    return saved !== undefined && !sameSource(saved, this.#o.url) && !this.#o.refresh;
  }

  /** Where the state of a download saved as `path` is kept. */
  controlPathOf(path: string): string {
    return this.#pathsFor(path).controlPath;
  }

  /** `<output>.part` and `<output>.qget`, or under tmpDir with a tag of the output path. */
  #pathsFor(path: string): StatePaths {
    return statePaths(path, this.#o.tmpDir);
  }
}

/** Throws a LocalIoError unless `dir` is a folder. */
async function checkFolder(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory())
      throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (err) {
    throw localIoError(err, 'write into', dir);
  }
}

/** Saved ranges limited to what the .part can hold. */
function clipRanges(ranges: readonly ByteRange[], onDisk: number): ByteRange[] {
  return mergeRanges(ranges.map(([s, e]): ByteRange => [s, Math.min(e, onDisk)]));
}
