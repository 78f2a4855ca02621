// bitpit's Emitter: a declared list of signals, callbacks registered with extra arguments,
// emitted in registration order; a callback that throws is reported and the others still run.

/** Signal name → the arguments `emit` passes for it. */
export type SignalMap<S> = { [K in keyof S]: unknown[] };

/** A callback for signal arguments `A` followed by the extra arguments `E` given to listen(). */
export type SignalCallback<A extends unknown[], E extends unknown[] = []> = (
  ...args: [...A, ...E]
) => unknown;

/** Reports a callback that threw (or whose promise rejected). */
export type CallbackErrorHandler = (error: unknown, signal: string) => void;

interface Registration {
  fn: (...args: unknown[]) => unknown;
  extra: readonly unknown[];
}

/** Thrown by listen, unlisten and emit for a signal the class does not declare (bitpit: KeyError). */
export class UnknownSignalError extends TypeError {
  readonly code = 'ERR_UNKNOWN_SIGNAL';
  readonly signal: string;

  constructor(signal: string, owner: string, known: readonly string[]) {
    super(
      `${owner} has no signal "${signal}"; expected one of: ${known.map((s) => `"${s}"`).join(', ')}`,
    );
    this.name = 'UnknownSignalError';
    this.signal = signal;
  }
}

/** Thrown by unlisten for a callback that is not registered (bitpit: ValueError). */
export class NotListeningError extends Error {
  readonly code = 'ERR_NOT_LISTENING';
  readonly signal: string;

  constructor(signal: string) {
    super(`this callback (with these extra arguments) is not listening to "${signal}"`);
    this.name = 'NotListeningError';
    this.signal = signal;
  }
}

/**
 * Base class for event-driven objects. A subclass declares its signals in a static `signals`
 * list (bitpit's `__signals__`) and their argument types in the type parameter:
 *
 * ```ts
 * class Pinger extends Emitter<{ ping: [pinger: Pinger, n: number] }> {
 *   static override readonly signals = ['ping'] as const;
 * }
 * ```
 */
export class Emitter<S extends SignalMap<S>> {
  /** The signals instances of this class may emit; subclasses override it. */
  static readonly signals: readonly string[] = [];

  /**
   * Called when a callback throws or its promise rejects. Default: the error is printed to
   * stderr (as bitpit does) and the remaining callbacks still run.
   */
  onCallbackError: CallbackErrorHandler | undefined;

  readonly #signals: ReadonlySet<string>;
  readonly #listeners = new Map<string, Registration[]>();

  /** `signals` replaces the class's static list (for a plain `new Emitter(...)`). */
  constructor(signals?: readonly (keyof S & string)[]) {
    const declared = (new.target as unknown as { signals?: readonly string[] }).signals;
    this.#signals = new Set(signals ?? declared ?? []);
  }

  /** The signals this object emits. */
  get signals(): readonly (keyof S & string)[] {
    return [...this.#signals] as (keyof S & string)[];
  }

  /**
   * Call `fn` whenever `signal` is emitted, with the emitted arguments followed by `extra`.
   * Registering the same callback twice makes it run twice.
   */
  listen<K extends keyof S & string, E extends unknown[]>(
    signal: K,
    fn: SignalCallback<S[K], E>,
    ...extra: E
  ): this {
    this.#check(signal);
    if (typeof fn !== 'function') {
      throw new TypeError(
        `Expected the callback for "${signal}" to be a function, got ${typeof fn}`,
      );
    }
    const list = this.#listeners.get(signal) ?? [];
    list.push({ fn: fn as Registration['fn'], extra });
    this.#listeners.set(signal, list);
    return this;
  }

  /**
   * Remove one registration of `fn` made with the same extra arguments. Throws
   * NotListeningError when there is none: a callback registered twice must be removed twice.
   */
  unlisten<K extends keyof S & string, E extends unknown[]>(
    signal: K,
    fn: SignalCallback<S[K], E>,
    ...extra: E
  ): this {
    this.#check(signal);
    if (!this.#remove(signal, fn as Registration['fn'], extra)) throw new NotListeningError(signal);
    return this;
  }

  /** `listen` without extra arguments. */
  on<K extends keyof S & string>(signal: K, fn: SignalCallback<S[K]>): this {
    return this.listen(signal, fn);
  }

  /** Remove one registration of `fn` (made without extra arguments); no-op when there is none. */
  off<K extends keyof S & string>(signal: K, fn: SignalCallback<S[K]>): this {
    this.#check(signal);
    this.#remove(signal, fn as Registration['fn'], []);
    return this;
  }

  /** How many callbacks are registered for `signal`. */
  listenerCount(signal: keyof S & string): number {
    this.#check(signal);
    return this.#listeners.get(signal)?.length ?? 0;
  }

  /**
   * Call the callbacks of `signal` in registration order with `args`, then each one's extra
   * arguments. Callbacks added or removed while emitting take effect from the next emit.
   */
  emit<K extends keyof S & string>(signal: K, ...args: S[K]): void {
    this.#check(signal);
    const list = this.#listeners.get(signal);
    if (!list || list.length === 0) return;
    for (const { fn, extra } of [...list]) {
      try {
        const result = fn(...args, ...extra);
        if (isThenable(result)) result.then(undefined, (err) => this.#report(err, signal));
      } catch (err) {
        this.#report(err, signal);
      }
    }
  }

  #check(signal: string): void {
    if (!this.#signals.has(signal)) {
      throw new UnknownSignalError(String(signal), this.constructor.name, [...this.#signals]);
    }
  }

  #remove(signal: string, fn: Registration['fn'], extra: readonly unknown[]): boolean {
    const list = this.#listeners.get(signal);
    const index =
      list?.findIndex(
        (r) =>
          r.fn === fn &&
          r.extra.length === extra.length &&
          r.extra.every((v, i) => Object.is(v, extra[i])),
      ) ?? -1;
    if (index < 0) return false;
    list!.splice(index, 1);
    return true;
  }

  #report(error: unknown, signal: string): void {
    const handler = this.onCallbackError;
    if (handler) {
      try {
        handler(error, signal);
        return;
      } catch (handlerError) {
        error = handlerError;
      }
    }
    console.error(`${this.constructor.name}: a "${signal}" callback failed:`, error);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
