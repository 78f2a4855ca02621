// An ordered list for the daemon's queue and results: append, delete and membership in O(1),
// positions on demand (deleted items leave holes, squeezed out once they are many or a position
// is asked for), walks from either end (over the list as it was: copy it with toArray() to
// change it while walking); and aria2's tellWaiting/tellStopped window over such a walk, which
// never looks past the items it returns.

export class OrderedList<T> {
  #items: (T | undefined)[] = [];
  readonly #index = new Map<T, number>();
  #holes = 0;

  get size(): number {
    return this.#index.size;
  }

  has(item: T): boolean {
    return this.#index.has(item);
  }

  /** Append (an item already in the list stays where it is). */
  push(item: T): void {
    if (this.#index.has(item)) return;
    this.#index.set(item, this.#items.length);
    this.#items.push(item);
  }

  delete(item: T): boolean {
    const at = this.#index.get(item);
    if (at === undefined) return false;
    this.#items[at] = undefined;
    this.#index.delete(item);
    this.#holes++;
    if (this.#holes > 64 && this.#holes > this.#items.length / 2) this.#compact();
    return true;
  }

  /** The first item, or undefined when empty. */
  first(): T | undefined {
    for (const item of this) return item;
    return undefined;
  }

  /** Position of `item` (-1 when absent). */
  indexOf(item: T): number {
    this.#compact();
    return this.#index.get(item) ?? -1;
  }

  /** Put `items` (not in the list) at `position`, in their order. O(n). */
  insert(position: number, items: readonly T[]): void {
    this.#compact();
    const at = Math.max(0, Math.min(position, this.#items.length));
    this.#items.splice(at, 0, ...items);
    for (let i = at; i < this.#items.length; i++) this.#index.set(this.#items[i]!, i);
  }

  /** Replace the whole order (every item must be distinct). O(n). */
  reset(items: Iterable<T>): void {
    const list: T[] = [...items];
    this.#items = list;
    this.#index.clear();
    this.#holes = 0;
    for (const [i, item] of list.entries()) this.#index.set(item, i);
  }

  clear(): void {
    this.reset([]);
  }

  *[Symbol.iterator](): IterableIterator<T> {
    const items = this.#items;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item !== undefined) yield item;
    }
  }

  /** From the last item to the first. */
  *reversed(): IterableIterator<T> {
    const items = this.#items;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if (item !== undefined) yield item;
    }
  }

  toArray(): T[] {
    return [...this];
  }

  #compact(): void {
    if (this.#holes === 0) return;
    this.reset(this.#items.filter((item): item is T => item !== undefined));
  }
}

/**
 * aria2's window of `num` items from `offset`: counted from the first (offset >= 0), or a
 * negative offset counts from the last (-1 = the last) and the window goes backwards, in
 * reversed order. `forward` and `backward` walk the items from either end; only the items up to
 * the end of the window are walked.
 */
export function windowOf<T>(
  forward: Iterable<T>,
  backward: Iterable<T>,
  offset: number,
  num: number,
): T[] {
  const out: T[] = [];
  if (num <= 0) return out;
  const skip = offset >= 0 ? offset : -offset - 1;
  let seen = 0;
  for (const item of offset >= 0 ? forward : backward) {
    if (seen++ < skip) continue;
    out.push(item);
    if (out.length >= num) break;
  }
  return out;
}
