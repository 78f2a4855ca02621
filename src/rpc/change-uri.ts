// aria2.changeUri over the download queue, and the several URIs of one download as the
// Downloader's mirrors. A new first URI is a link refresh: the download stops and goes on from
// its .part with the new URI when that serves the same bytes (the engine's refresh), else it
// starts over; other URIs only change the mirrors.

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Downloader, type DownloaderOptions, type PieceHashes } from '../index.js';
import { downloaderOptions } from './options.js';
import { resolveTarget } from './target.js';
import { integerParam, listParam, METHOD_ERROR, RpcError } from './protocol.js';
import type { DownloadQueue, Job } from './queue.js';
import type { GlobalOptions } from './options.js';

/**
 * A download's options with the URIs after its first as mirrors (aria2's several URIs), and its
 * piece hashes (a Metalink's, addMetalink).
 */
export function withMirrors(
  options: DownloaderOptions,
  uris: readonly string[],
  pieceHashes?: PieceHashes,
): DownloaderOptions {
  const withPieces = pieceHashes ? { ...options, pieceHashes } : options;
  return uris.length > 1 ? { ...withPieces, mirrors: uris.slice(1) } : withPieces;
}

export interface ChangeUriContext {
  queue: DownloadQueue;
  globals: GlobalOptions;
  template: DownloaderOptions;
}

/** changeUri(gid, fileIndex, delUris, addUris[, position]) → [deleted, added], as aria2. */
export async function changeUri(
  ctx: ChangeUriContext,
  j: Job,
  params: unknown[],
): Promise<[number, number]> {
  if (integerParam(params, 1, true) !== 1) {
    throw new RpcError(METHOD_ERROR, 'The given file index is out of range.');
  }
  const strings = (i: number): string[] =>
    listParam(params, i, true)!.filter((u): u is string => typeof u === 'string');
  const del = strings(2);
  const add = strings(3);
  const position = integerParam(params, 4);
  if (position !== undefined && position < 0) {
    throw new RpcError(METHOD_ERROR, 'Position must be greater than or equal to 0.');
  }
  if (j.result)
    throw new RpcError(METHOD_ERROR, `Cannot change URIs of GID#${j.gid}: it has stopped.`);
  for (const uri of add) {
    const blank = [...uri].some((ch) => ch.charCodeAt(0) <= 0x20 || ch.charCodeAt(0) === 0x7f);
    if (blank || /\s/.test(uri) || !/^https?:\/\//i.test(uri)) {
      throw new RpcError(METHOD_ERROR, `Invalid URI "${uri}": qget downloads http(s) URIs only.`);
    }
  }
  const uris = [...j.uris];
  let deleted = 0;
  for (const uri of del) {
    const i = uris.indexOf(uri);
    if (i >= 0) {
      uris.splice(i, 1);
      deleted++;
    }
  }
  uris.splice(Math.min(position ?? uris.length, uris.length), 0, ...add);
  if (uris.length === 0) throw new RpcError(METHOD_ERROR, 'No URI would be left to download.');
  if (uris.join('\t') === j.uris.join('\t')) return [deleted, add.length];
  const effective = ctx.globals.effective(j.options);
  const target = resolveTarget(effective, ctx.globals.dir);
  const settings: DownloaderOptions = {
    ...downloaderOptions(effective, target, ctx.template),
    refresh: true,
  };
  // The file keeps the name it got (a server-given name may differ under the new URI).
  if (settings.path === undefined && typeof j.d.path === 'string' && j.d.downloaded > 0) {
    settings.path = j.d.path;
  }
  const d = new Downloader(uris[0]!, withMirrors(settings, uris, j.pieceHashes));
  await mkdir(target.path !== undefined ? dirname(target.path) : target.dir, { recursive: true });
  await ctx.queue.whileHeld(j, () => {
    if (j.result) return; // it finished while stopping
    ctx.queue.replaceDownloader(j, d);
    j.uris = uris;
  });
  return [deleted, add.length];
}
