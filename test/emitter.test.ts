// Emitter: bitpit's listen/unlisten/emit rules (unknown signals, duplicates, extra arguments,
// failing callbacks) and the typed on/off sugar.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { Emitter, NotListeningError, UnknownSignalError } from '../src/api/emitter.js';

interface PingSignals {
  ping: [source: Pinger, n: number];
  pong: [source: Pinger];
}

class Pinger extends Emitter<PingSignals> {
  static override readonly signals = ['ping', 'pong'] as const;
}

describe('Emitter', () => {
  it('declares its signals in a static list, readable from instances', () => {
    const p = new Pinger();
    assert.deepEqual(p.signals, ['ping', 'pong']);
    const plain = new Emitter<{ tick: [] }>(['tick']);
    assert.deepEqual(plain.signals, ['tick']);
  });

  it('calls callbacks in registration order with the emitted arguments, then the extra ones', () => {
    const p = new Pinger();
    const calls: unknown[][] = [];
    p.listen('ping', (...args) => calls.push(['a', ...args]));
    p.listen(
      'ping',
      (source, n, tag: string, k: number) => calls.push(['b', source, n, tag, k]),
      'x',
      7,
    );
    p.emit('ping', p, 1);
    assert.deepEqual(calls, [
      ['a', p, 1],
      ['b', p, 1, 'x', 7],
    ]);
  });

  it('throws a clear error for an unknown signal in listen, unlisten and emit', () => {
    const p = new Pinger();
    const bad = 'pang' as 'ping';
    for (const call of [
      () => p.listen(bad, () => {}),
      () => p.unlisten(bad, () => {}),
      () => p.emit(bad, p, 1),
      () => p.on(bad, () => {}),
    ]) {
      assert.throws(call, (err: unknown) => {
        assert.ok(err instanceof UnknownSignalError);
        assert.ok(err instanceof TypeError);
        assert.match(err.message, /Pinger has no signal "pang".*"ping", "pong"/);
        return true;
      });
    }
  });

  it('rejects a callback that is not a function', () => {
    const p = new Pinger();
    assert.throws(() => p.listen('pong', 42 as never), TypeError);
  });

  it('calls a callback registered twice twice; unlisten removes one registration', () => {
    const p = new Pinger();
    const fn = mock.fn();
    p.listen('pong', fn);
    p.listen('pong', fn);
    p.emit('pong', p);
    assert.equal(fn.mock.callCount(), 2);
    p.unlisten('pong', fn);
    p.emit('pong', p);
    assert.equal(fn.mock.callCount(), 3);
    p.unlisten('pong', fn);
    p.emit('pong', p);
    assert.equal(fn.mock.callCount(), 3);
  });

  it('throws when unlistening a callback that is not registered (with those extra arguments)', () => {
    const p = new Pinger();
    const fn = mock.fn();
    assert.throws(() => p.unlisten('pong', fn), NotListeningError);
    p.listen('pong', fn, 1, 'a');
    assert.throws(() => p.unlisten('pong', fn, 1, 'b'), NotListeningError);
    assert.throws(() => p.unlisten('pong', fn), NotListeningError);
    p.unlisten('pong', fn, 1, 'a');
    assert.equal(p.listenerCount('pong'), 0);
  });

  it('reports a throwing callback and still runs the others', () => {
    const p = new Pinger();
    const errors: [unknown, string][] = [];
    p.onCallbackError = (error, signal) => errors.push([error, signal]);
    const after = mock.fn();
    const boom = new Error('boom');
    p.listen('pong', () => {
      throw boom;
    });
    p.listen('pong', after);
    p.emit('pong', p);
    assert.equal(after.mock.callCount(), 1);
    assert.deepEqual(errors, [[boom, 'pong']]);
  });

  it('reports to stderr by default, and reports rejected promises of async callbacks', async () => {
    const p = new Pinger();
    const logged = mock.method(console, 'error', () => {});
    try {
      p.listen('pong', () => {
        throw new Error('sync failure');
      });
      p.listen('pong', async () => {
        throw new Error('async failure');
      });
      p.emit('pong', p);
      await new Promise((r) => setImmediate(r));
      const text = logged.mock.calls.map((c) => c.arguments.map(String).join(' ')).join('\n');
      assert.match(text, /"pong" callback failed.*sync failure/);
      assert.match(text, /"pong" callback failed.*async failure/);
    } finally {
      logged.mock.restore();
    }
  });

  it('callbacks added or removed during an emit apply from the next emit', () => {
    const p = new Pinger();
    const late = mock.fn();
    let once = true;
    const first = (): void => {
      if (!once) return;
      once = false;
      p.listen('pong', late);
      p.unlisten('pong', second);
    };
    const second = mock.fn();
    p.listen('pong', first);
    p.listen('pong', second);
    p.emit('pong', p);
    assert.equal(second.mock.callCount(), 1);
    assert.equal(late.mock.callCount(), 0);
    p.emit('pong', p);
    assert.equal(second.mock.callCount(), 1);
    assert.equal(late.mock.callCount(), 1);
  });

  it('on/off are listen/unlisten without extra arguments; off of an unknown callback is a no-op', () => {
    const p = new Pinger();
    const seen: number[] = [];
    const fn = (_p: Pinger, n: number): void => {
      seen.push(n);
    };
    assert.equal(p.on('ping', fn), p);
    p.emit('ping', p, 5);
    assert.equal(p.off('ping', fn), p);
    p.off('ping', fn);
    p.emit('ping', p, 6);
    assert.deepEqual(seen, [5]);
  });
});
