// The pure decisions about crawling responses (scheduler.ts): when an answer in flight is asked
// anew, and how long requests get when answers crawl. No network.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CrawlJudge } from '../src/engine/crawl-judge.js';
import type { RangeFetch } from '../src/engine/range-fetch.js';
import {
  crawlingResponse,
  RESPONSE_JUDGE_MS,
  requestSeconds,
  requestSize,
  responseJudgeMs,
} from '../src/engine/scheduler.js';
import { KiB, MiB } from './helpers/content.js';

const fast = 8 * MiB;
const siblings = [fast, fast, 0.9 * fast];
const response = (over: Partial<Parameters<typeof crawlingResponse>[0]> = {}) => ({
  ageMs: 300,
  speed: 256 * KiB,
  rttMs: 1,
  left: 2 * MiB,
  ...over,
});

describe('crawlingResponse', () => {
  it('asks anew for an answer far slower than its siblings with seconds left at its pace', () => {
    assert.equal(crawlingResponse(response(), siblings), true);
  });

  it('leaves an answer at a fair share of its siblings alone', () => {
    assert.equal(crawlingResponse(response({ speed: 0.3 * fast }), siblings), false);
    assert.equal(crawlingResponse(response({ speed: fast }), siblings), false);
  });

  it('waits RESPONSE_JUDGE_MS of the body before judging', () => {
    assert.equal(crawlingResponse(response({ ageMs: RESPONSE_JUDGE_MS - 1 }), siblings), false);
    assert.equal(crawlingResponse(response({ ageMs: RESPONSE_JUDGE_MS }), siblings), true);
  });

  it('waits 10 round trips on a long path (slow start is not a crawl), 1 s when unknown', () => {
    assert.equal(responseJudgeMs(1), RESPONSE_JUDGE_MS);
    assert.equal(responseJudgeMs(80), 800);
    assert.equal(responseJudgeMs(undefined), 1000);
    assert.equal(crawlingResponse(response({ ageMs: 500, rttMs: 80 }), siblings), false);
    assert.equal(crawlingResponse(response({ ageMs: 800, rttMs: 80 }), siblings), true);
    assert.equal(crawlingResponse(response({ ageMs: 900, rttMs: undefined }), siblings), false);
  });

  it('lets a slow answer finish when little of it is left', () => {
    // 8 KiB at 256 KiB/s: 31 ms, less than CRAWL_WAIT_SECONDS.
    assert.equal(crawlingResponse(response({ left: 8 * KiB }), siblings), false);
    assert.equal(crawlingResponse(response({ left: 256 * KiB }), siblings), true);
  });

  it('asks anew for a small rest when that takes less than half of waiting for it', () => {
    // 64 KiB at 256 KiB/s: a quarter second; anew over a 1 ms path: 2 round trips and 8 ms.
    assert.equal(crawlingResponse(response({ left: 64 * KiB }), siblings), true);
    // Over a 100 ms path anew costs 0.21 s, more than half the 0.25 s of waiting: it stays.
    const far = { left: 64 * KiB, rttMs: 100, ageMs: 1000 };
    assert.equal(crawlingResponse(response(far), siblings), false);
    // With 1 MiB left (4 s at its pace against 0.33 s anew) it is asked anew there too.
    assert.equal(crawlingResponse(response({ ...far, left: MiB }), siblings), true);
  });

  it('needs at least two siblings to compare with', () => {
    assert.equal(crawlingResponse(response(), [fast]), false);
    assert.equal(crawlingResponse(response(), []), false);
  });

  it('compares with the median, so one crawling sibling does not hide another', () => {
    assert.equal(crawlingResponse(response(), [fast, 200 * KiB, fast]), true);
  });

  it('an answer that has not said anything yet (no speed) is not judged', () => {
    assert.equal(crawlingResponse(response({ speed: undefined }), siblings), false);
  });

  it('an answer whose bytes wait in its socket is not a crawler: we read it late', () => {
    assert.equal(crawlingResponse(response({ backlogged: true }), siblings), false);
    assert.equal(crawlingResponse(response({ backlogged: false }), siblings), true);
  });

  it('a silent answer with bytes left is asked anew', () => {
    assert.equal(crawlingResponse(response({ speed: 0 }), siblings), true);
  });
});

describe('requestSeconds', () => {
  it('is a quarter second while no answer crawled', () => {
    assert.equal(requestSeconds(0, 0), 0.25);
    assert.equal(requestSeconds(0, 50), 0.25);
  });

  it('grows with the share of answers that crawled, up to a second', () => {
    const few = requestSeconds(1, 20);
    const third = requestSeconds(10, 30);
    assert.ok(few >= 0.25 && few < third, `${few} then ${third}`);
    // One crawling draw per two good ones, each costing about 80 ms: 0.4 s keeps that at 10%.
    assert.ok(Math.abs(third - 0.4) < 1e-9, `${third}`);
    assert.equal(requestSeconds(30, 30), 1);
  });

  it('sizes requests through requestSize', () => {
    const measured = { speed: 8 * MiB, rttMs: 1 };
    assert.equal(requestSize(measured, 0), 2 * MiB);
    assert.equal(requestSize(measured, 0, requestSeconds(30, 30)), 8 * MiB);
    assert.equal(requestSize(measured, 4 * MiB, 1), 4 * MiB);
    // Before anything is measured: the initial size whatever the seconds.
    assert.equal(requestSize({}, 0, 1), 4 * MiB);
  });

  it('asks for at most 8 MiB on a short path, more only for 20 round trips', () => {
    // 200 MiB/s on loopback: a quarter second would be 50 MiB, all pushed into socket buffers
    // and thrown away when a steal cuts the answer.
    assert.equal(requestSize({ speed: 200 * MiB, rttMs: 0.2 }, 0), 8 * MiB);
    // Over a 10 ms path 20 round trips are 40 MiB at that speed.
    assert.equal(requestSize({ speed: 200 * MiB, rttMs: 10 }, 0), 40 * MiB);
  });
});

describe('CrawlJudge.watch', () => {
  it('looks at an answer RESPONSE_JUDGE_MS into its body, then again until it is judged', async () => {
    // A stand-in for a lean answer just started over a 1 ms path.
    const fetch = { lean: true, rttMs: 1, transferring: true, crawlJudged: false };
    const started = performance.now();
    const calls: number[] = [];
    // The judgement's timers do not hold the process open (the download's sockets do).
    const alive = setTimeout(() => {}, 60_000);
    await new Promise<void>((resolve) => {
      new CrawlJudge().watch(fetch as unknown as RangeFetch, () => {
        calls.push(performance.now() - started);
        // Judged at the third look (before that, say, too few siblings were measured).
        if (calls.length === 3) {
          fetch.crawlJudged = true;
          resolve();
        }
      });
    });
    clearTimeout(alive);
    // Timers may fire a little early by the clock; never a tick's worth.
    assert.ok(calls[0]! >= RESPONSE_JUDGE_MS - 5, `first look after ${calls[0]} ms`);
    assert.ok(calls[1]! > calls[0]! && calls[2]! > calls[1]!, `${calls}`);
  });
});
