// The executables `npm run build:exe -- --all` makes for other platforms, run for real on this
// Linux x64 machine: the Windows one under wine, the Linux arm64 one under qemu-user, the Linux x64
// one natively; the macOS one cannot run here, so its Mach-O structure is checked. Each runs
// copied alone into an empty folder with a PATH that finds no `node`. A runner that cannot start
// fails the test (.ci/run installs wine, qemu-user and the arm64 libraries).
// Set QGET_EXE_DIR to a folder of executables built before (build/exe) instead of building.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { makeContent, sha256 } from '../helpers/content.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { BUILD_EXE, median, ROOT, type Ran, run, runToFiles, show } from './run.js';

const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const SIZE = 3 * 1024 * 1024 + 12_345;
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const ON_LINUX_X64 = process.platform === 'linux' && process.arch === 'x64';
// Node's SEA blob header (kMagic in src/node_sea.h), little-endian.
const SEA_MAGIC = 0x143da20;

const built = new Map<string, string>();
let scratch = '';
const servers: TestServer[] = [];

before(
  async () => {
    if (!ON_LINUX_X64) return;
    scratch = await mkdtemp(join(tmpdir(), 'qget-targets-'));
    let paths: string[];
    const reuse = process.env.QGET_EXE_DIR;
    if (reuse) {
      const sums = readFileSync(join(reuse, 'SHA256SUMS'), 'utf8');
      paths = sums
        .trim()
        .split('\n')
        .map((line) => join(reuse, line.split('  ')[1]!));
    } else {
      const build = await run(process.execPath, [BUILD_EXE, '--all'], { cwd: ROOT });
      assert.equal(build.code, 0, `npm run build:exe -- --all failed\n${show(build)}`);
      paths = build.stdout.trimEnd().split('\n').slice(-4);
    }
    for (const path of paths) {
      const id = /^qget-([a-z0-9]+-[a-z0-9]+)(\.exe)?$/.exec(basename(path))?.[1];
      assert.ok(id, `not an executable's path: ${path}`);
      built.set(id, path);
    }
    assert.deepEqual(
      [...built.keys()].sort(),
      ['darwin-x64', 'linux-arm64', 'linux-x64', 'win-x64'],
      'the build did not print one path per target',
    );
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function serve(config: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(config);
  servers.push(server);
  return server;
}

/** Folders of the usual system PATH, minus every one that holds a Node binary. */
const PATH = ['/usr/local/bin', '/usr/bin', '/bin']
  .filter((folder) => !existsSync(join(folder, 'node')))
  .join(delimiter);

interface TargetsModule {
  NODE_VERSION: string;
  TARGETS: { id: string; pkg: string; integrity: string; exeName: string }[];
  parseTargets(argv: string[]): { id: string }[] | null;
}

test('--target and --all name the targets, in a fixed order; anything else is refused', async () => {
  const url = pathToFileURL(join(ROOT, 'scripts', 'exe-targets.mjs')).href;
  const { NODE_VERSION, TARGETS, parseTargets } = (await import(url)) as TargetsModule;
  const ids = (argv: string[]) => parseTargets(argv)?.map((t) => t.id) ?? null;
  assert.equal(ids([]), null);
  assert.deepEqual(ids(['--target', 'win-x64', '--target=linux-arm64', '--target', 'win-x64']), [
    'linux-arm64',
    'win-x64',
  ]);
  assert.deepEqual(ids(['--all']), ['linux-x64', 'linux-arm64', 'win-x64', 'darwin-x64']);
  assert.throws(() => parseTargets(['--target', 'darwin-arm64']), /unknown target darwin-arm64/);
  assert.throws(() => parseTargets(['--target']), /needs a value/);
  assert.throws(() => parseTargets(['x64']), /unknown argument/);
  assert.match(NODE_VERSION, /^22\.\d+\.\d+$/);
  for (const t of TARGETS) {
    assert.equal(t.pkg, `node-${t.id}`);
    assert.match(t.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/);
    assert.equal(t.exeName, t.id.startsWith('win-') ? `qget-${t.id}.exe` : `qget-${t.id}`);
  }
});

test('SHA256SUMS lists every executable and sha256sum -c accepts it', {
  skip: !ON_LINUX_X64,
}, () => {
  const dir = dirname(built.get('linux-x64')!);
  const names = readFileSync(join(dir, 'SHA256SUMS'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('  ')[1]);
  assert.deepEqual(names.sort(), [...built.values()].map((p) => basename(p)).sort());
  const checked = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
  assert.equal(checked.match(/: OK$/gm)?.length, 4, checked);
});

test('the macOS executable is an unsigned x86_64 Mach-O with the blob in a NODE_SEA segment', {
  skip: !ON_LINUX_X64,
}, async () => {
  const file = await readFile(built.get('darwin-x64')!);
  assert.equal(file.readUInt32LE(0), 0xfeedfacf, 'not a 64-bit Mach-O');
  assert.equal(file.readUInt32LE(4), 0x01000007, 'not x86_64');
  const ncmds = file.readUInt32LE(16);
  let offset = 32;
  let blob: Buffer | undefined;
  let signed = false;
  for (let i = 0; i < ncmds; i++) {
    const cmd = file.readUInt32LE(offset);
    const size = file.readUInt32LE(offset + 4);
    if (cmd === 0x1d) signed = true; // LC_CODE_SIGNATURE
    const segname = file.toString('latin1', offset + 8, offset + 24).replace(/\0+$/, '');
    if (cmd === 0x19 && segname === 'NODE_SEA') {
      // LC_SEGMENT_64: its sections follow the 72-byte command, 80 bytes each.
      const nsects = file.readUInt32LE(offset + 64);
      for (let s = 0; s < nsects; s++) {
        const sect = offset + 72 + s * 80;
        const name = file.toString('latin1', sect, sect + 16).replace(/\0+$/, '');
        const bytes = Number(file.readBigUInt64LE(sect + 40));
        const at = file.readUInt32LE(sect + 48);
        if (name === '__NODE_SEA_BLOB') blob = file.subarray(at, at + bytes);
      }
    }
    offset += size;
  }
  assert.ok(blob, 'no __NODE_SEA_BLOB section in a NODE_SEA segment');
  assert.equal(blob.readUInt32LE(0), SEA_MAGIC, 'the section does not hold a SEA blob');
  assert.ok(blob.includes('qget'), 'the blob does not hold the qget script');
  assert.ok(file.includes(`${FUSE}:1`), 'the SEA fuse is not flipped');
  assert.ok(!signed, 'a (now invalid) code signature was left in place');
});

interface Runner {
  target: string;
  label: string;
  exeName: string;
  /** How to start the executable: command and the arguments before qget's own. */
  command: (exe: string) => [string, string[]];
  env: NodeJS.ProcessEnv;
  setup?: () => Promise<void>;
}

/** The absolute path of a program on this process's PATH (the test PATH may not hold it). */
function which(program: string): string {
  const folders = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const found = folders.map((folder) => join(folder, program)).find((path) => existsSync(path));
  assert.ok(found, `${program} is not installed (.ci/run installs it with apt-get)`);
  return found;
}

const wineprefix = join(tmpdir(), `qget-wine-${process.getuid?.() ?? 0}`);
const RUNNERS: Runner[] = [
  {
    target: 'linux-x64',
    label: 'native',
    exeName: 'qget',
    command: (exe) => [exe, []],
    env: {},
  },
  {
    target: 'win-x64',
    label: 'wine',
    exeName: 'qget.exe',
    command: (exe) => [which('wine'), [exe]],
    env: { WINEPREFIX: wineprefix, WINEDEBUG: '-all' },
    // Node 22 refuses to start on the Windows 7 a fresh prefix pretends to be.
    setup: async () => {
      const ready = join(wineprefix, '.qget-win10');
      if (existsSync(ready)) return;
      await mkdir(wineprefix, { recursive: true });
      const ran = await runToFiles(
        which('wine'),
        ['winecfg', '-v', 'win10'],
        join(scratch, 'winecfg'),
        {
          env: { PATH, HOME: process.env.HOME, WINEPREFIX: wineprefix, WINEDEBUG: '-all' },
        },
      );
      assert.equal(ran.code, 0, `wine cannot start (apt-get install wine wine64)\n${show(ran)}`);
      await writeFile(ready, '');
    },
  },
  {
    target: 'linux-arm64',
    label: 'qemu',
    exeName: 'qget',
    command: (exe) => [which('qemu-aarch64'), ['-L', '/usr/aarch64-linux-gnu', exe]],
    env: {},
  },
];

for (const runner of RUNNERS) {
  describe(`${runner.target} (${runner.label})`, { skip: !ON_LINUX_X64 }, () => {
    let dir = '';
    let exe = '';
    let env: NodeJS.ProcessEnv = {};
    let runs = 0;

    before(
      async () => {
        dir = join(scratch, runner.target);
        await mkdir(dir);
        exe = join(dir, runner.exeName);
        await copyFile(built.get(runner.target)!, exe);
        // Not the executable's folder: wine keeps .config and .local in HOME.
        const home = join(scratch, `${runner.target}-home`);
        await mkdir(home);
        env = { PATH, HOME: home, ...runner.env };
        await runner.setup?.();
      },
      { timeout: 5 * 60_000 },
    );

    function qget(args: string[]): Promise<Ran> {
      const [command, prefix] = runner.command(exe);
      const log = join(scratch, `${runner.target}-${++runs}`);
      return runToFiles(command, [...prefix, ...args], log, { cwd: dir, env }).catch((err) => {
        throw new Error(`${command} cannot start: ${err.message}; .ci/run installs it`);
      });
    }

    test('--version prints the package version', async () => {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const ran = await qget(['--version']);
        assert.equal(ran.code, 0, show(ran));
        assert.equal(ran.stdout.trim(), VERSION);
        assert.equal(ran.stderr, '');
        times.push(ran.ms);
      }
      console.log(
        `# ${runner.target} (${runner.label}) --version: median ${median(times).toFixed(0)} ms of 3`,
      );
      assert.deepEqual(await readdir(dir), [runner.exeName]);
    });

    test('downloads a file from a local server with -c 4, the right bytes', async () => {
      const content = makeContent(SIZE);
      const server = await serve({ content });
      const ran = await qget([
        '-c',
        '4',
        '--checksum',
        `sha256=${sha256(content)}`,
        server.fileUrl,
      ]);
      assert.equal(ran.code, 0, show(ran));
      assert.doesNotMatch(ran.stderr, /warning|internal error/i);
      assert.equal(sha256(await readFile(join(dir, 'file.bin'))), sha256(content));
      assert.deepEqual((await readdir(dir)).sort(), ['file.bin', runner.exeName].sort());
      await rm(join(dir, 'file.bin'));
    });

    test('a 404 exits 3 and leaves nothing behind', async () => {
      const server = await serve({ content: makeContent(1024) });
      const ran = await qget([`${server.url}/status/404`]);
      assert.equal(ran.code, 3, show(ran));
      assert.deepEqual(await readdir(dir), [runner.exeName]);
    });

    test('a download cut off mid-way is resumed by running the same command again', async () => {
      const content = makeContent(SIZE);
      const cut = 1024 * 1024;
      const server = await serve({ content, cutAfterBytes: cut, cutTimes: 1 });
      const args = ['-c', '1', '--retries', '0', '-o', 'resumed.bin', server.fileUrl];
      const first = await qget(args);
      assert.notEqual(first.code, 0, show(first));
      const part = join(dir, 'resumed.bin.part');
      assert.ok(existsSync(part), `no .part kept\n${show(first)}`);
      assert.ok(existsSync(join(dir, 'resumed.bin.qget')), 'no resume state beside the .part');
      assert.ok(!existsSync(join(dir, 'resumed.bin')));

      const second = await qget(args);
      assert.equal(second.code, 0, show(second));
      assert.match(second.stderr, /resumed/);
      assert.equal(sha256(await readFile(join(dir, 'resumed.bin'))), sha256(content));
      // The second run asked only for what the first did not get.
      const ranged = server.requests.filter((r) => r.method === 'GET' && r.range);
      const starts = ranged.map((r) => Number(/bytes=(\d+)-/.exec(r.range!)?.[1]));
      assert.ok(
        starts.some((start) => start >= cut / 2),
        `no request resumed past the cut: ${ranged.map((r) => r.range).join(', ')}`,
      );
      assert.ok((await stat(join(dir, 'resumed.bin'))).size === SIZE);
      assert.deepEqual((await readdir(dir)).sort(), ['resumed.bin', runner.exeName].sort());
      await rm(join(dir, 'resumed.bin'));
    });
  });
}
