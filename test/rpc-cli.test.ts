// `qget --enable-rpc` started with aria2c's own flags, driven by a plain script written for aria2c
// (test/fixtures/aria2c-client.mjs, run unchanged), stopped by SIGTERM with the session saved,
// started again with -i, stopped by aria2.shutdown; and its usage errors.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { heapFlag } from '../src/cli/run-daemon.js';
import { type CliRun, runCli, spawnCollect, startCli } from './helpers/cli.js';
import { makeContent } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { waitFor } from './helpers/wait.js';

const SCRIPT = resolve(import.meta.dirname, 'fixtures/aria2c-client.mjs');
const fx = useFixtures();

/** Start the daemon; resolves once it says where it listens. */
async function startQget(
  args: string[],
  cwd: string,
): Promise<{ child: ChildProcess; port: number; done: Promise<CliRun> }> {
  const { child, done } = startCli(args, cwd);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  await waitFor(
    () => /JSON-RPC on http:\/\/[^:]+:\d+/.test(stderr) || child.exitCode !== null,
    'the daemon',
  );
  const port = Number(/JSON-RPC on http:\/\/[^:]+:(\d+)/.exec(stderr)?.[1]);
  assert.ok(port > 0, stderr);
  return { child, port, done };
}

async function rpc(port: number, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: ['token:tok', ...params] }),
  });
  const reply = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (reply.error) throw new Error(reply.error.message);
  return reply.result;
}

/** The aria2c client script, as its user would run it. */
async function runScript(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return spawnCollect([SCRIPT, ...args], { cwd, env: { ...process.env, ...env } }).done;
}

describe('qget --enable-rpc', () => {
  test('aria2c flags; a script written for aria2c runs unchanged; SIGTERM saves the session; -i restores it', async () => {
    const content = makeContent(512 * 1024);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    const session = join(dir, 'aria2.session');
    const flags = [
      '--enable-rpc',
      '--rpc-listen-port=0',
      '--rpc-secret=tok',
      '--rpc-listen-all=false',
      '--rpc-allow-origin-all',
      '--rpc-max-request-size=1M',
      '-d',
      dir,
      '-j',
      '2',
      '--max-overall-download-limit=0',
      '--save-session',
      session,
    ];
    const daemon = await startQget(flags, dir);
    let left = '';
    try {
      const script = await runScript([`${server.url}/file.bin`, dir], dir, {
        ARIA2_RPC: `http://localhost:${daemon.port}/jsonrpc`,
        ARIA2_SECRET: 'tok',
      });
      assert.equal(script.code, 0, script.stderr);
      assert.deepEqual(JSON.parse(script.stdout), [
        'active true',
        'paused paused',
        'unpaused active',
        'removed removed',
        `complete ${content.length}/${content.length}`,
        'stat active=0 waiting=0 stopped=2',
      ]);
      await assertFileEquals(join(dir, 'done.bin'), content);

      const options = (await rpc(daemon.port, 'aria2.getGlobalOption', [])) as Record<
        string,
        string
      >;
      assert.equal(options['max-concurrent-downloads'], '2');
      assert.equal(options['rpc-max-request-size'], '1048576');
      assert.equal(options.dir, dir);
      left = (await rpc(daemon.port, 'aria2.addUri', [
        [`${server.url}/left.bin`],
        { out: 'left.bin', 'max-download-limit': '16K' },
      ])) as string;
      daemon.child.kill('SIGTERM');
      const end = await daemon.done;
      assert.equal(end.code, 0, end.stderr);
    } finally {
      daemon.child.kill('SIGKILL');
    }
    const saved = await readFile(session, 'utf8');
    assert.ok(
      saved.includes(
        `left.bin\n gid=${left}\n dir=${dir}\n out=left.bin\n max-download-limit=16384\n`,
      ),
      saved,
    );
    const gid = left;

    const again = await startQget([...flags, '-i', session], dir);
    try {
      const status = (await rpc(again.port, 'aria2.tellStatus', [
        gid,
        ['gid', 'status'],
      ])) as Record<string, string>;
      assert.deepEqual(status, { gid, status: 'active' });
      assert.equal(await rpc(again.port, 'aria2.shutdown', []), 'OK');
      const end = await again.done;
      assert.equal(end.code, 0, end.stderr);
    } finally {
      again.child.kill('SIGKILL');
    }
  });

  test('usage errors exit 2; a port in use exits 7', async () => {
    const dir = await fx.tempDir();
    for (const args of [
      ['--enable-rpc', '--rpc-listen-port=http'],
      ['--enable-rpc=maybe'],
      ['--enable-rpc', '-o', 'x.bin'],
      ['--enable-rpc', '-i', join(dir, 'missing.session')],
    ]) {
      const r = await runCli(args, dir);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = (taken.address() as { port: number }).port;
      const r = await runCli(['--enable-rpc', `--rpc-listen-port=${port}`], dir);
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stderr, /cannot listen on port/);
    } finally {
      taken.close();
    }
  });
});

describe("the daemon's heap", () => {
  test('V8 grows the heap by at most 50% past what a full collection left, unless node was told', () => {
    assert.equal(heapFlag([]), '--heap-growing-percent=50');
    assert.equal(heapFlag(['--enable-source-maps']), '--heap-growing-percent=50');
    assert.equal(heapFlag(['--heap-growing-percent=100']), undefined);
    assert.equal(heapFlag(['--heap_growing_percent=0']), undefined);
    assert.equal(heapFlag(['--max-old-space-size=512', '--heap-growing-percent=25']), undefined);
  });
});
