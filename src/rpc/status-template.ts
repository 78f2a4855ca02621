// The JSON text of a status that shows nothing of a run (a download that waits or is paused and
// has not started: no size, no bytes, no speed, no ranges, no servers, no result), written from a
// template instead of made as objects and serialized: such statuses differ only in their GID,
// URIs, folder and file (and status, connections, keys asked for: one template each), and the
// first tellWaiting(0, 1000) after a thousand adds made a thousand of them at once (20-60 ms on
// a loaded machine, measured).

import { type StatusSource, statusShape } from './status.js';

/** Marks a field in the template's text (JSON.stringify escapes the NULs: never in a value). */
const MARK = '\u0000qget-field-';
const MARKED = /"\\u0000qget-field-(\d+)"/g;

interface Template {
  /** The text between the fields: one more than there are fields. */
  parts: string[];
  /** Which value goes in each field: 0 gid, 1 dir, 2 path, 3 + i the i-th URI. */
  fields: number[];
}

const templates = new Map<string, Template | null>();
const MAX_TEMPLATES = 64;

/** Whether the status of `src` shows nothing of a run (see above). */
export function showsNoRun(src: StatusSource): boolean {
  return (
    (src.status === 'waiting' || src.status === 'paused') &&
    src.size < 0 &&
    src.downloaded === 0 &&
    src.speed === 0 &&
    (src.done?.length ?? 0) === 0 &&
    src.servers === undefined &&
    src.errorCode === undefined &&
    src.errorMessage === undefined
  );
}

function templateFor(src: StatusSource, keys: readonly string[] | undefined): Template | null {
  const marked: StatusSource = {
    ...src,
    gid: `${MARK}0`,
    dir: `${MARK}1`,
    path: `${MARK}2`,
    uris: src.uris.map((_, i) => `${MARK}${3 + i}`),
  };
  const text = JSON.stringify(statusShape(marked, keys));
  const parts: string[] = [];
  const fields: number[] = [];
  let at = 0;
  for (const m of text.matchAll(MARKED)) {
    parts.push(text.slice(at, m.index));
    fields.push(Number(m[1]));
    at = m.index + m[0].length;
  }
  parts.push(text.slice(at));
  // A field left in the text unmarked (a value made from another, say) would be wrong: none.
  if (parts.some((p) => p.includes('qget-field-'))) return null;
  return { parts, fields };
}

/**
 * JSON.stringify(statusShape(src, keys)) for a status that shows nothing of a run, from its
 * template (`joinedKeys`: the keys joined, '' for every key); undefined for any other status.
 */
export function statusText(
  src: StatusSource,
  keys: readonly string[] | undefined,
  joinedKeys: string,
): string | undefined {
  if (!showsNoRun(src)) return undefined;
  const id = `${src.status} ${src.connections} ${src.uris.length} ${joinedKeys}`;
  let t = templates.get(id);
  if (t === undefined) {
    t = templateFor(src, keys);
    if (templates.size >= MAX_TEMPLATES) templates.clear();
    templates.set(id, t);
  }
  if (t === null) return undefined;
  let text = t.parts[0]!;
  for (let i = 0; i < t.fields.length; i++) {
    const f = t.fields[i]!;
    const value = f === 0 ? src.gid : f === 1 ? src.dir : f === 2 ? src.path : src.uris[f - 3]!;
    text += JSON.stringify(value) + t.parts[i + 1]!;
  }
  return text;
}
