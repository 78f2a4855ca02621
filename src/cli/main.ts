// The `qget` command: parse the command line, run the download through the public API, show
// progress, and turn the outcome into one sentence and a documented exit code.

import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { QgetOptions } from '../index.js';
import type { InputEntry } from './input-file.js';
import {
  bytesArg,
  collect,
  intArg,
  mibArg,
  secondsArg,
  sizeArg,
  withScheme,
} from './arg-parsers.js';
import { VERSION } from '../version.js';
import {
  type CliOptions,
  headerArgs,
  type Io,
  toDownloaderOptions,
  toLibraryOptions,
} from './cli-options.js';
import { addDaemonOptions } from './daemon-options.js';
import { EXIT, exitCodeFor, exitCodesHelp } from './exit-codes.js';
import { settleOutput } from './output-target.js';

/** `qget <command> --redis ...`: a first argument that is never a URL. */
const FARM_COMMANDS = ['enqueue', 'worker', 'queue'];

export function buildProgram(): Command {
  const program = new Command()
    .name('qget')
    .description(
      'Download resources over many simultaneous HTTP Range connections, resumably, and never leave a wrong file.',
    )
    .argument('[url...]', 'URL(s) of the resource(s)')
    .option(
      '-o, --output <path>',
      'output file (default: the name the server gives); a folder or a path ending in / saves into it; - writes to standard output',
    )
    .option('-f, --force', 'overwrite an existing output file', false)
    .option('-c, --connections <n>', 'most simultaneous connections', intArg(1), 16)
    .option(
      '--test <seconds>',
      'longest time spent measuring the server connection limit while downloading; 0 turns it off',
      secondsArg(),
      5,
    )
    .option(
      '--bytes <size>',
      'bytes gathered per connection before one write, 1K and up (default 256K)',
      bytesArg,
    )
    .option('--part <mib>', 'largest range asked for in one request, in MiB (0 = no limit)', mibArg)
    .option('--tmp <dir>', 'folder for the .part file and its resume state')
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', collect, [])
    .option(
      '--mirror <url>',
      'another URL of the same file, used at once once its bytes agree (repeatable; -c is the total)',
      collect,
      [],
    )
    .option(
      '-M, --metalink <file>',
      'download the file(s) a Metalink document (.meta4, .metalink) names, from all its URLs',
    )
    .option(
      '--refresh <url>',
      "continue -o's interrupted download from this new URL (an expired link) if it serves the same file",
    )
    .option('-U, --user-agent <string>', 'the User-Agent header (default qget/<version>)')
    .option('--checksum <algo=hex>', 'verify before saving: sha256=<hex> (also sha1, sha512, md5)')
    .option(
      '--timeout <seconds>',
      'drop a connection silent for this long; also the connect timeout',
      secondsArg(),
      10,
    )
    .option('--retries <n>', 'consecutive failures of one range before giving up', intArg(0), 5)
    .option(
      '--max-redirects <n>',
      `redirects followed at most (exit ${EXIT.redirects} beyond, or on a loop)`,
      intArg(0),
      10,
    )
    .option(
      '--retry-wait <seconds>',
      'after a failure that may pass, restart the whole download after this wait (-1 = never)',
      secondsArg(true),
      -1,
    )
    .option('-r, --rate-limit <rate>', 'bytes per second, e.g. 2M (0 = unlimited)', sizeArg)
    .option('--no-fsync', 'do not flush the file to disk before renaming it')
    .option('-q, --quiet', 'print only errors', false)
    .option('--debug', 'explain retries, steals and limits on stderr', false)
    .addOption(
      new Option('-d, --dir <dir>', 'folder for the downloaded file(s), created if missing'),
    )
    .option(
      '-i, --input-file <file>',
      'read URLs from a file, one per line (# comments; - for stdin); with --enable-rpc, aria2 input-file format',
    )
    .option('-m, --max-running <n>', 'most downloads running at once (many URLs)', intArg(1), 5)
    .option(
      '--proxy <url>',
      'proxy: http://, https://, socks5:// or socks5h://[user:password@]host:port ("" = none; default: http_proxy, https_proxy, all_proxy)',
    )
    .option(
      '--no-proxy, --noproxy <list>',
      'hosts that go direct: names (with subdomains), IPs, CIDR ranges, * (default: no_proxy)',
    )
    .option('--json', 'print one JSON object per event on stdout (for scripts)', false)
    .option(
      '-u, --user <user:password>',
      "credentials for the URL's origin (Basic, or Digest when asked)",
    )
    .option('--netrc', 'credentials from ~/.netrc (machine, login, password; default)')
    .option('--netrc-file <file>', 'credentials from this .netrc file (implies --netrc)')
    .option('--load-cookies <file>', 'send cookies from a cookies.txt file (Netscape format)')
    .option('--save-cookies <file>', 'write the cookies to a cookies.txt file at the end')
    .option('--ca-certificate <file>', 'also trust the CA certificates of this PEM file')
    .option('--insecure', 'do not check certificates (https)');
  return addDaemonOptions(program)
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .addHelpText(
      'after',
      `\n${exitCodesHelp()}

A download farm on Redis (see qget enqueue|worker|queue --help):
  qget enqueue --redis URL -i LIST    qget worker --redis URL -d DIR    qget queue --redis URL`,
    );
}

/** Run the command; resolves the exit code (never throws for a user's mistake). */
export async function main(argv: string[], io: Io = process): Promise<number> {
  // The farm's commands (docs/farm.md) are their own programs; BullMQ loads only for them.
  const command = argv[0];
  if (command !== undefined && FARM_COMMANDS.includes(command)) {
    let farm: typeof import('./run-farm.js');
    try {
      farm = await import('./run-farm.js');
    } catch (err) {
      // BullMQ is an optional peer: the package installs without it (and without its native
      // add-on's install script); the farm's users add it.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_MODULE_NOT_FOUND' && String(err).includes('bullmq')) {
        io.stderr.write(`qget: ${command} needs BullMQ: run \`npm install bullmq\` beside qget.\n`);
        return EXIT.usage;
      }
      throw err;
    }
    return farm.runFarm(command, argv.slice(1), io);
  }
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    outputError: (s, write) => write(`qget: ${s.replace(/^error: /, '')}`),
  });
  let urls: string[];
  let opts: CliOptions;
  let headers: Record<string, string>;
  let entries: InputEntry[] = [];
  let metalink: string | undefined;
  try {
    program.parse(noProxyArgs(argv), { from: 'user' });
    opts = program.opts<CliOptions>();
    headers = await headerArgs(opts.header);
    urls = [...program.args];
    if (opts.insecure) io.stderr.write('qget: warning: --insecure: certificates are not checked\n');
    if (opts.enableRpc) {
      const { runDaemon } = await import('./run-daemon.js');
      return await runDaemon(urls, opts, headers, io);
    }
    if (opts.inputFile !== undefined) {
      const { readInputList } = await import('./input-file.js');
      const file = opts.inputFile;
      entries = await readInputList(file).catch((err: Error) => {
        throw new InvalidArgumentError(`cannot read ${file}: ${err.message}`);
      });
      urls.push(...entries.map((e) => e.url));
    }
    if (opts.metalink !== undefined) {
      if (urls.length > 0 || opts.inputFile !== undefined || opts.refresh !== undefined) {
        throw new InvalidArgumentError('-M <file> names the downloads: no URL, -i or --refresh.');
      }
      const file = opts.metalink;
      metalink = await readFile(file, 'utf8').catch((err: Error) => {
        throw new InvalidArgumentError(`cannot read ${file}: ${err.message}`);
      });
    }
    if (opts.refresh !== undefined) {
      if (urls.length > 0 || opts.output === undefined) {
        throw new InvalidArgumentError('--refresh <new-url> -o <file>: the new URL, no other.');
      }
      urls.push(opts.refresh);
    }
    if (urls.length === 0 && metalink === undefined) {
      throw new InvalidArgumentError('no URL given (see qget --help).');
    }
    const note = opts.debug ? (m: string) => io.stderr.write(`qget: ${m}\n`) : undefined;
    urls = urls.map((u) => withScheme(u, note));
    entries = entries.map((e) => ({
      ...e,
      url: withScheme(e.url),
      ...(e.mirrors ? { mirrors: e.mirrors.map((u) => withScheme(u)) } : {}),
    }));
    if (urls.length > 1 && opts.output !== undefined) {
      throw new InvalidArgumentError('-o names one file: with several URLs use -d DIR instead.');
    }
    opts.mirror = opts.mirror.map((u) => withScheme(u));
    if (opts.mirror.length > 0 && urls.length !== 1) {
      throw new InvalidArgumentError('--mirror gives other URLs of one file: give one URL.');
    }
    if (urls.length > 1 && opts.checksum !== undefined) {
      throw new InvalidArgumentError('--checksum applies to one download: give one URL.');
    }
    if (opts.output === '-' && (opts.inputFile !== undefined || opts.json)) {
      throw new InvalidArgumentError(
        '-o - writes one URL to standard output: not with -i or --json.',
      );
    }
  } catch (err) {
    // Thrown by our own checks after parsing (commander has not printed it).
    if (err instanceof InvalidArgumentError) {
      io.stderr.write(`qget: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof CommanderError) {
      const helpOrVersion = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      return helpOrVersion.includes(err.code) ? EXIT.ok : EXIT.usage;
    }
    throw err;
  }
  try {
    Object.assign(opts, await settleOutput({ output: opts.output, dir: opts.dir }));
  } catch (err) {
    io.stderr.write(`qget: error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.localIo;
  }
  if (metalink !== undefined) return runMetalink(metalink, opts, headers, io);
  if (opts.output === '-') {
    const { runToStdout } = await import('./run-stdout.js');
    return runToStdout(urls[0]!, toDownloaderOptions(opts, headers), opts, io);
  }
  // The library (and undici) load only once there is work to do: `--version` stays fast.
  if (urls.length === 1 && opts.inputFile === undefined && !opts.json) {
    const { runSingle } = await import('./run-single.js');
    return runSingle(urls[0]!, toLibraryOptions(opts, headers), opts, io);
  }
  const { runMany } = await import('./run-many.js');
  // Command-line URLs first, then the list's (with their own out/dir).
  const fromArgs = urls
    .slice(0, urls.length - entries.length)
    .map((url) => (opts.mirror.length > 0 ? { url, mirrors: opts.mirror } : { url }));
  return runMany(
    [...fromArgs, ...entries],
    toDownloaderOptions(opts, headers),
    opts,
    { maxRunning: opts.maxRunning, json: opts.json },
    io,
  );
}

/**
 * -M: one file with a progress bar as one URL; several files, or --json, as many URLs (each
 * with its mirrors, checksum and piece hashes from the document).
 */
async function runMetalink(
  xml: string,
  opts: CliOptions,
  headers: Record<string, string>,
  io: Io,
): Promise<number> {
  const { readMetalink, qgetMetalink, isQgetError } = await import('../index.js');
  let files: Awaited<ReturnType<typeof readMetalink>>;
  try {
    files = await readMetalink(xml);
  } catch (err) {
    if (!isQgetError(err)) throw err;
    io.stderr.write(`qget: error: ${err.message}\n`);
    return exitCodeFor(err.code);
  }
  if (files.length === 1 && !opts.json) {
    const { runSingle } = await import('./run-single.js');
    const one = (_url: string, o: QgetOptions) => qgetMetalink(xml, o).then((r) => r[0]!);
    return runSingle('', toLibraryOptions(opts, headers), opts, io, one);
  }
  if (files.length > 1 && opts.output !== undefined) {
    io.stderr.write('qget: -o names one file: the Metalink document names several, use -d DIR.\n');
    return EXIT.usage;
  }
  const entries = files.map((f): InputEntry => {
    const entry: InputEntry = { url: f.url, mirrors: f.mirrors, out: opts.output ?? f.name };
    const checksum = opts.checksum ?? f.checksum;
    if (checksum !== undefined) entry.checksum = checksum;
    if (f.pieceHashes) entry.pieceHashes = f.pieceHashes;
    return entry;
  });
  const { runMany } = await import('./run-many.js');
  const many = { maxRunning: opts.maxRunning, json: opts.json };
  return runMany(entries, toDownloaderOptions(opts, headers), opts, many, io);
}

export { exitCodeFor };

/**
 * The process entry (bin/qget.js and the standalone executable): run, set the exit code, and
 * treat a closed stdout (`qget --help | head -1`) as the end rather than a crash.
 */
export function runCli(argv: string[]): void {
  // undici parses HTTP with WebAssembly; V8's optimizing tier for it costs ~35 MB of memory and
  // a background compile, for headers only (bodies of ranged requests bypass it): baseline only.
  setFlagsFromString('--liftoff-only');
  // A command runs its per-download code a few hundred times at most: V8's optimizing compiler,
  // at its default budget (bytecode run per function: 66 KiB in Node 20's V8, 132 KiB from V8
  // 12), compiled much of it in the background for little use (a third of the instructions of
  // 200 small files, on a core the downloads need). 264 KiB still optimizes the loops of a large
  // download (its CPU time went down too: 256 MiB, 0.45 -> 0.34 s user); docs/architecture.md.
  // Node 20's V8 (11) only: V8 12 (Node 22, 24) tiers up by invocation counts, has no such
  // flag, and prints "unrecognized flag" on stderr for it; its tiering was not measured here.
  if (Number(process.versions.v8.split('.')[0]) < 12)
    setFlagsFromString('--interrupt-budget=270336');
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  main(argv).then(
    (code) => {
      // Exit now rather than when the loop drains: V8 would first finish compiling undici's
      // WebAssembly parser in the background (about 0.1 s) for nothing. Output to a terminal,
      // pipe or file is written synchronously on POSIX, so nothing is lost.
      if (process.platform !== 'win32') process.exit(code);
      process.exitCode = code;
    },
    (err: unknown) => {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`qget: internal error: ${text}`);
      process.exitCode = EXIT.internal;
    },
  );
}

/**
 * commander reads `--no-proxy` as "not --proxy": it is passed on as curl's `--noproxy` (up to
 * a `--`).
 */
function noProxyArgs(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) =>
    (end < 0 || i < end) && (arg === '--no-proxy' || arg.startsWith('--no-proxy='))
      ? `--noproxy${arg.slice('--no-proxy'.length)}`
      : arg,
  );
}
