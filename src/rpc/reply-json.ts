// The daemon's answers as UTF-8 bytes, with the bytes of values that do not change (the status
// of a download that has not started yet) kept and reused: tellWaiting(0, 1000) answers 450 KB
// mostly made of such statuses, and serializing, joining and encoding them anew for every poll
// of every front end kept the event loop from everything else (about 10 ms a poll, measured).
// An answer is put together from its items' bytes: no 450 KB string is made, nor encoded, nor
// copied into one buffer (replyPieces: the transport sends the pieces one after the other).

/** Values whose JSON bytes are kept: null until first serialized. */
const kept = new WeakMap<object, Buffer | null>();

const COMMA = Buffer.from(',');

/** Mark `value` as never changing (it is frozen): its JSON bytes are made once and reused. */
export function keepJson<T extends object>(value: T): T {
  Object.freeze(value);
  if (!kept.has(value)) kept.set(value, null);
  return value;
}

/**
 * A value whose JSON is `text` (its bytes kept as a kept value's): JSON.stringify() of it gives
 * make()'s JSON instead (make() must give the same), for an answer not put together here.
 */
export function rawJson(text: string, make: () => unknown): object {
  const value = Object.freeze({ toJSON: make });
  kept.set(value, Buffer.from(text, 'utf8'));
  return value;
}

/** The JSON bytes of a kept value: made the first time, then reused. */
function itemBytes(value: object): Buffer {
  let bytes = kept.get(value);
  if (!bytes) {
    bytes = Buffer.from(JSON.stringify(value), 'utf8');
    kept.set(value, bytes);
  }
  return bytes;
}

/**
 * An answer's pieces in order: text not kept is gathered into one string, written out as bytes
 * only next to a kept item (or at the end), so an answer is a few buffers, not one per item.
 */
class Pieces {
  readonly out: Buffer[] = [];
  #text = '';

  text(t: string): void {
    this.#text += t;
  }

  bytes(b: Buffer): void {
    this.#flush();
    this.out.push(b);
  }

  done(): Buffer[] {
    this.#flush();
    return this.out;
  }

  #flush(): void {
    if (this.#text === '') return;
    this.out.push(Buffer.from(this.#text, 'utf8'));
    this.#text = '';
  }
}

/** JSON.stringify(value) of an item of a list: its kept bytes when it is kept, else text. */
function item(value: unknown, to: Pieces): void {
  if (typeof value === 'object' && value !== null && kept.has(value)) to.bytes(itemBytes(value));
  // In a list, JSON.stringify writes null for what it cannot write (undefined, a function).
  else to.text(JSON.stringify(value) ?? 'null');
}

/** The pieces of one answer's JSON, in order (see replyPieces). */
function pieces(body: unknown, to: Pieces): void {
  if (Array.isArray(body)) {
    to.text('[');
    body.forEach((b, i) => {
      if (i > 0) to.text(',');
      pieces(b, to);
    });
    to.text(']');
    return;
  }
  const result = (body as { result?: unknown } | null)?.result;
  if (typeof body !== 'object' || body === null || !Array.isArray(result)) {
    to.text(JSON.stringify(body) ?? 'null');
    return;
  }
  const { result: _, ...rest } = body as { result: unknown[] };
  const head = JSON.stringify(rest);
  to.text(`${head.slice(0, -1)}${head === '{}' ? '' : ','}"result":[`);
  const joined = keptList(result);
  if (joined) {
    to.bytes(joined);
  } else {
    result.forEach((v, i) => {
      if (i > 0) to.text(',');
      item(v, to);
    });
  }
  to.text(']}');
}

/** The last list of kept values answered, and its bytes joined (commas between, no brackets). */
let lastList: { items: unknown[]; bytes: Buffer } | undefined;

/**
 * The joined bytes of a list whose items are all kept: the same as last time when every item is
 * (a front end polling tellWaiting(0, 1000) while nothing waiting changed), else made and kept.
 * Undefined for a short list or one with an item not kept.
 */
function keptList(items: unknown[]): Buffer | undefined {
  if (items.length < 16) return undefined;
  const last = lastList;
  if (last && last.items.length === items.length && last.items.every((v, i) => v === items[i])) {
    return last.bytes;
  }
  for (const v of items) if (typeof v !== 'object' || v === null || !kept.has(v)) return undefined;
  const parts: Buffer[] = [];
  items.forEach((v, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(itemBytes(v as object));
  });
  lastList = { items: [...items], bytes: Buffer.concat(parts) };
  return lastList.bytes;
}

/**
 * The UTF-8 bytes of JSON.stringify(body) (an answer, or a batch of them) in pieces, to be sent
 * one after the other: a `result` that is a list is put together from its items' bytes, the
 * kept ones reused, and the pieces are not copied into one buffer (a 450 KB answer would be).
 * Read back as the same JSON.
 */
export function replyPieces(body: unknown, prefix = '', suffix = ''): Buffer[] {
  const to = new Pieces();
  to.text(prefix);
  pieces(body, to);
  to.text(suffix);
  return to.done();
}

/** replyPieces as one buffer. */
export function replyBytes(body: unknown, prefix = '', suffix = ''): Buffer {
  const out = replyPieces(body, prefix, suffix);
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}
