// The aria2.* methods over the download queue: aria2's parameters, checks, messages and result
// shapes. system.* methods live in protocol.ts.

import { dirname } from 'node:path';
import { Downloader, type DownloaderOptions, type PieceHashes } from '../index.js';
import { makeFolder } from './folders.js';
import { changeUri, withMirrors } from './change-uri.js';
import { newGid } from './gid.js';
import { windowOf } from './job-list.js';
import {
  downloaderOptions,
  type GlobalOptions,
  needsRestart,
  type OptionValues,
  readOptions,
} from './options.js';
import { resolveTarget } from './target.js';
import {
  dictParam,
  integerParam,
  keysParam,
  listParam,
  METHOD_ERROR,
  RpcError,
  type RpcHandler,
  stringParam,
} from './protocol.js';
import { Job } from './job.js';
import { lazyDownloader } from './lazy-downloader.js';
import { metalinkParam } from './metalink-param.js';
import type { DownloadQueue } from './queue.js';
import { StatusMemo } from './status-memo.js';
import { doneRanges, segmentsShape } from './segments.js';
import {
  fileEntries,
  outName,
  type StatusSource,
  serverEntries,
  serverLoads,
  statusShape,
  uriEntries,
} from './status.js';

/** What the methods act on; the daemon provides it. */
export interface MethodContext {
  queue: DownloadQueue;
  globals: GlobalOptions;
  /** Options every Downloader starts from (timeouts, retries, fsync … from the command line). */
  template: DownloaderOptions;
  /** The aria2 version whose interface qget follows, and qget's own. */
  aria2Version: string;
  version: string;
  sessionId: string;
  /** Apply changed global options (rate limit, concurrency) at once. */
  applyGlobals(changed: OptionValues): void;
  saveSession(): Promise<void>;
  shutdown(force: boolean): void;
}

const OK = 'OK';

/** A method whose result is aria2's "OK" once `fn` is done. */
const done =
  (fn: (params: unknown[]) => unknown): RpcHandler =>
  async (params) => {
    await fn(params);
    return OK;
  };

/** Whitespace or a control character: never in a URI (and never in a session file line). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const BLANK_OR_CONTROL = /[\s\x00-\x20\x7f]/;

/** Add a download (addUri, and the input file at start). */
export async function addDownload(
  ctx: MethodContext,
  uris: readonly string[],
  values: OptionValues,
  position?: number,
  pieceHashes?: PieceHashes,
): Promise<Job> {
  for (const uri of uris) {
    // Also keeps the session file one URI line per download.
    if (BLANK_OR_CONTROL.test(uri)) throw new RpcError(METHOD_ERROR, `Invalid URI "${uri}"`);
  }
  const http = uris.filter((u) => /^https?:\/\//i.test(u));
  if (http.length === 0) {
    throw new RpcError(
      METHOD_ERROR,
      `No URI to download: qget downloads http:// and https:// URIs only (got ${uris.join(', ')}).`,
    );
  }
  const { gid: givenGid, pause, ...own } = values;
  if (givenGid !== undefined && ctx.queue.has(givenGid)) {
    throw new RpcError(METHOD_ERROR, `GID ${givenGid} is not unique.`);
  }
  // A path another download of the daemon has is not refused: the Manager saves this one as
  // `name.1.ext` (aria2's automatic renaming), and tellStatus shows the name it got.
  const target = resolveTarget({ dir: own.dir ?? ctx.globals.dir, out: own.out }, ctx.globals.dir);
  // Worked out when the Downloader is made, from the global options of now.
  const effective = ctx.globals.effectiveLater(own);
  const d = lazyDownloader(http[0]!, optionSet(ctx, own, http, pieceHashes), () =>
    withMirrors(downloaderOptions(effective(), target, ctx.template), http, pieceHashes),
  );
  await makeFolder(target.path !== undefined ? dirname(target.path) : target.dir);
  const job = new Job({
    gid: givenGid ?? newGid((g) => ctx.queue.has(g)),
    d,
    uris: http,
    options: own,
    dir: target.dir,
    path: target.path,
    paused: pause === 'true',
    pieceHashes,
  });
  ctx.queue.add(job, position);
  return job;
}

/**
 * What the Downloader options of an add are made of, apart from its file name and URL: the global
 * options (by their generation) and its own; undefined with mirrors or piece hashes.
 */
function optionSet(
  ctx: MethodContext,
  own: OptionValues,
  http: readonly string[],
  pieceHashes: PieceHashes | undefined,
): string | undefined {
  if (http.length > 1 || pieceHashes !== undefined) return undefined;
  const { out: _out, ...rest } = own;
  return `${ctx.globals.generation} ${JSON.stringify(rest)}`;
}

function source(ctx: MethodContext, job: Job): StatusSource {
  // A download not made yet has not run: its file is the one given, else the URL's name.
  const d = job.view ?? (job.path === undefined && !job.result ? job.d : undefined);
  const status = ctx.queue.status(job);
  // Its own value, else the global one (as effective() has it, without building every option).
  const option = (name: string): number => Number(job.options[name] ?? ctx.globals.get(name) ?? 1);
  const snapshot = status === 'active' ? d?.segments() : undefined;
  return {
    gid: job.gid,
    status,
    uris: job.uris,
    dir: job.dir,
    path: d ? (typeof d.path === 'string' ? d.path : '') : (job.path ?? ''),
    size: d?.size ?? -1,
    downloaded: d?.downloaded ?? 0,
    speed: d?.speed ?? 0,
    // Those receiving now while the engine runs; before that, the most it may open.
    connections:
      snapshot?.connections.filter((c) => c.transferring).length ??
      Math.min(option('split'), option('max-connection-per-server')),
    errorCode: job.result?.errorCode,
    errorMessage: job.result?.message,
    // A running download's ranges from the snapshot above: the engine's view is made once.
    done: snapshot ? snapshot.done : d ? doneRanges(status, d) : [],
    servers: snapshot && serverLoads(snapshot),
  };
}

/** The options of a download as getOption shows them (and the session file keeps). */
export function jobOptions(ctx: MethodContext, job: Job): OptionValues {
  const values: OptionValues = { ...ctx.globals.effective(job.options), dir: job.dir };
  const path = job.view?.path;
  if (values.out === undefined && job.named && typeof path === 'string') {
    const out = outName(job.dir, path);
    if (out !== undefined) values.out = out;
  }
  return values;
}

/** aria2's tellWaiting/tellStopped window: a negative offset counts from the end, backwards. */
export function paginate<T>(items: readonly T[], offset: number, num: number): T[] {
  const backward = function* () {
    for (let i = items.length - 1; i >= 0; i--) yield items[i]!;
  };
  return windowOf(items, backward(), offset, num);
}

function nonNegative(params: unknown[], index: number): number {
  const n = integerParam(params, index, true);
  if (n < 0) {
    throw new RpcError(METHOD_ERROR, `The integer parameter at ${index} has invalid value.`);
  }
  return n;
}

export function downloadMethods(ctx: MethodContext): Map<string, RpcHandler> {
  const q = ctx.queue;
  const job = (params: unknown[]): Job => q.find(stringParam(params, 0, true));
  const memo = new StatusMemo();
  /** A status as a JSON value (see StatusMemo.still). */
  const shape = (j: Job, keys?: string[]): unknown => {
    // A download not running nor stopped (it waits, or is paused) has a status that rarely
    // changes: kept (one never made is made first when only its Downloader knows its name).
    if (!j.result && !j.alive && j.view === undefined && j.path !== undefined) {
      // Never made: its status is made of these alone (see source()), no engine state.
      const stamp = [q.status(j), j.uris, j.dir, j.path, j.options, ctx.globals.generation];
      return memo.stamped(j, stamp, () => source(ctx, j), keys);
    }
    if (!j.result && !j.alive && j.view !== undefined) {
      return memo.still(j, source(ctx, j), keys);
    }
    memo.forget(j);
    return statusShape(source(ctx, j), keys);
  };
  const unsupported = (name: string, what: string) => () => {
    throw new RpcError(
      METHOD_ERROR,
      `${name} is not supported: qget downloads http(s) URIs only (${what}).`,
    );
  };

  const table: [string, RpcHandler][] = [
    [
      'addUri',
      async (params) => {
        const uris = listParam(params, 0, true)!.filter((u): u is string => typeof u === 'string');
        if (uris.length === 0) throw new RpcError(METHOD_ERROR, 'URI is not provided.');
        const options = readOptions(dictParam(params, 1), 'add');
        const position = integerParam(params, 2);
        if (position !== undefined && position < 0) {
          throw new RpcError(METHOD_ERROR, 'Position must be greater than or equal to 0.');
        }
        return (await addDownload(ctx, uris, options, position)).gid;
      },
    ],
    ['addTorrent', unsupported('addTorrent', 'no BitTorrent')],
    [
      'addMetalink',
      async (params) => {
        const files = await metalinkParam(params, 0);
        const options = readOptions(dictParam(params, 1), 'add');
        const position = integerParam(params, 2);
        if (position !== undefined && position < 0) {
          throw new RpcError(METHOD_ERROR, 'Position must be greater than or equal to 0.');
        }
        const gids: string[] = [];
        for (const [i, f] of files.entries()) {
          // The document names each file (aria2 too ignores `out`); a given GID is the first's.
          const { gid, ...rest } = options;
          const values: OptionValues = { ...(i === 0 && gid ? { gid } : {}), ...rest, out: f.name };
          if (options.checksum === undefined && f.checksum) values.checksum = f.checksum;
          const at = position === undefined ? undefined : position + i;
          const uris = [f.url, ...f.mirrors];
          gids.push((await addDownload(ctx, uris, values, at, f.pieceHashes)).gid);
        }
        return gids;
      },
    ],
    ['remove', (p) => removeOne(q, job(p))],
    ['forceRemove', (p) => removeOne(q, job(p))],
    ['pause', (p) => pauseOne(q, job(p))],
    ['forcePause', (p) => pauseOne(q, job(p))],
    ['pauseAll', done(() => q.pauseAll())],
    ['forcePauseAll', done(() => q.pauseAll())],
    [
      'unpause',
      (p) => {
        const j = job(p);
        q.unpause(j);
        return j.gid;
      },
    ],
    ['unpauseAll', done(() => q.unpauseAll())],
    ['tellStatus', (p) => shape(job(p), keysParam(p, 1))],
    ['getUris', (p) => uriEntries(source(ctx, job(p)))],
    ['changeUri', (p) => changeUri(ctx, job(p), p)],
    ['getFiles', (p) => fileEntries(source(ctx, job(p)))],
    [
      'getServers',
      (p) => {
        const j = job(p);
        if (q.status(j) !== 'active') {
          throw new RpcError(METHOD_ERROR, `No active download for GID#${j.gid}`);
        }
        return serverEntries(source(ctx, j));
      },
    ],
    [
      'getPeers',
      (p) => {
        const j = job(p);
        if (j.result) {
          throw new RpcError(METHOD_ERROR, `No peer data is available for GID#${j.gid}`);
        }
        return [];
      },
    ],
    ['tellActive', (p) => q.active.map((j) => shape(j, keysParam(p, 0)))],
    [
      'tellWaiting',
      (p) =>
        q
          .waitingWindow(integerParam(p, 0, true), nonNegative(p, 1))
          .map((j) => shape(j, keysParam(p, 2))),
    ],
    [
      'tellStopped',
      (p) =>
        q
          .stoppedWindow(integerParam(p, 0, true), nonNegative(p, 1))
          .map((j) => shape(j, keysParam(p, 2))),
    ],
    [
      'changePosition',
      (p) => {
        const j = job(p);
        const pos = integerParam(p, 1, true);
        const how = stringParam(p, 2, true);
        if (how !== 'POS_SET' && how !== 'POS_CUR' && how !== 'POS_END') {
          throw new RpcError(METHOD_ERROR, 'Illegal argument.');
        }
        return q.changePosition(j, pos, how);
      },
    ],
    ['getOption', (p) => jobOptions(ctx, job(p))],
    [
      'changeOption',
      (p) => changeOption(ctx, job(p), readOptions(dictParam(p, 1, true), 'change')),
    ],
    ['getGlobalOption', () => ctx.globals.all()],
    [
      'changeGlobalOption',
      (p) => {
        const changed = readOptions(dictParam(p, 0, true), 'global');
        ctx.globals.set(changed);
        ctx.applyGlobals(changed);
        return OK;
      },
    ],
    [
      'getGlobalStat',
      () => {
        const active = q.active;
        const speed = active.reduce((sum, j) => sum + j.d.speed, 0);
        return {
          downloadSpeed: String(Math.round(speed)),
          uploadSpeed: '0',
          numActive: String(active.length),
          numWaiting: String(q.waitingCount),
          numStopped: String(q.stoppedCount),
          numStoppedTotal: String(q.stoppedTotal),
        };
      },
    ],
    ['purgeDownloadResult', done(() => q.purgeResults())],
    ['removeDownloadResult', done((p) => q.removeResult(job(p)))],
    [
      'getVersion',
      () => ({
        version: ctx.aria2Version,
        enabledFeatures: ['HTTPS', 'Message Digest'],
        qget: ctx.version,
      }),
    ],
    ['getSessionInfo', () => ({ sessionId: ctx.sessionId })],
    ['saveSession', done(() => ctx.saveSession())],
    ['shutdown', done(() => ctx.shutdown(false))],
    ['forceShutdown', done(() => ctx.shutdown(true))],
  ];
  const methods = new Map(table.map(([name, handler]) => [`aria2.${name}`, handler]));
  methods.set('qget.tellSegments', (p) => {
    const j = job(p);
    return segmentsShape(j.gid, q.status(j), j.view ?? j.d);
  });
  return methods;
}

function removeOne(q: DownloadQueue, j: Job): string {
  q.remove(j);
  return j.gid;
}

function pauseOne(q: DownloadQueue, j: Job): string {
  q.pause(j);
  return j.gid;
}

async function changeOption(ctx: MethodContext, j: Job, changes: OptionValues): Promise<string> {
  if (j.result) throw new RpcError(METHOD_ERROR, `Cannot change option for GID#${j.gid}`);
  const options = { ...j.options, ...changes };
  const effective = ctx.globals.effective(options);
  const target = resolveTarget(effective, ctx.globals.dir);
  const settings = downloaderOptions(effective, target, ctx.template);
  if (!Object.keys(changes).some(needsRestart)) {
    j.options = options;
    j.d.rateLimit = settings.rateLimit ?? 0;
    return OK;
  }
  // Other options make a new Downloader: a running download stops and starts again, resuming
  // from its .part when the file stays where it was (as aria2 restarts it).
  const d = new Downloader(j.d.url, withMirrors(settings, j.uris, j.pieceHashes));
  await makeFolder(target.path !== undefined ? dirname(target.path) : target.dir);
  await ctx.queue.whileHeld(j, () => {
    if (j.result) return; // it finished while stopping
    ctx.queue.replaceDownloader(j, d);
    j.options = options;
    j.dir = target.dir;
  });
  return OK;
}
