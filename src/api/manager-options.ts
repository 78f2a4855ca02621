// The Manager's options and the properties that emit 'property-changed'.

import type { DownloaderOptions } from './downloader-options.js';

export interface ManagerOptions {
  /** Most downloads running at once; 0 = no limit. Default 0. */
  maxRunning?: number | undefined;
  /** Total bytes per second over all downloads; 0 = unlimited. Default 0. */
  rateLimit?: number | undefined;
  /** Seconds before a download that failed (transiently) is started again; negative = never. Default 30. */
  restartWait?: number | undefined;
  /** Seconds between the manager's own checks. Default 1. */
  updatePeriod?: number | undefined;
  /** Options for the downloads add(url) creates (bitpit's **kwargs). */
  downloadOptions?: DownloaderOptions | undefined;
}

export type ManagerProperty =
  | 'maxRunning'
  | 'rateLimit'
  | 'restartWait'
  | 'updatePeriod'
  | 'downloadOptions';
