// Tests for src/engine/connection-governor.ts: the connection ramp and the measurement of a
// server's per-client connection limit, on an injected clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionGovernor } from '../src/engine/connection-governor.js';

const T0 = 10_000;

describe('ConnectionGovernor', () => {
  it('ramps up in waves of 4, 8, 16 … every ramp interval, capped at maxConnections', () => {
    const g = new ConnectionGovernor({ maxConnections: 32, testMs: 5000, rampIntervalMs: 20 });
    assert.equal(g.target(T0), 4);
    assert.equal(g.target(T0 + 19), 4);
    assert.equal(g.target(T0 + 20), 8);
    assert.equal(g.target(T0 + 40), 16);
    assert.equal(g.target(T0 + 60), 32);
    assert.equal(g.target(T0 + 10_000), 32);
    const small = new ConnectionGovernor({ maxConnections: 6, testMs: 5000 });
    assert.equal(small.target(T0), 4);
    assert.equal(small.target(T0 + 1000), 6);
    const one = new ConnectionGovernor({ maxConnections: 1, testMs: 5000 });
    assert.equal(one.target(T0), 1);
  });

  it('a refusal while others transfer caps the count at what works', () => {
    const g = new ConnectionGovernor({ maxConnections: 16, testMs: 5000, probeIntervalMs: 1000 });
    g.target(T0);
    assert.equal(g.limit, undefined);
    assert.equal(g.onRefusal(T0 + 100, 4), true);
    assert.equal(g.limit, 4);
    assert.equal(g.target(T0 + 100), 4);
    assert.equal(g.target(T0 + 600), 4);
    // A later refusal with fewer transferring lowers it further, never raises it.
    assert.equal(g.onRefusal(T0 + 700, 3), true);
    assert.equal(g.limit, 3);
    assert.equal(g.onRefusal(T0 + 800, 9), true);
    assert.equal(g.limit, 3);
  });

  it('a refusal with nobody else transferring says nothing about a limit', () => {
    const g = new ConnectionGovernor({ maxConnections: 16, testMs: 5000 });
    g.target(T0);
    assert.equal(g.onRefusal(T0 + 10, 0), false);
    assert.equal(g.limit, undefined);
    assert.equal(g.target(T0 + 100), 16);
  });

  it('does not cap anything when measuring is off (testMs 0)', () => {
    const g = new ConnectionGovernor({ maxConnections: 16, testMs: 0 });
    g.target(T0);
    assert.equal(g.measuring, false);
    assert.equal(g.onRefusal(T0 + 100, 4), false);
    assert.equal(g.limit, undefined);
    assert.equal(g.target(T0 + 100), 16);
  });

  it('tries one connection above the limit at most once per interval, only while testing', () => {
    const g = new ConnectionGovernor({ maxConnections: 16, testMs: 5000, probeIntervalMs: 1000 });
    g.target(T0);
    g.onRefusal(T0 + 100, 4);
    assert.equal(g.target(T0 + 1099), 4);
    assert.equal(g.target(T0 + 1100), 5, 'one trial after the interval');
    // The trial is refused: back to the limit for another interval.
    assert.equal(g.onRefusal(T0 + 1150, 4), true);
    assert.equal(g.limit, 4);
    assert.equal(g.target(T0 + 1200), 4);
    assert.equal(g.target(T0 + 2149), 4);
    assert.equal(g.target(T0 + 2150), 5);
    g.onRefusal(T0 + 2200, 4);
    // After testMs from the start, no more trials.
    assert.equal(g.target(T0 + 5000), 4);
    assert.equal(g.target(T0 + 60_000), 4);
  });

  it('a trial that transfers raises the limit, up to maxConnections', () => {
    const g = new ConnectionGovernor({ maxConnections: 6, testMs: 5000, probeIntervalMs: 1000 });
    g.target(T0);
    g.onRefusal(T0 + 100, 4);
    assert.equal(g.target(T0 + 1100), 5);
    g.onTransfer(5);
    assert.equal(g.limit, 5);
    g.onTransfer(3);
    assert.equal(g.limit, 5, 'fewer transferring does not lower it');
    g.onTransfer(9);
    assert.equal(g.limit, 6);
    // At the maximum there is nothing to try.
    assert.equal(g.target(T0 + 4000), 6);
  });
});
