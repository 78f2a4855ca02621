// A download into a caller's Writable (bitpit's file-like `path`): one GET over one connection,
// bytes written in order with backpressure, never ending or closing the stream. Continuing after
// bytes already went into the stream needs a 206 from exactly that byte for the same version of
// the resource, because what is written cannot be taken back.

import { createHash, type Hash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { ChecksumSpec } from './checksum.js';
import {
  AbortError,
  ChecksumError,
  LocalIoError,
  NetworkError,
  RangeMismatchError,
  ResourceChangedError,
  TimeoutError,
} from '../errors.js';
import { isMetalinkType, type PieceHashes } from './metalink.js';
import { MAX_METALINK_DOCUMENT, MetalinkAnswer } from './metalink-answer.js';
import { checkValidators, ifRangeValue } from './resource.js';
import { StreamPieces } from './stream-pieces.js';
import {
  discardBody,
  type OpenedResponse,
  openRequest,
  type Requester,
  statusError,
  toQgetError,
} from '../net/client.js';
import { contentLength, parseContentRange } from '../net/headers.js';
import type { HttpSession } from '../net/session.js';
import type { TokenBucket } from '../rate/token-bucket.js';

/** What identifies the version of the resource whose bytes are in the stream. */
export interface StreamValidators {
  etag: string | undefined;
  lastModified: string | undefined;
}

export interface StreamDownloadOptions {
  url: string;
  sink: Writable;
  /** Bytes an earlier run already wrote into `sink`; the download continues after them. */
  offset: number;
  /** Validators seen by the earlier run (required to continue when `offset` > 0). */
  validators?: StreamValidators | undefined;
  /** Size seen by the earlier run, -1 unknown. */
  knownSize?: number;
  headers: Record<string, string>;
  /** Credentials and cookies (net/session.ts). */
  session?: HttpSession | undefined;
  dispatcher: Requester;
  /** Redirects followed at most (default 10). */
  maxRedirects?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Longest wait for a byte from the server, ms. */
  timeoutMs: number;
  /** Largest single write() to the sink. */
  chunkBytes: number;
  limiters: readonly TokenBucket[];
  limiterOwner: object;
  /** The response was accepted: total size (-1 unknown) and its validators. */
  onResponse?(size: number, validators: StreamValidators): void;
  /** Bytes about to be handed to the sink, in order; what it throws keeps them out. */
  check?(piece: Buffer): void;
  /** Bytes handed to the sink (they are the stream's from then on). */
  onData?(piece: Buffer): void;
  /** A first answer that is a Metalink document (≤ 1 MiB) is read, not written: the run ends
   * with a MetalinkAnswer (api/metalink-follow.ts). */
  followMetalink?: boolean | undefined;
}

export interface StreamDownloadResult {
  /** Total bytes in the stream, counting `offset`. */
  size: number;
  finalUrl: string;
}

export type StreamRunOptions = Omit<
  StreamDownloadOptions,
  'sink' | 'offset' | 'validators' | 'onData' | 'check'
> & {
  /** Verified over every byte that went into the stream, across runs. */
  checksum?: ChecksumSpec | undefined;
  /** Piece hashes, checked as each piece passes (when the answer gives the size). */
  pieces?: PieceHashes | undefined;
};

/** The file a Metalink answer named, as a stream downloads it. */
export interface StreamFollowed {
  /** Its URLs, most preferred first. */
  urls: string[];
  size: number | undefined;
  checksum: ChecksumSpec | undefined;
  pieces: PieceHashes | undefined;
}

/**
 * A caller's stream across runs (stop/start, restarts): how many bytes are in it, the version of
 * the resource they came from, and the running checksum. Each run continues after those bytes.
 */
export class StreamTarget {
  readonly sink: Writable;
  /** Bytes handed to the stream so far. */
  written = 0;
  /** The file of a Metalink answer this stream gets instead of the URL's answer (set when the
   * answer is followed: later runs continue from it, not from the URL). */
  followed: StreamFollowed | undefined;
  #validators: StreamValidators | undefined;
  #hash: Hash | undefined;
  #pieces: StreamPieces | undefined;

  constructor(sink: Writable) {
    this.sink = sink;
  }

  /** One run: resolves with the total size once every byte is in the stream (and verified). */
  async run(o: StreamRunOptions): Promise<number> {
    const { checksum, pieces, ...rest } = o;
    if (this.written === 0) {
      this.#hash = checksum ? createHash(checksum.algorithm) : undefined;
      this.#pieces = undefined;
    }
    const result = await streamDownload({
      ...rest,
      sink: this.sink,
      offset: this.written,
      validators: this.#validators,
      onResponse: (size, validators) => {
        this.#validators = validators;
        // Once the size is known (the pieces' count depends on it), from the first byte.
        if (pieces && size >= 0 && this.written === 0) {
          this.#pieces = new StreamPieces(pieces, size);
        }
        o.onResponse?.(size, validators);
      },
      check: (piece) => this.#pieces?.update(piece),
      onData: (piece) => {
        this.written += piece.length;
        this.#hash?.update(piece);
      },
    });
    if (checksum && this.#hash) {
      const actual = this.#hash.digest('hex');
      this.#hash = undefined;
      if (actual !== checksum.digest) {
        throw new ChecksumError(checksum.algorithm, checksum.digest, actual);
      }
    }
    return result.size;
  }
}

/** Download `url` into `sink` from byte `offset`; resolves when the body is fully written. */
export async function streamDownload(o: StreamDownloadOptions): Promise<StreamDownloadResult> {
  const controller = new AbortController();
  const outer = o.signal;
  if (outer?.aborted) throw new AbortError(undefined, { cause: outer.reason });
  const onOuterAbort = (): void =>
    controller.abort(new AbortError(undefined, { cause: outer?.reason }));
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;

  let lastDataAt = performance.now();
  let waiting = false;
  const watchdog = setInterval(
    () => {
      if (!waiting && performance.now() - lastDataAt > o.timeoutMs) {
        controller.abort(
          new TimeoutError(`no data received for ${Math.round(o.timeoutMs / 1000)} s`),
        );
      }
    },
    Math.min(1000, Math.max(50, o.timeoutMs / 4)),
  );
  watchdog.unref();

  let url = o.url;
  try {
    const resume = o.offset > 0;
    const ifRange = resume && o.validators ? ifRangeValue(o.validators) : undefined;
    if (resume && ifRange === undefined) {
      throw new RangeMismatchError(
        'cannot continue into the stream: the server gave no ETag or Last-Modified to prove the resource is unchanged',
        false,
        { transient: false },
      );
    }
    const res = await openRequest(o.url, {
      dispatcher: o.dispatcher,
      headers: resume
        ? { ...o.headers, range: `bytes=${o.offset}-`, 'if-range': ifRange! }
        : o.headers,
      signal,
      session: o.session,
      userUrl: o.url,
      followRedirects: true,
      maxRedirects: o.maxRedirects,
    });
    url = res.url;
    let size: number;
    try {
      size = acceptResponse(res, o);
    } catch (err) {
      // Not destroy() alone: undici's body then emits 'Request aborted' with no listener (an
      // uncaught exception: a stream download answered 404 ended the process).
      discardBody(res.body);
      throw err;
    }
    lastDataAt = performance.now();
    if (o.followMetalink && o.offset === 0 && isMetalinkType(res.headers['content-type'])) {
      const xml = await metalinkBody(res, size);
      if (xml !== undefined) throw new MetalinkAnswer(xml, url);
    }
    o.onResponse?.(size, { etag: res.headers.etag, lastModified: res.headers['last-modified'] });

    let written = o.offset;
    const body = res.body;
    const onAbort = (): void => {
      body.destroy(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const sink = watchSink(o.sink);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        lastDataAt = performance.now();
        waiting = true;
        for (const limiter of o.limiters) {
          const wait = limiter.take(chunk.length, o.limiterOwner, signal);
          if (wait) await wait;
        }
        for (let at = 0; at < chunk.length; at += o.chunkBytes) {
          const piece = chunk.subarray(at, at + o.chunkBytes);
          o.check?.(piece);
          const ok = sink.write(piece);
          // Handed over: the bytes are the stream's now, whatever happens next.
          written += piece.length;
          o.onData?.(piece);
          if (!ok) await sink.drained(signal);
        }
        waiting = false;
        lastDataAt = performance.now();
      }
      waiting = true;
      await sink.flushed(signal);
    } finally {
      sink.release();
      signal.removeEventListener('abort', onAbort);
      discardBody(body);
    }
    if (size >= 0 && written !== size) {
      throw new NetworkError(`the connection closed early at byte ${written} of ${size}`);
    }
    return { size: written, finalUrl: url };
  } catch (err) {
    if (err instanceof MetalinkAnswer) throw err;
    throw toQgetError(err, url, signal);
  } finally {
    clearInterval(watchdog);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

/** The body of a Metalink answer of `size` bytes, or undefined (nothing read) when its size is
 * unknown or larger than a document can be: then it is the file, as in the engine. */
async function metalinkBody(res: OpenedResponse, size: number): Promise<string | undefined> {
  if (size < 0 || size > MAX_METALINK_DOCUMENT) return undefined;
  const parts: Buffer[] = [];
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) parts.push(chunk);
  } finally {
    discardBody(res.body);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Check the response and return the total size (-1 unknown); throws when it cannot be used. */
function acceptResponse(res: OpenedResponse, o: StreamDownloadOptions): number {
  const knownSize = o.knownSize ?? -1;
  if (o.offset === 0) {
    if (res.statusCode !== 200) throw statusError(res);
    return contentLength(res.headers) ?? -1;
  }
  if (res.statusCode === 200) {
    throw new RangeMismatchError(
      `cannot continue into the stream at byte ${o.offset}: the server sent the whole resource again (it ignored the range, or the resource changed)`,
      true,
      { transient: false },
    );
  }
  if (res.statusCode !== 206) throw statusError(res);
  if (o.validators) checkValidators(o.validators, res.headers);
  const range = parseContentRange(res.headers['content-range']);
  if (!range || range.start !== o.offset || range.total === undefined) {
    throw new RangeMismatchError(
      `asked for bytes from ${o.offset} but got Content-Range "${res.headers['content-range'] ?? ''}"`,
      false,
      { transient: false },
    );
  }
  if (knownSize >= 0 && range.total !== knownSize) {
    // As in the engine (resource.ts); permanent here: what is in the stream cannot be taken back.
    throw new ResourceChangedError(
      `the resource changed on the server (size ${knownSize} became ${range.total})`,
      { transient: false },
    );
  }
  return range.total;
}

interface WatchedSink {
  /** write(), or a LocalIoError when the stream failed or was closed. */
  write(buf: Buffer): boolean;
  /** Resolves on 'drain'; rejects on error, close or abort. */
  drained(signal: AbortSignal): Promise<void>;
  /** Resolves once the stream has processed the last write (its callback ran). */
  flushed(signal: AbortSignal): Promise<void>;
  release(): void;
}

/** Watches the caller's stream for errors while we write (an unhandled 'error' would crash). */
function watchSink(sink: Writable): WatchedSink {
  let failure: LocalIoError | undefined;
  const closedEarly = (): LocalIoError =>
    new LocalIoError('the output stream was closed before the download finished');
  const onError = (err: Error): void => {
    failure ??= new LocalIoError(`writing to the output stream failed: ${err.message}`, {
      cause: err,
    });
  };
  sink.on('error', onError);
  let last: Promise<Error | null | undefined> = Promise.resolve(undefined);
  return {
    write(buf) {
      if (failure) throw failure;
      if (sink.destroyed || sink.writableEnded) throw closedEarly();
      let done: (err: Error | null | undefined) => void = () => {};
      last = new Promise((resolve) => {
        done = resolve;
      });
      return sink.write(buf, (err) => done(err));
    },
    async flushed(signal) {
      let onAbort = (): void => {};
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        const err = await Promise.race([last, aborted]);
        if (failure) throw failure;
        if (err) {
          throw new LocalIoError(`writing to the output stream failed: ${err.message}`, {
            cause: err,
          });
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    drained(signal) {
      if (failure) return Promise.reject(failure);
      if (sink.destroyed) return Promise.reject(closedEarly());
      return new Promise<void>((resolve, reject) => {
        const finish = (err?: Error): void => {
          sink.off('drain', onDrain);
          sink.off('error', onFail);
          sink.off('close', onClose);
          signal.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = (): void => finish();
        const onFail = (): void => finish(failure);
        const onClose = (): void => finish(failure ?? closedEarly());
        const onAbort = (): void => finish(signal.reason as Error);
        sink.on('drain', onDrain);
        sink.on('error', onFail);
        sink.on('close', onClose);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    release() {
      sink.off('error', onError);
    },
  };
}
