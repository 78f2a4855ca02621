// A URL whose first answer is a Metalink document (application/metalink4+xml): with
// `followMetalink` the run ends with a MetalinkAnswer carrying the document, and qget() downloads
// the files it names instead (api/metalink.ts).

import type { ProbeResult } from './probe.js';
import { isMetalinkType } from './metalink.js';
import type { Transfer } from './transfer.js';

/** Larger answers are taken as the file they are, whatever their type. */
export const MAX_METALINK_DOCUMENT = 1024 * 1024;

/** Not an error: the URL answered a Metalink document, to be followed. */
export class MetalinkAnswer extends Error {
  readonly xml: string;
  readonly url: string;
  constructor(xml: string, url: string) {
    super(`${url} answered a Metalink document`);
    this.name = 'MetalinkAnswer';
    this.xml = xml;
    this.url = url;
  }
}

/** The Metalink document of a probe's answer, or undefined when it is none (or too large). */
export async function metalinkDocument(
  transfer: Transfer,
  probed: ProbeResult,
): Promise<string | undefined> {
  const res = probed.response;
  if (!res || !isMetalinkType(res.headers['content-type'])) return undefined;
  const size = probed.info.size;
  if (size === undefined || size > MAX_METALINK_DOCUMENT || probed.start !== 0) return undefined;
  if ((probed.servedEnd ?? size) < size) return undefined;
  const parts: Buffer[] = [];
  let got = 0;
  for (let chunk = await res.read(); chunk; chunk = await res.read()) {
    parts.push(Buffer.from(chunk));
    got += chunk.length;
    if (got > MAX_METALINK_DOCUMENT) break;
  }
  transfer.drop(res);
  return Buffer.concat(parts).toString('utf8');
}
