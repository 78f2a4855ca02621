// Where a download of the daemon goes: its folder (`dir`, relative ones inside the download
// folder) and its file (`out`, inside that folder), checked at every add.

import { isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { METHOD_ERROR, RpcError } from './protocol.js';

/** No separator (either platform's) nor drive: a name resolve() puts right in the folder. */
const PLAIN_NAME = /^[^/\\:]+$/;

/** Folders worked out (root and dir given → the folder): 10,000 adds to one folder, one. */
const folders = new Map<string, string>();
const MAX_FOLDERS = 256;

/** Folder rules: relative folders stay inside `root`; an `out` stays inside its folder. */
export function resolveTarget(
  values: { readonly dir?: string | undefined; readonly out?: string | undefined },
  root: string,
): { dir: string; path: string | undefined } {
  const given = values.dir ?? root;
  const key = `${root}\0${given}`;
  let dir = folders.get(key);
  if (dir === undefined) {
    dir = folderOf(given, root);
    if (folders.size >= MAX_FOLDERS) folders.clear();
    folders.set(key, dir);
  }
  const out = values.out;
  if (out === undefined) return { dir, path: undefined };
  // A plain name (the usual case) is a file in `dir`: no relative() to find that out, and the
  // path is the folder's (normalized) and the name, as resolve() would have it.
  if (PLAIN_NAME.test(out) && out !== '.' && !out.startsWith('..')) {
    return { dir, path: dir.endsWith(sep) ? dir + out : dir + sep + out };
  }
  const path = resolve(dir, out);
  if (isAbsolute(out) || !inside(dir, path, false)) {
    throw new RpcError(METHOD_ERROR, `out "${out}" must name a file inside dir ${dir}.`);
  }
  return { dir, path };
}

function inside(root: string, path: string, orSame: boolean): boolean {
  const rel = relative(root, path);
  if (rel === '') return orSame;
  return !rel.startsWith('..') && !isAbsolute(rel);
}

/** The folder `given` names: absolute, or inside `root` (else aria2's error). */
function folderOf(given: string, root: string): string {
  if (isAbsolute(given)) return normalize(given);
  const dir = resolve(root, given);
  if (!inside(root, dir, true)) {
    throw new RpcError(
      METHOD_ERROR,
      `dir "${given}" leaves the download folder ${root}; give an absolute dir to download elsewhere.`,
    );
  }
  return dir;
}
