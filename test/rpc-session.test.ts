// --save-session and -i: aria2.shutdown pauses everything resumably and writes the unfinished
// downloads in aria2's input-file format; a new daemon given that file has them back with the
// same GIDs and options, and continues the partial file instead of starting over.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSession } from '../src/rpc/session.js';
import { makeContent, MiB } from './helpers/content.js';
import { assertFileEquals, exists, useFixtures } from './helpers/fixture.js';
import { client, reach, statusOf, useDaemons } from './helpers/rpc.js';
import { waitFor } from './helpers/wait.js';

const fx = useFixtures();
const daemons = useDaemons();

test('shutdown saves the session; a restart with it keeps the GIDs and resumes the .part', async () => {
  const content = makeContent(4 * MiB, 7);
  const server = await fx.serve({ content, ratePerConnection: MiB });
  const dir = await fx.tempDir();
  const sessionFile = join(dir, 'aria2.session');

  const first = await daemons({ dir, saveSession: sessionFile });
  const a1 = client(first);
  const big = (await a1.call('addUri', [`${server.url}/big.bin`], {
    out: 'big.bin',
    split: '2',
  })) as string;
  const held = (await a1.call('addUri', [`${server.url}/held.bin`], {
    dir: 'sub',
    pause: 'true',
    header: ['X-A: 1', 'X-B: 2'],
    'max-download-limit': '1M',
  })) as string;
  await waitFor(
    async () => Number((await statusOf(a1, big)).completedLength) >= MiB,
    '1 MiB of big.bin',
  );
  assert.equal(await a1.call('shutdown'), 'OK');
  await first.closed;

  const text = await readFile(sessionFile, 'utf8');
  assert.ok(
    text.includes(`${server.url}/big.bin\n gid=${big}\n dir=${dir}\n out=big.bin\n split=2\n`),
    text,
  );
  assert.ok(
    text.includes(
      `${server.url}/held.bin\n gid=${held}\n dir=${join(dir, 'sub')}\n header=X-A: 1\n header=X-B: 2\n max-download-limit=1048576\n pause=true\n`,
    ),
    text,
  );
  assert.ok(await exists(join(dir, 'big.bin.part')), 'the partial file is kept');
  assert.ok(!(await exists(join(dir, 'big.bin'))), 'not finished yet');

  server.reset();
  const second = await daemons({ dir, saveSession: sessionFile, session: parseSession(text) });
  const a2 = client(second);
  const heldNow = await statusOf(a2, held);
  assert.equal(heldNow.status, 'paused');
  assert.equal(heldNow.dir, join(dir, 'sub'));
  const options = (await a2.call('getOption', held)) as Record<string, string>;
  assert.equal(options.header, 'X-A: 1\nX-B: 2');
  assert.equal(options['max-download-limit'], '1048576');
  await reach(a2, big, 'complete');
  await assertFileEquals(join(dir, 'big.bin'), content);
  const requests = server.requests.filter((r) => r.path === '/big.bin');
  assert.ok(
    requests.every((r) => r.range !== undefined && !r.range.startsWith('bytes=0-')),
    `continued, not started over: ${requests.map((r) => r.range).join(', ')}`,
  );
  assert.ok(
    server.stats.bytesSent <= 3 * MiB + 256 * 1024,
    `${server.stats.bytesSent} bytes sent again`,
  );

  // The next shutdown keeps only what is unfinished: the paused download.
  await second.shutdown();
  const after = parseSession(await readFile(sessionFile, 'utf8'));
  assert.deepEqual(
    after.map((e) => e.uris),
    [[`${server.url}/held.bin`]],
  );
});
