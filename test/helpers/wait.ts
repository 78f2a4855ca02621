// The one poller of the tests: wait until a check holds, with a bound that names what was awaited.

import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` every 10 ms until it returns true; rejects after `timeoutMs` naming `what`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string) = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleep(10);
  }
}
