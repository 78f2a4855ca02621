// The tutorial programs in examples/ run against a local server: each must exit 0 and leave the
// downloaded bytes where the tutorial says.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeContent, sha256 } from './helpers/content.js';
import { spawnCollect } from './helpers/cli.js';
import { useFixtures } from './helpers/fixture.js';
import type { TestServer } from './helpers/server.js';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
// Resolved here: the examples run in a temporary folder, where a bare `tsx` would not be found.
const tsx = import.meta.resolve('tsx');
// The size of the tutorial's python-logo.png.
const logo = makeContent(10_102, 99);

const { serve, tempDir } = useFixtures();
let server: TestServer;
let url: string;

before(async () => {
  server = await serve({ content: logo });
  url = `${server.url}/static/img/python-logo.png`;
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  cwd: string;
}

async function runExample(name: string, ...args: string[]): Promise<Run> {
  const cwd = await tempDir();
  const run = await spawnCollect(['--import', tsx, join(examples, name), ...args], {
    cwd,
    // Only against a hang: on a busy machine node and tsx alone take many seconds to start.
    timeoutMs: 180_000,
  }).done;
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, cwd };
}

async function assertDownloaded(run: Run, file: string): Promise<void> {
  assert.equal(run.code, 0, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
  assert.equal(sha256(await readFile(join(run.cwd, file))), sha256(logo));
}

describe('examples', { concurrency: true }, () => {
  it('download-a-file.ts', async () => {
    const run = await runExample('download-a-file.ts', url);
    await assertDownloaded(run, 'python-logo.png');
    assert.match(run.stdout, /^Download has started\.$/m);
  });

  it('display-information.ts', async () => {
    const run = await runExample('display-information.ts', url);
    await assertDownloaded(run, 'python-logo.png');
    assert.match(run.stdout, /The file size is 10102/);
    assert.match(run.stdout, /The speed is 0 B\/s/);
    assert.match(run.stdout, /The state changed to: complete/);
  });

  it('automatic-restart.ts', async () => {
    const run = await runExample('automatic-restart.ts', url);
    await assertDownloaded(run, 'python-logo.png');
    assert.match(run.stdout, /The state changed to: start\n[\s\S]*The state changed to: complete/);
  });

  it('path-and-rate-limit.ts', async () => {
    const run = await runExample('path-and-rate-limit.ts', url);
    await assertDownloaded(run, 'logo.png');
    assert.match(run.stdout, /The file size is 10102/);
  });

  it('elegant-output.ts', async () => {
    const run = await runExample('elegant-output.ts', url);
    await assertDownloaded(run, 'logo.png');
    assert.match(
      run.stdout,
      /\rcomplete \| 9\.87 KiB \| 9\.87 KiB \| 0\.00 B\/s \[----------\] 100% 0:00:00/,
    );
  });

  it('an example exits non-zero when the download fails for good', async () => {
    const run = await runExample('display-information.ts', `${server.url}/status/404`);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /The state changed to: error/);
  });
});
