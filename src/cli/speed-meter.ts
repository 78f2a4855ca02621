// A sliding-window speed and ETA for display: bytes over the last few seconds.

export class SpeedMeter {
  readonly #windowMs: number;
  readonly #samples: { at: number; bytes: number }[] = [];

  constructor(windowMs = 3000) {
    this.#windowMs = windowMs;
  }

  /** Record the byte counter at time `at` (ms). */
  add(bytes: number, at: number): void {
    const last = this.#samples[this.#samples.length - 1];
    if (last && bytes < last.bytes) this.#samples.length = 0; // restarted from 0
    this.#samples.push({ at, bytes });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.#windowMs)
      this.#samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples exist. */
  get speed(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.at - first.at < 50) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /** Seconds left at the current speed, or null when unknown. */
  eta(bytes: number, total: number | undefined): number | null {
    const speed = this.speed;
    if (total === undefined || total <= 0 || speed <= 0) return null;
    return Math.max(0, (total - bytes) / speed);
  }
}
