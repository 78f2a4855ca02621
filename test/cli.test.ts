// The `qget` command as a user runs it: a child process of bin/qget.js (built by `npm test`)
// against local servers. Exit codes, output naming, headers, progress lines, Ctrl-C and kill -9.

import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startCli } from './helpers/cli.js';
import { makeContent, sha256 } from './helpers/content.js';
import { exists, useFixtures } from './helpers/fixture.js';
import { waitFor } from './helpers/wait.js';

const fx = useFixtures();
const start = startCli;
const run = runCli;

describe('qget command', () => {
  test('--version prints the package version and --help lists the options', async () => {
    const dir = await fx.tempDir();
    const pkg = JSON.parse(await readFile(resolve(import.meta.dirname, '../package.json'), 'utf8'));
    const v = await run(['--version'], dir);
    assert.equal(v.code, 0);
    assert.equal(v.stdout.trim(), pkg.version);
    const h = await run(['--help'], dir);
    assert.equal(h.code, 0);
    for (const flag of [
      '--output',
      '--force',
      '--connections',
      '--test',
      '--bytes',
      '--part',
      '--tmp',
      '--debug',
      '--header',
      '--checksum',
      '--timeout',
      '--quiet',
      '--retries',
      '--retry-wait',
    ]) {
      assert.match(h.stdout, new RegExp(flag), flag);
    }
  });

  test('bad usage exits 2 with one sentence and no stack trace', async () => {
    const dir = await fx.tempDir();
    for (const args of [
      ['--bogus', 'http://127.0.0.1/'],
      [],
      ['-c', 'zero', 'http://127.0.0.1/'],
      ['ftp://x/y'],
      ['not a url'],
      ['-H', 'nocolon', 'http://127.0.0.1/'],
    ]) {
      const r = await run(args, dir);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^qget: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  test('downloads over several connections, names the file from the URL, sends -H headers', async () => {
    const content = makeContent(6 * 1024 * 1024);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    const r = await run(
      ['-c', '4', '-H', 'X-Token: abc', `${server.url}/path/data%20file.bin`],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(dir, 'data file.bin'))), sha256(content));
    assert.match(r.stderr, /saved .*data file\.bin/);
    assert.ok(server.requests.every((q) => q.headers['x-token'] === 'abc'));
    assert.ok(server.requests.filter((q) => q.status === 206).length >= 2);
    assert.equal(await exists(join(dir, 'data file.bin.part')), false);
    assert.equal(await exists(join(dir, 'data file.bin.qget')), false);
  });

  test('an existing output is kept and exits 6 without --force; --force replaces it', async () => {
    const content = makeContent(100_000);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    const out = join(dir, 'out.bin');
    await writeFile(out, 'precious');
    const r = await run(['-o', out, server.fileUrl], dir);
    assert.equal(r.code, 6);
    assert.match(r.stderr, /already exists/);
    assert.equal(await readFile(out, 'utf8'), 'precious');
    const f = await run(['-q', '-f', '-o', out, server.fileUrl], dir);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stderr, '', '--quiet prints nothing on success');
    assert.equal(sha256(await readFile(out)), sha256(content));
  });

  test('a 404 exits 3, a refused connection exits 4, a checksum mismatch exits 5: nothing at the output path', async () => {
    const server = await fx.serve({ content: makeContent(50_000) });
    const dir = await fx.tempDir();
    const out = join(dir, 'x.bin');
    const notFound = await run(['-o', out, `${server.url}/status/404`], dir);
    assert.equal(notFound.code, 3, notFound.stderr);
    assert.match(notFound.stderr, /404/);
    assert.equal(await exists(out), false);
    const refused = await run(['--retries', '0', '-o', out, 'http://127.0.0.1:1/x'], dir);
    assert.equal(refused.code, 4, refused.stderr);
    const bad = await run(
      ['--checksum', `sha256=${'0'.repeat(64)}`, '-o', out, server.fileUrl],
      dir,
    );
    assert.equal(bad.code, 5, bad.stderr);
    assert.match(bad.stderr, /checksum/);
    assert.equal(await exists(out), false);
  });

  test('-o and --checksum hold for one URL given with --json or in a list of one', async () => {
    const content = makeContent(50_000, 63);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    await writeFile(join(dir, 'one.txt'), `${server.fileUrl}\n`);
    for (const source of [
      ['--json', server.fileUrl],
      ['-i', 'one.txt'],
    ]) {
      const out = join(dir, `named-${source[0]}.bin`);
      const bad = await run(['--checksum', `sha256=${'0'.repeat(64)}`, '-o', out, ...source], dir);
      assert.equal(bad.code, 5, bad.stderr);
      assert.equal(await exists(out), false);
      assert.equal(await exists(join(dir, 'file.bin')), false, 'not saved under its own name');
      const good = await run(
        ['--checksum', `sha256=${sha256(content)}`, '-o', out, ...source],
        dir,
      );
      assert.equal(good.code, 0, good.stderr);
      assert.equal(sha256(await readFile(out)), sha256(content));
    }
  });

  test('off a terminal, progress is a plain line every few seconds', async () => {
    const content = makeContent(3 * 1024 * 1024);
    // One connection at 512 KiB/s: about 6 s, so at least one progress line.
    const server = await fx.serve({ content, ratePerConnection: 512 * 1024 });
    const dir = await fx.tempDir();
    const r = await run(['-c', '1', '-o', join(dir, 'p.bin'), server.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /p\.bin: \d+\.\d% .* of 3\.00 MiB at .*\/s, ETA/);
    assert.doesNotMatch(r.stderr, /\r/);
  });

  test('Ctrl-C saves state, says how to resume and exits 130; the same command then finishes', async () => {
    const content = makeContent(4 * 1024 * 1024);
    // 2 connections at 256 KiB/s: 8 s in all, so Ctrl-C comes mid-download even when slow.
    const server = await fx.serve({ content, ratePerConnection: 256 * 1024 });
    const dir = await fx.tempDir();
    const out = join(dir, 'c.bin');
    const args = ['-c', '2', '-o', out, server.fileUrl];
    const first = start(args, dir);
    // The bounds are for a hang, not a measure (a busy machine starts node slowly).
    await waitFor(
      async () => (await stat(`${out}.part`).catch(() => undefined)) !== undefined,
      'the .part',
      120_000,
    );
    // A checkpoint with bytes in it, so that there is something to continue from.
    await waitFor(
      async () => /"ranges":\[\[/.test(await readFile(`${out}.qget`, 'utf8').catch(() => '')),
      'a checkpoint with bytes',
      120_000,
    );
    first.child.kill('SIGINT');
    const r1 = await first.done;
    assert.equal(r1.code, 130, r1.stderr);
    assert.match(r1.stderr, /run the same command again to resume/);
    assert.equal(await exists(`${out}.qget`), true);
    assert.equal(await exists(out), false);
    const state = JSON.parse(await readFile(`${out}.qget`, 'utf8')) as {
      ranges: [number, number][];
    };
    assert.ok(state.ranges.length > 0, 'the interrupted run saved its bytes');
    const requestsBefore = server.requests.length;
    server.config.ratePerConnection = 0;
    const r2 = await run(args, dir);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(sha256(await readFile(out)), sha256(content));
    assert.match(r2.stdout + r2.stderr, /resumed/);
    // The second run continued: nothing saved was asked for again. (Bytes the server pushed
    // into socket buffers for a request cut short by a steal are no measure of that.)
    for (const q of server.requests.slice(requestsBefore)) {
      const from = Number(/bytes=(\d+)-/.exec(q.range ?? '')?.[1] ?? 0);
      assert.ok(
        !state.ranges.some(([s, e]) => from >= s && from < e),
        `the second run asked for ${q.range ?? 'the whole file'}, inside a saved range`,
      );
    }
  });

  test('kill -9 mid-download, then the same command resumes from the control file', async () => {
    const size = 8 * 1024 * 1024;
    const content = makeContent(size);
    // 4 connections at 256 KiB/s: 8 s in all; the first checkpoint comes after 1 s.
    const server = await fx.serve({ content, ratePerConnection: 256 * 1024 });
    const dir = await fx.tempDir();
    const out = join(dir, 'k.bin');
    const args = ['-c', '4', '-o', out, server.fileUrl];
    const first = start(args, dir);
    // A checkpoint with bytes in it (the first one, on a busy machine, may have none yet).
    await waitFor(
      async () => /"ranges":\[\[/.test(await readFile(`${out}.qget`, 'utf8').catch(() => '')),
      'a checkpoint with bytes',
      120_000,
    );
    first.child.kill('SIGKILL');
    await first.done;
    const state = JSON.parse(await readFile(`${out}.qget`, 'utf8')) as {
      ranges: [number, number][];
    };
    const part = await readFile(`${out}.part`);
    let claimed = 0;
    for (const [s, e] of state.ranges) {
      claimed += e - s;
      assert.ok(
        part.subarray(s, e).equals(content.subarray(s, e)),
        `claimed range ${s}-${e} is on disk`,
      );
    }
    assert.ok(claimed > 0, 'some bytes were saved');
    const sentBefore = server.stats.bytesSent;
    const requestsBefore = server.requests.length;
    // Faster, still paced: unpaced, loopback lets the server push whole requests into socket
    // buffers, and a steal that cuts one short counts all of it as sent.
    server.config.ratePerConnection = 8 * 1024 * 1024;
    const r2 = await run(args, dir);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(sha256(await readFile(out)), sha256(content));
    // Nothing saved is asked for again...
    for (const q of server.requests.slice(requestsBefore)) {
      const start = Number(/bytes=(\d+)-/.exec(q.range ?? '')?.[1] ?? 0);
      assert.ok(
        !state.ranges.some(([s, e]) => start >= s && start < e),
        `the second run asked for ${q.range ?? 'the whole file'}, inside a saved range`,
      );
    }
    // ...and what was not saved comes about once (a steal can repeat the tail of a request).
    const resent = server.stats.bytesSent - sentBefore;
    assert.ok(
      resent <= size - claimed + 2 * 1024 * 1024,
      `re-downloaded ${resent} bytes, ${claimed} were saved`,
    );
  });
});

describe('qget over https', () => {
  const fixtures = resolve(import.meta.dirname, 'fixtures');
  const tls = async () => ({
    key: await readFile(join(fixtures, 'localhost-key.pem'), 'utf8'),
    cert: await readFile(join(fixtures, 'localhost-cert.pem'), 'utf8'),
  });

  test('downloads over several TLS connections when the certificate is trusted', async () => {
    const content = makeContent(6 * 1024 * 1024, 61);
    const server = await fx.serve({ content, tls: await tls() });
    const dir = await fx.tempDir();
    const out = join(dir, 'secure.bin');
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(fixtures, 'localhost-cert.pem') };
    const r = await run(['-c', '4', '-o', out, server.fileUrl], dir, '', env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(out)), sha256(content));
    assert.ok(
      server.requests.some((q) => q.range && !q.range.startsWith('bytes=0-')),
      'ranged requests',
    );
  });

  test('an untrusted certificate is a network error (exit 4) and leaves no file', async () => {
    const server = await fx.serve({ content: makeContent(100_000, 62), tls: await tls() });
    const dir = await fx.tempDir();
    const out = join(dir, 'untrusted.bin');
    const r = await run(['-o', out, server.fileUrl], dir);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /TLS|certificate/i);
    assert.equal(await exists(out), false);
  });
});
