// Small waiting helpers for the event-driven Downloader/Manager tests.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Downloader, DownloaderState } from '../../src/downloader.js';

/** Polls `predicate` every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves when `d` enters `state` (now or later). */
export function reachState(d: Downloader, state: DownloaderState, timeoutMs = 10_000) {
  return waitFor(() => d.state === state, timeoutMs, `state ${state} (now ${d.state})`);
}

/** Records every state a downloader enters. */
export function recordStates(d: Downloader): DownloaderState[] {
  const states: DownloaderState[] = [];
  d.on('state-changed', (dl) => {
    states.push(dl.state);
  });
  return states;
}
