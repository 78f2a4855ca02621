// Output names within one run (a Manager, the daemon, a command with many URLs): two downloads
// that want the same path never share it; the later one gets `name.1.ext`, then `.2`, … as aria2
// does. Reservation is synchronous, so two downloads deciding at the same moment cannot both win.

import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** `data.bin` → `data.1.bin`; `README` → `README.1`; `.bashrc` → `.bashrc.1`. */
export function numberedPath(path: string, n: number): string {
  if (n === 0) return path;
  const name = basename(path);
  const ext = extname(name);
  const stem = ext === '' ? name : name.slice(0, -ext.length);
  return join(dirname(path), `${stem}.${n}${ext}`);
}

export class OutputNames {
  /** Path → the download that has it. */
  readonly #owners = new Map<string, object>();
  /** Per download: the path it wanted → the path it was given, kept across its restarts. */
  readonly #given = new WeakMap<object, Map<string, string>>();

  /**
   * The path `owner` writes when it wants `wanted` (absolute): `wanted` itself unless another
   * download of this run has it, else the first numbered name that is neither taken in this run
   * nor already a file, passing over paths whose saved state is `foreign`. Reserved for `owner` until `release(owner)`.
   */
  reserve(wanted: string, owner: object, foreign?: (path: string) => boolean): string {
    const path = this.peek(wanted, owner, foreign);
    this.#owners.set(path, owner);
    const given = this.#given.get(owner) ?? new Map<string, string>();
    this.#given.set(owner, given);
    given.set(wanted, path);
    return path;
  }

  /**
   * What `reserve` would give, without reserving it. `foreign(path)` tells a path whose saved
   * state belongs to another resource: it is passed over, so that download's bytes are kept.
   */
  peek(wanted: string, owner: object, foreign?: (path: string) => boolean): string {
    const earlier = this.#given.get(owner)?.get(wanted);
    if (earlier !== undefined && this.#owners.get(earlier) === owner) return earlier;
    for (let n = 0; ; n++) {
      const path = numberedPath(wanted, n);
      const holder = this.#owners.get(path);
      if (holder === owner) return path;
      if (holder !== undefined || foreign?.(path)) continue;
      // The name itself may be an existing file (an error unless overwriting); a numbered one is
      // only chosen while free on disk.
      if (n === 0 || !existsSync(path)) return path;
    }
  }

  /** Give back every path `owner` holds (a download removed from the run). */
  release(owner: object): void {
    for (const [path, holder] of this.#owners) if (holder === owner) this.#owners.delete(path);
    this.#given.delete(owner);
  }
}
