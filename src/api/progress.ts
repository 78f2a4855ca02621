// The seed's ProgressState: counters a download updates and callbacks it calls, for the
// download phase and for the finalize/verify ("rewrite") phase.

export type ProgressCallback = (progress: ProgressState) => void;

export interface ProgressStateOptions {
  onDownloadProgress?: ProgressCallback | undefined;
  onRewriteProgress?: ProgressCallback | undefined;
}

export class ProgressState {
  /** Size of the resource in bytes; 0 until known (and for a resource of unknown size). */
  totalBytes = 0;
  /** Bytes verified/moved in the finalize phase. */
  rewriteBytes = 0;
  /** Connections transferring right now. */
  connections = 0;
  /** With mirrors: the connections transferring right now from each source, in order. */
  sourceConnections: number[] = [];
  /** Where the file will be, once the server has answered. */
  path: string | undefined;
  onDownloadProgress: ProgressCallback | undefined;
  onRewriteProgress: ProgressCallback | undefined;
  #downloadBytes = 0;

  constructor(options: ProgressStateOptions = {}) {
    this.onDownloadProgress = options.onDownloadProgress;
    this.onRewriteProgress = options.onRewriteProgress;
  }

  getDownloadBytes(): number {
    return this.#downloadBytes;
  }

  /** Percent downloaded, 0–100; 0 while the size is unknown. */
  getDownloadProgress(): number {
    return this.totalBytes > 0 ? (100 * this.#downloadBytes) / this.totalBytes : 0;
  }

  /** Percent of the finalize phase done, 0–100. */
  getRewriteProgress(): number {
    return this.totalBytes > 0 ? (100 * this.rewriteBytes) / this.totalBytes : 100;
  }

  /** Called by the engine; invokes onDownloadProgress. */
  updateDownload(bytes: number, total: number | undefined): void {
    this.#downloadBytes = bytes;
    if (total !== undefined) this.totalBytes = total;
    this.onDownloadProgress?.(this);
  }

  /** Called by the engine; invokes onRewriteProgress. */
  updateRewrite(bytes: number, total: number): void {
    this.rewriteBytes = bytes;
    this.totalBytes = total;
    this.onRewriteProgress?.(this);
  }
}
