// The full tellStatus shape of a download that has not started, kept per download and reused
// (with its JSON text, see reply-json.ts) while what it is made from stays the same: tellWaiting
// (0, 1000) asks for a thousand of them on every poll, and they do not change while they wait.

import { keepJson, rawJson } from './reply-json.js';
import { type StatusSource, statusShape } from './status.js';
import { statusText } from './status-template.js';

interface Kept {
  src: StatusSource;
  /** The keys asked for, joined ('' for every key). */
  keys: string;
  /** statusShape(src, keys), or a value whose JSON is its text (see rawJson). */
  shape: object;
  /** What `src` was made of (see stamped()), when known. */
  stamp?: readonly unknown[] | undefined;
}

/** Whether two stamps hold the same values (=== one by one). */
function sameStamp(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
  /** The last keys list joined: one list asked for a thousand statuses is joined once. */
  #lastKeys: readonly string[] | undefined;
  #lastJoined = '';

  #join(keys: readonly string[] | undefined): string {
    if (keys === undefined) return '';
    if (keys !== this.#lastKeys) {
      this.#lastKeys = keys;
      this.#lastJoined = keys.join('\n');
    }
    return this.#lastJoined;
  }

  /**
   * still(owner, make(), keys) without making the source when `stamp`, the values the source is
   * made of (compared with ===), is the same as when the kept shape was made: a poll of a
   * thousand waiting downloads that have not changed makes no source, nor compares them.
   */
  stamped(
    owner: object,
    stamp: readonly unknown[],
    make: () => StatusSource,
    keys?: readonly string[],
  ): object {
    const kept = this.#kept.get(owner);
    if (kept?.stamp && kept.keys === this.#join(keys) && sameStamp(kept.stamp, stamp)) {
      return kept.shape;
    }
    const shape = this.still(owner, make(), keys);
    const now = this.#kept.get(owner);
    if (now) now.stamp = stamp;
    return shape;
  }

  /**
   * statusShape(src, keys) for the download `owner` that has not started, as a JSON value: the
   * one made last time when `src` and `keys` give the same (frozen: it is shared by the answers;
   * read it as JSON, a status written from a template is not the shape's object).
   */
  still(owner: object, src: StatusSource, keys?: readonly string[]): object {
    const joined = this.#join(keys);
    const kept = this.#kept.get(owner);
    if (kept && kept.keys === joined && sameSource(kept.src, src)) return kept.shape;
    if ((src.done?.length ?? 0) > 0 || src.servers !== undefined) {
      this.#kept.delete(owner);
      return statusShape(src, keys);
    }
    // A status that shows nothing of a run (the usual waiting one) is written from a template.
    const text = statusText(src, keys, joined);
    const shape =
      text !== undefined
        ? rawJson(text, () => statusShape(src, keys))
        : keepJson(statusShape(src, keys));
    this.#kept.set(owner, { src, keys: joined, shape });
    return shape;
  }

  /** The download started (or stopped): its kept shape goes. */
  forget(owner: object): void {
    this.#kept.delete(owner);
  }
}
