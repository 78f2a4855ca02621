// A Downloader writing to a Writable follows a Metalink answer (application/metalink4+xml): the
// one file the document names goes into the stream (never the document), from its first URL that
// answers, checked against its whole-file hash and its piece hashes as each piece passes; a later
// run continues from that URL. A document
// naming several files is an error, and nothing goes into the stream.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ChecksumError, Downloader, InvalidOptionError } from '../src/index.js';
import { StreamPieces } from '../src/engine/stream-pieces.js';
import { KiB, MiB, makeContent, sha256 } from './helpers/content.js';
import { useFixtures } from './helpers/fixture.js';
import { meta4, meta4Files } from './helpers/meta4.js';
import { waitFor } from './helpers/wait.js';

const { serve } = useFixtures();

class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    this.chunks.push(chunk);
    done();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const metalinkType = 'application/metalink4+xml';

describe('StreamPieces (no network)', () => {
  const content = makeContent(4 * 1000 + 123, 118);
  const spec = {
    algorithm: 'sha1' as const,
    length: 1000,
    hashes: [0, 1, 2, 3, 4].map((i) =>
      createHash('sha1')
        .update(content.subarray(i * 1000, i * 1000 + 1000))
        .digest('hex'),
    ),
  };
  const feed = (bytes: Buffer, pieces: StreamPieces, step: number): void => {
    for (let at = 0; at < bytes.length; at += step) pieces.update(bytes.subarray(at, at + step));
  };

  it('takes the right bytes in any slicing, the short last piece too', () => {
    for (const step of [1, 7, 999, 1000, 1001, 5000]) {
      feed(content, new StreamPieces(spec, content.length), step);
    }
  });

  it('throws at the end of a bad piece, and again for anything after', () => {
    const bad = Buffer.from(content);
    bad[4050]! ^= 1; // the last piece
    const pieces = new StreamPieces(spec, content.length);
    feed(bad.subarray(0, 4000), pieces, 333);
    assert.throws(() => pieces.update(bad.subarray(4000)), /sha1 of piece 5 \(bytes 4000-4122\)/);
    assert.throws(() => pieces.update(Buffer.alloc(1)), ChecksumError);
  });
});

describe('a Downloader writing to a stream, answered a Metalink document', () => {
  it("writes the one file's bytes, from its first URL that answers", async () => {
    const content = makeContent(2 * MiB + 3, 110);
    const a = await serve({ content });
    const doc = await serve({
      content: Buffer.from(meta4(content, 'one.bin', [`${a.url}/status/404`, a.fileUrl])),
      contentType: metalinkType,
    });
    const sink = new Sink();
    const d = new Downloader(doc.fileUrl, { path: sink });
    d.start();
    await d.join();
    assert.equal(d.state, 'complete', String(d.lastError));
    assert.equal(sha256(sink.bytes), sha256(content));
    assert.equal(d.size, content.length);
    assert.equal(doc.requests.length, 1);
    assert.deepEqual(
      a.requests.map((r) => r.path),
      ['/status/404', '/file.bin'],
    );
  });

  it("checks the file against the document's hash", async () => {
    const content = makeContent(256 * KiB, 111);
    const other = makeContent(256 * KiB, 112);
    const a = await serve({ content: other });
    const doc = await serve({
      content: Buffer.from(meta4(content, 'one.bin', [a.fileUrl])),
      contentType: metalinkType,
    });
    const d = new Downloader(doc.fileUrl, { path: new Sink() });
    d.start();
    await d.join();
    assert.equal(d.state, 'error');
    assert.match(String(d.lastError), /checksum|sha/i);
  });

  it('checks each piece as it passes: a bad piece ends the download there', async () => {
    const content = makeContent(2 * MiB, 117);
    const bad = Buffer.from(content);
    bad[2 * 256 * KiB + 100]! ^= 0xff; // in the third 256 KiB piece
    const a = await serve({ content: bad });
    const doc = await serve({
      content: Buffer.from(meta4(content, 'one.bin', [a.fileUrl])),
      contentType: metalinkType,
    });
    const sink = new Sink();
    const d = new Downloader(doc.fileUrl, { path: sink, chunkSize: 16 * KiB });
    d.start();
    await d.join();
    assert.equal(d.state, 'error');
    assert.ok(d.lastError instanceof ChecksumError, String(d.lastError));
    assert.match(d.lastError.message, /sha1 of piece 3 \(bytes 524288-786431\) checksum mismatch/);
    // Neither the write ending the bad piece nor anything after it went into the stream (the
    // whole-file hash alone would only have told once all 2 MiB were in it).
    assert.ok(sink.bytes.length < 3 * 256 * KiB, `${sink.bytes.length} bytes in the stream`);
    assert.ok(sink.bytes.length > 3 * 256 * KiB - 16 * KiB, `${sink.bytes.length} bytes`);
    assert.equal(sha256(sink.bytes.subarray(0, 512 * KiB)), sha256(content.subarray(0, 512 * KiB)));
  });

  it('the pieceHashes option applies to a stream too', async () => {
    const content = makeContent(1 * MiB, 119);
    const bad = Buffer.from(content);
    bad[256 * KiB + 9]! ^= 0xff; // in the second 256 KiB piece
    const a = await serve({ content: bad });
    const piece = (i: number) =>
      createHash('sha256')
        .update(content.subarray(i * 256 * KiB, (i + 1) * 256 * KiB))
        .digest('hex');
    const sink = new Sink();
    const d = new Downloader(a.fileUrl, {
      path: sink,
      chunkSize: 16 * KiB,
      pieceHashes: { algorithm: 'sha256', length: 256 * KiB, hashes: [0, 1, 2, 3].map(piece) },
    });
    d.start();
    await d.join();
    assert.equal(d.state, 'error');
    assert.match(String(d.lastError), /sha256 of piece 2 \(bytes 262144-524287\)/);
    assert.ok(sink.bytes.length < 512 * KiB, `${sink.bytes.length} bytes in the stream`);
  });

  it('stopped and started, continues from the URL it followed', async () => {
    const content = makeContent(1 * MiB, 113);
    const a = await serve({ content });
    const doc = await serve({
      content: Buffer.from(meta4(content, 'one.bin', [a.fileUrl])),
      contentType: metalinkType,
    });
    const sink = new Sink();
    const d = new Downloader(doc.fileUrl, { path: sink, rateLimit: 256 * KiB });
    d.start();
    await waitFor(() => d.downloaded > 100 * KiB, 'some bytes', 10_000);
    d.stop();
    await d.join();
    const kept = sink.bytes.length;
    assert.ok(kept > 0 && kept < content.length, `${kept} bytes in the stream`);
    d.rateLimit = 0;
    d.start();
    await d.join();
    assert.equal(d.state, 'complete', String(d.lastError));
    assert.equal(sha256(sink.bytes), sha256(content));
    assert.equal(doc.requests.length, 1, 'the document was read once');
    assert.equal(a.requests.at(-1)?.range, `bytes=${kept}-`);
  });

  it('a document naming several files is an error; nothing goes into the stream', async () => {
    const one = makeContent(64 * KiB, 114);
    const two = makeContent(64 * KiB, 115);
    const a = await serve({ content: one });
    const b = await serve({ content: two });
    const doc = await serve({
      content: Buffer.from(
        meta4Files([
          { content: one, name: 'first.bin', urls: [a.fileUrl] },
          { content: two, name: 'second.bin', urls: [b.fileUrl] },
        ]),
      ),
      contentType: metalinkType,
    });
    const sink = new Sink();
    const d = new Downloader(doc.fileUrl, { path: sink });
    d.start();
    await d.join();
    assert.equal(d.state, 'error');
    assert.ok(d.lastError instanceof InvalidOptionError, String(d.lastError));
    assert.match(
      d.lastError.message,
      /naming 2 files \(first\.bin, second\.bin\): a Downloader writing to a stream takes one file/,
    );
    assert.equal(sink.bytes.length, 0);
    assert.equal(a.requests.length + b.requests.length, 0);
  });
});

describe('a Downloader writing to a stream, answered an error status', () => {
  it('fails with the status, and the process goes on (the answer is discarded, not thrown)', async () => {
    const a = await serve({ content: makeContent(1000, 116) });
    const sink = new Sink();
    const d = new Downloader(`${a.url}/status/404`, { path: sink });
    d.start();
    await d.join();
    assert.equal(d.state, 'error');
    assert.match(String(d.lastError), /404/);
    assert.equal(sink.bytes.length, 0);
  });
});
