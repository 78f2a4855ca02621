// The User-Agent: `qget/<version>` by default on every request (the probe and the segments, over
// the lean connections and undici), `userAgent` / -U to change it, a User-Agent header winning
// over both (as in curl), and the daemon's `user-agent` option, global and per download.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Agent } from 'undici';
import { Downloader, InvalidOptionError, Manager, qget } from '../src/index.js';
import { VERSION } from '../src/version.js';
import { runCli } from './helpers/cli.js';
import { makeContent } from './helpers/content.js';
import { waitFor } from './helpers/wait.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { client, reach, useDaemons } from './helpers/rpc.js';
import type { TestServer } from './helpers/server.js';

const MiB = 1024 * 1024;
const { serve, tempDir } = useFixtures();
const daemons = useDaemons();
const content = makeContent(4 * MiB, 47);

/** The User-Agent of every request the server got (and there were several). */
function agents(s: TestServer): Set<string | undefined> {
  assert.ok(s.requests.length > 2, `${s.requests.length} requests: no segment requests`);
  return new Set(s.requests.map((r) => r.headers['user-agent']));
}

describe('User-Agent', () => {
  it('is qget/<version> on the probe and on every segment request (lean connections)', async () => {
    const s = await serve({ content });
    const out = join(await tempDir(), 'out.bin');
    await qget(s.fileUrl, { filepath: out, maxConnections: 4 });
    await assertFileEquals(out, content);
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    assert.deepEqual(agents(s), new Set([`qget/${VERSION}`]));
  });

  it('is the userAgent option over undici too; a User-Agent header wins over it', async () => {
    const s = await serve({ content });
    const dispatcher = new Agent();
    try {
      await qget(s.fileUrl, {
        filepath: join(await tempDir(), 'a.bin'),
        maxConnections: 4,
        userAgent: 'Mozilla/5.0 (test)',
        dispatcher,
      });
      assert.deepEqual(agents(s), new Set(['Mozilla/5.0 (test)']));
      s.requests.length = 0;
      await qget(s.fileUrl, {
        filepath: join(await tempDir(), 'b.bin'),
        userAgent: 'ignored',
        headers: { 'User-Agent': 'from-header/1' },
      });
      assert.deepEqual(agents(s), new Set(['from-header/1']));
    } finally {
      await dispatcher.close();
    }
  });

  it("reaches the Downloader, a Manager's downloads and updateSize()", async () => {
    const s = await serve({ content });
    const dir = await tempDir();
    const d = new Downloader(s.fileUrl, { dirPath: dir, userAgent: 'dl/1' });
    await d.updateSize();
    assert.equal(s.requests[0]!.method, 'HEAD');
    assert.equal(s.requests[0]!.headers['user-agent'], 'dl/1');
    const manager = new Manager({
      downloadOptions: { dirPath: dir, userAgent: 'mgr/1', override: true },
    });
    const added = manager.add(s.fileUrl);
    s.requests.length = 0;
    manager.start();
    await waitFor(() => added.state === 'complete' || added.state === 'error', 'the end', 20_000);
    assert.equal(added.state, 'complete', String(added.lastError));
    assert.deepEqual(agents(s), new Set(['mgr/1']));
    manager.stop();
  });

  it('refuses a userAgent that would break the header line', () => {
    assert.throws(
      () => new Downloader('http://h.test/f', { userAgent: 'a\r\nX-Evil: 1' }),
      InvalidOptionError,
    );
    assert.throws(() => new Downloader('http://h.test/f', { userAgent: '' }), InvalidOptionError);
  });

  it('-U sets it on the command line, qget/<version> without', async () => {
    const s = await serve({ content });
    const dir = await tempDir();
    const plain = await runCli(['-q', '-o', 'a.bin', s.fileUrl], dir);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(agents(s), new Set([`qget/${VERSION}`]));
    s.requests.length = 0;
    const custom = await runCli(['-q', '-U', 'curl/8.5.0', '-o', 'b.bin', s.fileUrl], dir);
    assert.equal(custom.code, 0, custom.stderr);
    assert.deepEqual(agents(s), new Set(['curl/8.5.0']));
    s.requests.length = 0;
    const both = await runCli(
      ['-q', '--user-agent', 'curl/8.5.0', '-H', 'User-Agent: wins/1', '-o', 'c.bin', s.fileUrl],
      dir,
    );
    assert.equal(both.code, 0, both.stderr);
    assert.deepEqual(agents(s), new Set(['wins/1']));
  });

  it("is the daemon's user-agent option: global (from -U or changeGlobalOption) and per download", async () => {
    const s = await serve({ content });
    const dir = await tempDir();
    const daemon = await daemons({ dir, downloadOptions: { userAgent: 'global/1' } });
    const aria2 = client(daemon);
    const options = (await aria2.call('getGlobalOption')) as Record<string, string>;
    assert.equal(options['user-agent'], 'global/1');
    const first = (await aria2.call('addUri', [s.fileUrl], { out: 'g.bin' })) as string;
    await reach(aria2, first, 'complete');
    assert.deepEqual(agents(s), new Set(['global/1']));

    s.requests.length = 0;
    await aria2.call('changeGlobalOption', { 'user-agent': 'changed/2' });
    const second = (await aria2.call('addUri', [s.fileUrl], { out: 'c.bin' })) as string;
    await reach(aria2, second, 'complete');
    assert.deepEqual(agents(s), new Set(['changed/2']));

    s.requests.length = 0;
    const own = (await aria2.call('addUri', [s.fileUrl], {
      out: 'o.bin',
      'user-agent': 'own/3',
    })) as string;
    await reach(aria2, own, 'complete');
    assert.deepEqual(agents(s), new Set(['own/3']));
  });

  it('is qget/<version> for a daemon told nothing', async () => {
    const s = await serve({ content });
    const daemon = await daemons({ dir: await tempDir() });
    const aria2 = client(daemon);
    const gid = (await aria2.call('addUri', [s.fileUrl])) as string;
    await reach(aria2, gid, 'complete');
    assert.deepEqual(agents(s), new Set([`qget/${VERSION}`]));
  });
});
