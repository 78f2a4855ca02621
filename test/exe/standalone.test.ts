// The standalone executable (npm run build:exe) on a machine without Node: copied alone into an
// empty folder, run with a PATH that finds no `node`, it downloads, resumes and fails exactly
// like `npx qget`. Set QGET_EXE to test an executable built before instead of building one.

import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeContent, sha256 } from '../helpers/content.js';
import { startServer, type TestServer } from '../helpers/server.js';
import {
  BUILD_EXE,
  EXE_NAME,
  IS_WINDOWS,
  median,
  ROOT,
  type RunOptions,
  run,
  show,
} from './run.js';

const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const SIZE = 6 * 1024 * 1024 + 12_345; // not a multiple of anything the engine splits by

let dir = '';
let exe = '';
let env: NodeJS.ProcessEnv = {};
const servers: TestServer[] = [];

/** Folders of the usual system PATH, minus every one that holds a Node binary. */
function pathWithoutNode(): string[] {
  const system = IS_WINDOWS
    ? (process.env.PATH ?? '').split(delimiter)
    : ['/usr/local/bin', '/usr/bin', '/bin'];
  return system.filter(
    (folder) => folder !== '' && !existsSync(join(folder, IS_WINDOWS ? 'node.exe' : 'node')),
  );
}

before(async () => {
  let built = process.env.QGET_EXE;
  if (!built) {
    const build = await run(process.execPath, [BUILD_EXE], { cwd: ROOT });
    assert.equal(build.code, 0, `npm run build:exe failed\n${show(build)}`);
    built = build.stdout.trimEnd().split('\n').at(-1)!.trim();
  }
  assert.ok(isAbsolute(built), `the build's last line is not a path: ${built}`);
  dir = await mkdtemp(join(tmpdir(), 'qget-exe-'));
  exe = join(dir, EXE_NAME);
  await copyFile(built, exe);
  env = { PATH: [dir, ...pathWithoutNode()].join(delimiter), HOME: dir };
  if (IS_WINDOWS) Object.assign(env, { SystemRoot: process.env.SystemRoot, USERPROFILE: dir });
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function serve(config: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(config);
  servers.push(server);
  return server;
}

function qget(args: string[], onSpawn?: RunOptions['onSpawn']) {
  return run(exe, args, { cwd: dir, env, ...(onSpawn ? { onSpawn } : {}) });
}

function assertNoWarnings(stderr: string): void {
  assert.doesNotMatch(stderr, /warning|node_modules|internal error/i, stderr);
}

test('the folder holds only the executable and no node can be found', {
  skip: IS_WINDOWS,
}, async () => {
  assert.deepEqual(await readdir(dir), [EXE_NAME]);
  const which = await run('/bin/sh', ['-c', 'command -v node'], { cwd: dir, env });
  assert.notEqual(which.code, 0, `node is on the test PATH: ${which.stdout}`);
});

test('--version prints the package version without warnings', async () => {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const ran = await qget(['--version']);
    assert.equal(ran.code, 0, show(ran));
    assert.equal(ran.stdout.trim(), VERSION);
    assert.equal(ran.stderr, '');
    times.push(ran.ms);
  }
  const ms = median(times);
  // A figure for the record: speed is measured in the bench, never asserted in a test.
  console.log(`# --version start-up: median ${ms.toFixed(0)} ms of ${times.length} runs`);
});

test('downloads a file with -c 4 and verifies it', async () => {
  const content = makeContent(SIZE);
  const server = await serve({ content });
  const ran = await qget(['-c', '4', '--checksum', `sha256=${sha256(content)}`, server.fileUrl]);
  assert.equal(ran.code, 0, show(ran));
  assertNoWarnings(ran.stderr);
  assert.match(ran.stderr, /saved .*file\.bin/);
  const bytes = await readFile(join(dir, 'file.bin'));
  assert.equal(sha256(bytes), sha256(content));
  assert.deepEqual((await readdir(dir)).sort(), ['file.bin', EXE_NAME].sort());
  await rm(join(dir, 'file.bin'));
});

test('an interrupted download exits 130, keeps its resume files, and resumes', {
  skip: IS_WINDOWS,
}, async () => {
  const content = makeContent(SIZE);
  // 512 KiB/s per connection: about 3 s with 4 connections, so the interrupt lands mid-way.
  const server = await serve({ content, ratePerConnection: 512 * 1024 });
  const args = ['-c', '4', '-o', 'resumed.bin', server.fileUrl];
  const part = join(dir, 'resumed.bin.part');
  const first = await qget(args, (child) => {
    const timer = setInterval(() => {
      if (server.stats.bytesSent > 1024 * 1024 && existsSync(part)) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 20);
    child.on('exit', () => clearInterval(timer));
  });
  assert.equal(first.code, 130, show(first));
  assert.match(first.stderr, /run the same command again to resume/);
  assert.ok((await stat(part)).size > 0);
  assert.ok(existsSync(join(dir, 'resumed.bin.qget')), 'no resume state beside the .part');

  server.config.ratePerConnection = 0;
  const second = await qget(args);
  assert.equal(second.code, 0, show(second));
  assertNoWarnings(second.stderr);
  assert.match(second.stderr, /resumed/);
  assert.equal(sha256(await readFile(join(dir, 'resumed.bin'))), sha256(content));
  assert.ok(!existsSync(part));
  await rm(join(dir, 'resumed.bin'));
});

test('a 404 exits 3 and leaves nothing behind', async () => {
  const server = await serve({ content: makeContent(1024) });
  const ran = await qget([`${server.url}/status/404`]);
  assert.equal(ran.code, 3, show(ran));
  assertNoWarnings(ran.stderr);
  assert.deepEqual(await readdir(dir), [EXE_NAME]);
});

test('bad usage exits 2', async () => {
  const ran = await qget(['-c', '0', 'http://127.0.0.1:9/x']);
  assert.equal(ran.code, 2, show(ran));
});
