// Link refresh: an interrupted download continued from a new URL (qget()'s `refresh`, the CLI's
// `--refresh`, a paused Downloader given a new `url`, the daemon's changeUri) only when the new
// URL serves the same bytes; otherwise it starts over. Local servers on their own ports.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Downloader, qget } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { KiB, MiB, makeContent } from './helpers/content.js';
import { assertFileEquals, exists, interruptAt, useFixtures } from './helpers/fixture.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const { serve, tempDir } = useFixtures();
const daemons = useDaemons();

/** Bytes the server sent (its own count). */
const sent = (s: TestServer): number => s.requests.reduce((n, r) => n + r.bytesSent, 0);

describe('link refresh', () => {
  it('continues the .part from a new URL serving the same bytes (qget refresh)', async () => {
    const content = makeContent(8 * MiB, 51);
    const old = await serve({ content, ratePerConnection: 4 * MiB, etag: '"old"' });
    const fresh = await serve({ content, etag: '"new"' });
    const out = join(await tempDir(), 'f.bin');
    await interruptAt(0.5, old.fileUrl, { filepath: out });
    const warnings: string[] = [];
    const result = await qget(fresh.fileUrl, {
      filepath: out,
      refresh: true,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.deepEqual(warnings, []);
    assert.ok(result.resumedBytes >= 3 * MiB, `resumed ${result.resumedBytes}`);
    // The sample first (64 KiB already on disk), then only what was missing.
    assert.equal(fresh.requests[0]?.range, `bytes=0-${64 * KiB - 1}`);
    // Not started over: after the sample nothing is asked from byte 0 (what the server sent
    // counts requests cut short by steals, whole, so its bytes are no measure here).
    assert.ok(
      fresh.requests
        .slice(1)
        .every((r) => r.range !== undefined && !r.range.startsWith('bytes=0-')),
      fresh.requests.map((r) => r.range).join(', '),
    );
    // Its own validators from then on.
    assert.ok(
      fresh.requests.slice(1).every((r) => r.ifRange === undefined || r.ifRange === '"new"'),
    );
  });

  it('starts over, with one warning, when the new URL serves other bytes', async () => {
    const content = makeContent(4 * MiB, 52);
    const other = makeContent(4 * MiB, 53);
    const old = await serve({ content, ratePerConnection: 2 * MiB });
    const fresh = await serve({ content: other });
    const out = join(await tempDir(), 'f.bin');
    await interruptAt(0.5, old.fileUrl, { filepath: out });
    const warnings: string[] = [];
    const result = await qget(fresh.fileUrl, {
      filepath: out,
      refresh: true,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, other);
    assert.equal(result.resumedBytes, 0);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /does not continue .*other bytes.*starting over/);
  });

  it('qget --refresh <new-url> -o <out>', async () => {
    const content = makeContent(6 * MiB, 54);
    const old = await serve({ content, ratePerConnection: 3 * MiB });
    const fresh = await serve({ content });
    const dir = await tempDir();
    const out = join(dir, 'f.bin');
    await interruptAt(0.4, old.fileUrl, { filepath: out });
    const run = await runCli(['--refresh', fresh.fileUrl, '-o', out], dir);
    assert.equal(run.code, 0, run.stderr);
    await assertFileEquals(out, content);
    assert.doesNotMatch(run.stderr, /does not continue/);
    // The sample, then ranges after those on disk: nothing starts over from byte 0.
    assert.equal(fresh.requests[0]?.range, `bytes=0-${64 * KiB - 1}`);
    assert.ok(
      fresh.requests
        .slice(1)
        .every((r) => r.range !== undefined && !r.range.startsWith('bytes=0-')),
      fresh.requests.map((r) => r.range).join(', '),
    );
    const usage = await runCli(['--refresh', fresh.fileUrl], dir);
    assert.equal(usage.code, 2);
  });

  it('a paused Downloader given a new url goes on from its .part', async () => {
    const content = makeContent(6 * MiB, 55);
    const old = await serve({ content, ratePerConnection: 1 * MiB });
    const fresh = await serve({ content });
    const path = join(await tempDir(), 'd.bin');
    const d = new Downloader(old.fileUrl, { path, maxConnections: 4 });
    d.start();
    await waitFor(() => d.downloaded > 2 * MiB, 'two MiB', 60_000);
    d.stop();
    await d.join();
    assert.equal(d.state, 'pause');
    assert.ok(await exists(`${path}.part`));
    d.url = fresh.fileUrl;
    d.start();
    await d.join();
    assert.equal(d.state, 'complete', String(d.lastError));
    await assertFileEquals(path, content);
    assert.ok(sent(fresh) < content.length - 1 * MiB, `${sent(fresh)} bytes sent`);
  });

  it("the daemon's changeUri: a new first URI continues the download", async () => {
    const content = makeContent(2 * MiB, 56);
    const old = await serve({ content });
    const fresh = await serve({ content });
    const dir = await tempDir();
    const aria2 = client(await daemons({ dir }));
    const gid = (await aria2.call('addUri', [old.fileUrl], {
      out: 'c.bin',
      'max-download-limit': '256K',
    })) as string;
    await waitFor(
      async () =>
        Number(((await aria2.call('tellStatus', gid)) as Record<string, string>).completedLength) >
        512 * KiB,
      'progress',
      60_000,
    );
    const changed = await aria2.call('changeUri', gid, 1, [old.fileUrl], [fresh.fileUrl]);
    assert.deepEqual(changed, [1, 1]);
    assert.deepEqual(
      ((await aria2.call('getUris', gid)) as { uri: string }[]).map((u) => u.uri),
      [fresh.fileUrl],
    );
    await aria2.call('changeOption', gid, { 'max-download-limit': '0' });
    await reach(aria2, gid, 'complete', 60_000);
    await assertFileEquals(join(dir, 'c.bin'), content);
    // The 64 KiB sample, then only ranges after what the old URI had sent.
    const starts = fresh.requests.map((r) => Number(/^bytes=(\d+)-/.exec(r.range ?? '')?.[1] ?? 0));
    assert.equal(starts[0], 0);
    assert.ok(
      starts.slice(1).every((s) => s >= 512 * KiB),
      fresh.requests.map((r) => r.range).join(', '),
    );
    await assert.rejects(aria2.call('changeUri', gid, 2, [], [fresh.fileUrl]), /out of range/);
  });
});
