// One download from probe to rename: resume state, the segmented workers with work stealing,
// the per-download tick (speed, stall watchdog, ramp, checkpoints, progress), the fallback to a
// single stream, and restarts when the resource changes under us.

import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortError,
  FileExistsError,
  HttpStatusError,
  NetworkError,
  type QgetError,
  RangeMismatchError,
  ResourceChangedError,
  SizeMismatchError,
  TimeoutError,
} from '../errors.js';
import {
  type Answer,
  discardBody,
  errorCode,
  openRequest,
  parseHttpUrl,
  type Requester,
  statusError,
  toQgetError,
  undiciAnswer,
} from '../net/client.js';
import { ConnectionPool, openAnswer } from '../net/connection-pool.js';
import type { RangeConnection } from '../net/range-connection.js';
import type { HttpSession } from '../net/session.js';
import type { TlsOptions } from '../net/tls.js';
import { retryDelay } from '../net/retry-delay.js';
import type { TokenBucket } from '../rate/token-bucket.js';
import { bufferPair } from './batch-buffers.js';
import { type ChecksumSpec, verifyChecksum } from './checksum.js';
import { ConnectionGovernor } from './connection-governor.js';
import {
  type ControlState,
  controlState,
  loadControl,
  readControl,
  readControlSync,
  removeControl,
  sameResource,
  sameSource,
  saveControl,
} from './control-file.js';
import { pathFromUrl } from './filename.js';
import { OutputClaim } from './output-claim.js';
import type { OutputNames } from './output-names.js';
import { moveIntoPlace, pathExists } from './finalize.js';
import { localIoError, PartFile } from './part-file.js';
import { type FetchContext, type OpenedAnswer, RangeFetch } from './range-fetch.js';
import {
  checkValidators,
  checkWholeLength,
  describeResource,
  ifRangeValue,
  parseContentRange,
  parseUnsatisfiedRange,
  type ResourceInfo,
} from './resource.js';
import {
  type ByteRange,
  chooseSteal,
  median,
  mergeRanges,
  missingRanges,
  type Segment,
  type StealOptions,
  splitRanges,
} from './segment-plan.js';

export type EnginePhase = 'connect' | 'download' | 'verify' | 'done';

export interface EngineObserver {
  /** The probe answered; `path` is where the file will be. */
  resource?(info: ResourceInfo, path: string): void;
  /** About ten times a second while transferring, and once at the end. */
  progress?(received: number, total: number | undefined): void;
  connections?(open: number): void;
  verify?(bytes: number, total: number): void;
  phase?(phase: EnginePhase): void;
}

export interface EngineOptions {
  url: string;
  /** Output file; when absent the name comes from the server, placed in `dir`. */
  output?: string | undefined;
  dir?: string | undefined;
  override: boolean;
  maxConnections: number;
  /** Longest time (s) spent measuring the server's connection limit; 0 = off. */
  connectionTestSec: number;
  chunkBytes: number;
  maxPartBytes: number;
  minSplitBytes: number;
  tmpDir?: string | undefined;
  headers: Record<string, string>;
  checksum?: ChecksumSpec | undefined;
  timeoutMs: number;
  /** Consecutive failures of one range (without progress) before the download fails. */
  retries: number;
  fsync: boolean;
  signal?: AbortSignal | undefined;
  /** Every request over this (a proxy, a mock …); no lean connections. */
  dispatcher?: Requester | undefined;
  /** Connections shared with other downloads (a Manager's); else the download has its own. */
  pool?: ConnectionPool | undefined;
  /** Credentials and cookies (net/session.ts); TLS rules for its own pool (net/tls.ts). */
  session?: HttpSession | undefined;
  tls?: TlsOptions | undefined;
  limiters?: readonly TokenBucket[];
  limiterOwner?: object;
  /** The names taken in this run (a Manager's): a taken output is renamed `name.1.ext`, … */
  outputNames?: OutputNames | undefined;
  /** Who holds the names this download takes (its Downloader); default: the job. */
  outputOwner?: object | undefined;
  observer?: EngineObserver;
  debug?: ((message: string) => void) | undefined;
  /** One line a user should see (work discarded, a name changed). */
  warn?: ((message: string) => void) | undefined;
}

export interface DownloadResult {
  path: string;
  url: string;
  finalUrl: string;
  size: number;
  elapsedMs: number;
  /** Most connections transferring at once. */
  connections: number;
  /** Bytes that were already on disk from an earlier run. */
  resumedBytes: number;
  /** The per-client connection limit measured, if the server showed one. */
  connectionLimit: number | undefined;
}

const TICK_MS = 100;
const CHECKPOINT_MS = 1000;
const MAX_RESTARTS = 3;
const MIN_STEAL = 256 * 1024;
/** Under a rate limit: the speed one connection is assumed to reach, and the smallest request. */
const RATE_PER_CONNECTION = 1024 * 1024;
const MIN_RATED_REQUEST = 64 * 1024;
/** Request sizing (see #requestSize). */
const INITIAL_REQUEST = 4 * 1024 * 1024;
const MIN_REQUEST = 1024 * 1024;
const REQUEST_SECONDS = 0.25;
/** With fsync on, dirty pages are pushed to disk in the background every this many bytes. */
const BACKGROUND_FLUSH_BYTES = 16 * 1024 * 1024;
/** A connection slower than this share of its peers' median reconnects. */
const CRAWL_FRACTION = 0.25;
/** A fetch is judged a crawler after this long, and only with this much work left (in seconds at the typical speed). */
const CRAWL_JUDGE_MS = 1000;
const CRAWL_MIN_SECONDS = 1;
/** A transferring connection silent this long counts as stalled for stealing. */
const STALL_MS = 1000;
/** Consecutive 200s to ranged requests after which ranges are considered gone. */
const IGNORED_RANGE_LIMIT = 3;

/** What a worker keeps across its requests: its socket(s), batch buffers and measurements. */
interface WorkerResources {
  /** Its undici dispatcher (created on first use when it owns its socket). */
  dispatcher: () => Requester;
  lean: RangeConnection | undefined;
  /** Its two batch buffers, taken on first use and given back when the worker ends. */
  buffers: ReturnType<typeof bufferPair>;
  /** Bytes/s of its last request, once measured. */
  speed?: number | undefined;
  /** Round trip of its last request, ms. */
  rttMs?: number | undefined;
}

/**
 * retry: the range failed, back off; wait: this connection was refused, back off; stop: leave;
 * reconnect: drop the socket and go on with the same range at once.
 */
type FailureAction = 'retry' | 'wait' | 'stop' | 'reconnect';

/** Ends a fetch whose connection crawls far behind its peers, so it goes on over a fresh one. */
class CrawlError extends NetworkError {
  constructor() {
    super('the connection crawls far behind the others: going on over a fresh one');
    this.name = 'CrawlError';
  }
}

export class DownloadJob {
  readonly #o: EngineOptions;
  readonly #observer: EngineObserver;
  readonly #debug: (message: string) => void;
  /** Aborted by the caller's signal. */
  readonly #abort = sharedController();
  /** Aborted when the current round of connections must stop (failure, fallback, abort). */
  #round = sharedController();
  #mode: 'segmented' | 'single' = 'segmented';
  #dispatcher!: Requester;
  /** Lean connections and the agent, unless the caller gave a dispatcher. */
  #pool: ConnectionPool | undefined;
  #info!: ResourceInfo;
  #part!: PartFile;
  #partPath = '';
  #controlPath = '';
  #segments: Segment[] = [];
  #baseDone: ByteRange[] = [];
  readonly #fetches = new Set<RangeFetch>();
  readonly #workers = new Set<WorkerResources>();
  #governor!: ConnectionGovernor;
  #live = 0;
  #allDone: () => void = () => {};
  #fatal: QgetError | undefined;
  #stopping = false;
  #fallback = false;
  #ignoredInARow = 0;
  #received = 0;
  #resumed = 0;
  #maxTransferring = 0;
  #lastConnections = -1;
  #lastSave = 0;
  #saving: Promise<void> | undefined;
  #nextSegmentId = 0;
  /** Ranged requests over plain http use the lean RangeConnection until a server needs undici. */
  #leanAllowed = true;
  /** A control path already found empty before the probe (saves a second look). */
  #noSavedState: string | undefined;
  /** A control path with no file at all before the probe (nothing to remove if never saved). */
  #noControlFile: string | undefined;
  /** A checkpoint was written in this run. */
  #checkpointed = false;
  /** This process's claim on the output (one writer per output), held until run() ends. */
  #claim: OutputClaim | undefined;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#observer = options.observer ?? {};
    this.#debug = options.debug ?? (() => {});
  }

  /** Bytes accepted so far (including bytes resumed from disk). */
  get received(): number {
    return this.#received;
  }

  async run(): Promise<DownloadResult> {
    const started = performance.now();
    parseHttpUrl(this.#o.url);
    const signal = this.#o.signal;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const output =
      this.#o.output === undefined ? undefined : this.#reservePath(resolve(this.#o.output));
    if (output !== undefined && !this.#o.override && (await pathExists(output))) {
      throw new FileExistsError(output);
    }
    // A named output is claimed before any request: a second writer stops here, touching nothing.
    if (output !== undefined) await this.#claimOutput(output);
    // Added only now: the finally below is what removes it.
    const onAbort = (): void => this.#stop(new AbortError(undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const ownPool =
      this.#o.dispatcher === undefined && this.#o.pool === undefined
        ? new ConnectionPool({
            connections: this.#o.maxConnections,
            timeoutMs: this.#o.timeoutMs,
            tls: this.#o.tls,
          })
        : undefined;
    this.#pool = this.#o.dispatcher === undefined ? (this.#o.pool ?? ownPool) : undefined;
    this.#dispatcher = this.#o.dispatcher ?? this.#pool!.agent;
    try {
      for (let restarts = 0; ; restarts++) {
        try {
          const { path, size } = await this.#attempt(output, restarts > 0);
          return {
            path,
            size,
            url: this.#o.url,
            finalUrl: this.#info.finalUrl,
            elapsedMs: performance.now() - started,
            connections: Math.max(1, this.#maxTransferring),
            resumedBytes: this.#resumed,
            connectionLimit: this.#governor?.limit,
          };
        } catch (err) {
          if (!(err instanceof ResourceChangedError) || this.#abort.signal.aborted) throw err;
          if (restarts >= MAX_RESTARTS) {
            throw new ResourceChangedError(
              `the resource kept changing on the server (${restarts + 1} times); giving up`,
              { cause: err },
            );
          }
          this.#debug(`${err.message}: discarding what was downloaded and starting over`);
          await this.#removeControl();
          this.#resetState();
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.#claim?.release();
      if (ownPool) await ownPool.destroy().catch(() => {});
    }
  }

  /** The path this download writes when it wants `wanted`: renamed if taken in this run. */
  #reservePath(wanted: string): string {
    const names = this.#o.outputNames;
    if (!names) return wanted;
    const path = names.reserve(wanted, this.#o.outputOwner ?? this, (p) => this.#foreign(p));
    if (path !== wanted) this.#warn(`${wanted} is taken by another download: saving as ${path}`);
    return path;
  }

  /** Saved state at `path` that belongs to another resource (its bytes are someone's work). */
  #foreign(path: string): boolean {
    const saved = readControlSync(this.#pathsFor(path).controlPath);
    return saved !== undefined && !sameSource(saved, this.#o.url);
  }

  async #claimOutput(path: string): Promise<void> {
    if (this.#claim?.path === path) return;
    await this.#claim?.release();
    this.#claim = undefined;
    this.#claim = await OutputClaim.acquire(path, this.#pathsFor(path).controlPath);
  }

  #warn(message: string): void {
    this.#o.warn?.(message);
    this.#debug(message);
  }

  #resetState(): void {
    this.#round = sharedController();
    this.#segments = [];
    this.#baseDone = [];
    this.#fatal = undefined;
    this.#stopping = false;
    this.#fallback = false;
    this.#ignoredInARow = 0;
    this.#received = 0;
    this.#resumed = 0;
  }

  async #attempt(
    output: string | undefined,
    fresh: boolean,
  ): Promise<{ path: string; size: number }> {
    this.#observer.phase?.('connect');
    let resume = fresh ? undefined : await this.#findResumeState(output);
    let probe = await this.#probe(resume);
    if (resume && !probe.response) {
      this.#debug('the saved state no longer matches the server: starting over');
      resume = undefined;
      fresh = true;
      probe = await this.#probe(undefined);
    }
    const info = probe.info;
    this.#info = info;
    const path =
      output ?? this.#reservePath(resume?.path ?? resolve(this.#o.dir ?? '.', info.filename));
    // No saved state can apply: the .part is emptied as it is opened.
    let startOver = false;
    try {
      await this.#claimOutput(path);
      await this.#preparePaths(path);
      this.#observer.resource?.(info, path);
      startOver = fresh || this.#noSavedState === this.#controlPath;
      this.#part = await this.#openPart(startOver);
      if (this.#o.fsync) this.#part.flushEvery = BACKGROUND_FLUSH_BYTES;
    } catch (err) {
      this.#drop(probe.response);
      throw err;
    }
    const ticker = setInterval(() => this.#tick(), TICK_MS);
    try {
      let done: ByteRange[] = [];
      const saved = resume?.saved ?? (startOver ? undefined : await loadControl(this.#controlPath));
      const sameUrl = saved !== undefined && sameSource(saved, this.#o.url, info.finalUrl);
      if (saved && sameUrl && sameResource(saved, info)) {
        done = clipRanges(saved.ranges, await this.#part.size());
        this.#debug(`resuming: ${sumRanges(done)} bytes already on disk`);
      } else if (!startOver) {
        if (saved && !sameUrl) {
          const bytes = sumRanges(clipRanges(saved.ranges, await this.#part.size()));
          this.#warn(
            `${this.#partPath} was saved from another URL: discarding its ${bytes} bytes and starting over`,
          );
        } else if (saved) {
          this.#debug('saved state is for another version of the resource: starting over');
        }
        await this.#part.truncate(0);
      }
      this.#observer.phase?.('download');
      if (info.size === 0) {
        this.#drop(probe.response);
      } else if (!info.acceptRanges) {
        await this.#singleStream(probe.response);
      } else {
        await this.#segmented(probe.response, probe.start, probe.servedEnd ?? 0, done);
        if (this.#fallback) {
          this.#debug('the server stopped honouring ranges: one stream from byte 0');
          this.#stopping = false;
          this.#fallback = false;
          this.#round = sharedController();
          await this.#singleStream(undefined);
        }
      }
      clearInterval(ticker);
      await this.#saving;
      const size = await this.#finish(path);
      this.#observer.phase?.('done');
      return { path, size };
    } catch (err) {
      clearInterval(ticker);
      const error = toQgetError(err, info.finalUrl, this.#abort.signal);
      this.#stop(error);
      await this.#saving;
      if (info.acceptRanges && !(error instanceof ResourceChangedError)) await this.#checkpoint();
      throw error;
    } finally {
      await this.#part.close();
    }
  }

  /**
   * Saved state for this download, found before any request so the probe can ask for the first
   * missing byte (with If-Range) instead of byte 0. Without an output path, the name the URL
   * gives is tried; a state saved under a server-given name is found after the probe instead.
   */
  async #findResumeState(
    output: string | undefined,
  ): Promise<{ path: string; saved: ControlState; start: number; end: number } | undefined> {
    let path = output;
    if (path === undefined) {
      const wanted = pathFromUrl(this.#o.url, this.#o.dir);
      const owner = this.#o.outputOwner ?? this;
      path = this.#o.outputNames?.peek(wanted, owner, (p) => this.#foreign(p)) ?? wanted;
    }
    const { partPath, controlPath } = this.#pathsFor(path);
    const { state: saved, found } = await readControl(controlPath);
    if (!saved) this.#noSavedState = controlPath;
    if (!found) this.#noControlFile = controlPath;
    if (!saved?.acceptRanges || saved.size === null || saved.size === 0) return undefined;
    // Another URL's bytes are not continued (whether the final URL matches is known after the probe).
    if (!sameSource(saved, this.#o.url)) return undefined;
    const onDisk = await stat(partPath).then(
      (s) => s.size,
      () => -1,
    );
    if (onDisk < 0) return undefined;
    const missing = missingRanges(saved.size, clipRanges(saved.ranges, onDisk));
    // Ask for exactly the first missing range (nothing missing: one byte is enough to learn
    // whether the resource is still the same).
    const [start, end] = missing[0] ?? [saved.size - 1, saved.size];
    return { path, saved, start, end };
  }

  async #preparePaths(path: string): Promise<void> {
    if (!this.#o.override && (await pathExists(path))) throw new FileExistsError(path);
    // Beside the output, opening the .part shows whether the folder is there (#openPart).
    if (this.#o.tmpDir) await checkFolder(dirname(path));
    ({ partPath: this.#partPath, controlPath: this.#controlPath } = this.#pathsFor(path));
  }

  /** The .part, emptied when `startOver`; a missing folder is reported as the output's. */
  async #openPart(startOver: boolean): Promise<PartFile> {
    try {
      return await PartFile.open(this.#partPath, { truncate: startOver });
    } catch (err) {
      const folder = dirname(this.#partPath);
      if (!this.#o.tmpDir && ['ENOENT', 'ENOTDIR'].includes(errorCode(err) ?? '')) {
        await checkFolder(folder);
      }
      throw err;
    }
  }

  /** The control file is removed unless there never was one in this run. */
  async #removeControl(): Promise<void> {
    if (this.#noControlFile === this.#controlPath && !this.#checkpointed) return;
    await removeControl(this.#controlPath);
  }

  /** `<output>.part` and `<output>.qget`, or under tmpDir with a tag of the output path. */
  #pathsFor(path: string): { partPath: string; controlPath: string } {
    let partPath = `${path}.part`;
    if (this.#o.tmpDir) {
      const tag = createHash('sha256').update(path).digest('hex').slice(0, 8);
      partPath = join(resolve(this.#o.tmpDir), `${basename(path)}.${tag}.part`);
    }
    return { partPath, controlPath: partPath.replace(/\.part$/, '.qget') };
  }

  /**
   * The first request: `Range: bytes=0-` (or `bytes=<start>-` with If-Range when resuming),
   * following redirects, retried while transient. When resuming, an answer that does not
   * continue the saved state (200, 416, other size or validators) yields no response.
   */
  async #probe(resume: { start: number; end: number; saved: ControlState } | undefined): Promise<{
    response: Answer | undefined;
    info: ResourceInfo;
    start: number;
    /** Exclusive end of the bytes the response carries. */
    servedEnd?: number;
  }> {
    const signal = this.#abort.signal;
    const start = resume?.start ?? 0;
    // Open-ended unless resuming or under a rate limit (see #requestCap).
    const cap = this.#requestCap();
    const end = Math.min(resume?.end ?? Number.POSITIVE_INFINITY, start + cap);
    const range = Number.isFinite(end) ? `bytes=${start}-${end - 1}` : 'bytes=0-';
    const headers: Record<string, string> = { ...this.#o.headers, range };
    const ifRange = resume && ifRangeValue(savedValidators(resume.saved));
    if (ifRange) headers['if-range'] = ifRange;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await openAnswer(this.#o.url, {
          pool: this.#pool,
          dispatcher: this.#dispatcher,
          headers,
          session: this.#o.session,
          signal,
        });
        if (
          !resume &&
          res.statusCode === 416 &&
          parseUnsatisfiedRange(res.headers['content-range']) === 0
        ) {
          this.#drop(res);
          const info = describeResource(this.#o.url, { ...res, statusCode: 200 });
          return { response: undefined, info: { ...info, size: 0 }, start };
        }
        if (resume && (res.statusCode === 200 || res.statusCode === 416)) {
          this.#drop(res);
          return {
            response: undefined,
            info: describeResource(this.#o.url, { ...res, statusCode: 200 }),
            start,
          };
        }
        if (res.statusCode !== 200 && res.statusCode !== 206) {
          this.#drop(res);
          throw statusError(res);
        }
        try {
          const info = describeResource(this.#o.url, res, start);
          if (resume && !sameResource(resume.saved, info)) {
            this.#drop(res);
            return { response: undefined, info, start };
          }
          return { response: res, info, start, servedEnd: servedEnd(res, info) };
        } catch (err) {
          this.#drop(res);
          if (resume && err instanceof RangeMismatchError) return this.#probe(undefined);
          throw err;
        }
      } catch (err) {
        const error = toQgetError(err, this.#o.url, signal);
        if (!error.transient || attempt > this.#o.retries || signal.aborted) throw error;
        this.#debug(`probe failed (${error.message}); retry ${attempt}/${this.#o.retries}`);
        await this.#sleep(this.#retryDelay(attempt, error), signal);
      }
    }
  }

  async #segmented(
    probe: Answer | undefined,
    probeStart: number,
    probeEnd: number,
    done: ByteRange[],
  ): Promise<void> {
    const size = this.#info.size!;
    this.#baseDone = done;
    this.#resumed = sumRanges(done);
    this.#received = this.#resumed;
    const missing = missingRanges(size, done);
    this.#segments = splitRanges(
      missing,
      this.#o.maxConnections,
      this.#o.minSplitBytes,
      this.#o.maxPartBytes,
    ).map(([s, e]) => this.#newSegment(s, e));
    this.#governor = new ConnectionGovernor({
      maxConnections: this.#o.maxConnections,
      testMs: this.#o.connectionTestSec * 1000,
    });
    this.#mode = 'segmented';
    const first = this.#segments[0];
    const finished = new Promise<void>((r) => {
      this.#allDone = r;
    });
    // Open connections in waves (4, 8, 16 …) rather than all in the same millisecond; after
    // the first tick, the tick's own #fill() keeps the count up (a rate limit or a measured
    // limit can hold it below the maximum for the whole download).
    const rampStart = performance.now();
    const ramp = setInterval(() => {
      this.#fill();
      const over = performance.now() - rampStart > TICK_MS;
      if (this.#stopping || this.#live >= this.#governor.max || over) clearInterval(ramp);
    }, 10);
    if (probe && first && first.start === probeStart) {
      this.#spawn({ segment: first, opened: { response: probe, servedEnd: probeEnd } });
    } else {
      this.#drop(probe);
    }
    this.#fill();
    if (this.#live === 0) this.#allDone();
    await finished;
    clearInterval(ramp);
    if (this.#fatal) throw this.#fatal;
    if (this.#fallback) return;
    const incomplete = this.#segments.find((s) => s.flushed < s.end);
    if (incomplete) {
      throw new NetworkError(
        `bytes ${incomplete.flushed}-${incomplete.end - 1} were not downloaded`,
      );
    }
  }

  #newSegment(start: number, end: number): Segment {
    return {
      id: this.#nextSegmentId++,
      start,
      end,
      pos: start,
      flushed: start,
      active: false,
      speed: undefined,
      failures: 0,
      requestEnd: start,
    };
  }

  #fetchContext(resources: WorkerResources): FetchContext {
    return {
      info: this.#info,
      part: this.#part,
      dispatcher: resources.dispatcher,
      connection: this.#leanAllowed ? resources.lean : undefined,
      onUnsupported: (err) => {
        if (this.#leanAllowed) this.#debug(`${err.message}: back to undici for the ranges`);
        this.#leanAllowed = false;
        this.#pool?.undiciOnly(this.#info.finalUrl);
      },
      batchBuffers: resources.buffers.get,
      headers: this.#o.headers,
      session: this.#o.session,
      chunkBytes: this.#o.chunkBytes,
      limiters: this.#o.limiters ?? [],
      limiterOwner: this.#o.limiterOwner ?? this,
      now: () => performance.now(),
      onBytes: (n) => {
        this.#received += n;
      },
      // "In a row" in the order answers arrive: a 206 between the 200s shows ranges work,
      // even while the fetch that got it is still running.
      onRangeAnswered: () => {
        this.#ignoredInARow = 0;
      },
      requestBytes: () => Math.min(this.#requestCap(), this.#requestSize(resources)),
    };
  }

  /** Open connections up to the governor's target while there is work to hand out. */
  #fill(): void {
    if (this.#stopping || this.#fatal || this.#mode !== 'segmented') return;
    let target = this.#governor.target(performance.now());
    const rate = this.#rateLimit();
    // Under a rate limit more connections only add requests; about 1 MiB/s each is plenty.
    if (rate > 0) target = Math.min(target, Math.max(1, Math.ceil(rate / RATE_PER_CONNECTION)));
    while (this.#live < target && this.#hasWork()) this.#spawn();
  }

  /**
   * Largest range for one request: unbounded, except under a rate limit, where about 1/8 s of
   * the limit per connection keeps the server from parking far more than is read in buffers.
   */
  #requestCap(): number {
    const rate = this.#rateLimit();
    if (rate === 0) return Number.POSITIVE_INFINITY;
    return Math.max(MIN_RATED_REQUEST, Math.floor(rate / 8 / Math.max(1, this.#live)));
  }

  /**
   * How much one request of this worker asks for: about REQUEST_SECONDS of its transfer, or
   * 20 round trips when those are longer, so a request's round trip costs at most about 5%.
   * Bounded requests let a steal take the rest of a range without cutting the victim's socket,
   * and servers that pace each response (nginx's limit_rate sends its first 2 MiB at once)
   * answer short requests faster.
   */
  #requestSize(resources: WorkerResources): number {
    const { speed, rttMs } = resources;
    let size = INITIAL_REQUEST;
    if (speed !== undefined && speed > 0) {
      const seconds = Math.max(REQUEST_SECONDS, (20 * (rttMs ?? 0)) / 1000);
      size = Math.max(MIN_REQUEST, Math.floor(speed * seconds));
    }
    return this.#o.maxPartBytes > 0 ? Math.min(size, this.#o.maxPartBytes) : size;
  }

  /**
   * A lean connection that has crawled far behind the others for over a second, with seconds of
   * work left, is dropped: its worker goes on with the same range over a fresh socket (servers
   * and paths pace connections unevenly). Each fetch is judged once.
   */
  #replaceCrawlers(now: number): void {
    if (this.#mode !== 'segmented' || this.#rateLimit() > 0) return;
    const speeds: number[] = [];
    for (const f of this.#fetches) {
      if (f.transferring && f.segment.speed !== undefined) speeds.push(f.segment.speed);
    }
    const typical = median(speeds);
    if (speeds.length < 3 || typical === undefined) return;
    for (const f of this.#fetches) {
      const speed = f.segment.speed;
      if (!f.lean || !f.transferring || f.crawlJudged || speed === undefined) continue;
      if (now - f.startedAt < CRAWL_JUDGE_MS) continue;
      f.crawlJudged = true;
      const left = f.segment.end - f.segment.pos;
      if (speed < CRAWL_FRACTION * typical && left > CRAWL_MIN_SECONDS * typical) {
        f.abort(new CrawlError());
      }
    }
  }

  /** A worker far slower than its peers (not under a rate limit, where all look slow). */
  #isCrawler(resources: WorkerResources): boolean {
    const speed = resources.speed;
    if (speed === undefined || !resources.lean || this.#rateLimit() > 0) return false;
    const others: number[] = [];
    for (const w of this.#workers)
      if (w !== resources && w.speed !== undefined) others.push(w.speed);
    const typical = median(others);
    return others.length >= 2 && typical !== undefined && speed < CRAWL_FRACTION * typical;
  }

  /** The tightest rate limit in force (bytes/s), 0 when none. */
  #rateLimit(): number {
    let rate = 0;
    for (const limiter of this.#o.limiters ?? []) {
      if (limiter.rate > 0 && (rate === 0 || limiter.rate < rate)) rate = limiter.rate;
    }
    return rate;
  }

  #stealOptions(thiefSpeed: number | undefined): StealOptions {
    // Under a rate limit every connection looks slow: crawling is not a reason to split.
    const limited = this.#rateLimit() > 0;
    return {
      minSteal: MIN_STEAL,
      thiefSpeed,
      ...(limited ? { crawlSeconds: Number.POSITIVE_INFINITY } : {}),
    };
  }

  /** A segment with bytes left that no connection is working on. */
  #freeSegment(): Segment | undefined {
    return this.#segments.find((s) => !s.active && s.pos < s.end);
  }

  #hasWork(): boolean {
    if (this.#freeSegment()) return true;
    return chooseSteal(this.#segments, this.#stealOptions(undefined)) !== null;
  }

  #spawn(initial?: { segment: Segment; opened: OpenedAnswer }): void {
    this.#live++;
    this.#worker(initial)
      .catch((err) => this.#stop(toQgetError(err, this.#info.finalUrl)))
      .finally(() => {
        this.#live--;
        if (this.#live > 0) return;
        if (!this.#stopping && !this.#fatal && this.#hasWork()) this.#spawn();
        else this.#allDone();
      });
  }

  /** Hand out the next range: a free segment, else the tail of the slowest one (work stealing). */
  #takeWork(thiefSpeed: number | undefined): Segment | undefined {
    const free = this.#freeSegment();
    if (free) return free;
    const steal = chooseSteal(this.#segments, this.#stealOptions(thiefSpeed));
    if (!steal) return undefined;
    const victim = steal.segment;
    const seg = this.#newSegment(steal.splitAt, victim.end);
    victim.end = steal.splitAt;
    this.#segments.push(seg);
    if (victim.pos >= victim.end) {
      // A stalled victim would otherwise hold the download until its watchdog fires.
      for (const fetch of this.#fetches) if (fetch.segment === victim) fetch.release();
    }
    return seg;
  }

  async #worker(initial?: { segment: Segment; opened: OpenedAnswer }): Promise<void> {
    // A socket of its own (unless the caller gave a dispatcher), given back when the worker
    // leaves: open sockets then follow the live workers, which a per-client cap needs. Over
    // plain http that socket is a lean RangeConnection (see range-connection.ts): the probe's
    // for the worker that continues its answer, else one from the pool (kept alive from an
    // earlier download to the same origin, or new).
    const pool = this.#pool;
    const lean =
      initial?.opened.response.connection ??
      (pool && this.#leanAllowed ? pool.lean(new URL(this.#info.finalUrl)) : undefined);
    let own: Requester | undefined;
    const resources: WorkerResources = {
      dispatcher: () => {
        if (!pool) return this.#dispatcher;
        own ??= pool.connection(this.#info.finalUrl);
        return own;
      },
      lean,
      buffers: bufferPair(this.#o.chunkBytes),
    };
    this.#workers.add(resources);
    try {
      await this.#workLoop(initial, resources);
    } finally {
      this.#workers.delete(resources);
      resources.buffers.release();
      this.#giveBack(lean);
      own?.destroy().catch(() => {});
    }
  }

  async #workLoop(
    initial: { segment: Segment; opened: OpenedAnswer } | undefined,
    resources: WorkerResources,
  ): Promise<void> {
    let speed: number | undefined;
    let refusals = 0;
    let next: { segment: Segment; opened?: OpenedAnswer } | undefined = initial;
    while (!this.#stopping && !this.#fatal) {
      const seg = next?.segment ?? this.#takeWork(speed);
      if (!seg) return;
      seg.active = true;
      // On the same kept-alive socket the connection's speed is known; a new socket is measured
      // afresh (the tick has a first estimate within 200 ms).
      seg.speed = resources.lean?.reusable && this.#leanAllowed ? resources.speed : undefined;
      const fetch = new RangeFetch(this.#fetchContext(resources), seg);
      this.#fetches.add(fetch);
      const before = seg.pos;
      let action: FailureAction | 'done' = 'done';
      let error: QgetError | undefined;
      try {
        await fetch.run(next?.opened);
        seg.failures = 0;
        this.#ignoredInARow = 0;
        refusals = 0;
      } catch (err) {
        if (seg.pos > before) seg.failures = 0;
        if (fetch.started) refusals = 0;
        error = toQgetError(err, this.#info.finalUrl);
        action = this.#onFetchError(error, seg, fetch, before);
        if (action === 'wait') refusals++;
      } finally {
        seg.active = false;
        // A fast connection may finish before the meter's first window: its average then.
        const average = fetch.averageSpeed(performance.now());
        speed = seg.speed ?? average ?? speed;
        resources.speed = average ?? resources.speed;
        resources.rttMs = fetch.ttfbMs ?? resources.rttMs;
        this.#fetches.delete(fetch);
      }
      // A bounded request ended inside the segment: the same connection goes on with it.
      next = action === 'done' && seg.pos < seg.end && !seg.active ? { segment: seg } : undefined;
      if (action === 'reconnect') {
        this.#debug(error?.message ?? 'reconnecting');
        resources.lean?.destroy();
        resources.speed = undefined;
        next = seg.pos < seg.end && !seg.active ? { segment: seg } : undefined;
        continue;
      }
      if (this.#isCrawler(resources)) {
        // Servers and paths pace connections unevenly; a fresh socket is the way out of a slow one.
        this.#debug(
          `a connection crawls at ${Math.round((resources.speed ?? 0) / 1024)} KiB/s: reconnecting`,
        );
        resources.lean?.destroy();
        resources.speed = undefined;
        next = undefined;
      }
      if (action === 'stop') return;
      if (action === 'retry' || action === 'wait') {
        const attempt = action === 'retry' ? seg.failures : refusals;
        const waited = await this.#sleep(this.#retryDelay(attempt, error), this.#round.signal).then(
          () => true,
          () => false,
        );
        if (!waited) return;
      }
    }
  }

  #onFetchError(error: QgetError, seg: Segment, fetch: RangeFetch, before: number): FailureAction {
    if (this.#stopping || this.#fatal || error instanceof AbortError) return 'stop';
    if (error instanceof CrawlError) return 'reconnect';
    if (error instanceof RangeMismatchError && error.ignoredRange) {
      this.#ignoredInARow++;
      if (this.#ignoredInARow >= IGNORED_RANGE_LIMIT) {
        this.#fallback = true;
        this.#stop(undefined);
        return 'stop';
      }
    }
    if (!error.transient) {
      this.#stop(error);
      return 'stop';
    }
    if (isRefusal(error) && seg.pos === before && !fetch.started) {
      const others = [...this.#fetches].filter((f) => f !== fetch && f.transferring).length;
      if (others > 0) {
        // The connection is refused, not the range: it says nothing about the range's health.
        if (this.#governor.onRefusal(performance.now(), others)) {
          this.#debug(
            `connection refused (${error.message}); settling at ${this.#governor.limit} connections`,
          );
          return 'stop';
        }
        return 'wait';
      }
    }
    seg.failures++;
    this.#debug(
      `range ${seg.pos}-${seg.end - 1}: ${error.message} (failure ${seg.failures}/${this.#o.retries})`,
    );
    if (seg.failures > this.#o.retries) {
      this.#stop(error);
      return 'stop';
    }
    return 'retry';
  }

  /** Stop every connection; `error` (if any) becomes the download's failure. */
  #stop(error: QgetError | undefined): void {
    if (error && !this.#fatal) this.#fatal = error;
    if (error instanceof AbortError && !this.#abort.signal.aborted) this.#abort.abort(error);
    this.#stopping = true;
    const reason = error ?? new AbortError('stopped');
    if (!this.#round.signal.aborted) this.#round.abort(reason);
    for (const fetch of this.#fetches) fetch.abort(reason);
  }

  /** One stream of the whole body, written from byte 0; restarted from 0 after a failure. */
  async #singleStream(probe: Answer | undefined): Promise<void> {
    const info = this.#info;
    this.#mode = 'single';
    const seg = this.#newSegment(0, info.size ?? Number.POSITIVE_INFINITY);
    this.#segments = [seg];
    this.#baseDone = [];
    this.#received = 0;
    this.#resumed = 0;
    const single: WorkerResources = {
      dispatcher: () => this.#dispatcher,
      lean: undefined,
      buffers: bufferPair(this.#o.chunkBytes),
    };
    try {
      await this.#streamWhole(seg, single, probe);
    } finally {
      single.buffers.release();
    }
    if (info.size === undefined) {
      await this.#part.truncate(seg.pos);
      this.#info = { ...info, size: seg.pos };
    }
  }

  /** The attempts of #singleStream, each from byte 0. */
  async #streamWhole(
    seg: Segment,
    single: WorkerResources,
    probe: Answer | undefined,
  ): Promise<void> {
    const info = this.#info;
    let response = probe;
    // Every attempt starts again from byte 0: only getting further than ever before is progress.
    let furthest = 0;
    for (let failures = 0; ; ) {
      const fetch = new RangeFetch(this.#fetchContext(single), seg);
      this.#fetches.add(fetch);
      seg.active = true;
      try {
        const res = response ?? (await this.#openWhole());
        response = undefined;
        this.#received -= seg.pos - seg.start;
        seg.pos = 0;
        seg.flushed = 0;
        try {
          await fetch.run({ response: res, servedEnd: info.size ?? Number.POSITIVE_INFINITY });
        } finally {
          this.#drop(res);
        }
        break;
      } catch (err) {
        const error = toQgetError(err, info.finalUrl, this.#abort.signal);
        if (!error.transient || this.#abort.signal.aborted) throw error;
        failures = seg.pos > furthest ? 1 : failures + 1;
        furthest = Math.max(furthest, seg.pos);
        if (failures > this.#o.retries) throw error;
        this.#debug(`stream failed (${error.message}); starting it again from byte 0`);
        await this.#sleep(this.#retryDelay(failures, error), this.#abort.signal);
      } finally {
        seg.active = false;
        this.#fetches.delete(fetch);
      }
    }
  }

  /** A plain GET of the whole resource, checked against the probe. */
  async #openWhole(): Promise<Answer> {
    const res = await openRequest(this.#info.finalUrl, {
      dispatcher: this.#dispatcher,
      headers: this.#o.headers,
      session: this.#o.session,
      userUrl: this.#o.url,
      signal: this.#abort.signal,
    });
    try {
      const fromZero =
        res.statusCode === 206 && parseContentRange(res.headers['content-range'])?.start === 0;
      if (res.statusCode !== 200 && !fromZero) throw statusError(res);
      checkValidators(this.#info, res.headers);
      if (res.statusCode === 200) checkWholeLength(this.#info, res.headers);
    } catch (err) {
      discardBody(res.body);
      throw err;
    }
    return undiciAnswer(res);
  }

  /** Done with an answer: the rest of its body dropped, its lean connection back to the pool. */
  #drop(answer: Answer | undefined): void {
    if (!answer) return;
    answer.discard();
    this.#giveBack(answer.connection);
  }

  /** A lean connection back to the pool it came from (lean connections only come from one). */
  #giveBack(connection: RangeConnection | undefined): void {
    if (connection) this.#pool?.release(connection);
  }

  /** Length check, optional fsync and checksum, then the move onto the output path. */
  async #finish(path: string): Promise<number> {
    this.#observer.progress?.(this.#received, this.#info.size);
    this.#observer.phase?.('verify');
    if (this.#o.fsync) await this.#part.sync();
    const size = this.#info.size ?? 0;
    const onDisk = await this.#part.size();
    if (onDisk !== size) {
      throw new SizeMismatchError(`the downloaded file has ${onDisk} bytes, expected ${size}`);
    }
    await this.#part.close();
    if (this.#o.checksum) {
      await verifyChecksum(this.#partPath, this.#o.checksum, {
        chunkBytes: this.#o.chunkBytes,
        onProgress: (bytes) => this.#observer.verify?.(bytes, size),
        signal: this.#abort.signal,
      });
    }
    this.#observer.verify?.(size, size);
    await moveIntoPlace(this.#partPath, path, this.#o.override);
    await this.#removeControl();
    return size;
  }

  /** Runs every TICK_MS while downloading: speeds, stall watchdog, ramp, checkpoint, progress. */
  #tick(): void {
    const now = performance.now();
    let transferring = 0;
    for (const fetch of this.#fetches) {
      if (fetch.transferring) transferring++;
      const elapsed = now - fetch.meterAt;
      const seg = fetch.segment;
      // Speeds are measured once bytes flow (a slow answer is not a crawl); the first value is
      // the attempt's average after 200 ms, so stealing knows a crawler before it is too late.
      if (fetch.started && seg.speed === undefined && now - fetch.startedAt >= 200) {
        seg.speed = fetch.averageSpeed(now);
        fetch.meterAt = now;
        fetch.meterBytes = fetch.received;
      } else if (elapsed >= 500 && fetch.started && seg.speed !== undefined) {
        const rate = ((fetch.received - fetch.meterBytes) * 1000) / elapsed;
        seg.speed = 0.5 * seg.speed + 0.5 * rate;
        fetch.meterAt = now;
        fetch.meterBytes = fetch.received;
      }
      // The average only halves per window; a connection silent this long has stalled, and
      // stealing (chooseSteal) then takes all it has left.
      if (fetch.transferring && !fetch.waiting && now - fetch.lastDataAt > STALL_MS) {
        seg.speed = 0;
      }
      if (!fetch.waiting && now - fetch.lastDataAt > this.#o.timeoutMs) {
        fetch.abort(
          new TimeoutError(`no data received for ${Math.round(this.#o.timeoutMs / 1000)} s`),
        );
      }
    }
    this.#replaceCrawlers(now);
    this.#maxTransferring = Math.max(this.#maxTransferring, transferring);
    if (transferring !== this.#lastConnections) {
      this.#lastConnections = transferring;
      this.#observer.connections?.(transferring);
    }
    if (this.#governor && this.#info.acceptRanges) {
      this.#governor.onTransfer(transferring);
      this.#fill();
    }
    this.#observer.progress?.(this.#received, this.#info?.size);
    if (now - this.#lastSave >= CHECKPOINT_MS && this.#info?.acceptRanges && !this.#saving) {
      this.#lastSave = now;
      void this.#checkpoint();
    }
  }

  /** Save the ranges confirmed on disk; never claims a byte that is not in the .part. */
  #checkpoint(): Promise<void> {
    const ranges: ByteRange[] = [...this.#baseDone];
    for (const s of this.#segments) if (s.flushed > s.start) ranges.push([s.start, s.flushed]);
    const state = controlState(this.#info, ranges);
    this.#checkpointed = true;
    this.#saving = saveControl(this.#controlPath, state)
      .catch((err) => this.#debug(`could not save ${this.#controlPath}: ${err}`))
      .finally(() => {
        this.#saving = undefined;
      });
    return this.#saving;
  }

  #retryDelay(attempt: number, error: QgetError | undefined): number {
    const retryAfterSeconds = error instanceof HttpStatusError ? error.retryAfter : undefined;
    return retryDelay({ attempt, retryAfterSeconds });
  }

  async #sleep(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw this.#fatal ?? new AbortError();
    }
  }
}

/** Where the bytes of a probe's answer end: its Content-Range, else the whole resource. */
function servedEnd(res: Answer, info: ResourceInfo): number {
  const range = parseContentRange(res.headers['content-range']);
  return res.statusCode === 206 && range ? range.end + 1 : (info.size ?? Number.POSITIVE_INFINITY);
}

/**
 * A controller whose signal every connection listens to at once (each request, each backoff
 * sleep): more than Node's default of 10 listeners is expected, not a leak.
 */
function sharedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** Throws a LocalIoError unless `dir` is a folder. */
async function checkFolder(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory())
      throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (err) {
    throw localIoError(err, 'write into', dir);
  }
}

/** Saved ranges limited to what the .part can hold. */
function clipRanges(ranges: readonly ByteRange[], onDisk: number): ByteRange[] {
  return mergeRanges(ranges.map(([s, e]): ByteRange => [s, Math.min(e, onDisk)]));
}

function savedValidators(saved: ControlState): {
  etag: string | undefined;
  lastModified: string | undefined;
} {
  return { etag: saved.etag ?? undefined, lastModified: saved.lastModified ?? undefined };
}

function sumRanges(ranges: readonly ByteRange[]): number {
  return ranges.reduce((n, [s, e]) => n + (e - s), 0);
}

const REFUSAL_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'UND_ERR_SOCKET',
  'EPIPE',
  'ERR_QGET_SOCKET_CLOSED',
]);

/** The shapes a server's per-client connection cap takes. */
function isRefusal(error: QgetError): boolean {
  if (error instanceof HttpStatusError) return error.statusCode === 503 || error.statusCode === 429;
  if (error instanceof NetworkError) {
    const code = errorCode(error.cause);
    return code !== undefined && REFUSAL_CODES.has(code);
  }
  return false;
}
