// The sources of one download (its URL and its mirrors): each with its own resource record
// (final URL and validators from its own first answer, so If-Range and the checks of every
// answer are per source), its connection governor (one per origin), its counters and state.
// A source other than the first is used only once its sample bytes agreed (source-check.ts).

import { ConnectionGovernor } from './connection-governor.js';
import type { EngineOptions, SourceReport } from './engine-options.js';
import type { ResourceInfo } from './resource.js';
import type { SourceLoad } from './source-policy.js';
import { sharedController } from './transfer.js';

/** pending: not checked yet; checking: its sample is on its way; active: in use; dropped. */
export type SourceState = SourceReport['state'];

export class Source {
  readonly index: number;
  readonly url: string;
  /** What this source's own answers must match (size: the download's). */
  info: ResourceInfo | undefined;
  state: SourceState;
  readonly governor: ConnectionGovernor;
  /** Aborted when the source is dropped: its backoffs end at once. */
  readonly dropped = sharedController();
  /** Connections working for it now. */
  live = 0;
  /** Failed requests in a row, without a good answer between them. */
  failuresInARow = 0;
  /** Bytes accepted from it. */
  bytes = 0;
  /** Most of its connections transferring at once. */
  maxConnections = 0;
  /** Why it was dropped. */
  error: string | undefined;
  /** Since when it has been far slower than the others (source-policy.ts farSlower). */
  slowSince: number | undefined;
  /** Its sample differs from the bytes on disk: waiting for the vote, no share kept for it. */
  held = false;
  /** When its check started (a share is kept for it only for a while). */
  checkingSince: number | undefined;

  constructor(index: number, url: string, governor: ConnectionGovernor, info?: ResourceInfo) {
    this.index = index;
    this.url = url;
    this.governor = governor;
    this.info = info;
    this.state = info ? 'active' : 'pending';
  }

  get usable(): boolean {
    return this.state === 'active' || this.state === 'checking';
  }
}

export function sourceReport(s: Source): SourceReport {
  return {
    url: s.url,
    state: s.state,
    connections: s.maxConnections,
    bytes: s.bytes,
    ...(s.error === undefined ? {} : { error: s.error }),
  };
}

/** scheme://host:port: sources on one origin share one governor (its per-client limit). */
export function originOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/** The sources of a round: `info`'s URL first (the one probed), then the other URLs. */
export function makeSources(
  info: ResourceInfo,
  others: readonly string[],
  o: Pick<EngineOptions, 'maxConnections' | 'connectionTestSec'>,
): Source[] {
  const governors = new Map<string, ConnectionGovernor>();
  const governorOf = (url: string): ConnectionGovernor => {
    const origin = originOf(url);
    let g = governors.get(origin);
    if (!g) {
      g = new ConnectionGovernor({
        maxConnections: o.maxConnections,
        testMs: o.connectionTestSec * 1000,
      });
      governors.set(origin, g);
    }
    return g;
  };
  const sources = [new Source(0, info.url, governorOf(info.finalUrl), info)];
  for (const url of others) {
    if (url === info.url) continue;
    sources.push(new Source(sources.length, url, governorOf(url)));
  }
  return sources;
}

/** A share is kept for a source being checked this long at most (a slow sample). */
const KEEP_SHARE_MS = 1000;

function checkingLong(s: Source, now: number): boolean {
  return s.state === 'checking' && now - (s.checkingSince ?? now) > KEEP_SHARE_MS;
}

/** The loads fairShares() and chooseSource() look at. */
export function sourceLoads(sources: readonly Source[], now: number, total: number): SourceLoad[] {
  return sources.map((s) => ({
    usable: s.state !== 'dropped' && !s.held && !checkingLong(s, now),
    ready: s.state === 'active',
    // Before its first answer a source's limits are unknown: a share of the total is kept.
    cap: s.state === 'active' ? s.governor.target(now) : s.state === 'dropped' ? 0 : total,
    live: s.live,
  }));
}
