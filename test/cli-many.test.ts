// The `qget` command with many URLs: -m, -i (file and stdin), -d, -r (total), --json, the
// summary that names each failure, and the exit code.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startCli } from './helpers/cli.js';
import { makeContent, sha256 } from './helpers/content.js';
import { waitFor } from './helpers/wait.js';
import { useFixtures } from './helpers/fixture.js';

const fx = useFixtures();
const run = runCli;

describe('qget command, many URLs', () => {
  test('-m 2 never runs more than two at once; a 404 among them is named and exits 3', async () => {
    const content = makeContent(1024 * 1024);
    const server = await fx.serve({ content, ratePerConnection: 1024 * 1024 });
    const dir = await fx.tempDir();
    const urls = ['a', 'b', 'c', 'd'].map((n) => `${server.url}/${n}.bin`);
    const started = Date.now();
    const r = await run(
      ['-m', '2', '-c', '1', '-d', dir, ...urls, `${server.url}/status/404`],
      dir,
    );
    assert.equal(r.code, 3, r.stderr);
    for (const n of ['a', 'b', 'c', 'd']) {
      assert.equal(sha256(await readFile(join(dir, `${n}.bin`))), sha256(content), n);
    }
    assert.match(r.stderr, /4 of 5 downloaded/);
    assert.match(r.stderr, /status\/404: the server answered 404/);
    // Most downloads transferring at once, from the server's own records.
    const spans = server.requests
      .filter((q) => q.status === 206 || q.status === 200)
      .map((q) => ({ path: q.path, start: q.start, end: q.end ?? Date.now() }));
    let most = 0;
    for (const s of spans) {
      const paths = new Set(
        spans.filter((o) => o.start <= s.start && o.end > s.start).map((o) => o.path),
      );
      most = Math.max(most, paths.size);
    }
    assert.ok(most <= 2, `${most} downloads at once`);
    assert.ok(Date.now() - started >= 1500, 'four 1 s downloads two at a time take about 2 s');
  });

  test('-i reads URLs from a file (comments, blank lines) and from standard input', async () => {
    const content = makeContent(200_000);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    const list = join(dir, 'list.txt');
    await writeFile(
      list,
      `# downloads\n${server.url}/one.bin\n\n   ${server.url}/two.bin  # second\n`,
    );
    const r = await run(['-q', '-i', list, '-d', dir], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(dir, 'one.bin'))), sha256(content));
    assert.equal(sha256(await readFile(join(dir, 'two.bin'))), sha256(content));
    const s = await run(['-q', '-i', '-', '-d', dir], dir, `${server.url}/three.bin\n`);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(sha256(await readFile(join(dir, 'three.bin'))), sha256(content));
    const missing = await run(['-i', join(dir, 'nope.txt')], dir);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read/);
  });

  test('-i takes aria2 input files: TAB mirrors, indented out= and dir= options', async () => {
    const content = makeContent(150_000);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    await mkdir(join(dir, 'sub'));
    const list = join(dir, 'session.txt');
    await writeFile(
      list,
      `${server.url}/a.bin\t${server.url}/mirror.bin\n gid=2089b05ecca3d829\n out=renamed.bin\n dir=sub\n${server.url}/plain.bin\n`,
    );
    const r = await run(['-q', '-i', list, '-d', dir], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(dir, 'sub', 'renamed.bin'))), sha256(content));
    assert.equal(sha256(await readFile(join(dir, 'plain.bin'))), sha256(content));
    // The TAB-separated URI is a mirror of the same file (test/mirrors-cli.test.ts): asked for
    // ranges only (its sample first), never for a file of its own.
    const mirror = server.requests.filter((q) => q.path === '/mirror.bin');
    assert.ok(
      mirror.every((q) => q.range !== undefined),
      mirror.map((q) => q.range).join(', '),
    );
    assert.ok(!(await readdir(dir)).includes('mirror.bin'));
  });

  test('--json prints one JSON object per event and a summary', async () => {
    const server = await fx.serve({ content: makeContent(300_000) });
    const dir = await fx.tempDir();
    const r = await run(['--json', '-d', dir, `${server.url}/j1.bin`, `${server.url}/j2.bin`], dir);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const completes = events.filter((e) => e.event === 'state' && e.state === 'complete');
    assert.equal(completes.length, 2);
    const summary = events.at(-1)!;
    assert.equal(summary.event, 'summary');
    assert.equal(summary.complete, 2);
    assert.equal(summary.failed, 0);
  });

  test('-r limits the total rate of all downloads together', async () => {
    const content = makeContent(512 * 1024);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    // The same command without -r: process start and the transfer, as this machine runs now.
    const t0 = Date.now();
    const free = await run(['-q', '-d', dir, `${server.url}/f1.bin`, `${server.url}/f2.bin`], dir);
    assert.equal(free.code, 0, free.stderr);
    const reference = (Date.now() - t0) / 1000;
    const started = Date.now();
    const r = await run(
      ['-q', '-r', '512K', '-d', dir, `${server.url}/r1.bin`, `${server.url}/r2.bin`],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const seconds = (Date.now() - started) / 1000;
    // 1 MiB at 512 KiB/s is 2 s; allow the bucket's initial burst and process start.
    assert.ok(seconds >= 1.5, `took ${seconds} s`);
    assert.ok(
      seconds < Math.max(8, reference + 6),
      `took ${seconds} s (${reference} s without -r)`,
    );
  });

  test('-r holds at the server side with default connections, for several downloads', async () => {
    // Open-ended requests would let the server park megabytes in socket buffers beyond what
    // the limiter has let through; the server's own count is what a user's link sees.
    const server = await fx.serve({ content: makeContent(8 * 1024 * 1024) });
    const dir = await fx.tempDir();
    // The same downloads without -r, timed from the server's first byte to the last: what this
    // machine moves now (a busy one may not reach 1 MiB/s; idle, it is far above).
    const freeUrls = ['f', 'g', 'h'].map((n) => `${server.url}/${n}.bin`);
    const free = startCli(['-q', '-m', '3', '-d', dir, ...freeUrls], dir);
    await waitFor(() => server.stats.bytesSent > 0, 'the first byte sent', 120_000);
    const freeStart = performance.now();
    assert.equal((await free.done).code, 0);
    const machine = server.stats.bytesSent / ((performance.now() - freeStart) / 1000);
    server.stats.bytesSent = 0;
    const urls = ['p', 'q', 'r'].map((n) => `${server.url}/${n}.bin`);
    const { child, done } = startCli(['-q', '-r', '1M', '-m', '3', '-d', dir, ...urls], dir);
    // Measured once the transfer runs (start-up takes long on a busy machine, and Ctrl-C before
    // the command handles it would kill it): past the first MiB (the limiter's start), over the
    // next 6 MiB, from the server's count at the moments it is read. The limiter may catch up on
    // half a second of rate after a stall of a busy machine: over 6 s that stays within bounds.
    const MiB = 1024 * 1024;
    await waitFor(() => server.stats.bytesSent >= MiB, 'the first MiB sent', 120_000);
    const a = server.stats.bytesSent;
    const t = performance.now();
    await waitFor(() => server.stats.bytesSent >= a + 6 * MiB, '6 more MiB sent', 120_000);
    const rate = (server.stats.bytesSent - a) / ((performance.now() - t) / 1000);
    child.kill('SIGINT');
    assert.equal((await done).code, 130);
    const mib = rate / MiB;
    const floor = Math.min(1, machine / MiB) * 0.85;
    assert.ok(
      mib > floor && mib < 1.15,
      `server sent ${mib.toFixed(3)} MiB/s under -r 1M (${(machine / MiB).toFixed(2)} MiB/s without)`,
    );
  });

  test('-o with several URLs is a usage error', async () => {
    const dir = await fx.tempDir();
    const r = await run(['-o', 'x', 'http://127.0.0.1/a', 'http://127.0.0.1/b'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-d DIR/);
  });
});
