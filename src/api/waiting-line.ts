// The Manager's downloads waiting for a slot: a set kept in the order they were added (each
// entry's `seq`), so a slot that frees up costs no walk over the downloads already done.

/** Entries waiting for a slot, iterated in the order of their `seq`. */
export class WaitingLine<T extends { readonly seq: number }> {
  readonly #set = new Set<T>();
  /** The set is not in `seq` order (an entry queued again after later ones). */
  #unsorted = false;
  #lastSeq = 0;

  /** Add `entry` (at its place by `seq`, once the line is next iterated). */
  add(entry: T): void {
    if (this.#set.has(entry)) return;
    if (entry.seq < this.#lastSeq) this.#unsorted = true;
    else this.#lastSeq = entry.seq;
    this.#set.add(entry);
  }

  delete(entry: T): void {
    this.#set.delete(entry);
  }

  /** In `seq` order; deleting the entry met while iterating is allowed. */
  [Symbol.iterator](): Iterator<T> {
    if (this.#unsorted) this.#sort();
    return this.#set.values();
  }

  #sort(): void {
    const sorted = [...this.#set].sort((a, b) => a.seq - b.seq);
    this.#set.clear();
    for (const e of sorted) this.#set.add(e);
    this.#unsorted = false;
    this.#lastSeq = sorted.at(-1)?.seq ?? 0;
  }
}
