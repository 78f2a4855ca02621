// Where a download of the daemon goes: its folder (`dir`, relative ones inside the download
// folder) and its file (`out`, inside that folder), checked at every add.

import { isAbsolute, normalize, relative, resolve } from 'node:path';
import { METHOD_ERROR, RpcError } from './protocol.js';

/** No separator (either platform's) nor drive: a name resolve() puts right in the folder. */
const PLAIN_NAME = /^[^/\\:]+$/;

/** Folder rules: relative folders stay inside `root`; an `out` stays inside its folder. */
export function resolveTarget(
  values: { readonly dir?: string | undefined; readonly out?: string | undefined },
  root: string,
): { dir: string; path: string | undefined } {
  const given = values.dir ?? root;
  let dir: string;
  if (isAbsolute(given)) {
    dir = normalize(given);
  } else {
    dir = resolve(root, given);
    if (!inside(root, dir, true)) {
      throw new RpcError(
        METHOD_ERROR,
        `dir "${given}" leaves the download folder ${root}; give an absolute dir to download elsewhere.`,
      );
    }
  }
  const out = values.out;
  if (out === undefined) return { dir, path: undefined };
  const path = resolve(dir, out);
  // A plain name (the usual case) is a file in `dir`: no relative() to find that out.
  if (PLAIN_NAME.test(out) && out !== '.' && !out.startsWith('..')) return { dir, path };
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
