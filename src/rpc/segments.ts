// qget.tellSegments, the one method of qget's own (aria2 has nothing like it): how the bytes of a
// download are arriving. The byte ranges on disk, and each connection with the range it works on
// (received up to `pos`), its speed and its last error; what the daemon's page draws as the
// segment map.

import type { DownloadView } from './job.js';
import type { Aria2Status, ByteRange } from './status.js';

export interface SegmentsShape {
  gid: string;
  status: Aria2Status;
  /** Bytes, -1 while unknown. */
  totalLength: number;
  /** Ranges [start, end) on disk, sorted and merged. */
  done: ByteRange[];
  connections: {
    id: number;
    /** Absent between two requests of the connection. */
    start?: number;
    pos?: number;
    end?: number;
    /** Bytes per second, -1 while not measured. */
    speed: number;
    transferring: boolean;
    lastError: string;
  }[];
}

/** What is known of the ranges on disk: all of a complete file, else the running engine's view. */
export function doneRanges(status: Aria2Status, d: DownloadView): ByteRange[] {
  if (status === 'complete' && d.size >= 0) return d.size > 0 ? [[0, d.size]] : [];
  return d.segments()?.done ?? [];
}

export function segmentsShape(gid: string, status: Aria2Status, d: DownloadView): SegmentsShape {
  const snapshot = status === 'active' ? d.segments() : undefined;
  return {
    gid,
    status,
    totalLength: d.size,
    done: doneRanges(status, d),
    connections: (snapshot?.connections ?? []).map((c) => ({
      id: c.id,
      ...(c.range ?? {}),
      speed: c.speed === undefined ? -1 : Math.round(c.speed),
      transferring: c.transferring,
      lastError: c.lastError ?? '',
    })),
  };
}
