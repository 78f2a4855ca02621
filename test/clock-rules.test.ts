// Tests for the pure timing rules of a download: when a late tick means the process was
// suspended (ticker.ts) and when a checkpoint is due (resume-store.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHECKPOINT_BYTES, CHECKPOINT_MS, checkpointDue } from '../src/engine/resume-store.js';
import { TICK_MS, wasSuspended } from '../src/engine/ticker.js';

describe('wasSuspended', () => {
  const table: [gapMs: number, suspended: boolean][] = [
    [TICK_MS, false],
    [250, false], // a loaded machine
    [900, false], // late, but under a second late
    [TICK_MS + 1000, false], // exactly a second late
    [1200, true],
    [5000, true], // SIGSTOP for 5 s
    [15_000, true],
  ];
  for (const [gap, suspended] of table) {
    it(`a tick ${gap} ms after the last: ${suspended ? 'suspended' : 'not suspended'}`, () => {
      assert.equal(wasSuspended(gap, TICK_MS), suspended);
    });
  }
  it('needs more than three intervals as well (long intervals)', () => {
    assert.equal(wasSuspended(2500, 1000), false);
    assert.equal(wasSuspended(3500, 1000), true);
  });
});

describe('checkpointDue', () => {
  const table: [what: string, sinceMs: number, newBytes: number, first: boolean, due: boolean][] = [
    ['nothing new flushed', 10_000, 0, false, false],
    ['nothing flushed yet in the attempt', 10_000, 0, true, false],
    ['the first flushed batch: at once', 0, 4096, true, true],
    ['new bytes, the last checkpoint recent', CHECKPOINT_MS - 1, 65_536, false, false],
    ['new bytes, the last checkpoint a quarter second old', CHECKPOINT_MS, 1, false, true],
    ['many new bytes soon after the last', 50, CHECKPOINT_BYTES, false, true],
  ];
  for (const [what, sinceMs, newBytes, first, due] of table) {
    it(what, () => assert.equal(checkpointDue(sinceMs, newBytes, first), due));
  }
});
