// One download of the daemon: its GID, URIs, options, folder and aria2 state, and its Downloader,
// made only when it is needed (the download is next to start, or something asks about it): a
// queue of 10,000 waiting downloads holds 10,000 of these small records, not 10,000 Downloaders
// with their runners, timers and listeners. Once stopped for good, only what its status shows
// is kept (compact()): a result holds no Downloader.

import type { Downloader, PieceHashes } from '../index.js';
import type { OptionValues } from './options.js';

/** What status calls read of a download: its Downloader, or what is kept once it stopped. */
export type DownloadView = Pick<Downloader, 'path' | 'size' | 'downloaded' | 'speed' | 'segments'>;

export type JobResult = {
  status: 'complete' | 'error' | 'removed';
  errorCode: number;
  message: string;
};

export interface JobInit {
  gid: string;
  /** The URIs given; qget downloads from the first. */
  uris: readonly string[];
  options: OptionValues;
  dir: string;
  /** The file given (`out`), if any. */
  path?: string | undefined;
  paused: boolean;
  /** The Downloader, or how to make it when it is first needed. */
  d: Downloader | (() => Downloader);
  /** Piece hashes of the file (addMetalink). */
  pieceHashes?: PieceHashes | undefined;
}

/** What a stopped download's segments are: none (one function for every result). */
const noSegments = (): undefined => undefined;

export class Job {
  readonly gid: string;
  uris: readonly string[];
  /** The options given for this download (not the inherited ones). */
  options: OptionValues;
  /** The folder the file goes to. */
  dir: string;
  /** The file given (`out`), if any: where a download that has not run goes. */
  readonly path: string | undefined;
  /** Paused by the user (pause, pauseAll, `pause=true`). */
  paused: boolean;
  /** Piece hashes of the file (addMetalink), kept for a new Downloader (changeOption…). */
  readonly pieceHashes: PieceHashes | undefined;
  /** The first response arrived: `d.path` is the real file name. */
  named = false;
  /** Set once stopped: complete, error or removed. */
  result: JobResult | undefined = undefined;
  #d: Downloader | undefined;
  #make: (() => Downloader) | undefined;
  #kept: DownloadView | undefined;
  /** Told when the Downloader is made (the queue listens to it from then on). */
  onMade: ((job: Job) => void) | undefined;

  constructor(init: JobInit) {
    this.gid = init.gid;
    this.uris = init.uris;
    this.options = init.options;
    this.dir = init.dir;
    this.path = init.path;
    this.paused = init.paused;
    this.pieceHashes = init.pieceHashes;
    if (typeof init.d === 'function') this.#make = init.d;
    else this.#d = init.d;
  }

  /** The Downloader, made now if it was not yet (throws what its constructor throws). */
  get d(): Downloader {
    if (this.#d === undefined) {
      if (this.#make === undefined) throw new Error(`GID#${this.gid} has stopped for good`);
      this.#d = this.#make!();
      this.#make = undefined;
      this.onMade?.(this);
    }
    return this.#d;
  }

  set d(d: Downloader) {
    this.#d = d;
    this.#make = undefined;
  }

  /** What status calls read: the Downloader if made, else what was kept of it, if anything. */
  get view(): DownloadView | undefined {
    return this.#d ?? this.#kept;
  }

  /** Stopped for good (and not running): keep what its status shows, let go of the rest. */
  compact(): void {
    const d = this.#d;
    this.#kept = {
      path: d ? d.path : (this.path ?? ''),
      size: d?.size ?? -1,
      downloaded: d?.downloaded ?? 0,
      speed: 0,
      segments: noSegments,
    };
    this.#d = undefined;
    this.#make = undefined;
    this.onMade = undefined;
  }

  /** The Downloader if it was made, without making it. */
  get made(): Downloader | undefined {
    return this.#d;
  }

  /** Running now (a Downloader not made yet never ran). */
  get alive(): boolean {
    return this.#d?.isAlive ?? false;
  }
}
