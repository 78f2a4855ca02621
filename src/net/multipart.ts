// A 206 answer in multipart/byteranges form (RFC 9110 §14.6) with one part, read as that part:
// its head (Content-Range) parsed, its body the bytes between the part head and the next
// boundary. Anything else in that form is a RangeMismatchError with `ignoredRange`, which the
// engine treats as a server that does not honour ranges (one plain GET stream).

import { RangeMismatchError } from '../errors.js';
import type { Answer } from './client.js';
import { flattenHeadLines, parseContentRange } from './headers.js';

/** The longest preamble plus part head read before giving up. */
const MAX_PART_HEAD = 16 * 1024;

function unusable(why: string): RangeMismatchError {
  return new RangeMismatchError(
    `the server answered the range with a multipart/byteranges body qget cannot use (${why})`,
    true,
  );
}

/** `answer` itself, or, for a multipart/byteranges 206, an answer carrying its first part only. */
export async function singlePart(answer: Answer): Promise<Answer> {
  const type = answer.headers['content-type'] ?? '';
  if (answer.statusCode !== 206 || !/^\s*multipart\/byteranges\b/i.test(type)) return answer;
  try {
    return await readPartHead(answer, type);
  } catch (err) {
    answer.discard();
    throw err;
  }
}

async function readPartHead(answer: Answer, type: string): Promise<Answer> {
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  if (!boundary) throw unusable('no boundary');
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  let text = Buffer.alloc(0);
  let head: { start: number; end: number } | undefined;
  while (!head) {
    const piece = await answer.read();
    if (piece === null) throw unusable('the body ended inside the part head');
    text = Buffer.concat([text, piece]);
    const at = text.indexOf(delimiter);
    const end = at < 0 ? -1 : text.indexOf('\r\n\r\n', at);
    if (end >= 0) head = { start: at, end };
    else if (text.length > MAX_PART_HEAD) throw unusable('no part head');
  }
  const lines = text.toString('latin1', head.start, head.end).split('\r\n');
  if (lines[0]?.trimEnd() !== delimiter) throw unusable('a malformed boundary line');
  const partHeaders = flattenHeadLines(lines.slice(1));
  const range = parseContentRange(partHeaders['content-range']);
  if (!range) throw unusable(`part Content-Range "${partHeaders['content-range'] ?? ''}"`);
  let left = range.end - range.start + 1;
  let pending: Buffer | undefined = text.subarray(head.end + 4);
  const take = (piece: Buffer): Buffer => {
    const n = Math.min(piece.length, left);
    left -= n;
    return piece.subarray(0, n);
  };
  return {
    statusCode: 206,
    headers: {
      ...answer.headers,
      'content-type': partHeaders['content-type'],
      'content-range': partHeaders['content-range'],
      'content-length': String(left),
    },
    url: answer.url,
    connection: answer.connection,
    discard: (reason) => answer.discard(reason),
    read: async () => {
      if (pending !== undefined && pending.length > 0 && left > 0) {
        const piece = take(pending);
        pending = undefined;
        return piece;
      }
      pending = undefined;
      if (left === 0) return null;
      const piece = await answer.read();
      return piece === null ? null : take(piece);
    },
  };
}
