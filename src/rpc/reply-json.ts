// The daemon's answers as UTF-8 bytes, with the bytes of values that do not change (the status
// of a download that has not started yet) kept and reused: tellWaiting(0, 1000) answers 450 KB
// mostly made of such statuses, and serializing, joining and encoding them anew for every poll
// of every front end kept the event loop from everything else (about 10 ms a poll, measured).
// An answer is put together from its items' bytes: no 450 KB string is made, nor encoded.

/** Values whose JSON bytes are kept: null until first serialized. */
const kept = new WeakMap<object, Buffer | null>();

const COMMA = Buffer.from(',');
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');
const END = Buffer.from(']}');

/** Mark `value` as never changing (it is frozen): its JSON bytes are made once and reused. */
export function keepJson<T extends object>(value: T): T {
  Object.freeze(value);
  if (!kept.has(value)) kept.set(value, null);
  return value;
}

/** The bytes of JSON.stringify(value) in a list, from the kept ones when `value` is kept. */
function itemBytes(value: unknown): Buffer {
  if (typeof value === 'object' && value !== null) {
    const bytes = kept.get(value);
    if (bytes) return bytes;
    if (bytes === null) {
      const made = Buffer.from(JSON.stringify(value), 'utf8');
      kept.set(value, made);
      return made;
    }
  }
  // In a list, JSON.stringify writes null for what it cannot write (undefined, a function).
  return Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
}

/** `parts` with a comma between each two, into `out`. */
function pushList(out: Buffer[], parts: Buffer[]): void {
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out.push(COMMA);
    out.push(parts[i]!);
  }
}

/** The pieces of one answer's JSON, in order (see replyBytes). */
function pieces(body: unknown, out: Buffer[]): void {
  if (Array.isArray(body)) {
    out.push(OPEN);
    body.forEach((b, i) => {
      if (i > 0) out.push(COMMA);
      pieces(b, out);
    });
    out.push(CLOSE);
    return;
  }
  const result = (body as { result?: unknown } | null)?.result;
  if (typeof body !== 'object' || body === null || !Array.isArray(result)) {
    out.push(Buffer.from(JSON.stringify(body) ?? 'null', 'utf8'));
    return;
  }
  const { result: _, ...rest } = body as { result: unknown[] };
  const head = JSON.stringify(rest);
  out.push(Buffer.from(`${head.slice(0, -1)}${head === '{}' ? '' : ','}"result":[`, 'utf8'));
  const joined = keptList(result);
  if (joined) out.push(joined);
  else pushList(out, result.map(itemBytes));
  out.push(END);
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
  pushList(parts, items.map(itemBytes));
  lastList = { items: [...items], bytes: Buffer.concat(parts) };
  return lastList.bytes;
}

/**
 * The UTF-8 bytes of JSON.stringify(body) (an answer, or a batch of them): a `result` that is a
 * list is put together from its items' bytes, the kept ones reused. Reads back as the same JSON.
 */
export function replyBytes(body: unknown, prefix = '', suffix = ''): Buffer {
  const out: Buffer[] = [];
  if (prefix) out.push(Buffer.from(prefix, 'utf8'));
  pieces(body, out);
  if (suffix) out.push(Buffer.from(suffix, 'utf8'));
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}
