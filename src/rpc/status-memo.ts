// The full tellStatus shape of a download that has not started, kept per download and reused
// (with its JSON text, see reply-json.ts) while what it is made from stays the same: tellWaiting
// (0, 1000) asks for a thousand of them on every poll, and they do not change while they wait.

import { keepJson } from './reply-json.js';
import { type StatusSource, statusShape } from './status.js';

interface Kept {
  src: StatusSource;
  /** The keys asked for, joined ('' for every key). */
  keys: string;
  shape: Record<string, unknown>;
}

/** Whether two sources give the same shape (statusShape is a function of the source alone). */
function sameSource(a: StatusSource, b: StatusSource): boolean {
  return (
    a.gid === b.gid &&
    a.status === b.status &&
    (a.uris === b.uris ||
      (a.uris.length === b.uris.length && a.uris.every((u, i) => u === b.uris[i]))) &&
    a.dir === b.dir &&
    a.path === b.path &&
    a.size === b.size &&
    a.downloaded === b.downloaded &&
    a.speed === b.speed &&
    a.connections === b.connections &&
    a.errorCode === b.errorCode &&
    a.errorMessage === b.errorMessage &&
    (a.done?.length ?? 0) === 0 &&
    (b.done?.length ?? 0) === 0 &&
    a.servers === undefined &&
    b.servers === undefined
  );
}

export class StatusMemo {
  readonly #kept = new WeakMap<object, Kept>();

  /**
   * statusShape(src, keys) for the download `owner` that has not started: the shape made last
   * time when `src` and `keys` give the same (frozen: it is shared by the answers).
   */
  still(owner: object, src: StatusSource, keys?: readonly string[]): Record<string, unknown> {
    const joined = keys?.join('\n') ?? '';
    const kept = this.#kept.get(owner);
    if (kept && kept.keys === joined && sameSource(kept.src, src)) return kept.shape;
    const shape = statusShape(src, keys);
    if ((src.done?.length ?? 0) > 0 || src.servers !== undefined) {
      this.#kept.delete(owner);
      return shape;
    }
    this.#kept.set(owner, { src, keys: joined, shape: keepJson(shape) });
    return shape;
  }

  /** The download started (or stopped): its kept shape goes. */
  forget(owner: object): void {
    this.#kept.delete(owner);
  }
}
