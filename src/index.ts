// The public API of the package: only re-exports.

export {
  DEFAULT_USER_AGENT,
  qget,
  qgetMetalink,
  type QgetOptions,
  type QgetResult,
} from './api/qget.js';
export { type MetalinkFile, type PieceHashes, parseMetalink } from './engine/metalink.js';
export {
  type MetalinkDownload,
  type MetalinkFileOutcome,
  MetalinkFilesError,
  metalinkDownloads,
  readMetalink,
} from './api/metalink-downloads.js';
export { redactUrl, redactUrls } from './net/credentials.js';
export type { ProxyByScheme } from './net/proxy.js';
export { ProgressState, type ProgressCallback, type ProgressStateOptions } from './api/progress.js';
export {
  AbortError,
  ChecksumError,
  FileExistsError,
  HttpStatusError,
  InvalidOptionError,
  InvalidUrlError,
  isQgetError,
  LocalIoError,
  NetworkError,
  OutputBusyError,
  ProxyAuthError,
  ProxyError,
  QgetError,
  type QgetErrorCode,
  RangeMismatchError,
  ResourceChangedError,
  SizeMismatchError,
  TimeoutError,
  TooManyRedirectsError,
} from './errors.js';
export type { ResourceInfo } from './engine/resource.js';
export { type StatePaths, statePaths } from './engine/state-paths.js';
export type { SourceReport } from './engine/engine-options.js';
export { parseHeaderLines } from './net/headers.js';
export { formatBytes, formatDuration, humanReadable, parseSize } from './units.js';
export { parseChecksum, type ChecksumSpec, type ChecksumAlgorithm } from './engine/checksum.js';
export {
  type CallbackErrorHandler,
  Emitter,
  NotListeningError,
  type SignalCallback,
  type SignalMap,
  UnknownSignalError,
} from './api/emitter.js';
export {
  type DownloadSegments,
  Downloader,
  type DownloaderOptions,
  type DownloaderSignal,
  type DownloaderSignals,
  type DownloaderState,
  type HumanReadable,
} from './api/downloader.js';
export { Manager, type ManagerSignals } from './api/manager.js';
export type { ManagerOptions, ManagerProperty } from './api/manager-options.js';
