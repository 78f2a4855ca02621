// Several sources from the command line and the daemon: `--mirror` (repeatable), TAB-separated
// URIs on an input-file line, `--json`'s per-source report, and the daemon's addUri with several
// URIs and getServers; three local servers on their own ports.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeContent, MiB } from './helpers/content.js';
import { runCli } from './helpers/cli.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const { serve, tempDir } = useFixtures();
const daemons = useDaemons();

async function threeServers(content: Buffer, rate: number): Promise<TestServer[]> {
  return Promise.all([1, 2, 3].map(() => serve({ content, ratePerConnection: rate })));
}

interface SourceJson {
  url: string;
  state: string;
  connections: number;
  maxConnections: number;
  bytes: number;
}

describe('mirrors on the command line', () => {
  it('--mirror (repeatable) with --json: each source and what it did', async () => {
    const content = makeContent(6 * MiB, 41);
    const [a, b, c] = await threeServers(content, 2 * MiB);
    const dir = await tempDir();
    const run = await runCli(
      [
        a!.fileUrl,
        '--mirror',
        b!.fileUrl,
        '--mirror',
        c!.fileUrl,
        '-o',
        'out.bin',
        '-c',
        '6',
        '--json',
      ],
      dir,
    );
    assert.equal(run.code, 0, run.stderr);
    await assertFileEquals(join(dir, 'out.bin'), content);
    const events = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; state?: string; sources?: SourceJson[] });
    const done = events.find((e) => e.event === 'state' && e.state === 'complete');
    const sources = done?.sources ?? [];
    assert.deepEqual(
      sources.map((s) => s.url),
      [a!.fileUrl, b!.fileUrl, c!.fileUrl],
    );
    assert.ok(sources.every((s) => s.state === 'active' && s.maxConnections >= 1 && s.bytes > 0));
    assert.equal(
      sources.reduce((n, s) => n + s.bytes, 0),
      content.length,
    );
  });

  it('-i: TAB-separated URIs on one line are one file from several sources', async () => {
    const content = makeContent(4 * MiB, 42);
    const [a, b, c] = await threeServers(content, 2 * MiB);
    const liar = await serve({ content: makeContent(4 * MiB, 43) });
    const dir = await tempDir();
    const list = join(dir, 'list.txt');
    await writeFile(
      list,
      `${a!.fileUrl}\t${liar.fileUrl}\t${b!.fileUrl}\t${c!.fileUrl}\n out=f.bin\n`,
    );
    const run = await runCli(['-i', list, '-c', '6'], dir);
    assert.equal(run.code, 0, run.stderr);
    await assertFileEquals(join(dir, 'f.bin'), content);
    assert.equal(run.stderr.split('\n').filter((l) => l.includes(liar.url)).length, 1, run.stderr);
    for (const s of [a, b, c]) assert.ok(s!.stats.bytesSent > 0);
  });

  it('--mirror with several URLs is a usage error', async () => {
    const run = await runCli(
      ['http://127.0.0.1:1/a', 'http://127.0.0.1:1/b', '--mirror', 'http://127.0.0.1:1/c'],
      await tempDir(),
    );
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--mirror/);
  });
});

describe('mirrors in the daemon', () => {
  it('addUri with several URIs uses them all; getServers reports each with its connections', async () => {
    const content = makeContent(16 * MiB, 44);
    const [a, b, c] = await threeServers(content, 1 * MiB);
    const dir = await tempDir();
    const aria2 = client(await daemons({ dir }));
    const gid = (await aria2.call('addUri', [a!.fileUrl, b!.fileUrl, c!.fileUrl], {
      out: 'm.bin',
      split: '6',
      'max-connection-per-server': '6',
    })) as string;
    let seen: Record<string, string>[] = [];
    await waitFor(
      async () => {
        const servers = (await aria2.call('getServers', gid).catch(() => [])) as {
          servers: Record<string, string>[];
        }[];
        seen = servers[0]?.servers ?? [];
        return seen.length === 3 && seen.every((s) => Number(s.connections) >= 1);
      },
      () => `three servers with connections (${JSON.stringify(seen)})`,
      60_000,
    );
    assert.deepEqual(
      seen.map((s) => s.uri),
      [a!.fileUrl, b!.fileUrl, c!.fileUrl],
    );
    assert.ok(seen.reduce((n, s) => n + Number(s.connections), 0) <= 6);
    const uris = (await aria2.call('getUris', gid)) as { uri: string; status: string }[];
    assert.deepEqual(
      uris.map((u) => u.status),
      ['used', 'used', 'used'],
    );
    await reach(aria2, gid, 'complete', 60_000);
    await assertFileEquals(join(dir, 'm.bin'), content);
  });
});
