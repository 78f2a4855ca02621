// The Manager's options, the properties that emit 'property-changed', and its signals.

import type { Downloader } from './downloader.js';
import type { DownloaderOptions } from './downloader-options.js';
import type { Manager } from './manager.js';

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

export interface ManagerSignals {
  add: [manager: Manager, downloader: Downloader];
  remove: [manager: Manager, downloader: Downloader];
  'property-changed': [manager: Manager, property: ManagerProperty];
}
