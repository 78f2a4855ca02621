// Small waiting helpers for the event-driven Downloader/Manager tests.

import type { Downloader, DownloaderState } from '../../src/api/downloader.js';
import { waitFor } from './wait.js';

/** Resolves when `d` enters `state` (now or later). */
export function reachState(d: Downloader, state: DownloaderState, timeoutMs = 10_000) {
  return waitFor(
    () => d.state === state,
    () => `state ${state} (now ${d.state})`,
    timeoutMs,
  );
}

/** Records every state a downloader enters. */
export function recordStates(d: Downloader): DownloaderState[] {
  const states: DownloaderState[] = [];
  d.on('state-changed', (dl) => {
    states.push(dl.state);
  });
  return states;
}
