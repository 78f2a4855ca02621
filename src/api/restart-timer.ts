// The one restart schedule of a download: a one-shot timer and the time it fires, which a
// Downloader shows as `isRestarting` / `restartTime`. A Manager schedules its restarts through
// the same timer (see Downloader's restart rule), so what the Downloader reports is the truth.

export class RestartTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #at: Date | null = null;
  readonly #onChange: (at: Date | null) => void;

  /** `onChange` runs whenever `at` changes (scheduled, rescheduled, fired or cancelled). */
  constructor(onChange: (at: Date | null) => void) {
    this.#onChange = onChange;
  }

  /** When the pending restart fires; null when none is pending. */
  get at(): Date | null {
    return this.#at;
  }

  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Run `fire` in `seconds` (at least 0), replacing any pending restart. */
  schedule(seconds: number, fire: () => void): void {
    const ms = Math.max(0, seconds) * 1000;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#set(null);
      fire();
    }, ms);
    this.#set(new Date(Date.now() + ms));
  }

  /** Drop the pending restart, if any. */
  cancel(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#set(null);
  }

  #set(at: Date | null): void {
    if (at === null && this.#at === null) return;
    this.#at = at;
    this.#onChange(at);
  }
}

/**
 * The wait before restarting a download after a transient failure, in seconds; negative = no
 * restart. Under a Manager both waits count and the shorter one applies (a negative one means
 * "never" for its owner only): `restartWait: 5` on a download restarts it after 5 s even when
 * its Manager says 30 or never, and a Manager's 30 s applies to downloads whose own is -1.
 */
export function restartWaitOf(own: number, manager: number | undefined): number {
  const waits = [own, manager ?? -1].filter((w) => w >= 0);
  return waits.length > 0 ? Math.min(...waits) : -1;
}
