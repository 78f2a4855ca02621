// How many connections a download should have open: a quick ramp up to `maxConnections`, and
// the measurement of a server's per-client limit while downloading (the seed's connection test):
// a refusal while other connections transfer caps the count at what works; within `testMs` of
// the start one extra connection is tried at most once per `probeIntervalMs`.

export interface GovernorOptions {
  maxConnections: number;
  /** Longest time spent measuring the limit; 0 turns the measurement off. */
  testMs: number;
  /** Time between ramp waves. */
  rampIntervalMs?: number;
  /** Time between two tries above a measured limit. */
  probeIntervalMs?: number;
}

export class ConnectionGovernor {
  readonly max: number;
  readonly #testMs: number;
  readonly #rampMs: number;
  readonly #probeMs: number;
  #startedAt = -1;
  #lastWaveAt = -1;
  #wave = 0;
  #limit: number | undefined;
  #lastProbeAt = -1;
  refusals = 0;

  constructor(options: GovernorOptions) {
    this.max = Math.max(1, Math.floor(options.maxConnections));
    this.#testMs = Math.max(0, options.testMs);
    this.#rampMs = options.rampIntervalMs ?? 10;
    this.#probeMs = options.probeIntervalMs ?? 1000;
  }

  /** The measured per-client limit, once a refusal has shown one. */
  get limit(): number | undefined {
    return this.#limit;
  }

  get measuring(): boolean {
    return this.#testMs > 0;
  }

  /**
   * How many connections should be open at `now` (ms): waves of 4, 8, 16 … every rampIntervalMs
   * up to the maximum, or the measured limit (plus one trial while still measuring).
   */
  target(now: number): number {
    if (this.#startedAt < 0) {
      this.#startedAt = now;
      this.#lastWaveAt = now;
    }
    while (now - this.#lastWaveAt >= this.#rampMs && this.#wave < 16) {
      this.#wave++;
      this.#lastWaveAt += this.#rampMs;
    }
    const ramp = Math.min(this.max, 4 * 2 ** this.#wave);
    if (this.#limit === undefined) return ramp;
    let target = Math.min(ramp, this.#limit);
    const inTest = now - this.#startedAt < this.#testMs;
    if (inTest && this.#limit < this.max && now - this.#lastProbeAt >= this.#probeMs) {
      // One trial connection above the limit; a success raises the limit (see onTransfer).
      target = this.#limit + 1;
    }
    return target;
  }

  /**
   * A connection was refused (503/429, reset or refused before any byte) while `transferring`
   * others were moving data. Returns true when that connection should close for good.
   */
  onRefusal(now: number, transferring: number): boolean {
    this.refusals++;
    if (!this.measuring || transferring < 1) return false;
    this.#limit = Math.min(this.#limit ?? this.max, Math.max(1, transferring));
    this.#lastProbeAt = now;
    return true;
  }

  /** `open` connections are transferring: a trial above the limit worked. */
  onTransfer(open: number): void {
    if (this.#limit !== undefined && open > this.#limit) this.#limit = Math.min(this.max, open);
  }
}
