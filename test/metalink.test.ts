// Metalink: RFC 5854 (.meta4) and v3 (.metalink) documents read (parseMetalink, no network);
// downloads from their URLs at once with piece hashes verified as pieces land (a mirror serving
// a bad piece is dropped and the piece fetched again from another), a URL answering
// application/metalink4+xml followed by qget(), and `qget -M <file>`.
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  Downloader,
  InvalidOptionError,
  Manager,
  parseMetalink,
  qget,
  qgetMetalink,
} from '../src/index.js';
import { completePieces, unconfirm } from '../src/engine/pieces.js';
import { chooseSteal, mergeRanges, newSegment } from '../src/engine/segment-plan.js';
import { Transfer } from '../src/engine/transfer.js';
import { runCli } from './helpers/cli.js';
import { KiB, MiB, makeContent, sha256 } from './helpers/content.js';
import { assertFileEquals, useFixtures } from './helpers/fixture.js';
import { meta4, meta4Files } from './helpers/meta4.js';

const { serve, tempDir } = useFixtures();

describe('parseMetalink', () => {
  it('reads RFC 5854: name, size, sha-256 preferred, pieces, URLs by priority', async () => {
    const content = makeContent(600 * KiB, 61);
    const doc = meta4(content, 'a.bin', ['http://x/1', 'http://y/2']).replace(
      'priority="1"',
      'priority="5"',
    );
    const [f] = await parseMetalink(doc);
    assert.equal(f?.name, 'a.bin');
    assert.equal(f?.size, content.length);
    assert.deepEqual(f?.hash, { algorithm: 'sha256', digest: sha256(content) });
    assert.equal(f?.pieces?.algorithm, 'sha1');
    assert.equal(f?.pieces?.length, 256 * KiB);
    assert.equal(f?.pieces?.hashes.length, 3);
    assert.deepEqual(
      f?.urls.map((u) => [u.url, u.location]),
      [
        ['http://y/2', 'de'],
        ['http://x/1', 'de'],
      ],
    );
  });

  it('reads v3: verification, resources by preference (http only)', async () => {
    const doc = `<?xml version="1.0"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/">
  <files>
    <file name="b.iso">
      <size>2048</size>
      <verification>
        <hash type="md5">${'a'.repeat(32)}</hash>
        <hash type="sha256">${'b'.repeat(64)}</hash>
        <pieces length="1024" type="sha1"><hash piece="0">${'c'.repeat(40)}</hash><hash piece="1">${'d'.repeat(40)}</hash></pieces>
      </verification>
      <resources>
        <url type="ftp" preference="100">ftp://f/b.iso</url>
        <url type="http" location="us" preference="10">http://low/b.iso</url>
        <url type="http" location="fr" preference="90">https://high/b.iso</url>
      </resources>
    </file>
  </files>
</metalink>`;
    const [f] = await parseMetalink(doc);
    assert.equal(f?.name, 'b.iso');
    assert.equal(f?.size, 2048);
    assert.deepEqual(f?.hash, { algorithm: 'sha256', digest: 'b'.repeat(64) });
    assert.deepEqual(f?.pieces?.hashes, ['c'.repeat(40), 'd'.repeat(40)]);
    assert.deepEqual(
      f?.urls.map((u) => u.url),
      ['https://high/b.iso', 'http://low/b.iso'],
    );
  });

  it('refuses what is no Metalink document', async () => {
    await assert.rejects(parseMetalink('<html><body/></html>'), InvalidOptionError);
    await assert.rejects(
      parseMetalink('<metalink xmlns="urn:ietf:params:xml:ns:metalink"/>'),
      InvalidOptionError,
    );
  });
});

describe('pieces (no network)', () => {
  it('completePieces: the unverified pieces a confirmed range covers whole', () => {
    const verified = new Uint8Array(4);
    verified[1] = 1;
    assert.deepEqual(completePieces([[0, 350]], verified, 100, 350), [0, 2, 3]);
    assert.deepEqual(completePieces([[50, 260]], verified, 100, 350), []);
    assert.deepEqual(completePieces([[100, 300]], new Uint8Array(4), 100, 350), [1, 2]);
  });

  it('unconfirm: the bytes of a bad piece are no longer confirmed and are work again', () => {
    const run = { o: {}, debug: () => {} } as unknown as Transfer['run'];
    const transfer = new Transfer(run);
    transfer.done = [[0, 50]];
    const seg = newSegment(1, 50, 400);
    seg.pos = 300;
    seg.flushed = 300;
    seg.active = true;
    transfer.segments.push(seg);
    unconfirm(transfer, 0, 100);
    unconfirm(transfer, 200, 300);
    assert.deepEqual(mergeRanges(transfer.confirmed()), [[100, 200]]);
    assert.equal(seg.pos, 300);
    const free = transfer.segments.filter((s) => !s.active && s.pos < s.end);
    assert.deepEqual(
      free.map((s) => [s.start, s.end]),
      [
        [0, 100],
        [200, 300],
      ],
    );
  });

  it('a piece several sources served is fetched again whole: no connection steals from it', () => {
    const run = { o: {}, debug: () => {} } as unknown as Transfer['run'];
    const transfer = new Transfer(run);
    transfer.done = [[0, 8 * MiB]];
    unconfirm(transfer, 0, 4 * MiB, true);
    unconfirm(transfer, 4 * MiB, 5 * MiB);
    const [tie, single] = transfer.segments;
    assert.equal(tie?.whole, true);
    assert.equal(single?.whole, undefined);
    for (const seg of [tie!, single!]) seg.active = true;
    // An idle connection would take half of the larger one; the tie's piece is not split.
    const steal = chooseSteal(transfer.segments, { minSteal: 256 * KiB, thiefSpeed: undefined });
    assert.equal(steal?.segment, single);
    single!.active = false;
    assert.equal(
      chooseSteal(transfer.segments, { minSteal: 256 * KiB, thiefSpeed: undefined }),
      null,
    );
  });
});

describe('Metalink downloads', () => {
  it('refuses a pieceHashes digest of the wrong length before any request', async () => {
    const content = makeContent(512 * KiB, 69);
    const server = await serve({ content });
    const dir = await tempDir();
    const good = sha256(content.subarray(0, 256 * KiB));
    const short = good.slice(0, 40); // a sha-1's length given as sha-256
    await assert.rejects(
      qget(server.fileUrl, {
        filepath: join(dir, 'p.bin'),
        pieceHashes: { algorithm: 'sha256', length: 256 * KiB, hashes: [good, short] },
      }),
      (err: Error) =>
        err instanceof InvalidOptionError &&
        /64 hex digits for sha256; digest 1 has 40/.test(err.message),
    );
    assert.equal(server.requests.length, 0);
    await assert.rejects(stat(join(dir, 'p.bin')));
  });

  it('a mirror serving a bad piece is dropped and the piece fetched again from another', async () => {
    const content = makeContent(6 * MiB, 62);
    // Right at the start (its 64 KiB sample agrees), wrong in every piece after the first.
    const bad = Buffer.from(content);
    for (let at = 256 * KiB; at < bad.length; at += 64 * KiB) bad[at + 100]! ^= 0xff;
    const rate = 2 * MiB;
    const a = await serve({ content, ratePerConnection: rate });
    const liar = await serve({ content: bad, ratePerConnection: rate });
    const c = await serve({ content, ratePerConnection: rate });
    const dir = await tempDir();
    const warnings: string[] = [];
    const [result] = await qgetMetalink(
      meta4(content, 'm.bin', [a.fileUrl, liar.fileUrl, c.fileUrl]),
      { dir, maxConnections: 6, onWarning: (m) => warnings.push(m) },
    );
    await assertFileEquals(join(dir, 'm.bin'), content);
    const lied = result?.sources?.[1];
    assert.ok(liar.requests.length > 1, 'the liar served no range');
    assert.equal(lied?.state, 'dropped');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /piece \d+ .*failed its sha1 hash/);
    assert.ok(warnings[0]!.includes(liar.url), warnings[0]);
    assert.equal(result?.sources?.[0]?.state, 'active');
    assert.equal(result?.path, join(dir, 'm.bin'));
  });

  it('two lying mirrors outvote the honest first URL: the piece hashes make it win', async () => {
    const content = makeContent(6 * MiB, 66);
    // The liars agree with each other (same bytes, same size), from the first byte on.
    const lie = makeContent(6 * MiB, 67);
    const rate = 2 * MiB;
    const honest = await serve({ content, ratePerConnection: rate });
    const l1 = await serve({ content: lie, ratePerConnection: rate });
    const l2 = await serve({ content: lie, ratePerConnection: rate });
    const dir = await tempDir();
    const warnings: string[] = [];
    const [result] = await qgetMetalink(
      meta4(content, 'h.bin', [honest.fileUrl, l1.fileUrl, l2.fileUrl]),
      { dir, maxConnections: 6, onWarning: (m) => warnings.push(m) },
    );
    await assertFileEquals(join(dir, 'h.bin'), content);
    assert.deepEqual(
      result?.sources?.map((s) => [s.url, s.state, s.bytes]),
      [
        [honest.fileUrl, 'active', content.length],
        [l1.fileUrl, 'dropped', 0],
        [l2.fileUrl, 'dropped', 0],
      ],
    );
    // One warning for each liar, naming the hash.
    assert.equal(warnings.length, 2, warnings.join('\n'));
    for (const [i, l] of [l1, l2].entries()) {
      assert.match(warnings[i]!, /dropped: its bytes \d+-\d+ fail the piece hash/);
      assert.ok(warnings[i]!.includes(l.url), warnings[i]);
    }
    // Each liar was asked for its sample, one of them for the hashed piece too: nothing else.
    assert.ok(l1.requests.length + l2.requests.length <= 3, 'the liars served ranges');
  });

  it('a lying first URL backed by a lying mirror loses to the piece hashes: started over', async () => {
    const content = makeContent(6 * MiB, 68);
    const lie = makeContent(6 * MiB, 69);
    const rate = 2 * MiB;
    const l1 = await serve({ content: lie, ratePerConnection: rate });
    const l2 = await serve({ content: lie, ratePerConnection: rate });
    const honest = await serve({ content, ratePerConnection: rate });
    const dir = await tempDir();
    const warnings: string[] = [];
    const [result] = await qgetMetalink(
      meta4(content, 'f.bin', [l1.fileUrl, l2.fileUrl, honest.fileUrl]),
      { dir, maxConnections: 6, onWarning: (m) => warnings.push(m) },
    );
    await assertFileEquals(join(dir, 'f.bin'), content);
    // One warning line a liar (its first piece may fail its hash before the vote), none for
    // the honest mirror.
    const about = (url: string) => warnings.filter((w) => w.includes(url)).length;
    assert.deepEqual(
      [about(l1.url), about(l2.url), about(honest.url)],
      [1, 1, 0],
      warnings.join('\n'),
    );
    assert.match(warnings.join('\n'), /the hashes back other bytes than those of .*starting over/);
    assert.deepEqual(
      result?.sources?.map((s) => s.url),
      [honest.fileUrl],
    );
  });

  it('a whole-file checksum cannot judge 64 KiB: the majority decides, the error names it', async () => {
    const content = makeContent(6 * MiB, 70);
    const lie = makeContent(6 * MiB, 71);
    const honest = await serve({ content, ratePerConnection: 2 * MiB });
    const l1 = await serve({ content: lie, ratePerConnection: 2 * MiB });
    const l2 = await serve({ content: lie, ratePerConnection: 2 * MiB });
    const out = join(await tempDir(), 'c.bin');
    await assert.rejects(
      qget(honest.fileUrl, {
        filepath: out,
        mirrors: [l1.fileUrl, l2.fileUrl],
        checksum: `sha256=${sha256(content)}`,
        maxConnections: 6,
      }),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'ERR_CHECKSUM');
        assert.match(
          err.message,
          /checksum mismatch.*the sources disagreed on bytes \d+-\d+ and the majority was kept \(the bytes on disk set aside\): the majority served wrong bytes/,
        );
        return true;
      },
    );
  });

  it('a small file under a whole-file checksum: the checksum decides against the majority', async () => {
    const content = makeContent(1 * MiB, 72);
    const lie = makeContent(1 * MiB, 73);
    const honest = await serve({ content, ratePerConnection: 1 * MiB });
    const l1 = await serve({ content: lie });
    const l2 = await serve({ content: lie });
    const out = join(await tempDir(), 's.bin');
    const warnings: string[] = [];
    const result = await qget(honest.fileUrl, {
      filepath: out,
      mirrors: [l1.fileUrl, l2.fileUrl],
      checksum: `sha256=${sha256(content)}`,
      maxConnections: 4,
      onWarning: (m) => warnings.push(m),
    });
    await assertFileEquals(out, content);
    assert.deepEqual(
      result.sources?.map((s) => s.state),
      ['active', 'dropped', 'dropped'],
    );
    assert.match(warnings.join('\n'), /fail the checksum/);
  });

  it('qget() follows a URL answering application/metalink4+xml', async () => {
    const content = makeContent(3 * MiB, 63);
    const a = await serve({ content });
    const b = await serve({ content });
    const doc = await serve({
      content: Buffer.from(meta4(content, 'followed.bin', [a.fileUrl, b.fileUrl])),
      contentType: 'application/metalink4+xml',
    });
    const dir = await tempDir();
    const result = await qget(doc.fileUrl, { dir });
    assert.equal(result.path, join(dir, 'followed.bin'));
    await assertFileEquals(result.path, content);
    assert.ok(a.stats.bytesSent > 0);
  });

  it('qget -M <file>', async () => {
    const content = makeContent(2 * MiB, 64);
    const a = await serve({ content });
    const b = await serve({ content });
    const dir = await tempDir();
    const file = join(dir, 'x.meta4');
    await writeFile(file, meta4(content, 'cli.bin', [a.fileUrl, b.fileUrl]));
    const run = await runCli(['-M', file, '-d', dir], dir);
    assert.equal(run.code, 0, run.stderr);
    await assertFileEquals(join(dir, 'cli.bin'), content);
    const wrong = join(dir, 'bad.meta4');
    await writeFile(wrong, meta4(makeContent(2 * MiB, 65), 'w.bin', [a.fileUrl]));
    const failed = await runCli(['-M', wrong, '-d', dir], dir);
    assert.notEqual(failed.code, 0);
  });
});

describe('several files', () => {
  it('qgetMetalink() downloads every file and returns a result per file', async () => {
    const one = makeContent(1 * MiB, 94);
    const two = makeContent((3 * MiB) / 2, 95);
    const a = await serve({ content: one });
    const b = await serve({ content: two });
    const c = await serve({ content: two });
    const dir = await tempDir();
    const doc = meta4Files([
      { content: one, name: 'one.bin', urls: [a.fileUrl] },
      { content: two, name: 'two.bin', urls: [b.fileUrl, c.fileUrl] },
    ]);
    const results = await qgetMetalink(doc, { dir });
    assert.deepEqual(
      results.map((r) => [r.path, r.size]),
      [
        [join(dir, 'one.bin'), one.length],
        [join(dir, 'two.bin'), two.length],
      ],
    );
    await assertFileEquals(join(dir, 'one.bin'), one);
    await assertFileEquals(join(dir, 'two.bin'), two);
    assert.deepEqual(
      results[1]?.sources?.map((s) => s.url),
      [b.fileUrl, c.fileUrl],
    );
  });

  it('qget -M <file> --json: every file, with the events of a normal download', async () => {
    const one = makeContent(1 * MiB, 96);
    const two = makeContent(4 * MiB, 97);
    // Bad pieces at the second file's mirror: only its piece hashes keep them out. Paced so
    // the download lasts a second or more: the mirror, checked in a tenth of that, serves some.
    const bad = Buffer.from(two);
    for (let at = 256 * KiB; at < bad.length; at += 64 * KiB) bad[at + 3]! ^= 0xff;
    const a = await serve({ content: one });
    const b = await serve({ content: two, ratePerConnection: 1 * MiB });
    const liar = await serve({ content: bad, ratePerConnection: 1 * MiB });
    const dir = await tempDir();
    const file = join(dir, 'two.meta4');
    await writeFile(
      file,
      meta4Files([
        { content: one, name: 'one.bin', urls: [a.fileUrl] },
        { content: two, name: 'two.bin', urls: [b.fileUrl, liar.fileUrl] },
      ]),
    );
    const run = await runCli(['-M', file, '-d', dir, '--json', '-c', '4'], dir);
    assert.equal(run.code, 0, run.stderr);
    await assertFileEquals(join(dir, 'one.bin'), one);
    await assertFileEquals(join(dir, 'two.bin'), two);
    const events = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; state?: string; path?: string; url: string });
    const complete = events.filter((e) => e.event === 'state' && e.state === 'complete');
    assert.deepEqual(complete.map((e) => e.path).sort(), [
      join(dir, 'one.bin'),
      join(dir, 'two.bin'),
    ]);
    assert.ok(events.some((e) => e.event === 'progress' || e.event === 'size'));
    const warned = events.filter((e) => e.event === 'warning') as unknown as { message: string }[];
    assert.ok(
      warned.some((w) => w.message.includes(liar.url) && /piece/.test(w.message)),
      run.stdout,
    );
    // Without --json too; -o cannot name several files.
    const again = await tempDir();
    const plain = await runCli(['-M', file, '-d', again], again);
    assert.equal(plain.code, 0, plain.stderr);
    await assertFileEquals(join(again, 'one.bin'), one);
    await assertFileEquals(join(again, 'two.bin'), two);
    const named = await runCli(['-M', file, '-o', 'x.bin'], again);
    assert.equal(named.code, 2, named.stderr);
    assert.match(named.stderr, /-o names one file/);
  });
});

describe('a Downloader following a Metalink answer', () => {
  it('downloads the file the document names, from its URLs, with its piece hashes', async () => {
    // Paced so the download lasts a second or more: the mirror, checked in a tenth of that,
    // serves some of its bad pieces.
    const content = makeContent(4 * MiB, 98);
    const bad = Buffer.from(content);
    for (let at = 256 * KiB; at < bad.length; at += 64 * KiB) bad[at + 5]! ^= 0xff;
    const a = await serve({ content, ratePerConnection: 1 * MiB });
    const liar = await serve({ content: bad, ratePerConnection: 1 * MiB });
    const doc = await serve({
      content: Buffer.from(meta4(content, 'followed.bin', [a.fileUrl, liar.fileUrl])),
      contentType: 'application/metalink4+xml',
    });
    const dir = await tempDir();
    const warnings: string[] = [];
    const d = new Downloader(doc.fileUrl, {
      dirPath: dir,
      maxConnections: 4,
      onWarning: (w) => warnings.push(w),
    });
    d.start();
    await d.join();
    assert.equal(d.state, 'complete', String(d.lastError));
    assert.equal(d.path, join(dir, 'followed.bin'));
    await assertFileEquals(join(dir, 'followed.bin'), content);
    assert.ok(a.stats.bytesSent > 0);
    // The piece hashes came along: the mirror's bad pieces were caught and it was dropped.
    assert.ok(
      warnings.some((w) => w.includes(liar.url) && /piece/.test(w)),
      warnings.join('\n'),
    );
  });

  it('under a Manager; of several files the first, with one warning line', async () => {
    const one = makeContent(1 * MiB, 99);
    const two = makeContent(1 * MiB, 100);
    const a = await serve({ content: one });
    const b = await serve({ content: two });
    const doc = await serve({
      content: Buffer.from(
        meta4Files([
          { content: one, name: 'first.bin', urls: [a.fileUrl] },
          { content: two, name: 'second.bin', urls: [b.fileUrl] },
        ]),
      ),
      contentType: 'application/metalink4+xml',
    });
    const plain = await serve({ content: two });
    const dir = await tempDir();
    const warnings: string[] = [];
    const manager = new Manager({
      maxRunning: 2,
      downloadOptions: { dirPath: dir, onWarning: (w) => warnings.push(w) },
    });
    const followed = manager.add(doc.fileUrl);
    const other = manager.add(plain.fileUrl);
    manager.start();
    await manager.onIdle();
    await manager.stop();
    assert.equal(followed.state, 'complete', String(followed.lastError));
    assert.equal(other.state, 'complete', String(other.lastError));
    await assertFileEquals(join(dir, 'first.bin'), one);
    await assertFileEquals(join(dir, 'file.bin'), two);
    assert.equal(b.requests.length, 0);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /names 2 files: downloading first.bin only/);
  });
});
