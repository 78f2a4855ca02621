// aria2c's own flags for `qget --enable-rpc`, so a script or service file that starts aria2c can
// start qget. Declared here (commander only, no library) so `qget --help` stays fast; the
// daemon itself is imported only when --enable-rpc is given (run-daemon.ts).

import { type Command, InvalidArgumentError } from 'commander';
import { intArg, sizeArg } from './arg-parsers.js';

export interface DaemonCliOptions {
  enableRpc?: boolean;
  rpcListenPort?: number;
  rpcSecret?: string;
  rpcListenAll?: boolean;
  rpcAllowOriginAll?: boolean;
  rpcMaxRequestSize?: number;
  maxConcurrentDownloads?: number;
  maxOverallDownloadLimit?: number;
  saveSession?: string;
}

/** aria2's booleans: `--flag`, `--flag=true`, `--flag=false`. */
function boolArg(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError(`Expected true or false (write --flag=true), got "${value}".`);
}

function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) {
    throw new InvalidArgumentError('Expected a port number from 0 (any free port) to 65535.');
  }
  return n;
}

export function addDaemonOptions(program: Command): Command {
  return program
    .option(
      '--enable-rpc [bool]',
      'run as a download daemon driven over aria2 JSON-RPC (HTTP and WebSocket)',
      boolArg,
    )
    .option('--rpc-listen-port <port>', 'daemon: JSON-RPC port (default 6800)', portArg)
    .option('--rpc-secret <token>', 'daemon: every call must carry token:<token>')
    .option(
      '--rpc-listen-all [bool]',
      'daemon: listen on every interface (default: loopback only)',
      boolArg,
    )
    .option('--rpc-allow-origin-all [bool]', 'daemon: allow web pages of any origin', boolArg)
    .option(
      '--rpc-max-request-size <size>',
      'daemon: largest request accepted (default 2M)',
      sizeArg,
    )
    .option(
      '-j, --max-concurrent-downloads <n>',
      'daemon: downloads running at once (default 5)',
      intArg(1),
    )
    .option(
      '--max-overall-download-limit <rate>',
      'daemon: bytes per second over all downloads (0 = unlimited)',
      sizeArg,
    )
    .option(
      '--save-session <file>',
      'daemon: write unfinished downloads to FILE on shutdown (aria2 input-file format; read it back with -i)',
    );
}
