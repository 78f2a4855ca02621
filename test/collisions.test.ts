// One output, one writer: downloads of one run that want the same name are renamed (aria2's
// `name.1.ext`), a second process on the same output stops at once touching nothing, a lock left
// by a killed process is taken over, and saved bytes of another URL are never continued.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { saveControl } from '../src/engine/control-file.js';
import { lockFilesOnly, OutputClaim, readLock } from '../src/engine/output-claim.js';
import { numberedPath, OutputNames } from '../src/engine/output-names.js';
import { sweepDebris } from '../src/farm/debris.js';
import { Downloader, Manager, OutputBusyError, qget } from '../src/index.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import { waitFor } from './helpers/wait.js';
import { runCli, startCli } from './helpers/cli.js';
import { makeContent, sha256 } from './helpers/content.js';
import { assertFileEquals, exists, listDir, useFixtures } from './helpers/fixture.js';

const fx = useFixtures();
const daemons = useDaemons();
const MiB = 1024 * 1024;

/** Bytes a control file says are on disk (0 while there is none). */
async function savedBytes(controlPath: string): Promise<number> {
  const text = await readFile(controlPath, 'utf8').catch(() => '');
  if (!text) return 0;
  const state = JSON.parse(text) as { ranges: [number, number][] };
  return state.ranges.reduce((n, [s, e]) => n + e - s, 0);
}

describe('names within one run', () => {
  test('numberedPath puts the number before the extension', () => {
    assert.equal(numberedPath('/d/data.bin', 0), '/d/data.bin');
    assert.equal(numberedPath('/d/data.bin', 1), '/d/data.1.bin');
    assert.equal(numberedPath('/d/archive.tar.gz', 2), '/d/archive.tar.2.gz');
    assert.equal(numberedPath('/d/README', 1), '/d/README.1');
    assert.equal(numberedPath('/d/.bashrc', 1), '/d/.bashrc.1');
  });

  test('OutputNames: a taken name goes to the next free number, kept per owner until released', () => {
    const names = new OutputNames();
    const [a, b, c] = [{}, {}, {}];
    assert.equal(names.reserve('/d/x.bin', a), '/d/x.bin');
    assert.equal(names.reserve('/d/x.bin', b), '/d/x.1.bin');
    assert.equal(names.reserve('/d/x.bin', c), '/d/x.2.bin');
    // Asking again (a restart) gives each the same name.
    assert.equal(names.reserve('/d/x.bin', b), '/d/x.1.bin');
    assert.equal(names.peek('/d/x.bin', a), '/d/x.bin');
    names.release(a);
    // b keeps its own name even though x.bin is free now (its .part is under x.1.bin).
    assert.equal(names.reserve('/d/x.bin', b), '/d/x.1.bin');
    assert.equal(names.reserve('/d/x.bin', {}), '/d/x.bin');
    // A path whose saved state is another resource's is passed over.
    assert.equal(
      names.reserve('/d/y.bin', {}, (p) => p === '/d/y.bin'),
      '/d/y.1.bin',
    );
  });

  test('a numbered name that is already a file is passed over', async () => {
    const dir = await fx.tempDir();
    await writeFile(join(dir, 'z.1.bin'), 'old');
    const names = new OutputNames();
    names.reserve(join(dir, 'z.bin'), {});
    assert.equal(names.reserve(join(dir, 'z.bin'), {}), join(dir, 'z.2.bin'));
  });

  test('command line: two URLs with the same file name are saved as data.bin and data.1.bin, both right', async () => {
    const a = makeContent(2 * MiB, 11);
    const b = makeContent(2 * MiB, 22);
    // Same size, same ETag and Last-Modified (as two nginx files written in one second).
    const sa = await fx.serve({ content: a, ratePerConnection: 2 * MiB });
    const sb = await fx.serve({ content: b, ratePerConnection: 2 * MiB });
    assert.equal(sa.config.etag, sb.config.etag);
    const dir = await fx.tempDir();
    const r = await runCli(['-m', '2', '-c', '2', '-d', dir, sa.fileUrl, sb.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listDir(dir), ['file.1.bin', 'file.bin']);
    const got = new Set([
      sha256(await readFile(join(dir, 'file.bin'))),
      sha256(await readFile(join(dir, 'file.1.bin'))),
    ]);
    assert.deepEqual(got, new Set([sha256(a), sha256(b)]));
    assert.match(r.stderr, /file\.bin is taken by another download: saving as .*file\.1\.bin/);
  });

  test('Manager: the same explicit path twice; Downloader.path tells the name each got', async () => {
    const a = makeContent(1 * MiB, 3);
    const b = makeContent(1 * MiB, 4);
    const sa = await fx.serve({ content: a });
    const sb = await fx.serve({ content: b });
    const dir = await fx.tempDir();
    const out = join(dir, 'same.bin');
    const manager = new Manager({ maxRunning: 1 });
    const da = manager.add(new Downloader(sa.fileUrl, { path: out }));
    const db = manager.add(new Downloader(sb.fileUrl, { path: out }));
    manager.start();
    await manager.onIdle();
    await manager.stop();
    assert.equal(da.state, 'complete', String(da.lastError));
    assert.equal(db.state, 'complete', String(db.lastError));
    assert.equal(da.path, out);
    assert.equal(db.path, join(dir, 'same.1.bin'));
    await assertFileEquals(out, a);
    await assertFileEquals(join(dir, 'same.1.bin'), b);
    assert.deepEqual(await listDir(dir), ['same.1.bin', 'same.bin']);
  });

  test('daemon: two addUri with the same out both complete, as out and out.1', async () => {
    const a = makeContent(1 * MiB, 5);
    const b = makeContent(1 * MiB, 6);
    const sa = await fx.serve({ content: a });
    const sb = await fx.serve({ content: b });
    const dir = await fx.tempDir();
    const aria2 = client(await daemons({ dir }));
    const ga = (await aria2.call('addUri', [sa.fileUrl], { out: 'o.bin' })) as string;
    const gb = (await aria2.call('addUri', [sb.fileUrl], { out: 'o.bin' })) as string;
    const [s1, s2] = await Promise.all([
      reach(aria2, ga, 'complete'),
      reach(aria2, gb, 'complete'),
    ]);
    const paths = [s1.files![0]!.path, s2.files![0]!.path];
    assert.deepEqual(new Set(paths), new Set([join(dir, 'o.bin'), join(dir, 'o.1.bin')]));
    await assertFileEquals(paths[0]!, a);
    await assertFileEquals(paths[1]!, b);
  });
});

describe('one writer per output across processes', () => {
  test('a second claim in the same process is refused; a released one can be claimed again', async () => {
    const dir = await fx.tempDir();
    const out = join(dir, 'c.bin');
    const claim = await OutputClaim.acquire(out, `${out}.qget`);
    await assert.rejects(OutputClaim.acquire(out, `${out}.qget`), OutputBusyError);
    await claim.release();
    assert.equal(await exists(`${out}.qget.lock`), false);
    const again = await OutputClaim.acquire(out, `${out}.qget`);
    await again.release();
  });

  test('a live holder (another process) keeps its claim; a dead one is taken over', async () => {
    const dir = await fx.tempDir();
    const out = join(dir, 'p.bin');
    const lock = `${out}.qget.lock`;
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      await once(holder, 'spawn');
      const live = { pid: holder.pid, host: hostname(), started: null, token: 'live' };
      await writeFile(lock, JSON.stringify(live));
      const err = await OutputClaim.acquire(out, `${out}.qget`).catch((e: unknown) => e);
      assert.ok(err instanceof OutputBusyError, String(err));
      assert.match(err.message, new RegExp(`being downloaded by process ${holder.pid}`));
      assert.equal(JSON.parse(await readFile(lock, 'utf8')).token, 'live', 'the lock is untouched');
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit').catch(() => {});
    }
    // The same lock, its process gone: taken over.
    const claim = await OutputClaim.acquire(out, `${out}.qget`);
    assert.equal(JSON.parse(await readLock(lock)).pid, process.pid);
    await claim.release();
  });

  test('the lock is a symbolic link naming its holder, made in one step', async () => {
    const dir = await fx.tempDir();
    const out = join(dir, 's.bin');
    const lock = `${out}.qget.lock`;
    const claim = await OutputClaim.acquire(out, `${out}.qget`);
    assert.ok((await lstat(lock)).isSymbolicLink());
    const holder = JSON.parse(await readLock(lock));
    assert.equal(holder.pid, process.pid);
    assert.equal(holder.host, hostname());
    assert.deepEqual(await listDir(dir), ['s.bin.qget.lock'], 'no temporary file beside it');
    await claim.release();
    assert.equal(await exists(lock), false);
  });

  test("a take-over's leftover (a lock moved aside, a symlink) is swept when its holder is dead", async () => {
    const dir = await fx.tempDir();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      await once(holder, 'spawn');
      const who = (pid: number) =>
        JSON.stringify({ pid, host: hostname(), started: null, token: 't' });
      await symlink(who(holder.pid!), join(dir, '.qget-stale-0123456789ab'));
      const dead = spawn(process.execPath, ['-e', '']);
      await once(dead, 'exit');
      await symlink(who(dead.pid!), join(dir, '.qget-stale-ba9876543210'));
      assert.equal(await sweepDebris(dir), 1);
      assert.deepEqual(await listDir(dir), ['.qget-stale-0123456789ab'], 'the live one stays');
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit').catch(() => {});
    }
  });

  test('where symbolic links cannot be made: a lock file, honoured and taken over alike', async () => {
    const dir = await fx.tempDir();
    const out = join(dir, 'f.bin');
    const lock = `${out}.qget.lock`;
    lockFilesOnly(true);
    try {
      const claim = await OutputClaim.acquire(out, `${out}.qget`);
      assert.ok((await lstat(lock)).isFile());
      assert.equal(JSON.parse(await readFile(lock, 'utf8')).pid, process.pid);
      assert.deepEqual(await listDir(dir), ['f.bin.qget.lock'], 'the temporary file is gone');
      await claim.release();
      assert.equal(await exists(lock), false);
    } finally {
      lockFilesOnly(false);
    }
    // A lock file of a live holder stops a claim; once its holder is dead, it is taken over.
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      await once(holder, 'spawn');
      lockFilesOnly(true);
      const live = { pid: holder.pid, host: hostname(), started: null, token: 'live' };
      await writeFile(lock, JSON.stringify(live));
      await assert.rejects(OutputClaim.acquire(out, `${out}.qget`), OutputBusyError);
    } finally {
      lockFilesOnly(false);
      holder.kill('SIGKILL');
      await once(holder, 'exit').catch(() => {});
    }
    const claim = await OutputClaim.acquire(out, `${out}.qget`);
    assert.ok((await lstat(lock)).isSymbolicLink(), "the dead holder's file replaced by our link");
    await claim.release();
  });

  test('two processes on one -o: the second exits 9 at once, touching nothing; the first finishes right', async () => {
    const content = makeContent(4 * MiB, 7);
    const other = makeContent(4 * MiB, 8);
    // Slow enough to outlast two more processes starting on a busy machine; sped up after.
    const server = await fx.serve({ content, ratePerConnection: 32 * 1024 });
    const second = await fx.serve({ content: other });
    const dir = await fx.tempDir();
    const out = join(dir, 'o.bin');
    const first = startCli(['-c', '2', '-o', out, server.fileUrl], dir);
    await waitFor(() => exists(`${out}.part`), 'the first download to start', 30_000);
    for (const url of [server.fileUrl, second.fileUrl]) {
      const partBefore = await stat(`${out}.part`);
      const r = await runCli(['-o', out, url], dir);
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /o\.bin is being downloaded by process \d+/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal((await stat(`${out}.part`)).ino, partBefore.ino, 'the .part is the same file');
    }
    server.config.ratePerConnection = 0;
    const r1 = await first.done;
    assert.equal(r1.code, 0, r1.stderr);
    await assertFileEquals(out, content);
    assert.deepEqual(await listDir(dir), ['o.bin'], 'nothing but the output is left');
  });

  test('kill -9 leaves the lock; the next run takes it over and finishes', async () => {
    const content = makeContent(4 * MiB, 9);
    const server = await fx.serve({ content, ratePerConnection: 128 * 1024 });
    const dir = await fx.tempDir();
    const out = join(dir, 'k.bin');
    const first = startCli(['-c', '2', '-o', out, server.fileUrl], dir);
    await waitFor(async () => (await savedBytes(`${out}.qget`)) > 0, 'a checkpoint', 30_000);
    first.child.kill('SIGKILL');
    await first.done;
    assert.equal(await exists(`${out}.qget.lock`), true);
    server.config.ratePerConnection = 0;
    const r = await runCli(['-o', out, server.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resumed/);
    await assertFileEquals(out, content);
    assert.deepEqual(await listDir(dir), ['k.bin']);
  });
});

describe('resume continues only the same resource', () => {
  test('-o with another URL whose size and validators match: old bytes discarded, said in one line', async () => {
    const a = makeContent(4 * MiB, 12);
    const b = makeContent(4 * MiB, 13);
    const sa = await fx.serve({ content: a, ratePerConnection: 128 * 1024 });
    const sb = await fx.serve({ content: b });
    assert.equal(sa.config.etag, sb.config.etag);
    assert.equal(sa.config.lastModified, sb.config.lastModified);
    const dir = await fx.tempDir();
    const out = join(dir, 'same.bin');
    const first = startCli(['-c', '2', '-o', out, sa.fileUrl], dir);
    await waitFor(async () => (await savedBytes(`${out}.qget`)) > 0, 'a checkpoint', 30_000);
    first.child.kill('SIGINT');
    assert.equal((await first.done).code, 130);
    const r = await runCli(['-o', out, sb.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /same\.bin\.part was saved from another URL: discarding its \d+ bytes/);
    assert.doesNotMatch(r.stderr, /resumed/);
    await assertFileEquals(out, b);
    // No request to the second server started inside the file: everything came from it anew.
    assert.ok(sb.stats.bytesSent >= b.length);
  });

  test('qget(): a .qget of another URL is not continued, even before the probe', async () => {
    const a = makeContent(1 * MiB, 14);
    const b = makeContent(1 * MiB, 15);
    const sb = await fx.serve({ content: b });
    const dir = await fx.tempDir();
    const out = join(dir, 'r.bin');
    // The state of an interrupted download of another URL, with all of a's bytes "on disk".
    await writeFile(`${out}.part`, a);
    await writeFile(
      `${out}.qget`,
      JSON.stringify({
        version: 1,
        url: 'http://127.0.0.1:1/elsewhere.bin',
        finalUrl: 'http://127.0.0.1:1/elsewhere.bin',
        size: a.length,
        acceptRanges: true,
        etag: sb.config.etag,
        lastModified: sb.config.lastModified,
        ranges: [[0, a.length]],
        updatedAt: new Date().toISOString(),
      }),
    );
    const warnings: string[] = [];
    const result = await qget(sb.fileUrl, { filepath: out, onWarning: (m) => warnings.push(m) });
    assert.equal(result.resumedBytes, 0);
    await assertFileEquals(out, b);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /saved from another URL: discarding its 1048576 bytes/);
  });
});

describe('small things', () => {
  test('a failed state save leaves the previous state and no .qget.tmp', async () => {
    const dir = await fx.tempDir();
    const path = join(dir, 'x.qget');
    await mkdir(path); // a folder where the file should go: the rename fails
    await assert.rejects(
      saveControl(path, {
        version: 1,
        url: 'http://h/x',
        finalUrl: 'http://h/x',
        size: 1,
        acceptRanges: true,
        etag: null,
        lastModified: null,
        ranges: [],
        updatedAt: '',
      }),
    );
    assert.deepEqual(await listDir(dir), ['x.qget']);
  });

  test('-o naming a folder, or ending in /, saves into it; -d creates a missing folder', async () => {
    const content = makeContent(256 * 1024, 16);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    await mkdir(join(dir, 'existing'));
    let r = await runCli(['-o', 'existing', server.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(join(dir, 'existing', 'file.bin'), content);
    r = await runCli(['-o', 'new/', server.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(join(dir, 'new', 'file.bin'), content);
    r = await runCli(['-d', 'a/b/c', server.fileUrl], dir);
    assert.equal(r.code, 0, r.stderr);
    await assertFileEquals(join(dir, 'a', 'b', 'c', 'file.bin'), content);
    await writeFile(join(dir, 'plain'), 'x');
    r = await runCli(['-d', 'plain/sub', server.fileUrl], dir);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /cannot create the folder .*plain\/sub/);
  });

  test('-o - writes the bytes to standard output, progress to stderr', async () => {
    const content = makeContent(512 * 1024, 17);
    const server = await fx.serve({ content });
    const dir = await fx.tempDir();
    const { child, done } = startCli(['-o', '-', server.fileUrl], dir);
    const chunks: Buffer[] = [];
    child.stdout!.removeAllListeners('data');
    child.stdout!.on('data', (d: Buffer) => chunks.push(d));
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(Buffer.concat(chunks)), sha256(content));
    assert.deepEqual(await listDir(dir), [], 'no file is written');
  });

  test('Ctrl-C during a --retry-wait pause exits 130 with the state saved', async () => {
    const content = makeContent(4 * MiB, 18);
    const server = await fx.serve({ content, cutAfterBytes: 1 * MiB, cutTimes: 100 });
    const dir = await fx.tempDir();
    const out = join(dir, 'w.bin');
    const { child, done } = startCli(
      ['-c', '1', '--retries', '0', '--retry-wait', '60', '-o', out, server.fileUrl],
      dir,
    );
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    await waitFor(() => stderr.includes('restarting in 60 s'), 'the restart wait', 20_000);
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted/);
    assert.equal(await exists(`${out}.part`), true);
    assert.equal(await exists(`${out}.qget`), true);
    assert.equal(await exists(`${out}.qget.lock`), false);
  });
});
