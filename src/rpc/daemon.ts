// The download daemon: a Manager, aria2's queue over it, the method table, the JSON-RPC server,
// the session file; started by `qget --enable-rpc`, stopped by aria2.shutdown or a signal, with
// unfinished downloads paused resumably and written to the session file.

import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Downloader, type DownloaderOptions, Manager, redactUrls } from '../index.js';
// The one option validator of every surface (internal, like errors.ts: no state, no I/O).
import { checkInteger, checkNumber, checkObject, optionError } from '../api/checks.js';
import { addDownload, downloadMethods, jobOptions, type MethodContext } from './methods.js';
import { engineValues, GlobalOptions, type OptionValues, readOptionLines } from './options.js';
import { JsonRpc, METHOD_ERROR, RpcError } from './protocol.js';
import { NOTIFICATIONS, DownloadQueue } from './queue.js';
import { RpcServer } from './server.js';
import {
  formatPieceHashes,
  formatSession,
  PIECE_HASHES_KEY,
  type SessionEntry,
  takePieceHashes,
  writeSessionFile,
} from './session.js';

/** The aria2 release whose RPC interface this follows (getVersion reports it). */
export const ARIA2_VERSION = '1.37.0';

export interface DaemonOptions {
  /** `--rpc-listen-port`, default 6800; 0 picks a free port. */
  port?: number | undefined;
  listenAll?: boolean | undefined;
  allowOriginAll?: boolean | undefined;
  secret?: string | undefined;
  /** `--rpc-max-request-size` in bytes, default 2 MiB. */
  maxRequestSize?: number | undefined;
  /** `-d`: the download folder, default the working directory. */
  dir?: string | undefined;
  /** `-j`, default 5. */
  maxConcurrentDownloads?: number | undefined;
  /** Bytes per second over all downloads, 0 = unlimited. */
  maxOverallDownloadLimit?: number | undefined;
  /** `--save-session`: written on shutdown and by aria2.saveSession. */
  saveSession?: string | undefined;
  /** What every download starts from (connections, timeout, retries, headers …). */
  downloadOptions?: DownloaderOptions | undefined;
  /** Downloads to add at start (`-i` file, URLs on the command line). */
  session?: readonly SessionEntry[] | undefined;
  /** qget's version, for getVersion. */
  version?: string | undefined;
  /** Delay before answering a wrong token, default 1000 ms as aria2. */
  unauthorizedDelayMs?: number | undefined;
  /** Notes for the user (a session saved, an input line skipped). */
  log?: ((message: string) => void) | undefined;
}

export interface Daemon {
  readonly port: number;
  /** The JSON-RPC endpoint, e.g. http://127.0.0.1:6800/jsonrpc. */
  readonly url: string;
  /** Resolves when the daemon has shut down (aria2.shutdown or shutdown()). */
  readonly closed: Promise<void>;
  /** Pause everything resumably, save the session, close the server. */
  shutdown(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  checkDaemonOptions(options);
  const log = options.log ?? (() => {});
  const {
    dirPath,
    maxConnections,
    rateLimit,
    override,
    headers,
    userAgent,
    checksum: _checksum,
    path: _path,
    ...template
  } = options.downloadOptions ?? {};
  const connections = String(maxConnections ?? 16);
  const initial: OptionValues = {
    'enable-rpc': 'true',
    dir: resolve(options.dir ?? dirPath ?? '.'),
    'max-concurrent-downloads': String(options.maxConcurrentDownloads ?? 5),
    'max-overall-download-limit': String(options.maxOverallDownloadLimit ?? 0),
    'max-download-limit': String(rateLimit ?? 0),
    split: connections,
    'max-connection-per-server': connections,
    'allow-overwrite': override ? 'true' : 'false',
    timeout: String(template.timeout ?? 10),
    'rpc-listen-port': String(options.port ?? 6800),
    'rpc-listen-all': options.listenAll ? 'true' : 'false',
    'rpc-allow-origin-all': options.allowOriginAll ? 'true' : 'false',
    'rpc-max-request-size': String(options.maxRequestSize ?? 2 * 1024 * 1024),
  };
  Object.assign(initial, engineValues(template, headers ?? {}));
  const headerLines = Object.entries(headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  if (headerLines.length > 0) initial.header = headerLines.join('\n');
  if (userAgent !== undefined) initial['user-agent'] = userAgent;
  if (options.saveSession !== undefined) initial['save-session'] = resolve(options.saveSession);
  const globals = new GlobalOptions(initial);

  const manager = new Manager({
    maxRunning: Number(initial['max-concurrent-downloads']),
    rateLimit: Number(initial['max-overall-download-limit']),
    restartWait: -1,
  });
  let server: RpcServer | undefined;
  const queue = new DownloadQueue(manager, (method, gid) => server?.notify(method, [{ gid }]));

  let closing: Promise<void> | undefined;
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((r) => {
    markClosed = r;
  });

  const sessionText = (): string =>
    formatSession(
      queue.unfinished.map((job) => {
        const values = jobOptions(ctx, job);
        const lines: [string, string][] = [
          ['gid', job.gid],
          ['dir', job.dir],
        ];
        if (values.out !== undefined) lines.push(['out', values.out]);
        for (const [key, value] of Object.entries(job.options)) {
          if (key === 'dir' || key === 'out') continue;
          if (key === 'header') for (const h of value.split('\n')) lines.push(['header', h]);
          else lines.push([key, value]);
        }
        if (job.paused) lines.push(['pause', 'true']);
        if (job.pieceHashes) lines.push([PIECE_HASHES_KEY, formatPieceHashes(job.pieceHashes)]);
        return { uris: [...job.uris], options: lines };
      }),
    );

  const saveSession = async (text = sessionText()): Promise<void> => {
    const file = globals.get('save-session');
    if (file === undefined) throw new RpcError(METHOD_ERROR, 'Filename is not given.');
    try {
      await writeSessionFile(file, text);
    } catch (err) {
      throw new RpcError(
        METHOD_ERROR,
        `Failed to serialize session to '${file}': ${(err as Error).message}`,
      );
    }
  };

  const shutdown = (): Promise<void> => {
    closing ??= (async () => {
      // Written as things are now: a running download is saved as running, not as paused.
      const text = sessionText();
      await queue.close();
      if (globals.get('save-session') !== undefined) {
        await saveSession(text).then(
          () => log(`session saved to ${globals.get('save-session')}`),
          (err: Error) => log(err.message),
        );
      }
      await server?.close();
      markClosed();
    })();
    return closing;
  };

  const ctx: MethodContext = {
    queue,
    globals,
    template,
    aria2Version: ARIA2_VERSION,
    version: options.version ?? '',
    sessionId: randomBytes(20).toString('hex'),
    applyGlobals(changed) {
      if (changed['max-overall-download-limit'] !== undefined) {
        manager.rateLimit = Number(changed['max-overall-download-limit']);
      }
      if (changed['max-concurrent-downloads'] !== undefined) {
        manager.maxRunning = Number(changed['max-concurrent-downloads']);
      }
    },
    saveSession: () => saveSession(),
    // After the answer has gone out.
    shutdown: () => void setImmediate(() => void shutdown()),
  };

  const rpc = new JsonRpc(downloadMethods(ctx), {
    secret: options.secret,
    notifications: NOTIFICATIONS,
    onInternalError: (err, method) =>
      log(`internal error in ${method}: ${(err as Error)?.stack ?? err}`),
  });
  server = new RpcServer(rpc, {
    port: options.port ?? 6800,
    listenAll: options.listenAll ?? false,
    allowOriginAll: options.allowOriginAll ?? false,
    secretSet: options.secret !== undefined && options.secret !== '',
    maxRequestSize: Number(initial['rpc-max-request-size']),
    unauthorizedDelayMs: options.unauthorizedDelayMs ?? 1000,
  });
  const port = await server.listen();
  globals.set({ 'rpc-listen-port': String(port) });

  manager.start();
  for (const entry of options.session ?? []) {
    try {
      const { options: lines, pieceHashes } = takePieceHashes(entry.options);
      await addDownload(ctx, entry.uris, readOptionLines(lines), undefined, pieceHashes);
    } catch (err) {
      const uris = redactUrls(entry.uris.join(' '));
      log(`input line ${entry.line} (${uris}) skipped: ${(err as Error).message}`);
    }
  }

  const host = options.listenAll ? 'localhost' : '127.0.0.1';
  return { port, url: `http://${host}:${port}/jsonrpc`, closed, shutdown };
}

/** Bad options are InvalidOptionErrors before anything starts, as for qget(), Downloader, Manager. */
function checkDaemonOptions(options: DaemonOptions): void {
  checkObject('options', options);
  const port = checkInteger('port', options.port, 6800, 0);
  if (port > 65535) throw optionError('port', 'an integer from 0 to 65535', port);
  checkInteger('maxRequestSize', options.maxRequestSize, 0, 1);
  checkInteger('maxConcurrentDownloads', options.maxConcurrentDownloads, 5, 1);
  checkNumber('maxOverallDownloadLimit', options.maxOverallDownloadLimit, 0, 0);
  checkNumber('unauthorizedDelayMs', options.unauthorizedDelayMs, 0, 0);
  const template = checkObject<DownloaderOptions>('downloadOptions', options.downloadOptions);
  // Every download option checked now, with the Downloader's own messages, not at the first add.
  if (template) new Downloader('http://127.0.0.1/', { ...template, path: undefined });
}
