// The download's clock: every 100 ms while transferring it updates the connections' speed
// meters, runs the stall and timeout watchdog, counts the connections transferring, lets the
// segmented round (if any) replace crawlers and open connections, reports progress and triggers
// the checkpoints. One per run: the connection count last reported and the most connections
// seen outlive restarts.

import { TimeoutError } from '../errors.js';
import type { ResourceInfo } from './resource.js';
import type { ResumeStore } from './resume-store.js';
import type { Run, Transfer } from './transfer.js';

export const TICK_MS = 100;
/** A transferring connection silent this long counts as stalled for stealing. */
const STALL_MS = 1000;

/**
 * Whether a tick `gapMs` after the previous one (scheduled `intervalMs` apart) shows that the
 * process was suspended meanwhile (SIGSTOP, a laptop's lid closed): it came more than three
 * intervals and more than a second late. A loaded machine delays ticks by far less.
 */
export function wasSuspended(gapMs: number, intervalMs: number): boolean {
  return gapMs > 3 * intervalMs && gapMs - intervalMs > 1000;
}

/** What the segmented round does on each tick. */
export interface RoundTick {
  /** Ends lean connections that crawl far behind their peers. */
  replaceCrawlers(now: number): void;
  /** `transferring` connections are transferring: feed the governor, open connections. */
  onTransfer(transferring: number): void;
}

/** What the tick looks at; the attempt swaps `transfer` (and drops `round`) on a fallback. */
export interface Ticking {
  transfer: Transfer;
  round: RoundTick | undefined;
}

export class Ticker {
  readonly #run: Run;
  readonly #store: ResumeStore;
  #lastConnections = -1;
  #maxTransferring = 0;
  /** When the last tick ran (performance.now()). */
  #lastTickAt: number | undefined;

  constructor(run: Run, store: ResumeStore) {
    this.#run = run;
    this.#store = store;
  }

  /** Most connections transferring at once in this run. */
  get maxTransferring(): number {
    return this.#maxTransferring;
  }

  /** Tick every TICK_MS for an attempt on `info`; returns the function that stops it. */
  start(info: ResourceInfo, ticking: Ticking): () => void {
    this.#lastTickAt = performance.now();
    this.#store.beginAttempt();
    const timer = setInterval(() => this.#tick(info, ticking), TICK_MS);
    return () => clearInterval(timer);
  }

  #tick(info: ResourceInfo, { transfer, round }: Ticking): void {
    const now = performance.now();
    const gap = now - (this.#lastTickAt ?? now);
    this.#lastTickAt = now;
    if (wasSuspended(gap, TICK_MS)) {
      // The process slept: timers run before any socket is read, so every connection looks
      // silent though its bytes wait in the socket buffers. Each gets a fresh window (silence
      // clocks and speed meters restart) instead of being dropped as stalled.
      this.#run.debug(`the process was suspended for ${Math.round(gap / 1000)} s`);
      for (const fetch of transfer.fetches) {
        fetch.lastDataAt = now;
        fetch.meterAt = now;
        fetch.meterBytes = fetch.received;
      }
      return;
    }
    const timeoutMs = this.#run.o.timeoutMs;
    let transferring = 0;
    for (const fetch of transfer.fetches) {
      if (fetch.transferring) transferring++;
      const elapsed = now - fetch.meterAt;
      const seg = fetch.segment;
      // Speeds are measured once bytes flow (a slow answer is not a crawl); the first value of
      // each answer is its average after 200 ms (not the connection's earlier speed: servers
      // slow single answers), so stealing knows a crawler before it is too late.
      const measured = fetch.meterAt > fetch.startedAt;
      if (fetch.started && !measured && now - fetch.startedAt >= 200) {
        seg.speed = fetch.averageSpeed(now);
        fetch.meterAt = now;
        fetch.meterBytes = fetch.received;
      } else if (elapsed >= 500 && fetch.started && measured && seg.speed !== undefined) {
        const rate = ((fetch.received - fetch.meterBytes) * 1000) / elapsed;
        seg.speed = 0.5 * seg.speed + 0.5 * rate;
        fetch.meterAt = now;
        fetch.meterBytes = fetch.received;
      }
      // The average only halves per window; a connection silent this long has stalled, and
      // stealing (chooseSteal) then takes all it has left.
      if (fetch.transferring && !fetch.waiting && now - fetch.lastDataAt > STALL_MS) {
        seg.speed = 0;
      }
      if (!fetch.waiting && now - fetch.lastDataAt > timeoutMs) {
        fetch.abort(new TimeoutError(`no data received for ${Math.round(timeoutMs / 1000)} s`));
      }
    }
    round?.replaceCrawlers(now);
    this.#maxTransferring = Math.max(this.#maxTransferring, transferring);
    if (transferring !== this.#lastConnections) {
      this.#lastConnections = transferring;
      this.#run.observer.connections?.(transferring);
    }
    round?.onTransfer(transferring);
    this.#run.observer.progress?.(transfer.received, info.size);
    if (info.acceptRanges) {
      this.#store.tick(now, info, transfer.flushedBytes(), () => transfer.confirmed());
    }
  }
}
