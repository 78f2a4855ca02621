// Writing a response body the way the test server's config asks: paced to a per-connection rate,
// respecting backpressure, and optionally cut (socket destroyed) or stalled after N bytes.

import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** Per-TCP-connection pacing state (shared by the keep-alive requests of one socket). */
export interface Pacer {
  /** Current cap in bytes/s, 0 = unthrottled. Read before every slice (config is mutable). */
  rate(): number;
  /** performance.now() at which the next slice may be written. */
  next: number;
}

export interface BodyPlan {
  read(start: number, end: number): Buffer;
  start: number;
  /** Exclusive. */
  end: number;
  /** Body bytes after which the response is cut or stalls; ignored when `fault` is null. */
  faultAt: number;
  fault: 'cut' | 'stall' | null;
  /** Called with the byte count of every slice handed to the socket. */
  onBytes(n: number): void;
}

const UNTHROTTLED_SLICE = 256 * 1024;
const MAX_SLICE = 16 * 1024;

/** Slice size for a rate: ~16 KiB, but at least ~20 writes/s for slow rates. */
function sliceFor(rate: number): number {
  return Math.max(1, Math.min(MAX_SLICE, Math.floor(rate / 20)));
}

function waitDrainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function waitClose(res: ServerResponse): Promise<void> {
  if (res.destroyed || res.socket === null || res.socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.once('close', () => resolve()));
}

/** Wait until the pacer allows `n` more bytes, and book them. */
async function pace(pacer: Pacer, rate: number, n: number): Promise<void> {
  const now = performance.now();
  if (pacer.next < now) pacer.next = now; // no saved-up credit: at most one slice of burst
  const wait = pacer.next - now;
  pacer.next += (n * 1000) / rate;
  if (wait >= 1) await sleep(wait);
}

/** Write the body described by `plan` (headers must already be set) and end, cut or stall. */
export async function writeBody(res: ServerResponse, pacer: Pacer, plan: BodyPlan): Promise<void> {
  const stop = plan.fault === null ? plan.end : Math.min(plan.end, plan.start + plan.faultAt);
  let pos = plan.start;
  let flushed: Promise<void> = Promise.resolve();
  while (pos < stop) {
    const rate = pacer.rate();
    const n = Math.min(stop - pos, rate > 0 ? sliceFor(rate) : UNTHROTTLED_SLICE);
    if (rate > 0) await pace(pacer, rate, n);
    if (res.destroyed) return;
    const chunk = plan.read(pos, pos + n);
    let written = (): void => {};
    if (pos + n === stop) {
      flushed = new Promise<void>((resolve) => {
        written = resolve;
      });
    }
    const ok = res.write(chunk, () => written());
    pos += n;
    plan.onBytes(n);
    if (!ok) await waitDrainOrClose(res);
  }
  if (plan.fault === 'cut') {
    await flushed; // the client must really receive the bytes before the cut
    res.socket?.destroy();
  } else if (plan.fault === 'stall') {
    await waitClose(res); // nothing more is sent; only the client or server.close() ends this
  } else if (!res.destroyed) {
    res.end();
  }
}
