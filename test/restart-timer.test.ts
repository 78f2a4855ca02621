// One restart schedule (decision D2): RestartTimer, the rule over a download's and its Manager's
// restartWait, and a Downloader under a Manager that reports the Manager's pending restart.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Downloader, HttpStatusError, Manager } from '../src/index.js';
import { RestartTimer, restartWaitOf } from '../src/api/restart-timer.js';
import { makeContent } from './helpers/content.js';
import { reachState } from './helpers/events.js';
import { waitFor } from './helpers/wait.js';
import { useFixtures } from './helpers/fixture.js';

const { serve, tempDir } = useFixtures();
const content = makeContent(64 * 1024, 31);

describe('RestartTimer', () => {
  it('fires once, reports when, and can be replaced or cancelled', async () => {
    const changes: (Date | null)[] = [];
    const timer = new RestartTimer((at) => changes.push(at));
    assert.equal(timer.pending, false);
    assert.equal(timer.at, null);
    let fired = 0;
    const before = Date.now();
    timer.schedule(30, () => fired++);
    assert.equal(timer.pending, true);
    const at = (timer.at as Date | null)?.getTime() ?? 0;
    assert.ok(at >= before + 30_000 && at <= Date.now() + 30_000, `${at - before} ms ahead`);
    timer.schedule(-1, () => fired++);
    assert.ok(
      ((timer.at as Date | null)?.getTime() ?? Number.POSITIVE_INFINITY) <= Date.now(),
      'a negative wait is 0',
    );
    await waitFor(() => fired === 1, 'the restart', 5000);
    assert.equal(timer.pending, false);
    assert.equal(timer.at, null);
    timer.schedule(30, () => fired++);
    timer.cancel();
    timer.cancel();
    assert.equal(timer.pending, false);
    assert.equal(changes.length, 5, 'scheduled, rescheduled, fired, scheduled, cancelled');
    assert.equal(changes.at(-1), null);
    assert.equal(fired, 1);
  });

  it('the rule: the shorter non-negative wait of the download and its Manager; never if none', () => {
    assert.equal(restartWaitOf(-1, 30), 30);
    assert.equal(restartWaitOf(0.2, 30), 0.2);
    assert.equal(restartWaitOf(5, -1), 5);
    assert.equal(restartWaitOf(-1, -1), -1);
    assert.equal(restartWaitOf(-1, undefined), -1);
    assert.equal(restartWaitOf(7, undefined), 7);
    assert.equal(restartWaitOf(0, 30), 0);
  });
});

describe('restarts under a Manager (D2)', () => {
  it("the Downloader reports the Manager's pending restart: isRestarting and restartTime", async () => {
    const server = await serve({ content, fail503First: 1000 });
    const dir = await tempDir();
    const m = new Manager({ restartWait: 30, downloadOptions: { retries: 0 } });
    const d = m.add(new Downloader(server.fileUrl, { path: join(dir, 'a.bin'), retries: 0 }));
    const seenAtError: boolean[] = [];
    d.on('state-changed', (dl) => {
      if (dl.state === 'error') seenAtError.push(dl.isRestarting);
    });
    const failedAt = Date.now();
    m.start();
    await reachState(d, 'error');
    assert.ok(d.lastError instanceof HttpStatusError, String(d.lastError));
    assert.equal(d.restartWait, -1, "the download's own wait is never");
    assert.equal(d.isRestarting, true);
    const at = d.restartTime?.getTime() ?? 0;
    assert.ok(
      at >= failedAt + 29_000 && at <= Date.now() + 30_000,
      `restart ${at - failedAt} ms after the start`,
    );
    assert.deepEqual(seenAtError, [true], "listeners of 'error' see the restart");
    let idle = false;
    void m.onIdle().then(() => {
      idle = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(idle, false, 'a pending restart keeps the Manager busy');
    // The Manager's wait changes: the pending restart follows; "never" cancels it.
    m.restartWait = 60;
    assert.ok((d.restartTime?.getTime() ?? 0) >= Date.now() + 59_000);
    m.restartWait = -1;
    assert.equal(d.isRestarting, false);
    assert.equal(d.restartTime, null);
    await m.onIdle();
    await m.stop();
  });

  it("the shorter wait applies, and the restart goes through the Manager's queue", async () => {
    const server = await serve({ content, fail503First: 1 });
    const dir = await tempDir();
    const m = new Manager({ restartWait: 30, maxRunning: 1 });
    const d = m.add(
      new Downloader(server.fileUrl, { path: join(dir, 'b.bin'), retries: 0, restartWait: 0.2 }),
    );
    const atError: (number | undefined)[] = [];
    d.on('state-changed', (dl) => {
      if (dl.state === 'error') atError.push(dl.restartTime?.getTime());
    });
    m.start();
    await reachState(d, 'complete');
    assert.equal(atError.length, 1);
    const wait = (atError[0] ?? Number.POSITIVE_INFINITY) - Date.now();
    assert.ok(wait <= 200, `the download's 0.2 s applied, not the Manager's 30 s (${wait} ms)`);
    assert.equal(d.isRestarting, false);
    assert.equal(d.restartTime, null);
    await m.onIdle();
    await m.stop();
  });

  it('no restart when neither the download nor the Manager wants one', async () => {
    const server = await serve({ content, fail503First: 1 });
    const dir = await tempDir();
    const m = new Manager({ restartWait: -1 });
    const d = m.add(new Downloader(server.fileUrl, { path: join(dir, 'c.bin'), retries: 0 }));
    m.start();
    await reachState(d, 'error');
    assert.equal(d.isRestarting, false);
    await m.onIdle();
    await m.stop();
  });

  it("a download removed from its Manager drops a restart pending by the Manager's wait", async () => {
    const server = await serve({ content, fail503First: 1000 });
    const dir = await tempDir();
    const m = new Manager({ restartWait: 30 });
    const d = m.add(new Downloader(server.fileUrl, { path: join(dir, 'd.bin'), retries: 0 }));
    m.start();
    await reachState(d, 'error');
    assert.equal(d.isRestarting, true);
    m.remove(d);
    assert.equal(d.isRestarting, false);
    await m.stop();
  });
});
