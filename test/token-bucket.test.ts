// Tests for src/rate/token-bucket.ts on a simulated clock (rate, fairness, abort), plus one
// loose real-time check.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { type Clock, systemClock, TokenBucket } from '../src/rate/token-bucket.js';
import { KiB, MiB } from './helpers/content.js';

interface FakeTimer {
  due: number;
  seq: number;
  fn: () => void;
}

/** Simulated time; lets promise continuations run after each timer, as the event loop would. */
class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly timers = new Set<FakeTimer>();
  maxPending = 0;
  /** Every timer fires this much later than asked, as on a busy event loop. */
  lateMs = 0;

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { due: this.#now + Math.max(0, ms) + this.lateMs, seq: this.#seq++, fn };
    this.timers.add(timer);
    this.maxPending = Math.max(this.maxPending, this.timers.size);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as FakeTimer);
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (;;) {
      let next: FakeTimer | undefined;
      for (const timer of this.timers) {
        if (
          timer.due <= target &&
          (!next || timer.due < next.due || (timer.due === next.due && timer.seq < next.seq))
        ) {
          next = timer;
        }
      }
      if (!next) break;
      this.timers.delete(next);
      this.#now = next.due;
      next.fn();
      await flush();
    }
    this.#now = target;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A connection: takes `chunk` bytes again and again until `until()` says stop. */
async function consume(
  bucket: TokenBucket,
  owner: object,
  chunk: number,
  counter: { bytes: number },
  until: () => boolean,
): Promise<void> {
  while (!until()) {
    const wait = bucket.take(chunk, owner);
    if (wait) await wait;
    counter.bytes += chunk;
  }
}

describe('TokenBucket', () => {
  it('returns undefined, not a promise, when no waiting is needed', () => {
    const clock = new FakeClock();
    assert.equal(new TokenBucket(0, { clock }).take(10 * MiB), undefined);
    const bucket = new TokenBucket(1000, { clock, burst: 2000 });
    assert.equal(bucket.take(1500), undefined);
    assert.equal(bucket.take(1500), undefined); // balance was still positive: debt is allowed
    const wait = bucket.take(1);
    assert.ok(wait instanceof Promise);
    assert.equal(bucket.take(0), undefined);
  });

  it('defaults the burst to 0.1 s of rate but at least 16 KiB', () => {
    const clock = new FakeClock();
    const small = new TokenBucket(1000, { clock });
    assert.equal(small.take(16 * KiB), undefined);
    assert.equal(small.take(1), undefined); // balance exactly 0: granted, into debt
    assert.ok(small.take(1) instanceof Promise);
    const big = new TokenBucket(10 * MiB, { clock });
    assert.equal(big.take(MiB), undefined);
    assert.equal(big.take(1), undefined); // 1 MiB burst minus 1 MiB is 0, still not in debt
    assert.ok(big.take(1) instanceof Promise);
  });

  it('holds the exact rate over 10 simulated seconds, even with chunks above the burst', async () => {
    const clock = new FakeClock();
    const rate = 50 * KiB;
    const chunk = 64 * KiB;
    const bucket = new TokenBucket(rate, { clock, burst: 16 * KiB });
    const counter = { bytes: 0 };
    let stop = false;
    const runs = [1, 2, 3].map(() => consume(bucket, {}, chunk, counter, () => stop));
    await clock.advance(1000);
    const before = counter.bytes;
    await clock.advance(10_000);
    const during = counter.bytes - before;
    assert.ok(Math.abs(during - rate * 10) <= chunk, `${during} vs ${rate * 10}`);
    assert.equal(clock.maxPending, 1);
    stop = true;
    bucket.setRate(0);
    await Promise.all(runs);
  });

  it('holds the rate when every timer fires 150 ms late (a busy event loop)', async () => {
    const clock = new FakeClock();
    clock.lateMs = 150;
    const rate = 1 * MiB;
    const chunk = 64 * KiB;
    // The default burst: 0.1 s of rate, less than the lateness. The time a late timer slept
    // with connections waiting is not idleness: its tokens count.
    const bucket = new TokenBucket(rate, { clock });
    const counter = { bytes: 0 };
    let stop = false;
    const runs = [1, 2, 3, 4].map(() => consume(bucket, {}, chunk, counter, () => stop));
    await clock.advance(1000);
    const before = counter.bytes;
    await clock.advance(10_000);
    const during = counter.bytes - before;
    assert.ok(Math.abs(during - rate * 10) <= 0.05 * rate * 10, `${during} vs ${rate * 10}`);
    stop = true;
    bucket.setRate(0);
    await Promise.all(runs);
  });

  it('keeps the tokens of a held connection between its requests, not of an idle bucket', async () => {
    const clock = new FakeClock();
    const rate = 1 * MiB;
    const bucket = new TokenBucket(rate, { clock });
    bucket.take(0.1 * rate); // the burst spent
    bucket.hold();
    // 400 ms between two requests of a held connection (a slow round trip): that is demand.
    await clock.advance(400);
    assert.equal(bucket.take(0.4 * rate), undefined);
    assert.ok(bucket.take(1) === undefined); // balance exactly 0: granted, into debt
    assert.ok(bucket.take(1) instanceof Promise);
    bucket.release();
    bucket.setRate(0);
    // Released: an idle spell earns the burst only.
    const idle = new TokenBucket(rate, { clock });
    idle.take(0.1 * rate);
    await clock.advance(400);
    assert.equal(idle.take(0.1 * rate), undefined);
    assert.ok(idle.take(1) === undefined);
    assert.ok(idle.take(1) instanceof Promise);
    idle.setRate(0);
  });

  it('does not burst after an idle spell, however late the timer', async () => {
    const clock = new FakeClock();
    const rate = 1 * MiB;
    const bucket = new TokenBucket(rate, { clock });
    await clock.advance(5000);
    // Idle for 5 s: only the burst (0.1 s of rate) passes at once.
    assert.equal(bucket.take(0.1 * rate), undefined);
    assert.ok(bucket.take(1) === undefined);
    assert.ok(bucket.take(1) instanceof Promise);
    bucket.setRate(0);
  });

  it('applies a new rate at once and wakes waiters', async () => {
    const clock = new FakeClock();
    const chunk = 4 * KiB;
    const bucket = new TokenBucket(100 * KiB, { clock });
    const counter = { bytes: 0 };
    let stop = false;
    const run = consume(bucket, {}, chunk, counter, () => stop);
    await clock.advance(2000);
    let before = counter.bytes;
    await clock.advance(5000);
    assert.ok(Math.abs(counter.bytes - before - 500 * KiB) <= chunk);

    bucket.setRate(300 * KiB);
    assert.equal(bucket.rate, 300 * KiB);
    before = counter.bytes;
    await clock.advance(5000);
    // The burst grows with the rate, so the first window may carry one extra burst.
    const after = counter.bytes - before;
    assert.ok(after >= 1500 * KiB - chunk && after <= 1530 * KiB + chunk, String(after));

    // A request owing a long debt is released as soon as the limit is lifted.
    bucket.setRate(1);
    const long = bucket.take(MiB);
    assert.ok(long instanceof Promise);
    stop = true;
    bucket.setRate(0);
    await long;
    await run;
    assert.equal(clock.timers.size, 0);
  });

  it('shares equally between owners however many connections each has', async () => {
    const clock = new FakeClock();
    const rate = MiB;
    const bucket = new TokenBucket(rate, { clock });
    const many = { bytes: 0 };
    const one = { bytes: 0 };
    const ownerMany = {};
    const ownerOne = {};
    let stop = false;
    const runs = [
      ...Array.from({ length: 8 }, () => consume(bucket, ownerMany, 16 * KiB, many, () => stop)),
      consume(bucket, ownerOne, 16 * KiB, one, () => stop),
    ];
    await clock.advance(10_000);
    const total = many.bytes + one.bytes;
    assert.ok(Math.abs(total - rate * 10) <= 2 * rate * 0.1, `total ${total}`);
    assert.ok(Math.abs(many.bytes - one.bytes) <= total * 0.05, `${many.bytes} vs ${one.bytes}`);
    assert.equal(clock.maxPending, 1);
    stop = true;
    bucket.setRate(0);
    await Promise.all(runs);
  });

  it('gives an owner no credit for the time it did not ask', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(MiB, { clock });
    const early = { bytes: 0 };
    const late = { bytes: 0 };
    const lateOwner = {};
    let stop = false;
    // The late owner is served once at the start, then stays away for 5 s.
    assert.equal(bucket.take(16 * KiB, lateOwner), undefined);
    const runs = [consume(bucket, {}, 16 * KiB, early, () => stop)];
    await clock.advance(5000);
    const earlyBefore = early.bytes;
    runs.push(consume(bucket, lateOwner, 16 * KiB, late, () => stop));
    await clock.advance(2000);
    const earlyDuring = early.bytes - earlyBefore;
    assert.ok(
      Math.abs(earlyDuring - late.bytes) <= 2 * 16 * KiB,
      `${earlyDuring} vs ${late.bytes}`,
    );
    stop = true;
    bucket.setRate(0);
    await Promise.all(runs);
  });

  it('shares by bytes, not by request count', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(MiB, { clock });
    const big = { bytes: 0 };
    const small = { bytes: 0 };
    let stop = false;
    const runs = [
      consume(bucket, {}, 64 * KiB, big, () => stop),
      consume(bucket, {}, 4 * KiB, small, () => stop),
    ];
    await clock.advance(10_000);
    const total = big.bytes + small.bytes;
    assert.ok(Math.abs(big.bytes - small.bytes) <= total * 0.05, `${big.bytes} vs ${small.bytes}`);
    stop = true;
    bucket.setRate(0);
    await Promise.all(runs);
  });

  it('gives what one owner does not ask for to the others', async () => {
    const clock = new FakeClock();
    const rate = MiB;
    const bucket = new TokenBucket(rate, { clock });
    const greedy = { bytes: 0 };
    const modest = { bytes: 0 };
    const modestOwner = {};
    let stop = false;
    const runs = Array.from({ length: 4 }, () => consume(bucket, {}, 16 * KiB, greedy, () => stop));
    // 16 KiB every 64 ms is a quarter of the rate.
    const paced = (async () => {
      while (!stop) {
        const wait = bucket.take(16 * KiB, modestOwner);
        if (wait) await wait;
        modest.bytes += 16 * KiB;
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 64));
      }
    })();
    await clock.advance(10_000);
    // Ten seconds at the rate in all; the modest owner gets about what it asks for (it waits
    // 64 ms after each take, so a little under a quarter), the greedy ones the rest.
    const total = (modest.bytes + greedy.bytes) / rate;
    assert.ok(total > 9.5 && total < 10.5, `${total} s worth in 10 s`);
    assert.ok(modest.bytes / rate >= 1.8, `the modest owner got ${modest.bytes / rate} s worth`);
    assert.ok(greedy.bytes / rate >= 7.5, `the greedy owners got ${greedy.bytes / rate} s worth`);
    stop = true;
    bucket.setRate(0);
    await clock.advance(100);
    await Promise.all([...runs, paced]);
  });

  it('rejects an aborted waiter with the reason and leaves no listener or timer behind', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1000, { clock, burst: 1000 });
    assert.equal(bucket.take(5000), undefined);

    const controller = new AbortController();
    const waiting = bucket.take(100, undefined, controller.signal);
    assert.ok(waiting instanceof Promise);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    assert.equal(clock.timers.size, 1);
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(clock.timers.size, 0);

    const already = AbortSignal.abort(new Error('before'));
    await assert.rejects(bucket.take(1, undefined, already)!, /before/);

    // A granted waiter also drops its listener, and the debt of the aborted one was not charged.
    const later = new AbortController();
    const granted = bucket.take(100, undefined, later.signal);
    assert.ok(granted instanceof Promise);
    await clock.advance(3999);
    assert.equal(getEventListeners(later.signal, 'abort').length, 1);
    await clock.advance(1);
    await granted;
    assert.equal(getEventListeners(later.signal, 'abort').length, 0);
  });

  it('rejects invalid rates', () => {
    assert.throws(() => new TokenBucket(-1), /rate limit/);
    assert.throws(() => new TokenBucket(Number.NaN), /rate limit/);
    assert.throws(() => new TokenBucket(1, { burst: 0 }), /burst/);
    assert.throws(() => new TokenBucket(1).setRate(Number.POSITIVE_INFINITY), /rate limit/);
  });

  it('holds about 1 MiB/s in real time', async () => {
    const rate = MiB;
    const bucket = new TokenBucket(rate, { clock: systemClock });
    const counter = { bytes: 0 };
    const start = performance.now();
    const end = start + 1500;
    // The time this process did not run (a busy machine): every gap of a 10 ms timer beyond
    // 30 ms. What a late wake owes near the end is granted only to what is still asked for.
    let stalledMs = 0;
    let last = start;
    const probe = setInterval(() => {
      const now = performance.now();
      if (now - last > 30) stalledMs += now - last - 10;
      last = now;
    }, 10);
    await Promise.all(
      Array.from({ length: 4 }, () =>
        consume(bucket, {}, 16 * KiB, counter, () => performance.now() >= end),
      ),
    );
    clearInterval(probe);
    const elapsed = performance.now() - start;
    const seconds = elapsed / 1000;
    const measured = (counter.bytes - rate * 0.1) / seconds; // minus the initial burst
    const stalled = stalledMs / elapsed;
    assert.ok(measured <= rate * 1.15, `${measured} B/s`);
    assert.ok(measured >= rate * (0.85 - stalled), `${measured} B/s, stalled ${stalled}`);
  });
});
