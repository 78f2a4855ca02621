// The daemon's web page in a real browser: Debian's chromium (/usr/bin/chromium, headless),
// driven by playwright-core, against `qget --enable-rpc` (the built command, with its secret) and
// a local file server. Adds a URL, watches it progress, pauses, resumes, opens the segment map,
// sees it complete with the right bytes, removes it, sets a speed limit and sees it hold.
// A screenshot of each step goes to test-artifacts/web-page/. No chromium: the test fails.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { startCli } from '../helpers/cli.js';
import { makeContent } from '../helpers/content.js';
import { assertFileEquals, useFixtures } from '../helpers/fixture.js';
import { waitFor as until } from '../helpers/wait.js';
import type { TestServer } from '../helpers/server.js';

const CHROMIUM = process.env.QGET_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/web-page');
const SECRET = 'open sesame';
const KiB = 1024;
const MiB = 1024 * KiB;

const fx = useFixtures();
const big = makeContent(8 * MiB, 7);
let server: TestServer;
let dir: string;
let port: number;
let stopDaemon: () => Promise<void> = async () => {};
let context: BrowserContext | undefined;
let profile: string | undefined;
let page: Page;
let shot = 0;

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  // Every other connection runs at a thirtieth of the speed: the segment map shows a slow one.
  server = await fx.serve({
    content: big,
    ratePerConnection: 384 * KiB,
    slowEvery: 2,
    slowFactor: 30,
  });
  dir = await fx.tempDir();
  const { child, done } = startCli(
    ['--enable-rpc', '--rpc-listen-port', '0', '--rpc-secret', SECRET, '-d', dir],
    dir,
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  await until(
    () => /JSON-RPC on http:\/\/[^:]+:\d+/.test(stderr) || child.exitCode !== null,
    'the daemon',
  );
  port = Number(/JSON-RPC on http:\/\/[^:]+:(\d+)/.exec(stderr)?.[1]);
  assert.ok(port > 0, stderr);
  stopDaemon = async () => {
    child.kill('SIGTERM');
    await done;
  };

  profile = await mkdtemp(join(tmpdir(), 'qget-chromium-'));
  // No try/catch: a browser that cannot start fails the test.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
    timeout: 30_000,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await context?.close();
  await stopDaemon();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** A call to the daemon from the test itself, to check what the page did. */
async function rpc(method: string, ...params: unknown[]): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [`token:${SECRET}`, ...params] }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

async function screenshot(name: string): Promise<void> {
  shot++;
  await page.screenshot({
    path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`),
    fullPage: true,
  });
}

const row = (name: string): Locator => page.getByRole('row').filter({ hasText: name });
const button = (r: Locator, name: string): Locator => r.getByRole('button', { name, exact: true });

async function percent(r: Locator): Promise<number> {
  return Number(await r.getByRole('progressbar').getAttribute('aria-valuenow'));
}

async function waitPercent(r: Locator, check: (p: number) => boolean, what: string) {
  await until(async () => check(await percent(r)), what, 30_000);
}

test('the daemon page in chromium: add, progress, pause, resume, segments, complete, remove, limit', async (t) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });

  await page.goto(`http://127.0.0.1:${port}/`);
  assert.ok(!page.url().includes('sesame'));
  await page.getByLabel('Secret').fill(SECRET);
  await screenshot('secret');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByLabel('URL').waitFor();

  // Add one URL with 4 connections.
  await page.getByLabel('URL').fill(`${server.url}/big.bin`);
  await page.getByLabel('Connections').fill('4');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const first = row('big.bin');
  await first.waitFor();
  await waitPercent(first, (p) => p >= 10, 'progress');
  await first.getByText(/^[1-9][\d.]* [KM]iB\/s$/).waitFor();
  await screenshot('progress');

  // Pause: the state says so and the bar stops moving.
  await button(first, 'Pause').click();
  await first.getByText('paused', { exact: true }).waitFor();
  const pausedAt = await percent(first);
  await page.waitForTimeout(700);
  assert.equal(await percent(first), pausedAt, 'no progress while paused');
  await screenshot('paused');

  // Resume, and the segment map while it runs.
  await button(first, 'Resume').click();
  await first.getByText('active', { exact: true }).waitFor();
  await first.getByRole('button', { name: 'big.bin' }).click();
  // Two connections at work with their speeds measured.
  const conns = page.locator('#conns tbody tr').filter({ hasText: /[KM]iB\/s/ });
  await until(async () => (await conns.count()) >= 2, 'two connections with speeds', 15_000);
  const map = page.getByRole('img');
  assert.match((await map.getAttribute('aria-label')) ?? '', /on disk .*connection \d+ at byte/);
  await screenshot('segments');

  // Complete, with the right bytes on disk.
  await waitPercent(first, (p) => p === 100, 'completion');
  await first.getByText('complete', { exact: true }).waitFor();
  await assertFileEquals(join(dir, 'big.bin'), big);
  await screenshot('complete');

  // Remove it from the list.
  await button(first, 'Remove').click();
  await first.waitFor({ state: 'detached' });
  await screenshot('removed');

  // A global speed limit of 256 KiB/s, then a new download: it stays under the limit.
  const limit = 256 * KiB;
  await page.getByLabel('Speed limit').fill('256K');
  await page.getByLabel('Most downloads at once').fill('3');
  await page.getByRole('button', { name: 'Apply' }).click();
  await until(
    async () => (await page.getByLabel('Speed limit').inputValue()) === '256K',
    'the limit shown as the daemon has it',
  );
  const globals = (await rpc('aria2.getGlobalOption')) as Record<string, string>;
  assert.equal(globals['max-overall-download-limit'], String(limit));
  assert.equal(globals['max-concurrent-downloads'], '3');
  await page.getByLabel('URL').fill(`${server.url}/limited.bin`);
  await page.getByLabel('Connections').fill('4');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const second = row('limited.bin');
  await waitPercent(second, (p) => p > 0, 'the limited download to start');
  // Past the bucket's first burst, over two seconds.
  await page.waitForTimeout(1000);
  const p1 = await percent(second);
  const t1 = performance.now();
  await page.waitForTimeout(2000);
  const p2 = await percent(second);
  const rate = (((p2 - p1) / 100) * big.length * 1000) / (performance.now() - t1);
  assert.ok(rate > 0, 'the limited download goes on');
  assert.ok(rate <= limit * 1.25, `${Math.round(rate)} B/s over a limit of ${limit} B/s`);
  t.diagnostic(`under a limit of ${limit} B/s the download ran at ${Math.round(rate)} B/s`);
  await screenshot('speed-limit');
  await button(second, 'Remove').click();
  await second.getByText('removed', { exact: true }).waitFor();

  assert.deepEqual(errors, []);
});
